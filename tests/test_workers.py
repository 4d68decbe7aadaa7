"""Worker pages: opt-in profile with consent, pause / resume / withdraw, own matches, invitations."""
import re
from datetime import date

import pytest
import sqlalchemy as sa

from nlwerktdoor.errors import DomainError
from nlwerktdoor.models import Invitation, Match, User, WorkerProfile
from nlwerktdoor.services import workers as service
from tests.factories import (
    essential_skills,
    make_employer,
    make_listing,
    make_shortage,
    make_user,
    make_worker,
    occupation_id,
)

PROFILE_URL = "/werkenden/profiel"
MATCHES_URL = "/werkenden/matches"


def csrf_token(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, f"no csrf_token on {url}"
    return found.group(1)


def profile_form(client, url=PROFILE_URL, **overrides) -> dict:
    data = {
        "csrf_token": csrf_token(client, url),
        "occupation": "cabinemedewerker",
        "skills": essential_skills("flight attendant")[:5],
        "postcode": "1011 AB",
        "max_distance_km": "30",
        "hours_per_week": "32",
        "available_from": "2026-12-01",
        "certificates": ["VOG"],
        "languages": ["nl", "en"],
        "desired_sectors": ["care"],
        "phone": "06 12345678",
        "consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def profile_of(db, user) -> WorkerProfile | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.user_id == user.id))


@pytest.fixture
def worker(login_as):
    user = make_user(role="worker")
    login_as(user)
    return user


def test_profile_is_created_with_recorded_consent(app, db, client, worker):
    response = client.post(PROFILE_URL, data=profile_form(client))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    profile = profile_of(db, worker)
    assert profile.status == "active"
    assert profile.pc4 == "1011"  # only the four digits are kept
    assert profile.occupation_id == occupation_id("flight attendant")
    assert profile.skills == essential_skills("flight attendant")[:5]
    assert profile.consent_version == app.config["CONSENT_VERSION"]
    assert profile.consent_at is not None
    assert profile.desired_sectors == ["care"] and profile.certificates == ["VOG"]
    assert profile.available_from == date(2026, 12, 1)
    assert db.session.get(User, worker.id).phone == "06 12345678"
    page = client.get(PROFILE_URL).get_data(as_text=True)
    assert "actief" in page and "zonder je naam" in page


def test_profile_form_shows_consent_text_and_growing_sectors_first(client, worker):
    page = client.get(PROFILE_URL).get_data(as_text=True)
    assert "zonder je naam" in page
    assert "allebei ‘ja’" in page
    assert "pauzeren of je afmelden" in page
    assert page.index('value="care"') < page.index('value="hospitality"')


def test_without_consent_nothing_is_saved(db, client, worker):
    response = client.post(PROFILE_URL, data=profile_form(client, consent=None))
    assert response.status_code == 200
    assert "Zonder jouw toestemming kunnen we je profiel niet opslaan" in response.get_data(as_text=True)
    assert profile_of(db, worker) is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"postcode": "12345"}, "Vul een geldige Nederlandse postcode in"),
        ({"postcode": "0123 AB"}, "Vul een geldige Nederlandse postcode in"),
        ({"postcode": ""}, "Vul je postcode in"),
        ({"occupation": "astronaut op de maan"}, "Dit beroep kennen we niet"),
        ({"max_distance_km": "0"}, "Kies een afstand tussen 1 en 200 km"),
        ({"hours_per_week": "veel"}, "Controleer de gemarkeerde velden"),
        ({"available_from": "31-13-2026"}, "Vul een geldige datum in"),
        ({"skills": ["vaardigheid die niet bestaat"]}, "Onbekende vaardigheid"),
        ({"phone": "bel me maar"}, "Vul een geldig telefoonnummer in"),
    ],
)
def test_bad_input_is_a_dutch_form_error_and_nothing_is_saved(db, client, worker, overrides, message):
    response = client.post(PROFILE_URL, data=profile_form(client, **overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert profile_of(db, worker) is None


def test_empty_skill_list_means_the_occupations_essential_skills(db, client, worker):
    response = client.post(PROFILE_URL, data=profile_form(client, skills=None))
    assert response.status_code == 302
    assert profile_of(db, worker).skills == essential_skills("flight attendant")


def test_service_refuses_bad_values_with_the_field_name(app):
    with app.test_request_context():  # the Dutch messages need a locale
        _service_refuses_bad_values()


def _service_refuses_bad_values():
    user = make_user(role="worker")
    good = service.ProfileData(
        occupation_id=occupation_id("cook"), postcode="3011", available_from=date(2026, 12, 1)
    )
    with pytest.raises(DomainError) as error:
        service.save_profile(user, service.ProfileData(**{**good.__dict__, "postcode": "0999 ZZ"}), True)
    assert error.value.field == "postcode"
    with pytest.raises(DomainError) as error:
        service.save_profile(user, good, consent_given=False)
    assert error.value.field == "consent"
    with pytest.raises(DomainError) as error:
        service.save_profile(user, service.ProfileData(**{**good.__dict__, "desired_sectors": ["maan"]}), True)
    assert error.value.field == "desired_sectors"
    employer = make_employer()
    with pytest.raises(DomainError):
        service.save_profile(employer, good, True)
    assert service.save_profile(user, good, True).skills == essential_skills("cook")


def _post_action(client, action: str):
    return client.post(f"/werkenden/profiel/{action}", data={"csrf_token": csrf_token(client, PROFILE_URL)})


def test_pause_resume_withdraw_and_opt_in_again(app, db, client, login_as):
    profile = make_worker()
    login_as(profile.user)

    assert _post_action(client, "pauzeren").status_code == 302
    assert profile_of(db, profile.user).status == "paused"
    assert profile_of(db, profile.user).consent_at is not None

    _post_action(client, "hervatten")
    assert profile_of(db, profile.user).status == "active"

    _post_action(client, "afmelden")
    withdrawn = profile_of(db, profile.user)
    assert withdrawn.status == "withdrawn"
    assert withdrawn.consent_at is None and withdrawn.consent_version is None

    # Resuming is not enough after withdrawing: it takes a new consent.
    response = client.post(
        "/werkenden/profiel/hervatten",
        data={"csrf_token": csrf_token(client, PROFILE_URL)},
        follow_redirects=True,
    )
    assert "geef toestemming" in response.get_data(as_text=True)
    assert profile_of(db, profile.user).status == "withdrawn"

    assert client.post(PROFILE_URL, data=profile_form(client)).status_code == 302
    again = profile_of(db, profile.user)
    assert again.status == "active" and again.consent_at is not None
    assert again.consent_version == app.config["CONSENT_VERSION"]


@pytest.mark.parametrize("action", ["pauzeren", "hervatten", "afmelden"])
def test_status_changes_need_a_csrf_token(db, client, login_as, action):
    profile = make_worker()
    login_as(profile.user)
    assert client.post(f"/werkenden/profiel/{action}").status_code == 400
    assert profile_of(db, profile.user).status == "active"


def _match(shortage, profile, **kw) -> Match:
    from nlwerktdoor.extensions import db

    match = Match(
        shortage=shortage,
        worker_id=profile.id,
        score=0.72,
        distance_km=4.2,
        explanation={"matched": profile.skills[:2], "related": [], "missing": [], "coverage": 0.7},
        **kw,
    )
    db.session.add(match)
    db.session.commit()
    return match


def test_a_worker_sees_only_their_own_matches(client, login_as):
    employer = make_employer(side="growing")
    mine = make_worker()
    other = make_worker(occupation="cook")
    _match(make_shortage(employer.organisation, title="Zorghulp in Amsterdam-Noord"), mine)
    _match(make_shortage(employer.organisation, title="Kok voor verpleeghuis"), other)

    login_as(mine.user)
    page = client.get(MATCHES_URL).get_data(as_text=True)
    assert "Zorghulp in Amsterdam-Noord" in page
    assert employer.organisation.name in page
    assert "Kok voor verpleeghuis" not in page
    assert "Waarom deze match?" in page  # the explanation macro
    assert service.matches_for(other.user)[0].worker_id == other.id


def test_no_matches_page_says_what_helps(client, login_as):
    profile = make_worker(max_distance_km=15)
    login_as(profile.user)
    page = client.get(MATCHES_URL).get_data(as_text=True)
    assert "Nog geen matches" in page
    assert "Vergroot hoe ver je wilt reizen (nu 15 km)" in page


@pytest.mark.parametrize("url", [PROFILE_URL, MATCHES_URL])
@pytest.mark.parametrize("role", ["employer", "coordinator", "admin"])
def test_other_roles_cannot_open_worker_pages(client, login_as, url, role):
    user = make_employer() if role == "employer" else make_user(role=role)
    login_as(user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    "method, url",
    [("get", PROFILE_URL), ("get", MATCHES_URL), ("post", "/werkenden/profiel/pauzeren")],
)
def test_anonymous_visitors_are_sent_to_log_in(app, client, method, url):
    app.config["WTF_CSRF_ENABLED"] = False  # so the POST reaches the login check
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert "/account/inloggen" in response.headers["Location"]


# ---------------------------------------------------------------- invitations


@pytest.fixture
def invitation(db):
    employer = make_employer(side="shrinking")
    listing = make_listing(employer.organisation, pc4="3011", max_distance_km=35, certificates=["BHV"])
    invitation = Invitation(
        listing=listing, email="invited@example.org", token="tok-" + "a" * 40, invited_by_id=employer.id
    )
    db.session.add(invitation)
    db.session.commit()
    return invitation


def invitation_url(invitation) -> str:
    return f"/werkenden/uitnodiging/{invitation.token}"


def test_invitation_shows_a_form_prefilled_from_the_listing(client, invitation):
    page = client.get(invitation_url(invitation)).get_data(as_text=True)
    assert 'value="invited@example.org" readonly' in page
    assert 'value="cabinemedewerker"' in page  # occupation of the listing
    assert 'value="3011"' in page and 'value="35"' in page
    assert re.search(r'value="BHV" checked|checked[^>]*value="BHV"', page)
    assert invitation.listing.skills[0] in page


def test_accepting_an_invitation_creates_account_and_linked_profile(app, db, client, invitation):
    url = invitation_url(invitation)
    data = profile_form(client, url=url, name="Ilse Invité", password="een lang wachtwoord", postcode="3012")
    response = client.post(url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]

    db.session.expire_all()
    user = db.session.scalar(sa.select(User).where(User.email == "invited@example.org"))
    assert user.role == "worker" and user.name == "Ilse Invité" and user.has_password
    profile = user.worker_profile
    assert profile.listing_id == invitation.listing_id
    assert profile.pc4 == "3012" and profile.consent_at is not None
    assert db.session.get(Invitation, invitation.id).accepted_at is not None
    assert client.get(PROFILE_URL).status_code == 200  # logged in as the new worker

    used = app.test_client().get(url)  # a visitor who is not logged in
    assert used.status_code == 404
    assert "Deze uitnodiging werkt niet (meer)" in used.get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"password": "kort"}, "minstens 12 tekens"),
        ({"name": ""}, "Vul je naam in"),
        ({"consent": None}, "Zonder jouw toestemming"),
        ({"postcode": "abcd"}, "Vul een geldige Nederlandse postcode in"),
    ],
)
def test_a_bad_invitation_form_creates_nothing(db, client, invitation, overrides, message):
    url = invitation_url(invitation)
    data = profile_form(client, url=url, name="Ilse", password="een lang wachtwoord")
    data.update(overrides)
    response = client.post(url, data={k: v for k, v in data.items() if v is not None})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(User).where(User.email == "invited@example.org")) is None
    assert db.session.get(Invitation, invitation.id).accepted_at is None


def test_unknown_invitation_token_is_a_friendly_page(client):
    response = client.get("/werkenden/uitnodiging/bestaat-niet")
    assert response.status_code == 404
    assert "Deze uitnodiging werkt niet (meer)" in response.get_data(as_text=True)


def test_existing_account_must_log_in_first(client, invitation):
    make_user(role="worker", email="invited@example.org")
    page = client.get(invitation_url(invitation)).get_data(as_text=True)
    assert "Log eerst in" in page
    assert "/account/inloggen?next=/werkenden/uitnodiging/" in page


def test_logged_in_worker_with_another_email_can_accept(db, client, worker, invitation):
    url = invitation_url(invitation)
    page = client.get(url).get_data(as_text=True)
    assert 'value="3011"' in page and "Kies een wachtwoord" not in page
    assert client.post(url, data=profile_form(client, url=url)).status_code == 302
    profile = profile_of(db, worker)
    assert profile.listing_id == invitation.listing_id
    assert db.session.get(Invitation, invitation.id).accepted_at is not None
