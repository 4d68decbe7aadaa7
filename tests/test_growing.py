"""Growing side through the web: shortages, CSV upload, pseudonymous candidates, the public list."""
import io
import math
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from nlwerktdoor import reference
from nlwerktdoor.models import Match, Shortage
from tests.factories import (
    essential_skills, make_employer, make_listing, make_organisation, make_shortage, make_user, make_worker, occupation_id,
)


def csrf_from(client, url: str) -> str:
    """The CSRF token of a page's form, as a browser would send it back."""
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def shortage_form(**overrides) -> dict:
    data = {
        "title": "Zorghulp thuiszorg",
        "description": "Avond- en weekenddiensten",
        "occupation": "zorghulp",
        "positions": "4",
        "postcode": "3511 AB",
        "max_distance_km": "20",
        "start_date": "2026-12-01",
        "hours_per_week": "24",
        "certificates": ["VOG"],
        "training_offered": "y",
        "contact_email": "werving@example.org",
    }
    data.update(overrides)
    return data


@pytest.fixture
def employer(app):
    return make_employer(side="growing")


def post_new_shortage(client, **overrides):
    return client.post("/tekorten/nieuw", data=shortage_form(csrf_token=csrf_from(client, "/tekorten/nieuw"), **overrides))


def all_shortages(db):
    return db.session.scalars(sa.select(Shortage).order_by(Shortage.id)).all()


def test_new_shortage_form_defaults_to_own_email(employer, login_as, client):
    login_as(employer)
    assert f'value="{employer.email}"' in client.get("/tekorten/nieuw").get_data(as_text=True)


def test_create_shortage_with_empty_required_skills_uses_essential_skills(employer, login_as, client, db):
    login_as(employer)
    nice = essential_skills("cook")[0]
    response = post_new_shortage(client, nice_skills=[nice])
    assert response.status_code == 302
    (shortage,) = all_shortages(db)
    assert shortage.organisation_id == employer.organisation_id and shortage.sector_code == "care"
    assert shortage.occupation_id == occupation_id("healthcare assistant")
    assert shortage.required_skills == essential_skills("healthcare assistant")
    assert shortage.nice_skills == [nice]
    assert (shortage.positions, shortage.pc4, shortage.start_date) == (4, "3511", date(2026, 12, 1))
    assert shortage.training_offered is True and shortage.open_hiring is False
    assert shortage.certificates == ["VOG"] and shortage.status == "open" and shortage.source == "own"
    assert response.headers["Location"].endswith(f"/tekorten/{shortage.id}")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"postcode": "99999"}, "Vul een geldige Nederlandse postcode in"),
        ({"postcode": "0123 AB"}, "Vul een geldige Nederlandse postcode in"),
        ({"title": "  "}, "Geef de vacature een titel."),
        ({"occupation": ""}, "Kies een beroep."),
        ({"positions": "0"}, "Vul een aantal plaatsen van 1 tot 1.000 in."),
        ({"start_date": "1-13-2026"}, "datum"),
        ({"max_distance_km": "900"}, "Vul een afstand van 1 tot 250 km in."),
        ({"required_skills": ["onzin-vaardigheid"]}, "Onbekende vaardigheid"),
    ],
)
def test_bad_shortage_input_is_a_dutch_form_error_and_saves_nothing(employer, login_as, client, db, overrides, message):
    login_as(employer)
    response = post_new_shortage(client, **overrides)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Controleer de gemarkeerde velden." in page and message in page
    assert all_shortages(db) == []


def test_edit_shortage(employer, login_as, client, db):
    shortage = make_shortage(employer.organisation)
    login_as(employer)
    page = client.get(f"/tekorten/{shortage.id}/bewerken").get_data(as_text=True)
    assert "Zorgassistent gezocht" in page and 'value="1011"' in page
    required = essential_skills("healthcare assistant")[:3]
    data = shortage_form(csrf_token=csrf_from(client, f"/tekorten/{shortage.id}/bewerken"), title="Nieuwe titel",
                         required_skills=required, open_hiring="y", training_offered="")
    del data["training_offered"]
    assert client.post(f"/tekorten/{shortage.id}/bewerken", data=data).status_code == 302
    db.session.refresh(shortage)
    assert shortage.title == "Nieuwe titel" and shortage.required_skills == required
    assert shortage.open_hiring is True and shortage.training_offered is False and shortage.pc4 == "3511"


def test_positions_cannot_drop_below_filled(employer, login_as, client, db):
    shortage = make_shortage(employer.organisation, positions=3, filled_positions=2)
    login_as(employer)
    data = shortage_form(csrf_token=csrf_from(client, f"/tekorten/{shortage.id}/bewerken"), positions="1")
    response = client.post(f"/tekorten/{shortage.id}/bewerken", data=data)
    assert response.status_code == 200 and "Er zijn al 2 plaatsen gevuld" in response.get_data(as_text=True)
    db.session.refresh(shortage)
    assert shortage.positions == 3 and shortage.title == "Zorgassistent gezocht"


