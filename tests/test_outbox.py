"""The outbox: idempotent queueing, sending, retries with backoff, permanent failures, digests per recipient."""
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from nlwerktdoor.models import MatchRun, OutgoingEmail
from nlwerktdoor.models.database import utcnow
from nlwerktdoor.services import notifications
from nlwerktdoor.services import outbox as outbox_service
from tests.factories import make_employer, make_listing, make_shortage, make_user, make_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RefusingHandler:
    """An SMTP server that refuses every recipient with the given reply."""

    def __init__(self, reply: str):
        self.reply = reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.reply


@pytest.fixture
def refusing_smtp(app):
    controllers = []

    def start(reply: str):
        controller = Controller(RefusingHandler(reply), hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)

    yield start
    for controller in controllers:
        controller.stop()


def queue(key="k1", recipient="iemand@example.org", template="contact", data=None):
    return outbox_service.queue_email(recipient, "nl", template, data if data is not None else contact_data(), key)


def contact_data():
    return {
        "recipient_name": "Iemand",
        "side": "candidate",
        "url": "http://nlwerktdoor.test/matches/1",
        "outcome": "introduced",
        "shortage": {"title": "Zorghulp gezocht", "organisation": "Zorg BV", "occupation": "", "pc4": "1011",
                     "start_date": "01-12-2026", "hours_per_week": 32, "positions": 1,
                     "training_offered": False, "open_hiring": False},
        "candidate": {"type": "worker", "occupation": "", "skills": [], "region": "Groot Amsterdam",
                      "available_from": "01-12-2026", "hours_per_week": 32, "certificates": []},
        "other": {"kind": "shortage", "name": "", "email": "hr@zorg.example", "phone": "", "organisation": "Zorg BV"},
        "set_password_url": None,
    }


def rows(db):
    return db.session.scalars(sa.select(OutgoingEmail).order_by(OutgoingEmail.id)).all()


def test_queue_is_idempotent_and_does_not_commit(db):
    first = queue("same")
    assert first is not None and first.message_id
    assert queue("same") is None  # also while the first is still uncommitted
    db.session.rollback()
    assert rows(db) == []  # queue_email never commits: a rolled-back change sends nothing

    queue("same")
    db.session.commit()
    assert queue("same") is None
    db.session.commit()
    assert len(rows(db)) == 1


def test_queue_refuses_data_that_is_not_json(db):
    from datetime import date

    with pytest.raises(TypeError):
        queue("bad", data={"day": date(2026, 1, 1)})


def test_send_marks_sent_with_the_stored_message_id(db, outbox):
    email = queue()
    db.session.commit()
    report = outbox_send()
    assert (report.sent, report.failed, report.waiting) == (1, 0, 0)
    assert len(outbox) == 1
    message = outbox[0]
    assert message["To"] == "iemand@example.org"
    assert message["Message-ID"] == email.message_id
    assert "Zorghulp gezocht" in message["Subject"]
    assert "hr@zorg.example" in message.get_body(("plain",)).get_content()
    db.session.refresh(email)
    assert email.status == "sent" and email.sent_at is not None and email.attempts == 0
    # Nothing left: a second send sends nothing.
    assert outbox_send().sent == 0
    assert len(outbox) == 1


def outbox_send(now=None):
    return outbox_service.send_pending(now=now)


def test_only_due_rows_are_sent(db, outbox):
    due = queue("due")
    later = queue("later")
    later.next_attempt_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    report = outbox_send()
    assert (report.sent, report.waiting) == (1, 1)
    db.session.refresh(due)
    db.session.refresh(later)
    assert due.status == "sent" and later.status == "pending"
    report = outbox_send(now=utcnow() + timedelta(hours=2))
    assert (report.sent, report.waiting) == (1, 0)


