"""Fixtures: app, db, client, login_as, outbox.

SQLite (default): a fresh in-memory schema per test. PostgreSQL: set TEST_DATABASE_URL; the schema
is built once per session and every table is truncated after each test.
"""
import os

import pytest
import sqlalchemy as sa

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


@pytest.fixture
def app(_schema):
    app = create_app("testing")
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
        else:
            _db.drop_all()
        _db.session.remove()


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
        response = client.post(
            "/account/inloggen", data={"email": user.email, "password": password}, follow_redirects=False
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
