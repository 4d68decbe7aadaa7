"""Coordinator and admin pages: access, verification, regional figures, sector trends, coordinators."""
import re

import pytest

from nlwerktdoor import reference
from nlwerktdoor.models import Match, Organisation, Sector, User
from nlwerktdoor.errors import NotAllowedError
from nlwerktdoor.services import organisations
from tests.factories import make_employer, make_listing, make_organisation, make_shortage, make_user, make_worker


def csrf_token(client, url: str = "/account/inloggen") -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


ADMIN_GETS = ["/beheer/", "/beheer/sectoren", "/beheer/gebruikers"]
ADMIN_ONLY_GETS = ["/beheer/sectoren", "/beheer/gebruikers"]


def as_role(role: str) -> User:
    if role == "shrinking-employer":
        return make_employer(side="shrinking")
    if role == "growing-employer":
        return make_employer(side="growing")
    return make_user(role=role)


@pytest.mark.parametrize("url", ADMIN_GETS)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/account/inloggen" in response.headers["Location"]


def test_anonymous_verify_is_sent_to_log_in(client, db):
    org = make_organisation(verified=False)
    response = client.post(f"/beheer/organisaties/{org.id}/verifieren", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and "/account/inloggen" in response.headers["Location"]
    db.session.refresh(org)
    assert org.verified_at is None


@pytest.mark.parametrize("role", ["worker", "shrinking-employer", "growing-employer"])
@pytest.mark.parametrize("url", ADMIN_GETS)
def test_workers_and_employers_are_refused(client, login_as, role, url):
    login_as(as_role(role))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", ["worker", "shrinking-employer", "growing-employer"])
def test_workers_and_employers_cannot_verify(client, db, login_as, role):
    org = make_organisation(verified=False)
    login_as(as_role(role))
    response = client.post(f"/beheer/organisaties/{org.id}/verifieren", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 403
    db.session.refresh(org)
    assert org.verified_at is None


@pytest.mark.parametrize("url", ADMIN_ONLY_GETS)
def test_coordinators_cannot_open_admin_only_pages(client, login_as, url):
    login_as(make_user(role="coordinator"))
    assert client.get(url).status_code == 403


def test_coordinator_verifies_an_organisation(client, db, login_as):
    employer = make_employer(verified=False, name="Zorg Zuid")
    coordinator = make_user(role="coordinator", name="Coördinator Karin")
    login_as(coordinator)
    page = text(client.get("/beheer/"))
    assert "Zorg Zuid" in page and employer.organisation.kvk_number in page
    response = client.post(f"/beheer/organisaties/{employer.organisation_id}/verifieren",
                           data={"csrf_token": csrf_token(client, "/beheer/")})
    assert response.status_code == 302
    org = db.session.get(Organisation, employer.organisation_id)
    assert org.verified_at is not None and org.verified_by_id == coordinator.id
    assert "Er wachten geen organisaties op verificatie" in text(client.get("/beheer/"))

    # The employer sees who verified them.
    client.post("/account/uitloggen", data={"csrf_token": csrf_token(client)})
    login_as(employer)
    page = text(client.get("/account/organisatie"))
    assert "Geverifieerd" in page and "Coördinator Karin" in page


def test_verify_needs_a_csrf_token(client, db, login_as):
    org = make_organisation(verified=False)
    login_as(make_user(role="coordinator"))
    assert client.post(f"/beheer/organisaties/{org.id}/verifieren").status_code == 400
    db.session.refresh(org)
    assert org.verified_at is None


def test_verify_unknown_organisation_is_404(client, login_as):
    login_as(make_user(role="admin"))
    response = client.post("/beheer/organisaties/99999/verifieren", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 404


def test_verify_twice_keeps_the_first_record(app, db):
    org = make_organisation(verified=False)
    first, second = make_user(role="coordinator"), make_user(role="admin")
    with app.test_request_context():
        organisations.verify(org.id, first)
        verified_at = org.verified_at
        organisations.verify(org.id, second)
        assert (org.verified_at, org.verified_by_id) == (verified_at, first.id)
        with pytest.raises(NotAllowedError):
            organisations.verify(make_organisation(verified=False).id, make_user(role="worker"))


def _region_row(page: str, code: str) -> list[int]:
    row = re.search(rf'<tr[^>]*data-region="{code}">(.*?)</tr>', page, re.S).group(1)
    return [int(n) for n in re.findall(r"<td>(\d+)</td>", row)]


def test_figures_per_region_count_only_verified_organisations(client, db, login_as):
    amsterdam = reference.place("1011").region_code
    growing = make_employer(side="growing").organisation
    shortage = make_shortage(growing, pc4="1011", positions=3)
    make_shortage(make_employer(side="growing", verified=False).organisation, pc4="1011", positions=5)
    make_listing(make_employer(side="shrinking").organisation, pc4="1012", count=4)
    worker = make_worker(pc4="1012")
    make_worker(pc4="1012", status="paused")
    db.session.add(Match(shortage=shortage, worker=worker, score=0.8, distance_km=1.0,
                         growing_status="yes", candidate_status="yes"))
    db.session.commit()

    login_as(make_user(role="coordinator", region_code=amsterdam))
    page = text(client.get("/beheer/"))
    assert _region_row(page, amsterdam) == [3, 4, 1, 1, 1]
    # All 35 regions are listed, the coordinator's own first.
    codes = re.findall(r'data-region="([^"]+)"', page)
    assert len(codes) == len(reference.regions()) == 35
    assert codes[0] == amsterdam
    assert "jouw regio" in page
    # Aggregates only: no names or emails of workers.
    assert worker.user.email not in page and worker.user.name not in page


def test_admin_changes_a_sector_trend(client, db, login_as):
    login_as(make_user(role="admin"))
    page = text(client.get("/beheer/sectoren"))
    assert "horeca" in page
    response = client.post("/beheer/sectoren/hospitality", data={"trend": "growing", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert db.session.get(Sector, "hospitality").trend == "growing"


@pytest.mark.parametrize("code, trend, status", [("hospitality", "booming", 302), ("bestaat-niet", "growing", 404)])
def test_bad_sector_trend_changes_nothing(client, db, login_as, code, trend, status):
    login_as(make_user(role="admin"))
    response = client.post(f"/beheer/sectoren/{code}", data={"trend": trend, "csrf_token": csrf_token(client)})
    assert response.status_code == status
    assert db.session.get(Sector, "hospitality").trend == "shrinking"


def test_coordinator_cannot_change_a_sector_trend(client, db, login_as):
    login_as(make_user(role="coordinator"))
    response = client.post("/beheer/sectoren/hospitality", data={"trend": "growing", "csrf_token": csrf_token(client)})
    assert response.status_code == 403
    assert db.session.get(Sector, "hospitality").trend == "shrinking"


@pytest.mark.parametrize("region", ["", "national-first"])
def test_admin_makes_a_user_coordinator(client, db, login_as, region):
    region_code = "" if region == "" else sorted(reference.regions())[0]
    target = make_user(role="worker", email="karin@regio.example")
    login_as(make_user(role="admin"))
    page = text(client.get("/beheer/gebruikers"))
    assert "karin@regio.example" in page
    response = client.post("/beheer/gebruikers", data={"email": "Karin@Regio.example", "region": region_code,
                                                       "csrf_token": csrf_token(client, "/beheer/gebruikers")})
    assert response.status_code == 302
    db.session.refresh(target)
    assert target.role == "coordinator"
    assert target.region_code == (region_code or None)


@pytest.mark.parametrize("email, region, message", [
    ("niemand@example.org", "", "Er is geen account met dit e-mailadres"),
    ("known", "9999", "Kies een arbeidsmarktregio"),
    ("admin", "", "Een beheerder kan geen coördinator worden gemaakt"),
])
def test_make_coordinator_bad_input(client, db, login_as, email, region, message):
    target = make_user(role="worker")
    admin = make_user(role="admin")
    login_as(admin)
    email = {"known": target.email, "admin": admin.email}.get(email, email)
    response = client.post("/beheer/gebruikers", data={"email": email, "region": region,
                                                       "csrf_token": csrf_token(client, "/beheer/gebruikers")})
    assert response.status_code == 200
    assert message in text(response)
    db.session.refresh(target)
    db.session.refresh(admin)
    assert (target.role, admin.role) == ("worker", "admin")
