"""The application assembles, serves its public pages and the picker API."""
import pytest

from nlwerktdoor import create_app


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_home_page_speaks_dutch_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Werk waar het nu nodig is" in response.get_data(as_text=True)


def test_sources_page_credits_every_data_source(client):
    page = client.get("/bronnen").get_data(as_text=True)
    for credit in ("GeoNames", "CC BY 4.0", "CBS", "This service uses the ESCO classification of the European Commission"):
        assert credit in page


def test_occupation_search_and_essential_skills(client):
    results = client.get("/api/occupations?q=verpleeghulp").get_json()["results"]
    assert results and results[0]["label"] == "verpleeghulp"
    skills = client.get(f"/api/occupations/{results[0]['id']}/skills").get_json()
    assert len(skills["essential"]) > 5


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/bestaat-niet")
    assert response.status_code == 404
    assert "Niet gevonden" in response.get_data(as_text=True)


@pytest.mark.parametrize("text", [
    '["a", "b"]', '{"x": [1, 2.5, null, true], "y": "\\u00e9\\u20ac"}', '"é"', "[]", "3", ' [1] ', '[1]\n',
])
def test_json_columns_decode_as_json_loads_does(text):
    import json

    from nlwerktdoor.models.database import json_loads

    assert json_loads(text) == json.loads(text)
    assert json_loads(text.encode()) == json.loads(text)  # psycopg hands over bytes


@pytest.mark.parametrize("text", ['["a",', '[1] x', "", "{'a': 1}"])
def test_malformed_json_in_a_column_raises_as_json_loads_does(text):
    import json

    from nlwerktdoor.models.database import json_loads

    with pytest.raises(json.JSONDecodeError):
        json_loads(text)


def test_the_engine_decodes_json_columns_with_json_loads(app, db):
    from nlwerktdoor.models.database import json_loads
    from tests.factories import make_worker

    worker = make_worker(skills=["s1", "s2"], certificates=["VOG"])
    db.session.commit()
    assert db.engine.dialect._json_deserializer is json_loads
    db.session.expire_all()
    assert (worker.skills, worker.certificates) == (["s1", "s2"], ["VOG"])