def test_fill_close_and_reopen_shortage(employer, login_as, client, db):
    shortage = make_shortage(employer.organisation, positions=2)
    login_as(employer)
    token = csrf_from(client, f"/tekorten/{shortage.id}")

    assert client.post(f"/tekorten/{shortage.id}/vervuld", data={"csrf_token": token}).status_code == 302
    db.session.refresh(shortage)
    assert (shortage.status, shortage.filled_positions) == ("filled", 2)

    assert client.post(f"/tekorten/{shortage.id}/heropenen", data={"csrf_token": token}).status_code == 302
    db.session.refresh(shortage)
    assert (shortage.status, shortage.open_positions) == ("open", 1)

    assert client.post(f"/tekorten/{shortage.id}/sluiten", data={"csrf_token": token}).status_code == 302
    db.session.refresh(shortage)
    assert shortage.status == "closed"


def test_index_lists_own_shortages_with_candidate_counts(login_as, client, db):
    employer = make_employer(side="growing", verified=False)
    own = make_shortage(employer.organisation, title="Eigen vacature", positions=5, filled_positions=2)
    make_shortage(make_organisation(side="growing"), title="Andermans vacature")
    db.session.add(Match(shortage_id=own.id, worker_id=make_worker().id, score=0.5, distance_km=1.0, explanation={}))
    db.session.commit()
    login_as(employer)
    page = client.get("/tekorten/mijn").get_data(as_text=True)
    assert "Je organisatie is nog niet geverifieerd" in page
    assert "Eigen vacature" in page and "Andermans vacature" not in page
    assert "2 / 5" in page
    assert re.search(r"<td>1</td>\s*</tr>", page)


def test_candidates_are_pseudonymous_until_mutual_yes(employer, login_as, client, db):
    shortage = make_shortage(employer.organisation)
    person = make_user(role="worker", name="Henriëtte Geheimnaam", email="henriette@example.org", phone="0612345678")
    worker = make_worker(user=person, pc4="1012", hours_per_week=28)
    listing = make_listing(make_organisation(side="shrinking", name="Luchtvaart BV"), count=6,
                           contact_email="hr-geheim@example.org")
    skill = worker.skills[0]
    explanation = {"matched": [skill], "related": [], "missing": [], "coverage": 0.5}
    for candidate in ({"worker_id": worker.id}, {"listing_id": listing.id}):
        db.session.add(Match(shortage_id=shortage.id, score=0.55, distance_km=1.3, explanation=explanation, **candidate))
    db.session.commit()
    login_as(employer)
    page = client.get(f"/tekorten/{shortage.id}").get_data(as_text=True)
    for secret in ("Geheimnaam", "henriette@example.org", "0612345678", "hr-geheim@example.org", "Luchtvaart BV"):
        assert secret not in page
    assert "cabinemedewerker" in page and "Groot Amsterdam" in page and "1.3 km" in page
    assert "28 uur per week" in page and "Groep van 6 medewerkers" in page
    assert reference.skill_label(skill, "nl") in page
    assert page.count("/matches/") == 2


# ---------------------------------------------------------------- CSV upload


GOOD_CSV = (
    "external_ref,employer_kvk,employer_name,contact_email,sector,title,occupation,required_skills,nice_skills,"
    "positions,postcode,max_distance_km,start_date,hours_per_week,certificates,training_offered,open_hiring\n"
    "t-1,,,,,Zorghulp,zorghulp,,,3,3511,25,2026-12-01,24,VOG,ja,nee\n"
    "t-2,,,,,Magazijn,magazijnmedewerker,,,2,5041,30,2026-12-15,32,,nee,ja\n"
)


def upload(client, content: str, filename: str = "tekorten.csv"):
    token = csrf_from(client, "/tekorten/upload")
    return client.post("/tekorten/upload", data={"csrf_token": token, "file": (io.BytesIO(content.encode()), filename)},
                       content_type="multipart/form-data")


def test_csv_upload_imports_for_own_organisation(employer, login_as, client, db):
    login_as(employer)
    response = upload(client, GOOD_CSV)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert {(s.external_ref, s.organisation_id) for s in all_shortages(db)} == {
        ("t-1", employer.organisation_id), ("t-2", employer.organisation_id)}


def test_csv_upload_with_bad_rows_shows_every_error_and_imports_nothing(employer, login_as, client, db):
    bad = GOOD_CSV + "t-3,,,,,Kok,kok,onbekende skill,,1,1011,25,2026-12-01,24,,ja,nee\n" \
                     "t-4,,,,,Kok,kok,,,1,abcd,25,2026-12-01,24,,ja,nee\n"
    login_as(employer)
    response = upload(client, bad)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Er is niets geïmporteerd" in page
    rows = re.findall(r"<tr><td>(\d+)</td><td>([a-z_]+)</td>", page)
    assert ("4", "required_skills") in rows and ("5", "postcode") in rows
    assert all_shortages(db) == []


