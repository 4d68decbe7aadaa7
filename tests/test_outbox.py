"""The outbox: idempotent queueing, sending, retries with backoff, permanent failures, digests per recipient."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from nlwerktdoor.models import MatchRun, OutgoingEmail
from nlwerktdoor.models.database import utcnow
from nlwerktdoor.services import notifications
from nlwerktdoor.services import outbox as outbox_service
from tests.factories import (
    free_port,
    make_employer,
    make_listing,
    make_shortage,
    make_user,
    make_worker,
)



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


def test_a_crashed_claim_is_taken_back(app, db, outbox):
    email = queue()
    db.session.commit()
    # A sender claimed the row and died before it finished.
    now = utcnow()
    assert outbox_service._claim(now, 10, "dead-sender", outbox_service.SendReport()) != []
    db.session.refresh(email)
    lease = timedelta(seconds=app.config["MAIL_CLAIM_LEASE_SECONDS"])
    assert (email.status, email.claimed_by) == ("sending", "dead-sender")
    assert email.next_attempt_at >= now + lease - timedelta(seconds=1)
    assert outbox_send(now=now).sent == 0  # the lease still runs: someone else may be sending it
    report = outbox_send(now=now + lease + timedelta(seconds=1))
    assert report.sent == 1
    db.session.refresh(email)
    assert (email.status, email.claimed_by) == ("sent", None)
    assert len(outbox) == 1


def test_claims_of_two_senders_never_overlap(db):
    for n in range(25):
        queue(f"k{n}", recipient=f"r{n}@example.org")
    db.session.commit()
    now = utcnow()
    report = outbox_service.SendReport()
    first = {row.id for row in outbox_service._claim(now, 10, "sender-a", report)}
    second = {row.id for row in outbox_service._claim(now, 10, "sender-b", report)}
    third = {row.id for row in outbox_service._claim(now, 10, "sender-c", report)}
    assert (len(first), len(second), len(third)) == (10, 10, 5)
    assert not (first & second or first & third or second & third)
    assert outbox_service._claim(now, 10, "sender-d", report) == []


def test_a_sender_that_lost_its_claim_does_not_send_those_rows(app, db):
    for n in range(3):
        queue(f"k{n}", recipient=f"r{n}@example.org")
    db.session.commit()
    now = utcnow()
    report = outbox_service.SendReport()
    rows = outbox_service._claim(now, 10, "slow-sender", report)
    # The slow sender's lease ran out and another sender took one row back.
    stolen = rows[1]
    db.session.execute(sa.update(OutgoingEmail).where(OutgoingEmail.id == stolen.id).values(claimed_by="fast-sender"))
    db.session.commit()
    with outbox_service._held_session() as session:
        batch = outbox_service._Batch(rows, now, "slow-sender", report, session)
        assert batch.keep_claim(list(rows)) == rows  # not time to renew yet: no query
        batch.renewed -= app.config["MAIL_CLAIM_LEASE_SECONDS"]  # pretend a quarter lease has passed
        kept = batch.keep_claim(list(rows))
    assert [row.id for row in kept] == [rows[0].id, rows[2].id]
    renewed = db.session.get(OutgoingEmail, rows[0].id)
    db.session.refresh(renewed)
    assert renewed.next_attempt_at > now + timedelta(seconds=app.config["MAIL_CLAIM_LEASE_SECONDS"] - 1)


def test_rate_limiter_paces_sends():
    from nlwerktdoor.mail import RateLimiter

    clock = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        clock[0] += seconds

    limiter = RateLimiter(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    clock[0] += 10  # a pause earns no burst afterwards
    limiter.wait()
    limiter.wait()
    assert slept[-1] == 0.25 and len(slept) == 5
    unlimited = RateLimiter(0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        unlimited.wait()
    assert len(slept) == 5


def test_send_honours_the_rate_setting(app, db, outbox, monkeypatch):
    from nlwerktdoor import mail

    slept = []
    monkeypatch.setattr(mail.time, "sleep", lambda seconds: slept.append(seconds))
    # A clock that stands still: how long the database takes between two sends (a busy CI machine)
    # must not change the waits.
    monkeypatch.setattr(mail.time, "monotonic", lambda: 1000.0)
    app.config["MAIL_RATE_PER_SECOND"] = 2
    for n in range(4):
        queue(f"k{n}", recipient=f"r{n}@example.org")
    db.session.commit()
    assert outbox_send().sent == 4
    # Neither the fake sleep nor the clock moves, so each wait is measured from the first send: 0.5, 1, 1.5 s.
    assert len(slept) == 3
    assert [round(s * 2) for s in slept] == [1, 2, 3]


def test_a_lost_connection_reconnects_and_the_rest_of_the_batch_goes_out(app, db, outbox, monkeypatch):
    import smtplib

    from nlwerktdoor import mail

    real_send = mail.Sender.send
    calls = []

    def flaky_send(self, message):
        calls.append(message["To"])
        if len(calls) == 2:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        real_send(self, message)

    reconnects = []
    monkeypatch.setattr(mail.Sender, "send", flaky_send)
    monkeypatch.setattr(mail.Sender, "reconnect", lambda self: reconnects.append(1))
    for n in range(4):
        queue(f"k{n}", recipient=f"r{n}@example.org")
    db.session.commit()
    now = utcnow()
    report = outbox_send(now=now)
    assert (report.sent, report.retrying, report.waiting) == (3, 1, 1)
    assert reconnects == [1]
    in_flight = db.session.scalar(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == "r1@example.org"))
    assert in_flight.status == "pending" and in_flight.attempts == 1 and in_flight.next_attempt_at > now
    assert "verbinding" in in_flight.last_error


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


def test_recipients_are_looked_up_however_many_a_run_has(db):
    """A national run's digests go to hundreds of thousands of addresses: more than one statement may
    carry (65,535 parameters on PostgreSQL; SQLite's limit depends on its build). The national
    benchmark's first finished run failed there, after 34 minutes of matching."""
    known = [make_user(role="worker", email=f"known{n}@example.org") for n in range(3)]
    db.session.commit()
    # Addresses as postings give them (contact_email): found whatever their case and spaces.
    addresses = [f"nobody{n}@example.org" for n in range(70_000)] + [f" Known{n}@Example.org" for n in range(3)]
    found = notifications.users_by_email(addresses)
    assert sorted(found) == sorted(user.email for user in known)
    assert {user.id for user in found.values()} == {user.id for user in known}


def test_recipients_are_looked_up_in_the_index_of_addresses(db):
    """Not a scan of every account per thousand addresses (a national run's store spent minutes so)."""
    statement = notifications.users_with_emails(["anna@example.org", "bram@example.org"])
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))  # an empty table: a scan costs nothing
        plan = "\n".join(db.session.scalars(sa.text("EXPLAIN " + sql)))
        assert "Index" in plan and "Seq Scan" not in plan, plan
    else:
        plan = " ".join(row[-1] for row in db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
        assert "USING INDEX" in plan and "SCAN users" not in plan, plan
    db.session.rollback()


def test_external_url_without_server_name_points_at_the_development_server(app):
    app.config["SERVER_NAME"] = None
    assert notifications.external_url("matches.detail", match_id=7) == "http://127.0.0.1:5000/matches/7"
    app.config["DEV_SERVER"] = "127.0.0.1:5055"  # `make run PORT=5055`
    assert notifications.external_url("matches.detail", match_id=8) == "http://127.0.0.1:5055/matches/8"
    app.config.update(SERVER_NAME="werk.example.nl", PREFERRED_URL_SCHEME="https")
    assert notifications.external_url("matches.detail", match_id=7) == "https://werk.example.nl/matches/7"


@pytest.mark.parametrize("settings", [
    {"SERVER_NAME": None},
    {"SERVER_NAME": None, "DEV_SERVER": "127.0.0.1:5055"},
    {"SERVER_NAME": "werk.example.nl", "PREFERRED_URL_SCHEME": "https"},
    {"SERVER_NAME": "werk.example.nl", "APPLICATION_ROOT": "/nlwerktdoor"},
])
def test_match_links_in_digests_are_the_ones_the_url_map_builds(app, settings):
    """match_url puts the id into one link it built: the same link the URL map gives, also after the
    settings change within one app context (the link is made again then)."""
    for match_id in (1, 7, 123456):
        assert notifications.match_url(match_id) == notifications.external_url("matches.detail", match_id=match_id)
    app.config.update(settings)
    for match_id in (1, 7, 123456):
        assert notifications.match_url(match_id) == notifications.external_url("matches.detail", match_id=match_id)
    assert notifications.match_url(42).endswith("/matches/42")


def test_digests_hold_what_the_email_shows_not_the_candidates_whole_profile(db):
    """Only the match's own skills (matched, related, missing) travel in a digest: the candidate's
    whole skill list and certificates stay behind the login of the match's page."""
    from nlwerktdoor.models import Match

    growing = make_employer("growing")
    shortage = make_shortage(growing.organisation, contact_email=growing.email)
    worker = make_worker(user=make_user(role="worker", email="anna@example.org"))
    listing = make_listing(make_employer("shrinking").organisation, contact_email="hr@luchtvaart.example")
    worker.certificates, listing.certificates = ["vog"], ["bhv"]
    run = MatchRun(status="done")
    db.session.add(run)
    db.session.flush()
    matches = [Match(shortage=shortage, worker=worker, run_id=run.id, score=0.8, distance_km=2.0,
                     explanation={"matched": [shortage.required_skills[0]]}),
               Match(shortage=shortage, listing=listing, run_id=run.id, score=0.7, distance_km=3.0, explanation={})]
    db.session.add_all(matches)
    db.session.flush()
    assert notifications.queue_run_digests(run, matches) == 3
    for email in rows(db):
        for item in email.data["matches"]:
            assert item["candidate"]["type"] in ("worker", "listing") and item["candidate"]["occupation"]
            assert "skills" not in item["candidate"] and "certificates" not in item["candidate"]
            assert item["matched"] == ([shortage.required_skills[0]] if item["candidate"]["type"] == "worker" else [])
            assert item["url"] == notifications.external_url("matches.detail", match_id=item["match_id"])
    employer = next(email for email in rows(db) if email.recipient == growing.email)
    # The shortage's summary is made once and is the same in each of its items.
    assert employer.data["matches"][0]["shortage"] == employer.data["matches"][1]["shortage"]
    assert employer.data["matches"][0]["shortage"]["title"] == shortage.title
    db.session.rollback()


# --- permanent failures, suppression, the admin page --------------------------------------------------


class PickyHandler:
    """Refuses RCPT for some addresses with a reply; accepts the rest."""

    def __init__(self, refused: dict[str, str]):
        self.refused = refused
        self.received = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def picky_smtp(app):
    controllers = []

    def start(refused: dict[str, str], mail_from_reply: str | None = None):
        handler = PickyHandler(refused)
        if mail_from_reply:
            async def handle_MAIL(server, session, envelope, address, mail_options):
                return mail_from_reply
            handler.handle_MAIL = handle_MAIL
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def suppression_of(db, address):
    from nlwerktdoor.models import EmailSuppression

    return db.session.scalar(sa.select(EmailSuppression).where(EmailSuppression.address == address))


def test_repeated_permanent_failures_suppress_the_address(app, db, picky_smtp):
    handler = picky_smtp({"gone@example.org": "550 5.1.1 No such user"})
    app.config["MAIL_SUPPRESS_AFTER"] = 2
    queue("gone-1", recipient="gone@example.org")
    queue("ok-1", recipient="ok@example.org")
    db.session.commit()
    report = outbox_send()
    assert (report.sent, report.failed) == (1, 1)
    strike = suppression_of(db, "gone@example.org")
    assert strike.permanent_failures == 1 and strike.suppressed_at is None
    assert not outbox_service.is_suppressed("gone@example.org")

    # A later email waiting for its turn, and a second refusal: now the address is blocked.
    later = queue("gone-later", recipient="Gone@Example.org")
    later.next_attempt_at = utcnow() + timedelta(hours=1)
    queue("gone-2", recipient="gone@example.org")
    db.session.commit()
    report = outbox_send()
    assert report.failed == 1
    db.session.refresh(strike)
    db.session.refresh(later)
    assert strike.permanent_failures == 2 and strike.suppressed_at is not None
    assert "550" in strike.last_error
    assert later.status == "suppressed"  # held, never tried

    # New email to the address is recorded, visibly, as suppressed; nothing goes out.
    held = queue("gone-3", recipient="GONE@example.org ")
    db.session.commit()
    assert held.status == "suppressed" and held.last_error
    assert outbox_send().sent == 0
    assert handler.received == ["ok@example.org"]
    assert outbox_service.status_counts() == {"pending": 0, "sending": 0, "sent": 1, "failed": 2, "suppressed": 2,
                                              "cancelled": 0}


def test_a_refused_sender_address_is_not_held_against_the_recipient(app, db, picky_smtp):
    picky_smtp({}, mail_from_reply="553 5.7.1 Sender address rejected")
    app.config["MAIL_SUPPRESS_AFTER"] = 1
    email = queue()
    db.session.commit()
    report = outbox_send()
    db.session.refresh(email)
    assert (email.status, email.attempts) == ("pending", 1)  # our configuration problem: try again later
    assert "553" in email.last_error
    assert report.failed == 0 and suppression_of(db, "iemand@example.org") is None


def test_queue_to_an_address_suppressed_between_queueing_and_sending_is_held(app, db, outbox):
    from nlwerktdoor.models import EmailSuppression

    email = queue()
    db.session.commit()
    db.session.add(EmailSuppression(address="iemand@example.org", permanent_failures=3, suppressed_at=utcnow()))
    db.session.commit()
    report = outbox_send()
    assert (report.sent, report.suppressed) == (0, 1)
    db.session.refresh(email)
    assert email.status == "suppressed" and email.claimed_by is None
    assert outbox == []


# --- admin page ------------------------------------------------------------------------------------------


def csrf_from(client, url="/beheer/mail"):
    import re

    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def problem_rows(db):
    from nlwerktdoor.models import EmailSuppression

    failed = queue("failed", recipient="kapot@example.org")
    failed.status, failed.attempts, failed.last_error = "failed", 10, "451 4.3.0 try later"
    held = queue("held", recipient="weg@example.org")
    held.status, held.last_error = "suppressed", outbox_service.SUPPRESSED_NOTE
    suppression = EmailSuppression(address="weg@example.org", permanent_failures=3, suppressed_at=utcnow(),
                                   last_error="550 5.1.1 No such user")
    queue("waiting", recipient="wacht@example.org")
    db.session.add(suppression)
    db.session.commit()
    return failed, held, suppression


MAIL_URLS = [("get", "/beheer/mail"), ("post", "/beheer/mail/1/opnieuw"), ("post", "/beheer/mail/blokkades/1/opheffen")]


@pytest.mark.parametrize("method, url", MAIL_URLS)
def test_mail_pages_send_anonymous_visitors_to_log_in(client, db, method, url):
    response = getattr(client, method)(url)
    assert response.status_code in (302, 400)  # POST without a CSRF token may be refused before the login check
    if response.status_code == 302:
        assert "/account/inloggen" in response.headers["Location"]


@pytest.mark.parametrize("role", ["worker", "employer", "coordinator"])
@pytest.mark.parametrize("method, url", MAIL_URLS)
def test_mail_pages_are_for_admins_only(client, db, login_as, role, method, url):
    problem_rows(db)
    login_as(make_user(role=role))
    token = csrf_from(client, "/account/inloggen")
    data = {"csrf_token": token} if method == "post" else None
    response = getattr(client, method)(url, data=data)
    assert response.status_code == 403
    assert db.session.scalar(sa.select(OutgoingEmail.status).where(OutgoingEmail.id == 1)) == "failed"


def test_admin_sees_counts_failed_and_suppressed_mail(client, db, login_as):
    failed, held, _suppression = problem_rows(db)
    login_as(make_user(role="admin"))
    page = client.get("/beheer/mail").get_data(as_text=True)
    assert 'data-status="failed"><a href="/beheer/mail?status=failed">1<' in page
    assert 'data-status="pending"><a href="/beheer/mail?status=pending">1<' in page
    assert "kapot@example.org" in page and "451 4.3.0 try later" in page
    assert "weg@example.org" in page and "550 5.1.1 No such user" in page
    assert "wacht@example.org" not in page  # waiting mail is not a problem
    # Filters: by status and by recipient.
    page = client.get("/beheer/mail?status=pending").get_data(as_text=True)
    assert "wacht@example.org" in page and "kapot@example.org" not in page
    page = client.get("/beheer/mail?ontvanger=KAPOT").get_data(as_text=True)
    assert f'data-email="{failed.id}"' in page and f'data-email="{held.id}"' not in page
    assert client.get("/beheer/mail?status=nonsense&ontvanger=%25&soort=x").status_code == 200


def test_admin_retries_a_failed_email_which_then_goes_out(client, db, login_as, outbox):
    failed, held, _suppression = problem_rows(db)
    login_as(make_user(role="admin"))
    assert client.post(f"/beheer/mail/{failed.id}/opnieuw").status_code == 400  # no CSRF token
    response = client.post(f"/beheer/mail/{failed.id}/opnieuw", data={"csrf_token": csrf_from(client)})
    assert response.status_code == 302
    db.session.refresh(failed)
    assert (failed.status, failed.attempts) == ("pending", 0)
    outbox_send()
    assert [m["To"] for m in outbox] == ["kapot@example.org", "wacht@example.org"]
    assert outbox[0]["Message-ID"] == failed.message_id

    # A held email cannot be retried while its address is blocked.
    response = client.post(f"/beheer/mail/{held.id}/opnieuw", data={"csrf_token": csrf_from(client)},
                           follow_redirects=True)
    assert "Hef eerst de blokkade op" in response.get_data(as_text=True)
    db.session.refresh(held)
    assert held.status == "suppressed"
    assert client.post("/beheer/mail/9999/opnieuw", data={"csrf_token": csrf_from(client)}).status_code == 404


@pytest.mark.parametrize("resend, expected", [(True, "pending"), (False, "suppressed")])
def test_admin_lifts_a_suppression(client, db, login_as, outbox, resend, expected):
    _failed, held, suppression = problem_rows(db)
    login_as(make_user(role="admin"))
    data = {"csrf_token": csrf_from(client)}
    if resend:
        data["resend"] = "y"
    response = client.post(f"/beheer/mail/blokkades/{suppression.id}/opheffen", data=data)
    assert response.status_code == 302
    db.session.refresh(suppression)
    db.session.refresh(held)
    assert suppression.suppressed_at is None and suppression.permanent_failures == 0 and suppression.lifted_at
    assert held.status == expected
    assert not outbox_service.is_suppressed("weg@example.org")
    assert queue("new", recipient="weg@example.org").status == "pending"
    db.session.commit()
    assert client.post("/beheer/mail/blokkades/9999/opheffen", data={"csrf_token": csrf_from(client)}).status_code == 404


class RecordingHandler:
    """An SMTP server that keeps every envelope it receives."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.mark.parametrize("recipient, envelope_to", [
    ("iemand@example.org", ["iemand@example.org"]),  # the plain address: sent without parsing the headers
    ("Iemand Anders <anders@example.org>", ["anders@example.org"]),  # anything else: smtplib's send_message
])
def test_the_sender_delivers_what_smtplib_send_message_would(app, recipient, envelope_to):
    import smtplib

    from nlwerktdoor import mail

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False,
                          MAIL_USERNAME=None, MAIL_DEFAULT_SENDER="nlwerktdoor <noreply@nlwerktdoor.example>")
        message = mail.compose("contact", "nl", recipient, contact_data(), "<vast@nlwerktdoor.example>")
        assert (mail._plain_envelope(message) is not None) == (recipient == envelope_to[0])
        with mail.Sender() as sender:
            sender.send(message)
        with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()
    ours, stdlib = handler.received
    assert ours == stdlib  # envelope and bytes alike
    assert ours[0] == "noreply@nlwerktdoor.example" and ours[1] == envelope_to


def test_the_fixed_boundary_gives_way_when_a_part_contains_it(app):
    import email

    from nlwerktdoor import mail

    data = contact_data()
    plain = mail.compose("contact", "nl", "iemand@example.org", data)
    assert plain.get_boundary() == mail._BOUNDARY
    data["shortage"]["title"] = f"Titel {mail._BOUNDARY}"
    tricky = mail.compose("contact", "nl", "iemand@example.org", data)
    assert tricky.get_boundary() != mail._BOUNDARY
    parsed = email.message_from_bytes(mail._flat_bytes(tricky), policy=email.policy.default)
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert mail._BOUNDARY in parsed.get_body(("plain",)).get_content()


def test_headers_are_parsed_once_also_while_flattening(app, monkeypatch):
    """The generator reads every part's headers through a clone of the message's policy: those
    reads find the headers parsed before, instead of parsing them again for every message."""
    from email.policy import EmailPolicy

    from nlwerktdoor import mail

    parses = []
    real = EmailPolicy.header_fetch_parse
    monkeypatch.setattr(EmailPolicy, "header_fetch_parse",
                        lambda policy, name, value: parses.append(name) or real(policy, name, value))
    monkeypatch.setattr(mail, "_PARSED", {})
    first = mail._flat_bytes(mail.compose("contact", "nl", "een@example.org", contact_data()))
    assert parses  # the first message parses its headers
    parses.clear()
    second = mail._flat_bytes(mail.compose("contact", "nl", "twee@example.org", contact_data()))
    assert parses == [] and b"twee@example.org" in second and b"een@example.org" in first
