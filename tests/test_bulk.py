"""services.bulk.insert_rows: many rows in a few statements, back as objects that read no further."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from nlwerktdoor.models import OutgoingEmail
from nlwerktdoor.models.database import utcnow
from nlwerktdoor.services.bulk import insert_rows
from tests.conftest import ON_POSTGRES


def _row(n: int, **extra) -> dict:
    return dict(recipient=f"r{n}@example.org", template="digest", data={"n": n, "items": [n, str(n)]},
                idempotency_key=f"bulk:{n}", message_id=f"<{n}@test>", **extra)


def _count_statements(db):
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_rows_come_back_in_order_with_their_ids_and_defaults(db):
    # Rows that leave different columns empty (last_error here; worker_id or listing_id for matches).
    rows = [_row(n, last_error=None if n % 2 else "x") for n in range(7)]
    emails = insert_rows(OutgoingEmail, rows)
    db.session.commit()
    stored = {e.idempotency_key: e for e in db.session.scalars(sa.select(OutgoingEmail))}
    assert [e.idempotency_key for e in emails] == [f"bulk:{n}" for n in range(7)]
    for n, email in enumerate(emails):
        assert stored[f"bulk:{n}"].id == email.id
        assert email.data == {"n": n, "items": [n, str(n)]}
        assert email.last_error == (None if n % 2 else "x")
        # Python defaults of the model, written into the row and the object alike
        assert email.status == "pending" and email.attempts == 0 and email.locale == "nl"
        assert email.created_at is not None and email.created_at <= utcnow()


@pytest.mark.postgres_only
@pytest.mark.skipif(not ON_POSTGRES, reason="COPY is PostgreSQL's")
def test_postgres_copies_the_rows_in_with_no_insert_per_row(db):
    statements = _count_statements(db)
    emails = insert_rows(OutgoingEmail, [_row(n, last_error=None if n % 2 else "x") for n in range(50)])
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingEmail)) == 50
    assert sorted(db.session.scalars(sa.select(OutgoingEmail.id))) == sorted(e.id for e in emails)


def test_json_encoded_by_the_caller_is_stored_as_that_value(db):
    """`encoded`: the caller's JSON text of a column (outbox.queue_emails encodes each digest once,
    to check it): COPY writes that text, the INSERT elsewhere the value; both read back the same."""
    import json

    rows = [_row(n) for n in range(5)]
    texts = [json.dumps(row["data"]) for row in rows]
    emails = insert_rows(OutgoingEmail, rows, encoded={"data": texts})
    db.session.commit()
    db.session.expire_all()
    stored = {e.idempotency_key: e.data for e in db.session.scalars(sa.select(OutgoingEmail))}
    assert stored == {f"bulk:{n}": {"n": n, "items": [n, str(n)]} for n in range(5)}
    assert [e.data for e in emails] == [row["data"] for row in rows]


def test_reading_the_objects_asks_the_database_nothing(db):
    statements = _count_statements(db)
    emails = insert_rows(OutgoingEmail, [_row(n, last_error=None if n % 2 else "x") for n in range(50)])
    before = len(statements)
    assert sum(len(e.recipient) for e in emails) > 0 and all(e.data["n"] >= 0 for e in emails)
    assert len(statements) == before  # the objects hold what was written: reading them asks nothing


def test_insert_after_a_rollback_reuses_no_stale_object(db):
    insert_rows(OutgoingEmail, [_row(1)])
    db.session.rollback()
    second = insert_rows(OutgoingEmail, [_row(2)])[0]
    db.session.commit()
    assert second.idempotency_key == "bulk:2"
    assert db.session.scalars(sa.select(OutgoingEmail.idempotency_key)).all() == ["bulk:2"]


def test_nothing_to_insert(db):
    assert insert_rows(OutgoingEmail, []) == []


def test_ids_only_when_no_objects_are_asked_for(db):
    rows = [_row(n, last_error=None if n % 2 else "x") for n in range(5)]
    ids = insert_rows(OutgoingEmail, rows, objects=False)
    assert all(isinstance(object_id, int) for object_id in ids) and len(set(ids)) == 5
    assert not any(isinstance(obj, OutgoingEmail) for obj in db.session.identity_map.values())
    db.session.commit()
    stored = {e.id: e for e in db.session.scalars(sa.select(OutgoingEmail))}
    assert [stored[object_id].idempotency_key for object_id in ids] == [f"bulk:{n}" for n in range(5)]
    assert [stored[object_id].data for object_id in ids] == [{"n": n, "items": [n, str(n)]} for n in range(5)]


FIRST_USE = """
import sys
from nlwerktdoor import create_app
from nlwerktdoor.extensions import db
from nlwerktdoor.models import OutgoingEmail
from nlwerktdoor.services.bulk import insert_rows

app = create_app("testing", SQLALCHEMY_DATABASE_URI=sys.argv[1])
with app.app_context():
    if sys.argv[1].startswith("sqlite"):
        db.create_all()
    emails = insert_rows(OutgoingEmail, [dict(recipient="first@example.org", template="digest", data={},
                                              idempotency_key="bulk:first")])
    assert emails[0].recipient == "first@example.org" and emails[0].id, emails
    db.session.rollback()
print("inserted")
"""


def test_the_first_orm_use_of_a_process_can_be_an_insert(tmp_path):
    # A matching run in a fresh process (the CLI, bench/) may insert its matches before any query has
    # configured the ORM's mappers; on PostgreSQL nothing in COPY does that for it.
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'first.db'}"
    done = subprocess.run([sys.executable, "-c", FIRST_USE, url], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "inserted"