def test_example_csv_imports_cleanly(employer, login_as, client, db):
    login_as(employer)
    example = client.get("/tekorten/upload/voorbeeld.csv").get_data(as_text=True)
    assert example.lstrip("\ufeff").startswith("external_ref;employer_kvk;employer_name;contact_email;sector;title")
    assert upload(client, example).status_code == 302
    assert len(all_shortages(db)) == 2


# ---------------------------------------------------------------- the public list


@pytest.fixture
def public_data(app):
    """Open shortages around Utrecht (3511), Amsterdam (1011) and Groningen (9711), plus ones that must stay hidden."""
    care = make_organisation(side="growing", sector_code="care", name="Zorg Utrecht")
    logistics = make_organisation(side="growing", sector_code="logistics", name="Logistiek Noord")
    unverified = make_organisation(side="growing", sector_code="care", verified=False, name="Nog Niet Geverifieerd")
    return {
        "utrecht": make_shortage(care, title="Zorg in Utrecht", pc4="3511"),
        "amsterdam": make_shortage(care, title="Zorg in Amsterdam", pc4="1011", training_offered=True),
        "groningen": make_shortage(logistics, title="Magazijn Groningen", pc4="9711", occupation="warehouse worker",
                                   open_hiring=True),
        "closed": make_shortage(care, title="Gesloten vacature", pc4="3512", status="closed"),
        "filled": make_shortage(care, title="Vervulde vacature", pc4="3512", status="filled"),
        "unverified": make_shortage(unverified, title="Verborgen vacature", pc4="3511"),
    }


def titles(page: str) -> list[str]:
    return re.findall(r'<h2><a href="/tekorten/vacature/\d+">([^<]+)</a></h2>', page)


