"""Accounts: registration, login, logout, password set/reset, colleague invitations, create-admin."""
import re
import time
from datetime import datetime, timezone
from unittest import mock

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from nlwerktdoor import create_app
from nlwerktdoor.models import Organisation, OutgoingEmail, User
from nlwerktdoor.services import accounts
from tests.factories import PASSWORD, make_employer, make_organisation, make_user

LOGIN_ERROR = "E-mailadres of wachtwoord klopt niet."
NEW_PASSWORD = "een lange nieuwe zin van woorden"


def csrf_token(client, url: str) -> str:
    """GET a form page and return its CSRF token (CSRF stays on in tests)."""
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def submit(client, url: str, data: dict, **kw):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, url)}, **kw)


def text(response) -> str:
    return response.get_data(as_text=True)


def emails(db, template: str) -> list[OutgoingEmail]:
    return list(db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.template == template)))


def employer_form(**overrides) -> dict:
    data = {
        "name": "Hanna de Vries",
        "email": "hanna@zorggroep.example",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "organisation_name": "Zorggroep Noord",
        "kvk_number": "12345678",
        "sector": "care",
        "side": "growing",
        "locale": "nl",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- registration


def test_register_worker_logs_in_and_goes_to_profile(client, db):
    url = "/account/aanmelden?role=worker"
    response = submit(client, url, {"name": "Sam Jansen", "email": "  Sam@Example.ORG ", "password": PASSWORD,
                                     "confirm": PASSWORD, "locale": "en"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/werkenden/profiel")
    user = db.session.scalar(sa.select(User))
    assert (user.email, user.role, user.locale, user.organisation_id) == ("sam@example.org", "worker", "en", None)
    assert check_password_hash(user.password_hash, PASSWORD)
    assert user.password_hash.startswith("scrypt:")
    # Logged in, and the chosen language is used from the next page on.
    assert "Log out" in text(client.get("/account/inloggen"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"password": "kort", "confirm": "kort"}, "minstens 12 tekens"),
        ({"confirm": "iets anders dan het wachtwoord"}, "niet gelijk"),
        ({"email": "geen-adres"}, "geldig e-mailadres"),
        ({"name": ""}, "Vul je naam in"),
    ],
)
def test_register_worker_rejects_bad_input(client, db, overrides, message):
    data = {"name": "Sam", "email": "sam@example.org", "password": PASSWORD, "confirm": PASSWORD, "locale": "nl"}
    response = submit(client, "/account/aanmelden?role=worker", {**data, **overrides})
    assert response.status_code == 200
    assert message in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_register_with_an_existing_email_is_a_form_error(client, db):
    make_user(email="sam@example.org")
    data = {"name": "Sam", "email": "SAM@example.org", "password": PASSWORD, "confirm": PASSWORD, "locale": "nl"}
    response = submit(client, "/account/aanmelden?role=worker", data)
    assert response.status_code == 200
    assert "Er bestaat al een account met dit e-mailadres" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_register_employer_creates_unverified_organisation(client, db):
    response = submit(client, "/account/aanmelden?role=employer&side=growing", employer_form(kvk_number="1234 5678"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tekorten/mijn")
    user = db.session.scalar(sa.select(User))
    org = user.organisation
    assert (user.role, user.email) == ("employer", "hanna@zorggroep.example")
    assert (org.name, org.kvk_number, org.sector_code, org.side) == ("Zorggroep Noord", "12345678", "care", "growing")
    assert org.verified_at is None and not org.is_verified


def test_employer_side_is_preselected_from_the_query(client):
    page = text(client.get("/account/aanmelden?role=employer&side=shrinking"))
    assert re.search(r'value="shrinking"[^>]*checked|checked[^>]*value="shrinking"', page)


def test_employer_side_defaults_to_the_sector_trend(client, db):
    response = submit(client, "/account/aanmelden?role=employer",
                      employer_form(side="", sector="aviation", organisation_name="Vliegmaatschappij"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/aanbod/")
    assert db.session.scalar(sa.select(Organisation)).side == "shrinking"


def test_neutral_sector_without_side_asks_for_the_side(client, db):
    response = submit(client, "/account/aanmelden?role=employer", employer_form(side="", sector="other"))
    assert response.status_code == 200
    assert "Kies of jullie minder werk hebben" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


@pytest.mark.parametrize("kvk", ["1234567", "123456789", "abcdefgh", "1234567a", "12-345678", "１２３４５６７８"])
def test_kvk_number_must_be_exactly_eight_digits(client, db, kvk):
    response = submit(client, "/account/aanmelden?role=employer", employer_form(kvk_number=kvk))
    assert response.status_code == 200
    assert "Een KvK-nummer bestaat uit precies 8 cijfers" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_existing_kvk_without_invitation_is_refused(client, db):
    org = make_organisation(side="growing")
    response = submit(client, "/account/aanmelden?role=employer", employer_form(kvk_number=org.kvk_number))
    assert response.status_code == 200
    assert "Vraag een collega om je uit te nodigen" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_colleague_invitation_lets_a_colleague_join(client, db, login_as):
    inviter = make_employer(side="shrinking", name="Hotel De Zon")
    login_as(inviter)
    response = submit(client, "/account/organisatie", {"email": "Piet@HotelDeZon.example"})
    assert response.status_code == 302
    [queued] = emails(db, "colleague_invitation")
    assert queued.recipient == "piet@hoteldezon.example"
    assert queued.data["organisation"] == "Hotel De Zon"
    link = queued.data["link"]
    assert "/account/aanmelden?uitnodiging=" in link
    path = link.split("nlwerktdoor.test", 1)[1]

    client.post("/account/uitloggen", data={"csrf_token": csrf_token(client, "/account/organisatie")})
    page = text(client.get(path))
    assert "Hotel De Zon" in page and "piet@hoteldezon.example" in page
    response = submit(client, path, {"name": "Piet Bakker", "password": PASSWORD, "confirm": PASSWORD, "locale": "nl"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/aanbod/")
    piet = db.session.scalar(sa.select(User).where(User.email == "piet@hoteldezon.example"))
    assert piet.role == "employer" and piet.organisation_id == inviter.organisation_id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 1


@pytest.mark.parametrize("token", ["garbled", "a.b.c", ""])
def test_bad_invitation_token_is_a_friendly_page(client, token):
    response = client.get(f"/account/aanmelden?uitnodiging={token}")
    assert response.status_code == 400
    assert "Deze uitnodiging is verlopen of ongeldig" in text(response)


def test_invitation_to_an_existing_account_is_refused(client, db, login_as):
    inviter = make_employer()
    make_user(email="bezet@example.org")
    login_as(inviter)
    response = submit(client, "/account/organisatie", {"email": "bezet@example.org"})
    assert response.status_code == 200
    assert "heeft al een account" in text(response)
    assert emails(db, "colleague_invitation") == []


def test_organisation_page_shows_status_and_members(client, login_as):
    employer = make_employer(verified=False, name="Logistiek BV")
    login_as(employer)
    page = text(client.get("/account/organisatie"))
    assert "Logistiek BV" in page and employer.organisation.kvk_number in page
    assert "Nog niet geverifieerd" in page
    assert employer.email in page


@pytest.mark.parametrize("role", ["worker", "coordinator", "admin"])
def test_organisation_page_is_for_employers_only(client, login_as, role):
    login_as(make_user(role=role))
    assert client.get("/account/organisatie").status_code == 403


def test_organisation_page_sends_anonymous_visitors_to_login(client):
    response = client.get("/account/organisatie")
    assert response.status_code == 302
    assert "/account/inloggen" in response.headers["Location"]


# ---------------------------------------------------------------- login and logout


@pytest.mark.parametrize(
    "role, side, target",
    [("worker", None, "/werkenden/profiel"), ("employer", "shrinking", "/aanbod/"),
     ("employer", "growing", "/tekorten/mijn"), ("coordinator", None, "/beheer/"), ("admin", None, "/beheer/")],
)
def test_login_redirects_by_role_and_records_last_login(client, db, role, side, target):
    user = make_employer(side=side) if role == "employer" else make_user(role=role)
    response = submit(client, "/account/inloggen", {"email": f"  {user.email.upper()} ", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(target)
    db.session.refresh(user)
    assert user.last_login_at is not None


@pytest.mark.parametrize("email, password", [("onbekend@example.org", PASSWORD), ("known", "verkeerd wachtwoord!")])
def test_bad_login_gives_one_generic_message(client, email, password):
    user = make_user(email="bekend@example.org")
    email = user.email if email == "known" else email
    response = submit(client, "/account/inloggen", {"email": email, "password": password})
    assert response.status_code == 200
    assert LOGIN_ERROR in text(response)
    assert "Uitloggen" not in text(response)


def test_account_without_password_cannot_log_in(client, db):
    user = make_user(email="import@example.org")
    user.password_hash = None
    db.session.commit()
    response = submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert LOGIN_ERROR in text(response)
    assert accounts.authenticate(user.email, "") is None
    assert accounts.authenticate(user.email, PASSWORD) is None


def test_login_without_csrf_token_is_refused(client):
    user = make_user()
    response = client.post("/account/inloggen", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "http://evil.example/", "https://evil.example/x", "/\\evil.example", "\\\\evil.example",
     "javascript:alert(1)", "evil.example", "///evil.example", "/\t/evil.example", "%2F%2Fevil.example"],
)
def test_login_rejects_open_redirects(client, target):
    user = make_user(role="worker")
    page = text(client.get("/account/inloggen", query_string={"next": target}))
    assert "csrf_token" in page
    response = submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD, "next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.endswith("/werkenden/profiel"), location
    assert "evil" not in location


def test_login_honours_a_local_next(client):
    user = make_user(role="worker")
    page = text(client.get("/account/inloggen?next=/werkenden/matches%3Fa%3D1"))
    assert 'value="/werkenden/matches?a=1"' in page
    response = submit(client, "/account/inloggen",
                      {"email": user.email, "password": PASSWORD, "next": "/werkenden/matches?a=1"})
    assert response.headers["Location"].endswith("/werkenden/matches?a=1")


def test_login_required_page_comes_back_after_login(client):
    user = make_user(role="worker")
    response = client.get("/werkenden/matches")
    assert response.status_code == 302 and "next=" in response.headers["Location"]
    login_page = response.headers["Location"]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(client.get(login_page))).group(1)
    next_value = re.search(r'name="next"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="next"',
                           text(client.get(login_page)))
    next_path = next_value.group(1) or next_value.group(2)
    response = client.post("/account/inloggen", data={"email": user.email, "password": PASSWORD,
                                                      "next": next_path, "csrf_token": token})
    assert response.headers["Location"].endswith("/werkenden/matches")


def test_logout_is_post_only(client, login_as):
    user = make_user(role="worker")
    login_as(user)
    assert client.get("/account/uitloggen").status_code == 405
    assert "Uitloggen" in text(client.get("/account/inloggen"))  # still logged in
    response = client.post("/account/uitloggen", data={"csrf_token": csrf_token(client, "/account/inloggen")})
    assert response.status_code == 302
    assert client.get("/werkenden/profiel").status_code == 302  # logged out: sent to log in


def test_logout_without_csrf_token_is_refused(client, login_as):
    login_as(make_user(role="worker"))
    assert client.post("/account/uitloggen").status_code == 400
    assert "Uitloggen" in text(client.get("/account/inloggen"))


def test_login_is_rate_limited_with_a_friendly_page(app):
    """Testing config switches rate limiting off; this app switches it on."""
    from nlwerktdoor.extensions import db as _db

    limited = create_app("testing", RATELIMIT_ENABLED=True)
    with limited.app_context():
        own_schema = limited.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        if own_schema:
            _db.create_all()
        try:
            client = limited.test_client()
            token = csrf_token(client, "/account/inloggen")
            statuses = [
                client.post("/account/inloggen", data={"email": "x@example.org", "password": "fout",
                                                       "csrf_token": token}).status_code
                for _ in range(11)
            ]
            assert statuses[:10] == [200] * 10
            assert statuses[10] == 429
            response = client.post("/account/inloggen", data={"email": "x@example.org", "password": "fout",
                                                              "csrf_token": token})
            assert response.status_code == 429
            page = text(response)
            assert "Te veel pogingen" in page and "Wacht even" in page
            assert "<html" in page  # our own page, with the site's layout
        finally:
            _db.session.remove()
            if own_schema:
                _db.drop_all()


# ---------------------------------------------------------------- password set and reset


def test_forgot_password_gives_the_same_answer_and_queues_only_for_a_known_address(client, db):
    user = make_user(email="bekend@example.org", locale="en")
    known = submit(client, "/account/wachtwoord-vergeten", {"email": "Bekend@example.org"}, follow_redirects=True)
    unknown = submit(client, "/account/wachtwoord-vergeten", {"email": "onbekend@example.org"}, follow_redirects=True)
    assert known.status_code == unknown.status_code == 200

    def message(response):
        return re.search(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', text(response), re.S).group(1)

    assert message(known) == message(unknown)
    assert "Als er een account is met dit e-mailadres" in message(known)
    [queued] = emails(db, "password")
    assert (queued.recipient, queued.locale) == (user.email, "en")
    assert "/account/wachtwoord/" in queued.data["link"]


def test_password_email_renders_in_both_languages(app, db):
    from nlwerktdoor import mail

    user = make_user(email="lees@example.org", name="Lees Mee")
    accounts.request_password_reset(user.email)
    [queued] = emails(db, "password")
    for locale in ("nl", "en"):
        message = mail.compose("password", locale, queued.recipient, queued.data)
        assert message["Subject"]
        assert queued.data["link"] in message.get_body(("plain",)).get_content()
        assert queued.data["link"] in message.get_body(("html",)).get_content()


def test_double_click_queues_one_password_email(app, db):
    user = make_user()
    now = datetime(2026, 11, 20, 9, 30, 5, tzinfo=timezone.utc)
    accounts.request_password_reset(user.email, now=now)
    accounts.request_password_reset(user.email, now=now.replace(second=40))
    assert len(emails(db, "password")) == 1


def test_reset_token_sets_the_password_once(client, db):
    user = make_user(role="worker")
    token = accounts.make_password_token(user)
    url = f"/account/wachtwoord/{token}"
    response = submit(client, url, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/werkenden/profiel")
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, NEW_PASSWORD)
    assert accounts.authenticate(user.email, PASSWORD) is None
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None

    # Single use: the token is bound to the old password.
    again = client.get(url)
    assert again.status_code == 400
    assert "Deze link is verlopen of al gebruikt" in text(again)
    again = client.post(url, data={"password": "nog een ander wachtwoord", "confirm": "nog een ander wachtwoord",
                                   "csrf_token": csrf_token(client, "/account/inloggen")})
    assert again.status_code == 400
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, NEW_PASSWORD)


def test_set_password_activates_an_imported_account(client, db):
    user = make_user(role="employer", organisation=make_organisation(side="growing"), email="hr@import.example")
    user.password_hash = None
    db.session.commit()
    token = accounts.make_password_token(user)
    response = submit(client, f"/account/wachtwoord/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tekorten/mijn")
    assert accounts.authenticate("hr@import.example", NEW_PASSWORD) is not None


def test_set_password_needs_twelve_characters(client, db):
    user = make_user()
    url = f"/account/wachtwoord/{accounts.make_password_token(user)}"
    response = submit(client, url, {"password": "te kort", "confirm": "te kort"})
    assert response.status_code == 200
    assert "minstens 12 tekens" in text(response)
    assert accounts.authenticate(user.email, PASSWORD) is not None


def test_expired_token_is_a_friendly_page(client):
    user = make_user()
    token = accounts.make_password_token(user)
    later = time.time() + accounts.PASSWORD_TOKEN_MAX_AGE + 60
    with mock.patch("itsdangerous.timed.time.time", return_value=later):
        response = client.get(f"/account/wachtwoord/{token}")
    assert response.status_code == 400
    assert "Vraag een nieuwe link aan" in text(response)


@pytest.mark.parametrize("token", ["garbled", "eyJ1IjoxfQ.abc.def", "x" * 500, "%00"])
def test_garbled_token_is_a_friendly_page(client, token):
    response = client.get(f"/account/wachtwoord/{token}")
    assert response.status_code in (400, 404)
    assert "Er ging iets mis" not in text(response)


def test_token_for_another_salt_is_refused(app):
    user = make_user()
    organisation = make_organisation()
    invitation = accounts.make_invitation_token(organisation, "a@example.org", user)
    assert accounts.user_for_token(invitation) is None


# ---------------------------------------------------------------- command line


def test_cli_creates_an_admin(cli_runner, db):
    result = cli_runner.invoke(args=["users", "create-admin", "--email", " Beheer@Example.org",
                                     "--password", "een heel lang wachtwoord"])
    assert result.exit_code == 0, result.output
    admin = db.session.scalar(sa.select(User).where(User.email == "beheer@example.org"))
    assert admin is not None and admin.role == "admin"
    assert accounts.authenticate("beheer@example.org", "een heel lang wachtwoord") is not None


@pytest.mark.parametrize("email, password, message", [
    ("beheer@example.org", "kort", "minstens 12 tekens"),
    ("geen-adres", "een heel lang wachtwoord", "geldig e-mailadres"),
])
def test_cli_refuses_bad_admin_input(cli_runner, db, email, password, message):
    result = cli_runner.invoke(args=["users", "create-admin", "--email", email, "--password", password])
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