def test_unreachable_server_is_retried_with_backoff_then_sends(app, db, outbox):
    email = queue()
    db.session.commit()
    # Nobody listens on this port: the connection is refused.
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    started = utcnow()
    report = outbox_send(now=started)
    assert (report.sent, report.failed, report.waiting) == (0, 0, 1)
    db.session.refresh(email)
    assert email.status == "pending" and email.attempts == 1
    assert email.last_error
    first_wait = email.next_attempt_at - started
    assert first_wait >= timedelta(seconds=30)

    # Not due yet: not even tried.
    assert outbox_send(now=started + first_wait / 2).sent == 0
    db.session.refresh(email)
    assert email.attempts == 1

    # Still down at the next turn: the wait doubles.
    second_try = email.next_attempt_at
    outbox_send(now=second_try)
    db.session.refresh(email)
    assert email.attempts == 2
    assert email.next_attempt_at - second_try >= 2 * first_wait - timedelta(seconds=1)

    # The server is back: the email goes out.
    app.config["MAIL_BACKEND"] = "memory"
    report = outbox_send(now=email.next_attempt_at)
    assert (report.sent, report.failed, report.waiting) == (1, 0, 0)
    db.session.refresh(email)
    assert email.status == "sent"
    assert len(outbox) == 1


def test_gives_up_after_max_attempts(app, db):
    email = queue()
    db.session.commit()
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_MAX_ATTEMPTS=3)
    now = utcnow()
    reports = []
    for _ in range(3):
        reports.append(outbox_send(now=now))
        db.session.refresh(email)
        now = email.next_attempt_at
    assert email.status == "failed" and email.attempts == 3
    assert [r.failed for r in reports] == [0, 0, 1]
    assert reports[-1].waiting == 0


@pytest.mark.parametrize(
    "reply, status, attempts",
    [
        ("550 5.1.1 Mailbox does not exist", "failed", 1),
        ("450 4.2.0 Mailbox busy, try again", "pending", 1),
    ],
)
def test_server_reply_decides_permanent_or_temporary(db, refusing_smtp, reply, status, attempts):
    refusing_smtp(reply)
    email = queue()
    db.session.commit()
    report = outbox_send()
    assert report.sent == 0
    db.session.refresh(email)
    assert (email.status, email.attempts) == (status, attempts)
    assert reply.split()[0] in email.last_error
    assert report.failed == (1 if status == "failed" else 0)


def test_a_crashed_claim_is_taken_back(db, outbox):
    email = queue()
    db.session.commit()
    # A sender claimed the row and died before it finished.
    email.status = "sending"
    email.next_attempt_at = utcnow() + outbox_service.CLAIM_LEASE
    db.session.commit()
    assert outbox_send().sent == 0  # the lease still runs: someone else may be sending it
    report = outbox_send(now=utcnow() + timedelta(minutes=11))
    assert report.sent == 1
    db.session.refresh(email)
    assert email.status == "sent"


def test_a_broken_template_fails_without_stopping_the_batch(db, outbox):
    queue("broken", template="does-not-exist")
    queue("fine")
    db.session.commit()
    report = outbox_send()
    assert (report.sent, report.failed) == (1, 1)
    broken = db.session.scalar(sa.select(OutgoingEmail).where(OutgoingEmail.idempotency_key == "broken"))
    assert broken.status == "failed"


# --- digests -----------------------------------------------------------------------------------------