def test_public_list_shows_only_open_shortages_of_verified_organisations(public_data, client):
    response = client.get("/tekorten/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert sorted(titles(page)) == ["Magazijn Groningen", "Zorg in Amsterdam", "Zorg in Utrecht"]
    assert "Zorg Utrecht" in page and "opleiding aangeboden" in page and "open hiring" in page


def test_public_list_filters_by_sector(public_data, client):
    assert titles(client.get("/tekorten/?sector=logistics").get_data(as_text=True)) == ["Magazijn Groningen"]
    assert sorted(titles(client.get("/tekorten/?sector=care").get_data(as_text=True))) == ["Zorg in Amsterdam", "Zorg in Utrecht"]


@pytest.mark.parametrize("postcode, radius, expected", [
    ("3511 AB", 5, ["Zorg in Utrecht"]),
    ("3511", 50, ["Zorg in Utrecht", "Zorg in Amsterdam"]),
    ("1011", 50, ["Zorg in Amsterdam", "Zorg in Utrecht"]),
    ("1011", 5, ["Zorg in Amsterdam"]),
    ("9711", 100, ["Magazijn Groningen"]),
])
def test_public_list_filters_by_radius_nearest_first(public_data, client, postcode, radius, expected):
    page = client.get("/tekorten/", query_string={"postcode": postcode, "radius": radius}).get_data(as_text=True)
    assert titles(page) == expected
    assert " km" in page


def test_public_list_radius_combines_with_sector(public_data, client):
    page = client.get("/tekorten/", query_string={"postcode": "3511", "radius": 100, "sector": "logistics"})
    assert titles(page.get_data(as_text=True)) == []


@pytest.mark.parametrize("query", [{"postcode": "0000"}, {"postcode": "hallo"}, {"radius": "abc"}, {"sector": "nope"},
                                   {"pagina": "-3"}, {"pagina": "999"}])
def test_public_list_bad_filters_are_friendly(public_data, client, query):
    response = client.get("/tekorten/", query_string=query)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    if "postcode" in query:
        assert "Vul een geldige Nederlandse postcode in" in page
    assert len(titles(page)) == 3  # an invalid filter is not applied


@pytest.mark.parametrize("lang, message", [("nl", "Ongeldige keuze"), ("en", "Not a valid choice")])
def test_public_list_filter_messages_in_the_visitors_language(public_data, client, lang, message):
    """WTForms' own messages are kept per process and language (forms.MessagesOncePerProcess)."""
    for _ in range(2):  # the second time from what the process kept
        page = client.get("/tekorten/", query_string={"radius": "7", "lang": lang}).get_data(as_text=True)
        assert message in page


def test_public_list_paginates_newest_first(client, app, db):
    org = make_organisation(side="growing")
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for n in range(25):
        make_shortage(org, title=f"Vacature {n:02d}", created_at=start + timedelta(hours=n))
    first = titles(client.get("/tekorten/").get_data(as_text=True))
    assert len(first) == 20 and first[0] == "Vacature 24"
    second_page = client.get("/tekorten/?pagina=2").get_data(as_text=True)
    assert titles(second_page) == [f"Vacature {n:02d}" for n in range(4, -1, -1)]
    assert "Pagina 2 van 2" in second_page


@pytest.mark.parametrize("per_page", [1, 3, 7, 20])
def test_public_search_pages_span_areas_as_one_list_nearest_first(app, db, per_page):
    """Every page of a postcode search, read in one statement for the areas it spans, is that page of
    the whole list: areas nearest first (equal distances by PC4), within an area newest first."""
    from nlwerktdoor.services import shortages

    care = make_organisation(side="growing")
    hidden = make_organisation(side="growing", verified=False)
    near = reference.places_within("3511", 15)
    areas = list(near)[:9]
    made = []
    for n, area in enumerate(areas):
        for _ in range((0, 1, 5, 2, 12, 1, 0, 3, 8)[n]):
            made.append(make_shortage(care, title=f"In {area}", pc4=area))
        make_shortage(care, title="Gesloten", pc4=area, status="closed")
        make_shortage(hidden, title="Ongeverifieerd", pc4=area)
    expected = [s.id for s in sorted(made, key=lambda s: (areas.index(s.pc4), -s.id))]
    seen = []
    for number in range(1, math.ceil(len(expected) / per_page) + 1):
        page = shortages.public_shortages(pc4="3511", radius_km=15, page=number, per_page=per_page)
        assert page.total == len(expected) and page.page == number
        assert [s.distance_km for s in page.items] == pytest.approx([near[s.pc4] for s in page.items])
        seen += [s.id for s in page.items]
    assert seen == expected


def test_public_search_counts_once_per_interval_but_lists_live(public_data, client, app, db):
    """With PUBLIC_COUNTS_SECONDS set (production), the counts per postcode area are cached: a search
    does not count again, so a new shortage joins the total only after the interval, while the
    shortages listed are read live (a closed one disappears at once)."""
    from nlwerktdoor import caching

    app.config["PUBLIC_COUNTS_SECONDS"] = 60
    caching.clear()
    statements = []
    engine = db.engine

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        query = {"postcode": "3511", "radius": 50}
        first = client.get("/tekorten/", query_string=query).get_data(as_text=True)
        assert titles(first) == ["Zorg in Utrecht", "Zorg in Amsterdam"]
        counted = [s for s in statements if "count(" in s.lower()]
        assert counted, "the first search counts the areas"
        statements.clear()

        care = public_data["utrecht"].organisation
        make_shortage(care, title="Zorg in Utrecht 2", pc4="3511")
        public_data["amsterdam"].status = "closed"
        db.session.commit()
        second = client.get("/tekorten/", query_string=query).get_data(as_text=True)
        assert not [s for s in statements if "count(" in s.lower()], "the cached counts are used"
        # The live rows: the closed one is gone; the new one is listed in its (already counted) area.
        assert "Zorg in Amsterdam" not in titles(second)
        assert "Zorg in Utrecht" in titles(second)

        caching.clear()  # the interval has passed
        third = client.get("/tekorten/", query_string=query).get_data(as_text=True)
        assert titles(third) == ["Zorg in Utrecht 2", "Zorg in Utrecht"]
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        app.config["PUBLIC_COUNTS_SECONDS"] = 0
        caching.clear()


def test_public_search_page_is_kept_for_anonymous_visitors_only(public_data, client, app, db, login_as):
    """PUBLIC_PAGE_SECONDS: an anonymous visitor may get the page rendered a moment ago (per
    language and query); a logged-in user never does."""
    from nlwerktdoor import caching

    app.config["PUBLIC_PAGE_SECONDS"] = 60
    caching.clear()
    try:
        query = {"postcode": "3511", "radius": 50}
        assert "Zorg in Amsterdam" in titles(client.get("/tekorten/", query_string=query).get_data(as_text=True))
        public_data["amsterdam"].status = "closed"
        db.session.commit()
        # Kept: the same query in the same language.
        assert "Zorg in Amsterdam" in titles(client.get("/tekorten/", query_string=query).get_data(as_text=True))
        # Another query or another language is rendered afresh.
        assert "Zorg in Amsterdam" not in titles(
            client.get("/tekorten/", query_string={**query, "radius": 100}).get_data(as_text=True))
        english = client.get("/tekorten/", query_string={**query, "lang": "en"}).get_data(as_text=True)
        assert "Zorg in Amsterdam" not in titles(english) and 'lang="en"' in english
        # A logged-in user always sees the live page, with their own menu.
        login_as(make_user(role="worker"))
        mine = client.get("/tekorten/", query_string=query).get_data(as_text=True)
        assert "Zorg in Amsterdam" not in titles(mine) and "Uitloggen" in mine
    finally:
        app.config["PUBLIC_PAGE_SECONDS"] = 0
        caching.clear()



def test_a_process_keeps_pages_no_longer_than_the_shared_copy(public_data, client, app, db, monkeypatch):
    """PUBLIC_PAGE_LOCAL_ENTRIES: a web process serves a page it served before without asking the
    shared cache, but only until the shared copy expires (also when another process rendered it),
    and it keeps only that many pages, the least recently asked dropped first."""
    from nlwerktdoor import caching
    from nlwerktdoor.extensions import cache

    app.config.update(PUBLIC_PAGE_SECONDS=60, PUBLIC_PAGE_LOCAL_ENTRIES=2)
    caching.clear()
    clock = [1_000_000.0]
    monkeypatch.setattr(caching.time, "time", lambda: clock[0])

    def listed(radius: int, **more) -> list[str]:
        query = {"postcode": "3511", "radius": radius, **more}
        return titles(client.get("/tekorten/", query_string=query).get_data(as_text=True))

    try:
        assert "Zorg in Amsterdam" in listed(50)
        public_data["amsterdam"].status = "closed"
        db.session.commit()
        with app.app_context():
            cache.clear()  # the shared copy is gone: only this process still has the page
        assert "Zorg in Amsterdam" in listed(50)
        clock[0] += 61  # past the shared copy's expiry: rendered afresh
        assert "Zorg in Amsterdam" not in listed(50)

        # A page another process rendered 50 s ago: this process keeps it for the 10 s left, not 60.
        public_data["amsterdam"].status = "open"
        db.session.commit()
        caching.clear()
        clock[0] -= 50
        assert "Zorg in Amsterdam" in listed(100)
        caching._pages.clear()
        clock[0] += 50
        public_data["amsterdam"].status = "closed"
        db.session.commit()
        assert "Zorg in Amsterdam" in listed(100)  # read from the shared cache
        clock[0] += 11
        assert "Zorg in Amsterdam" not in listed(100)

        # Two pages at most: asking a third drops the least recently asked.
        public_data["amsterdam"].status = "open"
        db.session.commit()
        caching.clear()
        assert "Zorg in Amsterdam" in listed(50) and "Zorg in Amsterdam" in listed(100)
        assert "Zorg in Amsterdam" in listed(50)  # now the most recently asked
        assert "Zorg in Amsterdam" in listed(100, sector="care")
        assert len(caching._pages) == 2
        public_data["amsterdam"].status = "closed"
        db.session.commit()
        with app.app_context():
            cache.clear()
        assert "Zorg in Amsterdam" in listed(50) and "Zorg in Amsterdam" in listed(100, sector="care")
        assert "Zorg in Amsterdam" not in listed(100)
    finally:
        app.config.update(PUBLIC_PAGE_SECONDS=0)
        caching.clear()

def test_home_figures_are_cached_per_interval(public_data, client, app, db):
    from nlwerktdoor import caching
    from nlwerktdoor.services import stats

    app.config["PUBLIC_COUNTS_SECONDS"] = 60
    caching.clear()
    try:
        with app.test_request_context():
            before = stats.public_figures()
            make_shortage(public_data["utrecht"].organisation, title="Nog een", pc4="3511", positions=3)
            assert stats.public_figures() == before
            caching.clear()
            assert stats.public_figures()["open_positions"] == before["open_positions"] + 3
    finally:
        app.config["PUBLIC_COUNTS_SECONDS"] = 0
        caching.clear()


def test_public_detail(public_data, client):
    shortage = public_data["amsterdam"]
    response = client.get(f"/tekorten/vacature/{shortage.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Zorg in Amsterdam" in page and "Meld je aan om voorgesteld te worden" in page
    assert shortage.contact_email not in page


@pytest.mark.parametrize("which", ["closed", "filled", "unverified"])
def test_public_detail_hides_closed_and_unverified(public_data, client, which):
    assert client.get(f"/tekorten/vacature/{public_data[which].id}").status_code == 404


def test_public_detail_of_unknown_id_is_404(client):
    assert client.get("/tekorten/vacature/424242").status_code == 404


def test_own_shortages_are_paged(client, app, db, login_as):
    """A chain with thousands of shortages gets pages of 50, open ones first, newest first."""
    from nlwerktdoor.services import postings

    employer = make_employer(side="growing")
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for n in range(postings.OWN_PER_PAGE + 3):
        make_shortage(employer.organisation, title=f"Eigen {n:02d}", created_at=start + timedelta(hours=n))
    login_as(employer)

    def own_titles(page: str) -> list[str]:
        return re.findall(r'<a href="/tekorten/\d+">([^<]+)</a>', page)

    first = client.get("/tekorten/mijn").get_data(as_text=True)
    assert len(own_titles(first)) == postings.OWN_PER_PAGE and own_titles(first)[0] == "Eigen 52"
    assert "Pagina 1 van 2" in first and 'href="/tekorten/mijn?pagina=2"' in first
    second = client.get("/tekorten/mijn?pagina=2").get_data(as_text=True)
    assert own_titles(second) == ["Eigen 02", "Eigen 01", "Eigen 00"]
    assert own_titles(client.get("/tekorten/mijn?pagina=99").get_data(as_text=True)) == own_titles(second)


def test_a_posted_shortage_shows_its_candidates_at_once_and_the_next_run_emails_them(employer, login_as, client, db):
    """Issue 4, instant candidates: no waiting for the scheduler to see who fits; the scheduled run
    still sends the emails, once."""
    from nlwerktdoor.models import MatchRun, OutgoingEmail
    from nlwerktdoor.services import matching

    near = make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
    make_worker(occupation="healthcare assistant", pc4="9711", certificates=["VOG"])  # Groningen: too far
    login_as(employer)
    response = post_new_shortage(client)
    (shortage,) = all_shortages(db)
    matches = list(db.session.scalars(sa.select(Match)))
    assert [(m.shortage_id, m.worker_id, m.run_id, m.announced_at) for m in matches] == [
        (shortage.id, near.id, None, None)]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"/matches/{matches[0].id}" in page  # the candidate, pseudonymous, on the shortage's own page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingEmail)) == 0

    run = matching.run_matching()
    assert run.new_matches == 0  # nothing new: the match was made already ...
    digests = list(db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.template == "digest")))
    assert {d.recipient for d in digests} == {near.user.email.lower(), "werving@example.org"}  # ... and now announced
    assert db.session.get(Match, matches[0].id).announced_at is not None
    again = matching.run_matching()
    assert again.emails == 0 and db.session.scalar(sa.select(sa.func.count()).select_from(MatchRun)) == 2


