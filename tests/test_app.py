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
