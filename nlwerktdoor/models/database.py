"""Column helpers shared by the models, and engine settings per database."""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on SQLite too (which stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# Lists of ESCO ids, certificate codes or sector codes. JSON works the same on SQLite and PostgreSQL.
StringList = sa.JSON

_JSON_DECODER = json.JSONDecoder()


def json_loads(data):
    """json.loads for the JSON columns the database hands back (the engine's json_deserializer).

    A matching run decodes three JSON columns for every candidate (2.4 million at national size),
    and json.loads spent more time around the C decoder (detecting the encoding, skipping
    whitespace, checking the end) than in it. The decoder's raw_decode does only the decoding; a
    value it does not take whole (whitespace around it, anything malformed) goes the full way."""
    text = data if isinstance(data, str) else bytes(data).decode()
    try:
        value, end = _JSON_DECODER.raw_decode(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def set_engine_options(app: Flask) -> None:
    """Engine options every database gets (before db.init_app creates the engine): json_loads."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("json_deserializer", json_loads)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_engine(app: Flask) -> None:
    """SQLite: enforce foreign keys, wait for a lock instead of failing at once, and (for a file) WAL
    plus BEGIN IMMEDIATE, so the development server and the scheduler can share one file.

    Why: left alone, pysqlite only sends BEGIN before the first INSERT/UPDATE/DELETE, so the reads
    before it run outside the transaction (another process may change what was read: lost updates).
    A real deferred BEGIN fixes that but asks for the write lock only at the first write; if another
    process committed in between, SQLite cannot upgrade and fails at once with "database is locked"
    (the busy timeout does not help). BEGIN IMMEDIATE takes the write lock up front, so a second
    writer waits (up to the busy timeout) instead. The cost: file-SQLite transactions run one at a
    time — fine for the embedded default; production uses PostgreSQL, which this leaves untouched.
    tests/test_job_faults.py shows both failure modes disappear.
    """
    from ..extensions import db

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite"):
        return
    in_memory = uri in ("sqlite://", "sqlite:///:memory:") or ":memory:" in uri or "mode=memory" in uri

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit no longer waits for fsync
        cursor.close()
        if not in_memory:
            # SQLAlchemy's pysqlite recipe: turn off the driver's own BEGIN handling, emit ours below.
            dbapi_connection.isolation_level = None

    if not in_memory:

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
