"""Who may open the employer pages: own organisation only (else 404), right side only (else 403),
workers never (403), anonymous visitors are sent to log in."""
import re

import pytest

from nlwerktdoor.extensions import db
from nlwerktdoor.models import Shortage, StaffListing
from tests.factories import make_employer, make_listing, make_shortage, make_user

LISTING_PAGES = [("GET", "/aanbod/{id}"), ("GET", "/aanbod/{id}/bewerken")]
LISTING_ACTIONS = [
    ("POST", "/aanbod/{id}/bewerken"), ("POST", "/aanbod/{id}/sluiten"), ("POST", "/aanbod/{id}/heropenen"),
    ("POST", "/aanbod/{id}/uitnodigen"),
]
SHORTAGE_PAGES = [("GET", "/tekorten/{id}"), ("GET", "/tekorten/{id}/bewerken")]
SHORTAGE_ACTIONS = [
    ("POST", "/tekorten/{id}/bewerken"), ("POST", "/tekorten/{id}/vervuld"), ("POST", "/tekorten/{id}/sluiten"),
    ("POST", "/tekorten/{id}/heropenen"),
]
SHRINKING_PAGES = [("GET", "/aanbod/"), ("GET", "/aanbod/nieuw"), ("POST", "/aanbod/nieuw"), ("GET", "/aanbod/upload"),
                   ("POST", "/aanbod/upload"), ("GET", "/aanbod/upload/voorbeeld.csv")]
GROWING_PAGES = [("GET", "/tekorten/mijn"), ("GET", "/tekorten/nieuw"), ("POST", "/tekorten/nieuw"),
                 ("GET", "/tekorten/upload"), ("POST", "/tekorten/upload"), ("GET", "/tekorten/upload/voorbeeld.csv")]

# Every form a POST could carry, so that a refused request is refused for who sent it, not for a missing field.
FULL_FORM = {
    "occupation": "kok", "count": "2", "postcode": "1011", "max_distance_km": "10", "available_from": "2026-12-01",
    "hours_per_week": "20", "transfer_type": "either", "contact_email": "x@example.org", "sector": "aviation",
    "title": "Overgenomen", "positions": "1", "start_date": "2026-12-01", "emails": "iemand@example.org",
}


def csrf_from(client, url: str = "/account/inloggen") -> str:
    """The CSRF token of a page's form (for a logged-in user, the logout form of every page has one)."""
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={**FULL_FORM, "csrf_token": csrf_from(client)})


@pytest.fixture
def owners(app):
    """Employer A of each side with one open posting each."""
    shrinking_a = make_employer(side="shrinking")
    growing_a = make_employer(side="growing")
    return {
        "listing": make_listing(shrinking_a.organisation),
        "shortage": make_shortage(growing_a.organisation),
        "shrinking": shrinking_a,
        "growing": growing_a,
    }


def snapshot(obj):
    db.session.expire_all()
    fresh = db.session.get(type(obj), obj.id)
    columns = [c.key for c in type(obj).__table__.columns if c.key != "updated_at"]
    return {name: getattr(fresh, name) for name in columns}


@pytest.mark.parametrize("method, path", LISTING_PAGES + LISTING_ACTIONS)
def test_other_shrinking_employer_gets_404_on_a_listing(owners, login_as, client, method, path):
    listing = owners["listing"]
    before = snapshot(listing)
    login_as(make_employer(side="shrinking"))
    assert request(client, method, path.format(id=listing.id)).status_code == 404
    assert snapshot(listing) == before


@pytest.mark.parametrize("method, path", SHORTAGE_PAGES + SHORTAGE_ACTIONS)
def test_other_growing_employer_gets_404_on_a_shortage(owners, login_as, client, method, path):
    shortage = owners["shortage"]
    before = snapshot(shortage)
    login_as(make_employer(side="growing"))
    assert request(client, method, path.format(id=shortage.id)).status_code == 404
    assert snapshot(shortage) == before


@pytest.mark.parametrize("method, path", LISTING_PAGES + SHORTAGE_PAGES)
def test_unknown_ids_are_404_for_the_right_side(owners, login_as, client, method, path):
    employer = owners["shrinking"] if path.startswith("/aanbod") else owners["growing"]
    login_as(employer)
    assert request(client, method, path.format(id=987654)).status_code == 404


def all_employer_pages(owners):
    pages = [(m, p.format(id=owners["listing"].id)) for m, p in LISTING_PAGES + LISTING_ACTIONS + SHRINKING_PAGES]
    pages += [(m, p.format(id=owners["shortage"].id)) for m, p in SHORTAGE_PAGES + SHORTAGE_ACTIONS + GROWING_PAGES]
    return pages


@pytest.mark.parametrize("role", ["worker", "coordinator", "admin"])
def test_non_employers_get_403_on_every_employer_page(owners, login_as, client, role):
    login_as(make_user(role=role))
    refused = {(m, p): request(client, m, p).status_code for m, p in all_employer_pages(owners)}
    assert set(refused.values()) == {403}, refused
    assert snapshot(owners["listing"])["status"] == "open" and snapshot(owners["shortage"])["status"] == "open"


def test_employer_without_organisation_gets_403(owners, login_as, client):
    login_as(make_user(role="employer"))
    for method, path in all_employer_pages(owners):
        assert request(client, method, path).status_code == 403, path


@pytest.mark.parametrize("side, other_pages", [("shrinking", "growing"), ("growing", "shrinking")])
def test_employer_of_the_other_side_gets_403(owners, login_as, client, side, other_pages):
    login_as(owners[side])
    if other_pages == "growing":
        pages = [(m, p.format(id=owners["shortage"].id)) for m, p in SHORTAGE_PAGES + SHORTAGE_ACTIONS + GROWING_PAGES]
    else:
        pages = [(m, p.format(id=owners["listing"].id)) for m, p in LISTING_PAGES + LISTING_ACTIONS + SHRINKING_PAGES]
    for method, path in pages:
        assert request(client, method, path).status_code == 403, path
    assert db.session.get(Shortage, owners["shortage"].id).status == "open"
    assert db.session.get(StaffListing, owners["listing"].id).status == "open"


def test_anonymous_visitors_are_sent_to_log_in(owners, client):
    for method, path in all_employer_pages(owners):
        response = request(client, method, path)
        assert response.status_code == 302, path
        assert "/account/inloggen" in response.headers["Location"], path
    assert snapshot(owners["listing"])["status"] == "open" and snapshot(owners["shortage"])["status"] == "open"


def test_owners_can_open_their_own_pages(owners, login_as, client):
    """The refusals above are about who asks: the owners themselves get every page."""
    login_as(owners["shrinking"])
    for _method, path in LISTING_PAGES + [("GET", "/aanbod/"), ("GET", "/aanbod/upload")]:
        assert client.get(path.format(id=owners["listing"].id)).status_code == 200, path
    client.post("/account/uitloggen", data={"csrf_token": csrf_from(client, "/aanbod/")})
    login_as(owners["growing"])
    for _method, path in SHORTAGE_PAGES + [("GET", "/tekorten/mijn"), ("GET", "/tekorten/upload")]:
        assert client.get(path.format(id=owners["shortage"].id)).status_code == 200, path


@pytest.mark.parametrize("path", ["/tekorten/", "/tekorten/vacature/{id}"])
def test_public_pages_need_no_login(owners, client, path):
    assert client.get(path.format(id=owners["shortage"].id)).status_code == 200