def test_instant_candidates_read_only_those_whose_own_radius_reaches(employer, login_as, client, db):
    """Posting reads the candidates in the shortage's radius whose own radius reaches the shortage
    (services/matching._within_reach): one who travels just far enough is matched at once; one in
    the same place who travels less is not even read."""
    from nlwerktdoor.services import matching

    km = reference.places_within("3511", 50)["3431"]  # Nieuwegein, some 7 km from Utrecht's centre
    reaches = make_worker(occupation="healthcare assistant", pc4="3431", max_distance_km=math.ceil(km),
                          certificates=["VOG"])
    short_of_it = make_worker(occupation="healthcare assistant", pc4="3431", max_distance_km=math.floor(km),
                              certificates=["VOG"])
    read = {c.key for c in matching._live_candidates(datetime.now(timezone.utc), near=reference.places_within("3511", 50))}
    assert f"worker:{reaches.id}" in read and f"worker:{short_of_it.id}" not in read

    login_as(employer)
    post_new_shortage(client, max_distance_km="50")
    assert {m.worker_id for m in db.session.scalars(sa.select(Match))} == {reaches.id}


def test_instant_candidates_read_only_those_the_shortages_rules_let_through(employer, login_as, client, db):
    """Posting reads the candidates who are available in time, hold the certificates asked and wish
    the shortage's sector or any (services/matching._fits_logistics); the others are not even read
    (availability on every database; certificates and wishes, JSON lists, on PostgreSQL, the engine
    turns them away elsewhere). Who is matched does not change."""
    from nlwerktdoor.matching import MatchSettings, ShortageIn
    from nlwerktdoor.services import matching

    care = dict(occupation="healthcare assistant", pc4="3512")
    fits = make_worker(**care, certificates=["VOG", "BHV"], desired_sectors=["logistics", "care"])
    any_sector = make_worker(**care, certificates=["VOG"])
    no_wish_at_all = make_worker(**care, certificates=["VOG"], desired_sectors=None)  # JSON null: any sector too
    no_vog = make_worker(**care, certificates=["BHV"])
    other_sector = make_worker(**care, certificates=["VOG"], desired_sectors=["logistics"])
    too_late = make_worker(**care, certificates=["VOG"], available_from=date(2027, 3, 1))
    listing = make_listing(make_employer(side="shrinking").organisation, **care, certificates=["VOG"])
    listing_no_vog = make_listing(make_employer(side="shrinking").organisation, **care, certificates=[])
    # No required skills: everyone covers them, so only the logistics decide who is read.
    shortage = ShortageIn(0, "care", 52.09, 5.12, 20, (), (), frozenset({"VOG"}), date(2026, 12, 1))
    read = {c.key for c in matching._live_candidates(datetime.now(timezone.utc), near=reference.places_within("3511", 20),
                                                     fitting=(shortage, MatchSettings()))}
    fitting = {f"worker:{fits.id}", f"worker:{any_sector.id}", f"worker:{no_wish_at_all.id}", f"listing:{listing.id}"}
    assert fitting <= read and f"worker:{too_late.id}" not in read
    if db.engine.dialect.name == "postgresql":
        assert read == fitting
    else:
        assert read == fitting | {f"worker:{w.id}" for w in (no_vog, other_sector)} | {f"listing:{listing_no_vog.id}"}

    login_as(employer)
    post_new_shortage(client)  # care, VOG asked, start 2026-12-01, 20 km from 3511
    matched = {(m.worker_id, m.listing_id) for m in db.session.scalars(sa.select(Match))}
    assert matched == {(fits.id, None), (any_sector.id, None), (no_wish_at_all.id, None), (None, listing.id)}