def test_digests_are_grouped_one_per_recipient_per_run(db, outbox):
    from nlwerktdoor.models import Match

    growing = make_employer("growing", name="Zorg Noord")
    first = make_shortage(growing.organisation, title="Zorghulp nachtdienst", contact_email=growing.email)
    second = make_shortage(growing.organisation, title="Zorghulp dagdienst", contact_email=growing.email.upper())
    worker = make_worker(user=make_user(role="worker", name="Anna de Vries", email="anna@example.org", phone="0612345678"))
    shrinking = make_employer("shrinking")
    listing = make_listing(shrinking.organisation, contact_email="hr@luchtvaart.example", pc4="1017")
    run = MatchRun(status="done")
    db.session.add(run)
    db.session.flush()
    matches = [
        Match(shortage=first, worker=worker, run_id=run.id, score=0.8, distance_km=2.3,
              explanation={"matched": [first.required_skills[0]], "related": [], "missing": [first.required_skills[1]]}),
        Match(shortage=second, worker=worker, run_id=run.id, score=0.7, distance_km=2.3, explanation={}),
        Match(shortage=first, listing=listing, run_id=run.id, score=0.6, distance_km=4.0, explanation={}),
    ]
    db.session.add_all(matches)
    db.session.flush()

    assert notifications.queue_run_digests(run, matches) == 3  # employer, worker, listing contact
    assert notifications.queue_run_digests(run, matches) == 0  # same run again: nothing new
    db.session.commit()
    emails = {email.recipient: email for email in rows(db)}
    assert set(emails) == {growing.email, "anna@example.org", "hr@luchtvaart.example"}
    assert all(e.template == "digest" and e.idempotency_key == f"digest:{run.id}:{e.recipient}" for e in emails.values())
    assert len(emails[growing.email].data["matches"]) == 3
    assert len(emails["anna@example.org"].data["matches"]) == 2
    assert len(emails["hr@luchtvaart.example"].data["matches"]) == 1

    report = outbox_send()
    assert report.sent == 3
    by_recipient = {m["To"]: m for m in outbox}
    employer_text = by_recipient[growing.email].get_body(("plain",)).get_content()
    # The growing side sees candidates pseudonymously: no name, email, phone or postcode.
    for secret in ("Anna", "anna@example.org", "0612345678", "1012", "hr@luchtvaart.example", shrinking.organisation.name):
        assert secret not in employer_text
        assert secret not in by_recipient[growing.email].get_body(("html",)).get_content()
    assert "Zorghulp nachtdienst" in employer_text and "Zorghulp dagdienst" in employer_text
    assert "Groot Amsterdam" in employer_text
    assert f"http://nlwerktdoor.test/matches/{matches[0].id}" in employer_text
    worker_text = by_recipient["anna@example.org"].get_body(("plain",)).get_content()
    assert "Zorghulp nachtdienst" in worker_text and growing.organisation.name in worker_text
    assert by_recipient["anna@example.org"]["Subject"].startswith("2 nieuwe matches")


def test_digest_in_the_recipients_language_and_with_a_password_link(db, outbox):
    from nlwerktdoor.models import Match

    growing = make_employer("growing")
    shortage = make_shortage(growing.organisation, contact_email=growing.email)
    english = make_user(role="worker", locale="en", email="sam@example.org")
    english.password_hash = None  # imported: no password yet
    db.session.commit()
    worker = make_worker(user=english)
    run = MatchRun(status="done")
    db.session.add(run)
    db.session.flush()
    match = Match(shortage=shortage, worker=worker, run_id=run.id, score=0.9, distance_km=1.0,
                  explanation={"matched": list(shortage.required_skills[:2])})
    db.session.add(match)
    db.session.flush()
    notifications.queue_run_digests(run, [match])
    db.session.commit()
    email = db.session.scalar(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == "sam@example.org"))
    assert email.locale == "en"
    assert "/account/wachtwoord/" in email.data["set_password_url"]
    employer_email = db.session.scalar(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == growing.email))
    assert employer_email.locale == "nl" and employer_email.data["set_password_url"] is None
    outbox_send()
    message = next(m for m in outbox if m["To"] == "sam@example.org")
    text = message.get_body(("plain",)).get_content()
    assert email.data["set_password_url"] in text
    from nlwerktdoor import reference

    # Skill labels are rendered in the recipient's language.
    assert reference.skill_label(shortage.required_skills[0], "en") in text


def test_external_url_without_server_name_points_at_the_development_server(app):
    app.config["SERVER_NAME"] = None
    assert notifications.external_url("matches.detail", match_id=7) == "http://127.0.0.1:5000/matches/7"
    app.config.update(SERVER_NAME="werk.example.nl", PREFERRED_URL_SCHEME="https")
    assert notifications.external_url("matches.detail", match_id=7) == "https://werk.example.nl/matches/7"
