"""The optional second factor (TOTP) for employers, coordinators and admins."""
import re
import time
from datetime import datetime, timedelta, timezone
from unittest import mock

import pyotp
import pytest

from nlwerktdoor.models import User
from nlwerktdoor.services import accounts
from tests.factories import PASSWORD, make_employer, make_user
from tests.test_accounts import NEW_PASSWORD, csrf_token, limited_app, submit, text

ADMIN_HOME = "/beheer/"
CODE_PAGE = "/account/inloggen/code"


def code_for(secret: str, seconds_from_now: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + seconds_from_now)


def with_second_factor(role="admin") -> tuple[User, str, list[str]]:
    """A user with TOTP on, switched on 10 minutes ago (so the codes of now are all unused)."""
    user = make_employer() if role == "employer" else make_user(role=role)
    secret = accounts.new_totp_secret()
    earlier = datetime.now(timezone.utc) - timedelta(minutes=10)
    codes = accounts.enable_totp(user, secret, pyotp.TOTP(secret).at(earlier), now=earlier)
    return user, secret, codes


def log_in_with_password(client, user, password=PASSWORD):
    return submit(client, "/account/inloggen", {"email": user.email, "password": password})


def is_logged_out(client, url=ADMIN_HOME) -> bool:
    response = client.get(url)
    return response.status_code == 302 and "/account/inloggen" in response.headers["Location"]


# ---------------------------------------------------------------- switching it on


def test_enabling_shows_the_secret_as_text_and_needs_a_code(client, db, login_as):
    user = make_user(role="coordinator")
    login_as(user)
    assert "Tweestapsverificatie aanzetten" in text(client.get("/account/beveiliging"))
    page = text(client.get("/account/tweestaps"))
    secret = re.search(r"<code>([A-Z2-7 ]{32,})</code>", page).group(1).replace(" ", "")
    assert "otpauth://totp/nlwerktdoor:" in page and f"secret={secret}" in page
    assert "<img" not in page and "chart" not in page.lower()  # no external QR service
    assert secret in text(client.get("/account/tweestaps"))  # a reload keeps the same secret

    wrong = submit(client, "/account/tweestaps", {"code": "000000" if code_for(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and "Deze code klopt niet" in text(wrong)
    db.session.refresh(user)
    assert not user.totp_enabled

    response = submit(client, "/account/tweestaps", {"code": code_for(secret)})
    assert response.status_code == 200
    page = text(response)
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page)
    assert len(codes) == accounts.BACKUP_CODE_COUNT == len(set(codes))
    db.session.refresh(user)
    assert user.totp_enabled and user.totp_secret == secret
    # Backup codes are kept only as hashes.
    assert len(user.totp_backup_codes) == len(codes)
    assert not any(code in str(user.totp_backup_codes) or code.replace("-", "") in str(user.totp_backup_codes)
                   for code in codes)
    # The session that switched it on goes on; the page now offers to switch it off.
    page = text(client.get("/account/beveiliging"))
    assert "Tweestapsverificatie uitzetten" in page and f"Ongebruikte reservecodes: {len(codes)}" in page


@pytest.mark.parametrize("role", ["worker"])
def test_workers_cannot_switch_it_on(client, login_as, role):
    login_as(make_user(role=role))
    assert client.get("/account/tweestaps").status_code == 403
    with pytest.raises(accounts.NotAllowedError):
        user = make_user(role=role)
        secret = accounts.new_totp_secret()
        accounts.enable_totp(user, secret, code_for(secret))


@pytest.mark.parametrize("secret", ["", "too-short", "a" * 32, "A" * 65])
def test_enabling_refuses_a_bad_secret(app, secret):
    user = make_user(role="admin")
    with pytest.raises(accounts.ValidationError):
        accounts.enable_totp(user, secret, "123456")
    assert not user.totp_enabled


# ---------------------------------------------------------------- logging in


def test_login_asks_for_the_code_and_is_not_logged_in_before_it(client, db):
    user, secret, _codes = with_second_factor("admin")
    response = log_in_with_password(client, user)
    assert response.status_code == 302 and response.headers["Location"].endswith(CODE_PAGE)
    assert is_logged_out(client)  # the password alone logs no one in
    assert "Uitloggen" not in text(client.get(CODE_PAGE))
    db.session.refresh(user)
    assert user.last_login_at is None

    response = submit(client, CODE_PAGE, {"code": code_for(secret)})
    assert response.status_code == 302 and response.headers["Location"].endswith(ADMIN_HOME)
    assert client.get(ADMIN_HOME).status_code == 200
    db.session.refresh(user)
    assert user.last_login_at is not None


def test_the_next_page_survives_the_second_step(client):
    user, secret, _codes = with_second_factor("admin")
    submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD, "next": "/beheer/?x=1"})
    response = submit(client, CODE_PAGE, {"code": code_for(secret)})
    assert response.headers["Location"].endswith("/beheer/?x=1")


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567", "000000 1"])
def test_a_wrong_code_is_refused(client, code):
    user, secret, _codes = with_second_factor("employer")
    log_in_with_password(client, user)
    if code == code_for(secret):
        code = "999999"
    response = submit(client, CODE_PAGE, {"code": code})
    assert response.status_code == 200
    assert is_logged_out(client, "/tekorten/mijn")


