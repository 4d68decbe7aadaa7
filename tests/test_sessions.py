"""Sessions end for real: logout, a password change or reset refuse every earlier session cookie."""
import pytest
from flask.sessions import SecureCookieSessionInterface

from nlwerktdoor.services import accounts
from tests.factories import PASSWORD, make_user
from tests.test_accounts import NEW_PASSWORD, csrf_token, submit

PROFILE = "/werkenden/profiel"


def session_cookie(client) -> str:
    cookie = client.get_cookie("session", domain=client.application.config["SERVER_NAME"])
    assert cookie is not None
    return cookie.value


def replay(app, cookie_value: str):
    """A fresh browser that sends an old session cookie; returns the response to a logged-in page."""
    other = app.test_client()
    other.set_cookie("session", cookie_value, domain=app.config["SERVER_NAME"])
    return other.get(PROFILE)


def is_refused(response) -> bool:
    return response.status_code == 302 and "/account/inloggen" in response.headers["Location"]


def logged_in_client(app, user):
    client = app.test_client()
    response = submit(client, "/account/inloggen", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(PROFILE).status_code == 200
    return client


def test_a_replayed_cookie_works_while_the_session_lives(app):
    user = make_user(role="worker")
    client = logged_in_client(app, user)
    assert replay(app, session_cookie(client)).status_code == 200  # the test itself can tell success


def test_logout_refuses_the_old_session_cookie(app):
    user = make_user(role="worker")
    client = logged_in_client(app, user)
    old_cookie = session_cookie(client)
    client.post("/account/uitloggen", data={"csrf_token": csrf_token(client, "/account/inloggen")})
    assert is_refused(client.get(PROFILE))
    assert is_refused(replay(app, old_cookie))


def test_logout_ends_the_sessions_on_other_devices_too(app):
    user = make_user(role="worker")
    phone = logged_in_client(app, user)
    laptop = logged_in_client(app, user)
    laptop.post("/account/uitloggen", data={"csrf_token": csrf_token(laptop, "/account/inloggen")})
    assert is_refused(phone.get(PROFILE))


def test_a_password_change_ends_every_other_session(app):
    user = make_user(role="worker")
    phone = logged_in_client(app, user)
    old_cookie = session_cookie(phone)
    laptop = logged_in_client(app, user)
    response = submit(laptop, "/account/wachtwoord-wijzigen",
                      {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert laptop.get(PROFILE).status_code == 200  # the device that changed it stays logged in
    assert is_refused(phone.get(PROFILE))
    assert is_refused(replay(app, old_cookie))


def test_a_password_reset_ends_every_session(app):
    user = make_user(role="worker")
    client = logged_in_client(app, user)
    old_cookie = session_cookie(client)
    other = app.test_client()
    token = accounts.make_password_token(user)
    response = submit(other, f"/account/wachtwoord/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert other.get(PROFILE).status_code == 200
    assert is_refused(client.get(PROFILE))
    assert is_refused(replay(app, old_cookie))


@pytest.mark.parametrize("user_id", ["{id}", "{id}:", "{id}:wrong-token", "{id}:{token}x", "x:{token}", "²:{token}",
                                     ":{token}", "{id}:{token}:extra"])
def test_a_forged_session_id_is_refused(app, user_id):
    """A session id without the current token — e.g. from before tokens existed — logs no one in."""
    user = make_user(role="worker")
    forged = {"_user_id": user_id.format(id=user.id, token=user.session_token), "_fresh": True}
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert is_refused(replay(app, serializer.dumps(forged)))


def test_a_deactivated_account_loses_its_session(app, db):
    user = make_user(role="worker")
    client = logged_in_client(app, user)
    user.active = False
    db.session.commit()
    assert is_refused(client.get(PROFILE))


def test_session_id_holds_the_token(app):
    user = make_user()
    assert user.get_id() == f"{user.id}:{user.session_token}"
    assert len(user.session_token) >= 32
    before = user.session_token
    accounts.end_all_sessions(user)
    assert user.session_token != before
    assert accounts.user_for_session(f"{user.id}:{before}") is None
    assert accounts.user_for_session(user.get_id()) is user
