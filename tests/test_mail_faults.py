"""Delivery under faults, against a real SMTP server (aiosmtpd) on loopback and, where it matters,
real sender processes (`flask mail send`) on a database file — PostgreSQL when TEST_DATABASE_URL is set.

- A sender killed with SIGKILL halfway through 1,000 emails, then restarted: every email arrives,
  at most the one in flight twice (same Message-ID); the same with the scheduler process sending.
- Two sender processes at once: every email arrives exactly once.
- The server down (refused / silent), then answering 451, then back: all arrive, none twice.
- Permanent refusals for one address: the address is suppressed, the others are delivered.
"""
import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from nlwerktdoor.extensions import db as _db
from nlwerktdoor.models import OutgoingEmail
from nlwerktdoor.models.database import utcnow
from nlwerktdoor.services import outbox
from tests.conftest import ON_POSTGRES, app_with_database
from tests.test_outbox import free_port

ROOT = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 2  # the sender processes' claim lease: a killed sender's rows come back this fast


class Server:
    """aiosmtpd handler: keeps every accepted message; can refuse addresses, answer 451, be slow."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.mode = "accept"  # or "451"
        self.refused: dict[str, str] = {}
        self.message_ids: list[str] = []
        self.recipients: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "451":
            return "451 4.3.0 Please try again later"
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.message_ids.append(message["Message-ID"])
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def smtp():
    controllers = []

    def start(handler: Server, port: int | None = None) -> int:
        controller = Controller(handler, hostname="127.0.0.1", port=port or free_port())
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def file_app(_schema, tmp_path):
    """An app on a database other processes can open: a SQLite file, or the PostgreSQL test database."""
    url = None if ON_POSTGRES else f"sqlite:///{tmp_path / 'mail.sqlite'}"
    with app_with_database(url) as app:
        yield app


def queue_many(count: int, prefix: str = "r") -> list[str]:
    """Queue `count` password emails to different addresses; returns their Message-IDs."""
    ids = []
    for n in range(count):
        queued = outbox.queue_email(
            f"{prefix}{n}@example.org", "nl", "password",
            {"name": f"Persoon {n}", "has_password": True, "link": f"http://nlwerktdoor.test/t/{n}", "valid_days": 14},
            f"fault:{prefix}:{n}",
        )
        ids.append(queued.message_id)
    _db.session.commit()
    return ids


def sender_process(app, port: int, **extra) -> subprocess.Popen:
    env = {
        **os.environ,
        "NLWERKTDOOR_CONFIG": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "MAIL_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
        "MAIL_RATE_PER_SECOND": "0",
        **{key: str(value) for key, value in extra.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "nlwerktdoor", "mail", "send"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 60) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err[-3000:]}"
    return out


def statuses() -> Counter:
    _db.session.expire_all()
    counts = Counter(_db.session.scalars(sa.select(OutgoingEmail.status)))
    _db.session.commit()
    return counts


def test_a_killed_sender_loses_nothing_and_sends_at_most_one_twice(file_app, smtp):
    server = Server(delay=0.004)  # slow enough that the kill lands in the middle of a batch
    port = smtp(server)
    expected = queue_many(1000)

    process = sender_process(file_app, port)
    deadline = time.monotonic() + 40
    while len(server.message_ids) < 450 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the sender finished before it could be killed: " + process.communicate()[1][-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    arrived_before_restart = len(server.message_ids)
    assert 300 < arrived_before_restart < 1000
    assert statuses()["sending"] > 0  # the dead sender left claimed rows behind

    time.sleep(LEASE_SECONDS + 0.2)  # its claim runs out; then the restarted sender takes the rows back
    output = finish(sender_process(file_app, port))
    assert "failed: 0, waiting: 0" in output, output

    received = Counter(server.message_ids)
    assert set(received) == set(expected)  # every email arrived, and nothing else
    twice = [message_id for message_id, count in received.items() if count > 1]
    assert len(twice) <= 1 and max(received.values()) <= 2, twice
    assert statuses() == Counter({"sent": 1000})


def test_a_killed_scheduler_loses_no_email_and_sends_at_most_one_twice(file_app, smtp, tmp_path):
    """The issue's case as deployed: the scheduler process (`flask scheduler run`, whose mail job
    sends the outbox) killed with SIGKILL halfway through 1,000 emails, then started again."""
    from tests.test_job_faults import Scheduler

    server = Server(delay=0.004)
    port = smtp(server)
    expected = queue_many(1000)
    settings = dict(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_RATE_PER_SECOND=0,
                    MAIL_INTERVAL_SECONDS=1, MAIL_CLAIM_LEASE_SECONDS=LEASE_SECONDS, JOB_CLAIM_TIMEOUT_SECONDS=5,
                    MATCH_INTERVAL_SECONDS=3600, IMPORT_INTERVAL_SECONDS=3600)
    url = file_app.config["SQLALCHEMY_DATABASE_URI"]
    first = Scheduler(tmp_path, "first", url, **settings)
    try:
        deadline = time.monotonic() + 60
        while len(server.message_ids) < 450 and first.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.process.poll() is None, first.log_path.read_text()[-3000:]
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        first.kill()
    arrived_before_restart = len(server.message_ids)
    assert 300 < arrived_before_restart < 1000
    assert statuses()["sending"] > 0  # the dead scheduler's sender left claimed rows behind

    second = Scheduler(tmp_path, "second", url, **settings)
    try:
        deadline = time.monotonic() + 90
        while statuses() != Counter({"sent": 1000}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert second.stop() == 0, second.log_path.read_text()[-3000:]  # SIGTERM: it finishes and exits
    finally:
        second.kill()

    assert statuses() == Counter({"sent": 1000})
    received = Counter(server.message_ids)
    assert set(received) == set(expected)  # every email arrived, and nothing else
    twice = [message_id for message_id, count in received.items() if count > 1]
    assert len(twice) <= 1 and max(received.values()) <= 2, twice


def test_two_sender_processes_never_send_the_same_email(file_app, smtp):
    server = Server(delay=0.001)
    port = smtp(server)
    expected = queue_many(600)
    # Small batches, so both processes claim many times while the other is working; the first
    # also sends over two connections (threads) of its own.
    first = sender_process(file_app, port, MAIL_BATCH_SIZE=25, MAIL_CONNECTIONS=2)
    second = sender_process(file_app, port, MAIL_BATCH_SIZE=25)
    outputs = [finish(first), finish(second)]
    sent = [int(output.split("sent: ")[1].split(",")[0]) for output in outputs]
    assert sum(sent) == 600 and min(sent) > 0, outputs  # both worked, together once each
    assert Counter(server.message_ids) == Counter(expected)
    assert statuses() == Counter({"sent": 600})


class SilentServer:
    """Accepts TCP connections and never says a word: the SMTP greeting times out."""

    def __init__(self, port: int):
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen(50)

    def close(self):
        self.socket.close()


@pytest.mark.parametrize("outage", ["refused", "silent"])
def test_server_down_then_451_then_back_delivers_everything_once(app, db, smtp, outage):
    port = free_port()
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT_SECONDS=1)
    expected = queue_many(30)

    def send_when_due():
        """Run the sender at the moment every waiting email is due (no sleeping)."""
        due = db.session.scalar(sa.select(sa.func.max(OutgoingEmail.next_attempt_at)).where(
            OutgoingEmail.status == "pending"))
        db.session.commit()
        return outbox.send_pending(now=max(due, utcnow()))

    # 1. Nobody answers: refused, or a server that never greets (timeout).
    silent = SilentServer(port) if outage == "silent" else None
    report = outbox.send_pending()
    if silent:
        silent.close()
    assert (report.sent, report.failed, report.retrying, report.waiting) == (0, 0, 30, 30)
    first_due = db.session.scalar(sa.select(sa.func.min(OutgoingEmail.next_attempt_at)))
    db.session.commit()
    assert outbox.send_pending().sent == 0  # not due yet: nothing is tried
    assert statuses() == Counter({"pending": 30})

    # 2. The server is back but answers 451 to every recipient.
    server = Server()
    server.mode = "451"
    smtp(server, port=port)
    report = send_when_due()
    assert (report.sent, report.retrying) == (0, 30)
    second_due = db.session.scalar(sa.select(sa.func.min(OutgoingEmail.next_attempt_at)))
    db.session.commit()
    assert second_due - first_due >= outbox.backoff(1)  # the wait grew: exponential backoff

    # 3. It accepts again: everything arrives, once.
    server.mode = "accept"
    report = send_when_due()
    assert (report.sent, report.failed, report.waiting) == (30, 0, 0)
    assert Counter(server.message_ids) == Counter(expected)
    assert outbox.send_pending(now=utcnow() + outbox.backoff(20)).sent == 0
    assert len(server.message_ids) == 30
    rows = db.session.scalars(sa.select(OutgoingEmail)).all()
    assert {(row.status, row.attempts) for row in rows} == {("sent", 2)}


def test_an_address_refused_three_times_is_suppressed_and_the_others_are_delivered(app, db, smtp):
    server = Server()
    server.refused["weg@example.org"] = "550 5.1.1 <weg@example.org>: Recipient address rejected"
    port = smtp(server)
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SUPPRESS_AFTER=3)

    def queue_to(address, key):
        queued = outbox.queue_email(address, "nl", "password",
                                    {"name": "X", "has_password": False, "link": "http://x.test/", "valid_days": 14}, key)
        db.session.commit()
        return queued

    others = queue_many(5, prefix="goed")
    # Three emails to the address, in three separate runs: each one refused permanently, none retried.
    for run in range(3):
        queue_to("weg@example.org", f"weg:{run}")
        report = outbox.send_pending()
        assert report.failed == 1 and report.retrying == 0
        assert outbox.is_suppressed("weg@example.org") == (run == 2)
    assert Counter(server.message_ids) == Counter(others)

    # Later mail to the address is not sent, and says why.
    held = queue_to("weg@example.org", "weg:later")
    assert held.status == "suppressed"
    queue_many(2, prefix="nog")
    report = outbox.send_pending(now=utcnow() + outbox.backoff(20))
    assert (report.sent, report.failed) == (2, 0)
    assert "weg@example.org" not in server.recipients
    assert outbox.status_counts() == {"pending": 0, "sending": 0, "sent": 7, "failed": 3, "suppressed": 1, "cancelled": 0}
    failed = db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.status == "failed")).all()
    assert all(row.attempts == 1 and row.last_error.startswith("550") for row in failed)