def test_instant_candidates_read_only_those_whose_skills_could_cover_enough(employer, login_as, client, db):
    """Posting builds candidates only of those whose skill ids could cover enough of what the shortage
    asks (matching.bounds.skill_gains): a software developer near a care shortage is turned away from
    the list of ids alone, workers and listings with care skills are read. Who is matched is what a
    full run over everyone matches."""
    from nlwerktdoor.matching import MatchSettings, ShortageIn
    from nlwerktdoor.services import matching

    carer = make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
    cabin_crew = make_worker(occupation="flight attendant", pc4="3512", certificates=["VOG"])
    developer = make_worker(occupation="software developer", pc4="3512", certificates=["VOG"])
    nobody_skills = make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"], skills=None)
    listing = make_listing(make_employer(side="shrinking").organisation, occupation="healthcare assistant",
                           pc4="3512", certificates=["VOG"])
    coders = make_listing(make_employer(side="shrinking").organisation, occupation="software developer",
                          pc4="3512", certificates=["VOG"])
    asked = tuple(essential_skills("healthcare assistant"))
    shortage = ShortageIn(0, "care", 52.09, 5.12, 20, asked, (), frozenset({"VOG"}), date(2026, 12, 1),
                          training_offered=True, skill_level=2)
    read = {c.key for c in matching._live_candidates(datetime.now(timezone.utc), near=reference.places_within("3511", 20),
                                                     fitting=(shortage, MatchSettings()))}
    assert {f"worker:{carer.id}", f"worker:{cabin_crew.id}", f"listing:{listing.id}"} <= read
    assert not read & {f"worker:{developer.id}", f"worker:{nobody_skills.id}", f"listing:{coders.id}"}

    login_as(employer)
    post_new_shortage(client)  # healthcare assistant, care, VOG, training offered, 20 km from 3511
    instant = {(m.worker_id, m.listing_id, m.score) for m in db.session.scalars(sa.select(Match))}
    assert (carer.id, None) in {pair[:2] for pair in instant} and (None, listing.id) in {pair[:2] for pair in instant}
    db.session.execute(sa.delete(Match))
    db.session.commit()
    matching.run_matching(full=True)
    assert {(m.worker_id, m.listing_id, m.score) for m in db.session.scalars(sa.select(Match))} == instant