def test_a_code_works_once(app):
    user, secret, _codes = with_second_factor("admin")
    first = app.test_client()
    log_in_with_password(first, user)
    code = code_for(secret)
    assert submit(first, CODE_PAGE, {"code": code}).status_code == 302
    second = app.test_client()
    log_in_with_password(second, user)
    assert submit(second, CODE_PAGE, {"code": code}).status_code == 200  # replayed
    assert is_logged_out(second)
    assert submit(second, CODE_PAGE, {"code": code_for(secret, 30)}).status_code == 302  # the next one works


def test_a_backup_code_works_once(app, db):
    user, _secret, codes = with_second_factor("admin")
    client = app.test_client()
    log_in_with_password(client, user)
    assert submit(client, CODE_PAGE, {"code": " " + codes[3].upper().replace("-", " ") + " "}).status_code == 302
    db.session.refresh(user)
    assert len(user.totp_backup_codes) == len(codes) - 1
    other = app.test_client()
    log_in_with_password(other, user)
    assert submit(other, CODE_PAGE, {"code": codes[3]}).status_code == 200
    assert submit(other, CODE_PAGE, {"code": codes[4]}).status_code == 302


def test_the_code_step_expires(client):
    user, secret, _codes = with_second_factor("admin")
    log_in_with_password(client, user)
    later = time.time() + 301
    with mock.patch("nlwerktdoor.accounts.views.time.time", return_value=later):
        response = client.get(CODE_PAGE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/inloggen")
    assert is_logged_out(client)


def test_the_code_page_without_a_password_step_sends_to_login(client):
    response = client.get(CODE_PAGE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/inloggen")


def test_a_password_change_in_between_voids_the_first_step(client, db):
    user, secret, _codes = with_second_factor("admin")
    log_in_with_password(client, user)
    accounts.end_all_sessions(user)  # e.g. a password change elsewhere
    assert submit(client, CODE_PAGE, {"code": code_for(secret)}).status_code == 200
    assert is_logged_out(client)


def test_the_code_step_is_rate_limited(app):
    with limited_app(SECOND_FACTOR_LIMIT="3 per minute") as limited:
        user, secret, _codes = with_second_factor("admin")
        client = limited.test_client()
        log_in_with_password(client, user)
        token = csrf_token(client, CODE_PAGE)
        wrong = "999999" if code_for(secret) != "999999" else "888888"
        statuses = [client.post(CODE_PAGE, data={"code": wrong, "csrf_token": token}).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        # Even the right code waits now.
        assert client.post(CODE_PAGE, data={"code": code_for(secret), "csrf_token": token}).status_code == 429


def test_a_reset_link_does_not_skip_the_second_factor(client):
    user, secret, _codes = with_second_factor("admin")
    token = accounts.make_password_token(user)
    response = submit(client, f"/account/wachtwoord/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/inloggen")
    assert is_logged_out(client)
    assert log_in_with_password(client, user, NEW_PASSWORD).headers["Location"].endswith(CODE_PAGE)


def test_switching_it_on_ends_other_sessions(app, login_as, client):
    user = make_user(role="admin")
    other = app.test_client()
    submit(other, "/account/inloggen", {"email": user.email, "password": PASSWORD})
    assert other.get(ADMIN_HOME).status_code == 200
    login_as(user)
    secret = re.search(r"secret=([A-Z2-7]+)", text(client.get("/account/tweestaps"))).group(1)
    submit(client, "/account/tweestaps", {"code": code_for(secret)})
    assert client.get(ADMIN_HOME).status_code == 200
    assert is_logged_out(other)


# ---------------------------------------------------------------- switching it off


def _log_in_fully(client, user, secret, seconds_from_now=0):
    log_in_with_password(client, user)
    assert submit(client, CODE_PAGE, {"code": code_for(secret, seconds_from_now)}).status_code == 302


@pytest.mark.parametrize("password, code, message", [
    ("fout wachtwoord!", "right", "Je wachtwoord klopt niet"),
    (PASSWORD, "wrong", "Deze code klopt niet"),
    (PASSWORD, "", "Vul de code in"),
])
def test_switching_it_off_needs_password_and_code(client, db, password, code, message):
    user, secret, _codes = with_second_factor("admin")
    _log_in_fully(client, user, secret)
    code = {"right": code_for(secret, 30), "wrong": "999999" if code_for(secret, 30) != "999999" else "888888"}.get(
        code, code)
    response = client.post("/account/tweestaps/uitzetten",
                           data={"password": password, "code": code,
                                 "csrf_token": csrf_token(client, "/account/beveiliging")})
    assert response.status_code == 200
    assert message in text(response)
    db.session.refresh(user)
    assert user.totp_enabled


def test_switching_it_off(client, db):
    user, secret, codes = with_second_factor("admin")
    _log_in_fully(client, user, secret)
    response = client.post("/account/tweestaps/uitzetten",
                           data={"password": PASSWORD, "code": codes[0],
                                 "csrf_token": csrf_token(client, "/account/beveiliging")})
    assert response.status_code == 302
    db.session.refresh(user)
    assert not user.totp_enabled and user.totp_secret is None and user.totp_backup_codes is None
    assert client.get(ADMIN_HOME).status_code == 200
    other = client.application.test_client()
    assert log_in_with_password(other, user).headers["Location"].endswith(ADMIN_HOME)
