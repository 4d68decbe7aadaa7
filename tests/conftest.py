"""Fixtures: app, db, client, login_as, outbox.

SQLite (default): a fresh in-memory schema per test. PostgreSQL: set TEST_DATABASE_URL; the schema
is built once per session and every table is truncated after each test.
"""
import os
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import g, request_started

from nlwerktdoor import create_app
from nlwerktdoor.extensions import db as _db
from nlwerktdoor.services.sectors import ensure_default_sectors

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture(scope="session")
def _schema():
    """On PostgreSQL, build the schema once (dropping whatever an earlier run left)."""
    if ON_POSTGRES:
        app = create_app("testing")
        with app.app_context():
            _db.drop_all()
            _db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
            _db.session.commit()
            _db.create_all()
    yield


@pytest.fixture(scope="session", autouse=True)
def _engine_compiled():
    """The matching engine compiled once for the session, as a deployment does (`flask match warm`):
    on a fresh clone numba compiles it in some fifteen seconds, which would otherwise land in the
    first test that matches, possibly inside a browser test's page."""
    from nlwerktdoor.matching import warm_up

    warm_up()


def _fresh_globals(sender, **extra):
    """The fixture keeps one app context open for factories, and Flask reuses it for test requests;
    start each request with an empty `g`, as in production, so a logged-in user or CSRF token
    cannot leak from one request (or one test client) to the next."""
    g.__dict__.clear()


@contextmanager
def app_with_database(database_url: str | None = None):
    """A testing app inside an app context, on a fresh schema; tables emptied afterwards on PostgreSQL."""
    overrides = {"SQLALCHEMY_DATABASE_URI": database_url} if database_url else {}
    app = create_app("testing", **overrides)
    request_started.connect(_fresh_globals, app)
    with app.app_context():
        if not ON_POSTGRES:
            _db.create_all()
        ensure_default_sectors()
        yield app
        _db.session.remove()
        if ON_POSTGRES:
            tables = ", ".join(t.name for t in _db.metadata.sorted_tables)
            _db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            _db.session.commit()
        _db.session.remove()
        # SQLite: the database lives in the engine's connection (memory) or a temporary file.
        _db.engine.dispose()


@pytest.fixture
def app(_schema):
    with app_with_database() as app:
        yield app


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli_runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login_as(client):
    """Log a user in on the test client by going through the real login form."""

    def login(user, password="correct horse battery staple"):
        # CSRF stays on in tests: take the token from the login form, as a browser would.
        page = client.get("/account/inloggen").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, page[:500]
        response = client.post(
            "/account/inloggen",
            data={"email": user.email, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        return client

    return login


@pytest.fixture
def outbox(app):
    """Messages 'sent' by the memory mail backend during the test."""
    from nlwerktdoor import mail

    mail.memory_outbox.clear()
    return mail.memory_outbox