def test_an_instant_match_is_not_announced_to_a_worker_who_withdrew_since(employer, login_as, client, db):
    from nlwerktdoor.models import OutgoingEmail
    from nlwerktdoor.services import matching

    worker = make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
    login_as(employer)
    post_new_shortage(client)
    worker.status = "withdrawn"
    db.session.commit()
    matching.run_matching()
    recipients = set(db.session.scalars(sa.select(OutgoingEmail.recipient)))
    assert worker.user.email.lower() not in {r.lower() for r in recipients}
    assert db.session.scalar(sa.select(Match.announced_at)) is not None  # never announced later either


def test_a_shortage_whose_instant_candidates_fail_is_saved_without_an_error_page(employer, login_as, client, db,
                                                                                 monkeypatch, caplog):
    """Posting and editing save the shortage first; if matching it at once then fails, the employer gets
    the usual page, the shortage stays saved and the next run matches it."""
    from nlwerktdoor.services import matching

    def broken(shortage_id, now=None):
        raise RuntimeError("index files gone")

    monkeypatch.setattr(matching, "match_shortage_now", broken)
    make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
    login_as(employer)
    response = post_new_shortage(client)
    assert response.status_code == 302
    (shortage,) = all_shortages(db)
    assert client.get(response.headers["Location"]).status_code == 200
    data = shortage_form(csrf_token=csrf_from(client, f"/tekorten/{shortage.id}/bewerken"), positions="3")
    assert client.post(f"/tekorten/{shortage.id}/bewerken", data=data).status_code == 302
    assert db.session.get(Shortage, shortage.id).positions == 3
    assert "instant candidates for shortage" in caplog.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Match)) == 0
    monkeypatch.undo()
    assert matching.run_matching().new_matches == 1


def test_posting_while_a_run_is_going_does_not_wait_for_it(employer, login_as, client, db):
    """PostgreSQL: a matching run holds the run lock; posting skips the instant candidates (the
    next, incremental run finds the shortage) instead of waiting minutes for the lock."""
    from nlwerktdoor.services.matching import RUN_LOCK_KEY

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the run lock is a PostgreSQL advisory lock")
    make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
    login_as(employer)
    with db.engine.connect() as other:
        other.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": RUN_LOCK_KEY})
        try:
            assert post_new_shortage(client).status_code == 302
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Match)) == 0
        finally:
            other.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": RUN_LOCK_KEY})
    assert len(all_shortages(db)) == 1


