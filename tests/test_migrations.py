"""Migrations have one head, build an empty database, and agree with the models."""
import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from nlwerktdoor import create_app
from nlwerktdoor.extensions import db

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new empty database of the kind under test."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}"
        return
    base_url = os.environ["TEST_DATABASE_URL"]
    name = f"migrations_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_have_a_single_head():
    app = create_app("testing")
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        assert len(script.get_heads()) == 1


def test_upgrade_builds_an_empty_database_that_matches_the_models(empty_database_url):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)
            sectors = connection.execute(sa.text("SELECT count(*) FROM sectors")).scalar_one()
        db.engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
    assert sectors == 12, "the initial migration seeds the 2020 sectors"
