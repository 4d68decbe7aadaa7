"""Accounts: registration with email verification, login and its limits, password hashing,
set/reset/change, cookies, colleague invitations, create-admin.

Sessions (logout, replay) are in test_sessions.py, the second factor in test_totp.py."""
import os
import re
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
import sqlalchemy as sa
from argon2.profiles import RFC_9106_LOW_MEMORY
from werkzeug.security import generate_password_hash

from config import Config, ProductionConfig
from nlwerktdoor import create_app
from nlwerktdoor.extensions import db as _db
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


def path_of(link: str) -> str:
    return link.split("nlwerktdoor.test", 1)[1]


def user_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def flash_text(response) -> str:
    found = re.search(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', text(response), re.S)
    return found.group(1) if found else ""


@contextmanager
def limited_app(**settings):
    """Testing config switches rate limiting off; this app switches it on (own memory storage).
    Use it inside a test that has the `app` fixture (which empties PostgreSQL afterwards)."""
    app = create_app("testing", RATELIMIT_ENABLED=True, **settings)
    with app.app_context():
        own_schema = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        if own_schema:
            _db.create_all()
        try:
            yield app
        finally:
            _db.session.remove()
            if own_schema:
                _db.drop_all()
            # PostgreSQL: the shared schema is emptied by the `app` fixture every such test uses.


WORKER_FORM = {"name": "Sam Jansen", "email": "sam@example.org", "password": PASSWORD, "confirm": PASSWORD,
               "locale": "nl"}


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


def test_register_worker_asks_to_verify_the_address_first(client, db):
    url = "/account/aanmelden?role=worker"
    response = submit(client, url, {"name": "Sam Jansen", "email": "  Sam@Example.ORG ", "password": PASSWORD,
                                     "confirm": PASSWORD, "locale": "en"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/bevestig-je-email")
    user = db.session.scalar(sa.select(User))
    assert (user.email, user.role, user.locale, user.organisation_id) == ("sam@example.org", "worker", "en", None)
    assert user.email_verified_at is None
    assert user.password_hash.startswith("$argon2id$")
    assert accounts.verify_password(user.password_hash, PASSWORD)
    page = text(client.get(response.headers["Location"]))
    assert "sam@example.org" in page and "Kijk in je e-mail" in page
    assert client.get("/werkenden/profiel").status_code == 302  # not logged in by registering

    [queued] = emails(db, "verify_email")
    assert (queued.recipient, queued.locale) == ("sam@example.org", "en")
    assert "/account/bevestigen/" in queued.data["link"]

    # The emailed link verifies the address; then logging in leads to the profile.
    response = client.get(path_of(queued.data["link"]))
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/inloggen")
    db.session.refresh(user)
    assert user.email_verified_at is not None
    response = submit(client, "/account/inloggen", {"email": "sam@example.org", "password": PASSWORD})
    assert response.headers["Location"].endswith("/werkenden/profiel")
    assert client.get("/werkenden/profiel").status_code == 200
    # The chosen language is used from the next page on.
    assert "Log out" in text(client.get("/account/inloggen"))


def assert_renders_in_both_languages(db, template: str, link_keys=("link",)) -> None:
    from nlwerktdoor import mail

    [queued] = emails(db, template)
    for locale in ("nl", "en"):
        message = mail.compose(template, locale, queued.recipient, queued.data)
        assert message["Subject"]
        for key in link_keys:
            assert queued.data[key] in message.get_body(("plain",)).get_content()
            assert queued.data[key] in message.get_body(("html",)).get_content()


def test_verification_email_renders_in_both_languages(client, db):
    submit(client, "/account/aanmelden?role=worker", WORKER_FORM)
    assert_renders_in_both_languages(db, "verify_email")


def test_an_unverified_account_sees_only_the_check_email_page(app, client, db):
    user = make_user(role="worker", email="nieuw@example.org", email_verified_at=None)
    response = submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/account/bevestig-je-email")
    for url in ["/werkenden/profiel", "/werkenden/matches", "/account/beveiliging", "/account/wachtwoord-wijzigen"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/account/bevestig-je-email"), url
    # Writing is refused too: a profile POST changes nothing.
    token = csrf_token(client, "/account/bevestig-je-email")
    response = client.post("/werkenden/profiel", data={"csrf_token": token, "postcode": "1011"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/bevestig-je-email")
    assert user.worker_profile is None
    page = text(client.get("/account/bevestig-je-email"))
    assert "nieuw@example.org" in page and "Stuur de e-mail opnieuw" in page
    # What an anonymous visitor may see stays open.
    assert client.get("/").status_code == 200

    response = client.post("/account/bevestig-je-email/opnieuw", data={"csrf_token": token}, follow_redirects=True)
    assert "We hebben een nieuwe link gestuurd" in flash_text(response)
    [queued] = emails(db, "verify_email")
    assert queued.recipient == "nieuw@example.org"

    assert client.get(path_of(queued.data["link"])).headers["Location"].endswith("/werkenden/profiel")
    assert client.get("/werkenden/profiel").status_code == 200


def test_resending_the_verification_email_is_rate_limited(app):
    with limited_app(VERIFICATION_RESEND_LIMIT="2 per hour") as limited:
        user = make_user(email="traag@example.org", email_verified_at=None)
        client = limited.test_client()
        submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD})
        token = csrf_token(client, "/account/bevestig-je-email")
        statuses = [client.post("/account/bevestig-je-email/opnieuw", data={"csrf_token": token}).status_code
                    for _ in range(3)]
        assert statuses == [302, 302, 429]


@pytest.mark.parametrize("case", ["garbled", "expired", "other address", "other salt"])
def test_a_bad_verification_link_is_refused(client, db, case):
    user = make_user(email_verified_at=None)
    token = accounts.make_verification_token(user)
    if case == "garbled":
        token = token[:-4] + "abcd"
    elif case == "other address":
        user.email = "veranderd@example.org"
        db.session.commit()
    elif case == "other salt":
        token = accounts.make_password_token(user)
    later = time.time() + (accounts.VERIFICATION_MAX_AGE + 60 if case == "expired" else 0)
    with mock.patch("itsdangerous.timed.time.time", return_value=later):
        response = client.get(f"/account/bevestigen/{token}")
    assert response.status_code == 400
    assert "Deze bevestigingslink is verlopen of klopt niet" in text(response)
    db.session.refresh(user)
    assert user.email_verified_at is None


def test_registration_with_a_known_address_gives_the_same_answer(app, db):
    owner = make_user(email="sam@example.org", name="Sam Bestaand", locale="en")
    answers = []
    for email in ("SAM@example.org", "nieuw@example.org"):
        client = app.test_client()
        response = submit(client, "/account/aanmelden?role=worker", {**WORKER_FORM, "email": email})
        page = text(client.get(response.headers["Location"]))
        answers.append((response.status_code, response.headers["Location"], page.replace(email.lower(), "ADDRESS")))
    assert answers[0] == answers[1]
    # Nothing was made for the known address; its owner was told instead, in their language.
    assert user_count(db) == 2
    [notice] = emails(db, "account_exists")
    assert (notice.recipient, notice.locale) == (owner.email, "en")
    assert "/account/inloggen" in notice.data["login_link"] and "/wachtwoord-vergeten" in notice.data["reset_link"]
    assert [e.recipient for e in emails(db, "verify_email")] == ["nieuw@example.org"]


def test_repeated_registrations_with_a_known_address_send_one_notice_an_hour(app, db):
    make_user(email="sam@example.org")
    now = datetime(2026, 11, 20, 9, 5, tzinfo=timezone.utc)
    for minutes in (0, 20, 50):
        assert accounts.register_worker("X", "sam@example.org", PASSWORD, now=now + timedelta(minutes=minutes)) is None
    assert len(emails(db, "account_exists")) == 1
    accounts.register_worker("X", "sam@example.org", PASSWORD, now=now + timedelta(hours=1))
    assert len(emails(db, "account_exists")) == 2


def test_account_exists_email_renders_in_both_languages(app, db):
    make_user(email="sam@example.org")
    accounts.register_worker("X", "sam@example.org", PASSWORD)
    assert_renders_in_both_languages(db, "account_exists", ("login_link", "reset_link"))


def test_employer_registration_with_a_known_address_makes_no_organisation(client, db):
    make_user(email="hanna@zorggroep.example")
    response = submit(client, "/account/aanmelden?role=employer", employer_form())
    assert response.headers["Location"].endswith("/account/bevestig-je-email")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0
    assert len(emails(db, "account_exists")) == 1


COMMON = "te makkelijk te raden"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"password": "kort", "confirm": "kort"}, "minstens 12 tekens"),
        ({"password": "qwerty123456", "confirm": "qwerty123456"}, COMMON),
        ({"password": "Wachtwoord2024!", "confirm": "Wachtwoord2024!"}, COMMON),
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


@pytest.mark.parametrize(
    "password, common",
    [
        ("123456789123", True),
        ("QWERTYUIOPASDF", False),  # not on the list as such
        ("q1w2e3r4t5y6", True),
        ("Q1W2E3R4T5Y6", True),  # case-insensitive
        ("  1qaz2wsx3edc ", True),
        ("wachtwoord123456", True),  # a listed word with digits around it
        ("!!welkom2020!!", True),
        ("feyenoord1908", True),
        ("121212121212", True),  # fewer than four different characters
        ("aaaaaaaaaaaaaaaa", True),
        (PASSWORD, False),
        ("een lange nieuwe zin van woorden", False),
        ("fietsen-langs-de-dijk-9", False),
    ],
)
def test_common_password_check(password, common):
    assert accounts.is_common_password(password) is common


def test_the_common_password_list_is_shipped_lower_case():
    listed = accounts.common_passwords()
    assert len(listed) > 15000
    assert {"password", "wachtwoord", "qwerty123456"} <= listed
    assert all(entry == entry.lower() for entry in listed)


def test_register_employer_creates_unverified_organisation(client, db):
    response = submit(client, "/account/aanmelden?role=employer&side=growing", employer_form(kvk_number="1234 5678"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/bevestig-je-email")
    user = db.session.scalar(sa.select(User))
    org = user.organisation
    assert (user.role, user.email, user.email_verified_at) == ("employer", "hanna@zorggroep.example", None)
    assert (org.name, org.kvk_number, org.sector_code, org.side) == ("Zorggroep Noord", "12345678", "care", "growing")
    assert org.verified_at is None and not org.is_verified
    [queued] = emails(db, "verify_email")
    assert queued.recipient == "hanna@zorggroep.example"
    client.get(path_of(queued.data["link"]))
    response = submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/tekorten/mijn")


def test_employer_side_is_preselected_from_the_query(client):
    page = text(client.get("/account/aanmelden?role=employer&side=shrinking"))
    assert re.search(r'value="shrinking"[^>]*checked|checked[^>]*value="shrinking"', page)


def test_employer_side_defaults_to_the_sector_trend(client, db):
    response = submit(client, "/account/aanmelden?role=employer",
                      employer_form(side="", sector="aviation", organisation_name="Vliegmaatschappij"))
    assert response.status_code == 302
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


@pytest.mark.parametrize("known_address", [False, True])
def test_existing_kvk_without_invitation_is_refused(client, db, known_address):
    """Checked before the address, so the answer is the same whether or not the address has an account."""
    org = make_organisation(side="growing")
    if known_address:
        make_user(email="hanna@zorggroep.example")
    response = submit(client, "/account/aanmelden?role=employer", employer_form(kvk_number=org.kvk_number))
    assert response.status_code == 200
    assert "Vraag een collega om je uit te nodigen" in text(response)
    assert user_count(db) == int(known_address)
    assert emails(db, "account_exists") == []


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
    assert piet.email_verified_at is not None  # the invitation reached the address
    assert client.get("/aanbod/").status_code == 200
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


def _login_attempts(client, token, emails_and_addresses, password="fout wachtwoord"):
    return [
        client.post("/account/inloggen", data={"email": email, "password": password, "csrf_token": token},
                    environ_base={"REMOTE_ADDR": address}).status_code
        for email, address in emails_and_addresses
    ]


def test_login_is_limited_per_address_with_a_friendly_page(app):
    with limited_app(LOGIN_LIMIT_PER_ADDRESS="10 per minute", LOGIN_LIMIT_PER_ACCOUNT="100 per minute") as limited:
        client = limited.test_client()
        token = csrf_token(client, "/account/inloggen")
        # Ten different accounts from one address: the eleventh try is refused.
        statuses = _login_attempts(client, token, [(f"x{i}@example.org", "10.0.0.1") for i in range(11)])
        assert statuses == [200] * 10 + [429]
        response = client.post("/account/inloggen", data={"email": "y@example.org", "password": "fout",
                                                          "csrf_token": token}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert response.status_code == 429
        page = text(response)
        assert "Te veel pogingen" in page and "Wacht even" in page
        assert "<html" in page  # our own page, with the site's layout
        # Another address is not affected.
        assert _login_attempts(client, token, [("x@example.org", "10.0.0.2")]) == [200]


def test_login_is_limited_per_account_counting_only_failures(app):
    with limited_app(LOGIN_LIMIT_PER_ADDRESS="1000 per minute", LOGIN_LIMIT_PER_ACCOUNT="5 per minute") as limited:
        user = make_user(email="doelwit@example.org")
        client = limited.test_client()
        token = csrf_token(client, "/account/inloggen")
        # Successful logins do not count against the account.
        for _ in range(6):
            assert _login_attempts(client, token, [(user.email, "10.0.1.1")], password=PASSWORD) == [302]
        # Failed attempts from five different addresses, then the account is locked for a while —
        # whatever the address, and also with the right password, and also written differently.
        attempts = [(user.email, f"10.0.2.{i}") for i in range(5)]
        assert _login_attempts(client, token, attempts) == [200] * 5
        assert _login_attempts(client, token, [(" DOELWIT@example.org", "10.0.3.1")], password=PASSWORD) == [429]
        # Other accounts can still log in from those addresses.
        other = make_user(email="ander@example.org")
        assert _login_attempts(client, token, [(other.email, "10.0.2.1")], password=PASSWORD) == [302]


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_or_skip():
    import redis

    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is not reachable, and CI must test the production limiter storage")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable (set CI=1 to make this a failure)")
    return connection


def test_login_limits_hold_in_redis_across_app_instances(app):
    """Production counts in Redis, so two worker processes share one limit."""
    connection = _redis_or_skip()
    prefix = f"nlwerktdoor-test-{uuid.uuid4().hex}"
    settings = dict(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                    LOGIN_LIMIT_PER_ADDRESS="4 per minute", LOGIN_LIMIT_PER_ACCOUNT="100 per minute")
    try:
        with limited_app(**settings) as first:
            client = first.test_client()
            token = csrf_token(client, "/account/inloggen")
            assert _login_attempts(client, token, [("a@example.org", "10.9.0.1")] * 2) == [200, 200]
        with limited_app(**settings) as second:  # a second "worker" with its own memory
            client = second.test_client()
            token = csrf_token(client, "/account/inloggen")
            assert _login_attempts(client, token, [("b@example.org", "10.9.0.1")] * 3) == [200, 200, 429]
        assert connection.keys(f"*{prefix}*")  # the counts really are in Redis
    finally:
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)


def test_production_settings_keep_limits_in_redis_and_cookies_secure():
    if "RATELIMIT_STORAGE_URI" not in os.environ:
        assert ProductionConfig.RATELIMIT_STORAGE_URI.startswith("redis://")
    assert Config.RATELIMIT_STORAGE_URI == os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert ProductionConfig.REMEMBER_COOKIE_SECURE is True
    for config in (Config, ProductionConfig):
        assert config.SESSION_COOKIE_HTTPONLY is True and config.REMEMBER_COOKIE_HTTPONLY is True
        assert config.SESSION_COOKIE_SAMESITE == "Lax" and config.REMEMBER_COOKIE_SAMESITE == "Lax"


def test_session_cookie_is_httponly_and_samesite_lax(client):
    user = make_user()
    response = submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests: a Secure cookie would never come back


def test_session_cookie_is_secure_in_production():
    production = create_app("production", SECRET_KEY="x" * 32, SQLALCHEMY_DATABASE_URI="sqlite://",
                            SERVER_NAME="nlwerktdoor.test", RATELIMIT_STORAGE_URI="memory://")
    with production.test_request_context("/", base_url="https://nlwerktdoor.test"):
        from flask import session

        session["x"] = 1
        response = production.make_response("ok")
        production.session_interface.save_session(production, session, response)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# ---------------------------------------------------------------- password hashing


def test_production_argon2_settings_meet_the_owasp_minimum():
    """OWASP Password Storage Cheat Sheet: argon2id with at least m=19 MiB, t=2, p=1."""
    assert Config.ARGON2_MEMORY_COST >= 19 * 1024
    assert Config.ARGON2_TIME_COST >= 2
    assert Config.ARGON2_PARALLELISM >= 1
    assert ProductionConfig.ARGON2_MEMORY_COST == Config.ARGON2_MEMORY_COST
    # The defaults are RFC 9106's low-memory profile.
    assert (Config.ARGON2_TIME_COST, Config.ARGON2_MEMORY_COST, Config.ARGON2_PARALLELISM) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism)


def test_hashes_are_argon2id_with_the_configured_parameters(app):
    app.config.update(ARGON2_TIME_COST=2, ARGON2_MEMORY_COST=1024, ARGON2_PARALLELISM=1)
    stored = accounts.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=1024,t=2,p=1$")
    assert accounts.verify_password(stored, PASSWORD)
    assert not accounts.verify_password(stored, PASSWORD + "x")
    assert not accounts.password_needs_rehash(stored)
    app.config.update(ARGON2_TIME_COST=3)
    assert accounts.password_needs_rehash(stored)  # stronger settings: upgraded at the next login


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:1000"])
def test_an_old_werkzeug_hash_still_works_and_is_upgraded_at_login(client, db, method):
    user = make_user(email="oud@example.org")
    user.password_hash = generate_password_hash(PASSWORD, method=method)
    db.session.commit()
    assert accounts.authenticate(user.email, "fout wachtwoord!!") is None
    db.session.refresh(user)
    assert not user.password_hash.startswith("$argon2")  # a wrong password changes nothing
    response = submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.password_hash.startswith("$argon2id$")
    assert accounts.authenticate(user.email, PASSWORD) is not None


@pytest.mark.parametrize("stored", ["", "plain-text", "$argon2id$garbage", "scrypt:broken$x$y"])
def test_a_broken_stored_hash_never_matches(app, stored):
    assert accounts.verify_password(stored, PASSWORD) is False


# ---------------------------------------------------------------- password change


def test_change_password(client, db, login_as):
    user = make_user(role="worker")
    login_as(user)
    page = text(client.get("/account/beveiliging"))
    assert "Wachtwoord wijzigen" in page and "Tweestapsverificatie" not in page  # workers: no second factor
    response = submit(client, "/account/wachtwoord-wijzigen",
                      {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/beveiliging")
    assert client.get("/werkenden/profiel").status_code == 200  # this session goes on
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None
    assert accounts.authenticate(user.email, PASSWORD) is None


@pytest.mark.parametrize(
    "current, new, confirm, message",
    [
        ("fout wachtwoord!", NEW_PASSWORD, NEW_PASSWORD, "Je huidige wachtwoord klopt niet"),
        (PASSWORD, "kort", "kort", "minstens 12 tekens"),
        (PASSWORD, "password1234", "password1234", COMMON),
        (PASSWORD, NEW_PASSWORD, "iets anders dan dat", "niet gelijk"),
        (PASSWORD, PASSWORD, PASSWORD, "Kies een ander wachtwoord dan je huidige"),
    ],
)
def test_change_password_refuses_bad_input(client, db, login_as, current, new, confirm, message):
    user = make_user(role="worker")
    login_as(user)
    before = user.password_hash
    response = submit(client, "/account/wachtwoord-wijzigen",
                      {"current_password": current, "password": new, "confirm": confirm})
    assert response.status_code == 200
    assert message in text(response)
    db.session.refresh(user)
    assert user.password_hash == before


def test_change_password_needs_a_login(client):
    response = client.get("/account/wachtwoord-wijzigen")
    assert response.status_code == 302 and "/account/inloggen" in response.headers["Location"]


# ---------------------------------------------------------------- password set and reset


def test_forgot_password_gives_the_same_answer_and_queues_only_for_a_known_address(client, db):
    user = make_user(email="bekend@example.org", locale="en")
    known = submit(client, "/account/wachtwoord-vergeten", {"email": "Bekend@example.org"}, follow_redirects=True)
    unknown = submit(client, "/account/wachtwoord-vergeten", {"email": "onbekend@example.org"}, follow_redirects=True)
    assert known.status_code == unknown.status_code == 200

    assert flash_text(known) == flash_text(unknown)
    assert known.request.path == unknown.request.path
    assert "Als er een account is met dit e-mailadres" in flash_text(known)
    [queued] = emails(db, "password")
    assert (queued.recipient, queued.locale) == (user.email, "en")
    assert "/account/wachtwoord/" in queued.data["link"]


def test_password_email_renders_in_both_languages(app, db):
    user = make_user(email="lees@example.org", name="Lees Mee")
    accounts.request_password_reset(user.email)
    assert_renders_in_both_languages(db, "password")


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
    assert accounts.verify_password(user.password_hash, NEW_PASSWORD)
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
    assert accounts.verify_password(user.password_hash, NEW_PASSWORD)


def test_set_password_activates_an_imported_account(client, db):
    user = make_user(role="employer", organisation=make_organisation(side="growing"), email="hr@import.example",
                     email_verified_at=None)
    user.password_hash = None
    db.session.commit()
    token = accounts.make_password_token(user)
    response = submit(client, f"/account/wachtwoord/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tekorten/mijn")
    assert client.get("/tekorten/mijn").status_code == 200  # the emailed link proved the address
    db.session.refresh(user)
    assert user.email_verified_at is not None
    assert accounts.authenticate("hr@import.example", NEW_PASSWORD) is not None


def test_set_password_refuses_a_common_password(client):
    user = make_user()
    url = f"/account/wachtwoord/{accounts.make_password_token(user)}"
    response = submit(client, url, {"password": "iloveyou1234", "confirm": "iloveyou1234"})
    assert response.status_code == 200
    assert COMMON in text(response)


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
    assert admin is not None and admin.role == "admin" and admin.email_verified_at is not None
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