def test_instant_candidates_keep_the_caps_of_a_run(app, employer, login_as, client, db):
    """A worker already offered as many shortages as the cap allows (in play, elsewhere) is not
    offered the new one at once either; a worker who said no to an earlier one still can be."""
    from nlwerktdoor.services import matching

    app.config["MATCH_SHORTAGES_PER_CANDIDATE"] = 1
    try:
        busy = make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
        free = make_worker(occupation="healthcare assistant", pc4="3513", certificates=["VOG"])
        other = make_employer(side="growing").organisation
        make_shortage(other, pc4="3581")  # another employer in Utrecht
        matching.run_matching()
        offered = {m.worker_id: m for m in db.session.scalars(sa.select(Match))}
        assert set(offered) == {busy.id, free.id}
        offered[free.id].candidate_status = "no"
        db.session.commit()

        login_as(employer)
        post_new_shortage(client)
        (new,) = [s for s in all_shortages(db) if s.organisation_id == employer.organisation_id]
        assert {m.worker_id for m in db.session.scalars(sa.select(Match).where(Match.shortage_id == new.id))} == {free.id}
    finally:
        app.config.pop("MATCH_SHORTAGES_PER_CANDIDATE", None)


def test_instant_candidates_count_the_listings_in_play_and_the_shortages_own_matches(app, employer, db):
    """The earlier matches instant candidates read are those of the candidates read for the shortage
    and of the shortage itself: a staff listing offered elsewhere up to the cap is not offered again,
    one whose offer was declined is; matching the shortage again (an edit) never proposes a pair twice
    and fills no more places than it has, counting offers to candidates it no longer reads."""
    from nlwerktdoor.services import matching

    app.config.update(MATCH_SHORTAGES_PER_CANDIDATE=1, MATCH_CANDIDATES_PER_POSITION=2)
    try:
        shrinking = make_employer(side="shrinking").organisation
        busy = make_listing(shrinking, occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
        declined = make_listing(shrinking, occupation="healthcare assistant", pc4="3513", certificates=["VOG"])
        make_shortage(make_employer(side="growing").organisation, pc4="3581")
        matching.run_matching()
        offered = {m.listing_id: m for m in db.session.scalars(sa.select(Match))}
        assert set(offered) == {busy.id, declined.id}
        offered[declined.id].growing_status = "no"
        db.session.commit()

        mine = make_shortage(employer.organisation, pc4="3581", positions=1)
        worker = make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])
        assert matching.match_shortage_now(mine.id) == 2

        def offered_for_mine():
            return {(m.worker_id, m.listing_id) for m in db.session.scalars(sa.select(Match).where(Match.shortage_id == mine.id))}

        assert offered_for_mine() == {(None, declined.id), (worker.id, None)}
        worker.pc4 = "9711"  # moved to Groningen: no longer read for it, yet its offer still takes a place
        db.session.commit()
        make_worker(occupation="healthcare assistant", pc4="3513", certificates=["VOG"])
        assert matching.match_shortage_now(mine.id) == 0  # its two places are taken
        assert offered_for_mine() == {(None, declined.id), (worker.id, None)}
    finally:
        for key in ("MATCH_SHORTAGES_PER_CANDIDATE", "MATCH_CANDIDATES_PER_POSITION"):
            app.config.pop(key, None)


def test_the_candidates_are_read_with_a_plan_for_every_row_in_that_transaction_only(db):
    """PostgreSQL plans a streamed read (a server-side cursor) for its first tenth of rows unless
    told otherwise; the engine reads every row, so the read asks for the plan that is fastest for
    all of them (at 2.4 million workers: instant candidates 12.2 -> 7.8 s median), with the memory
    to keep its bitmap exact and its join in memory — and only for its own transaction."""
    from nlwerktdoor.models.database import utcnow
    from nlwerktdoor.services import matching as service

    if db.engine.dialect.name != "postgresql":
        pytest.skip("cursor_tuple_fraction is a PostgreSQL setting")
    make_worker(occupation="healthcare assistant", pc4="3512")
    db.session.commit()
    default = db.session.scalar(sa.text("SHOW cursor_tuple_fraction"))
    default_memory = db.session.scalar(sa.text("SHOW work_mem"))
    default_jit = db.session.scalar(sa.text("SHOW jit"))
    assert [c.key.split(":")[0] for c in service._live_candidates(utcnow())] == ["worker"]
    assert db.session.scalar(sa.text("SHOW cursor_tuple_fraction")) == "1"
    assert db.session.scalar(sa.text("SHOW work_mem")) == service._READ_WORK_MEM
    assert db.session.scalar(sa.text("SHOW jit")) == "off"
    db.session.commit()
    assert db.session.scalar(sa.text("SHOW cursor_tuple_fraction")) == default != "1"
    assert db.session.scalar(sa.text("SHOW work_mem")) == default_memory != service._READ_WORK_MEM
    assert db.session.scalar(sa.text("SHOW jit")) == default_jit != "off"
