"""The outbox: queue an email with the transaction that caused it; send what is due later, from a job.

Invariants (docs/email.md tells the whole story):
- `queue_email` never commits and never queues the same idempotency key twice (a query first, the
  unique constraint as the final guard against a second scheduler doing the same at the same time).
  An email to a suppressed address is recorded as 'suppressed' straight away and never sent.
- `send_pending` claims a batch in ONE statement before sending: the due rows get status 'sending',
  a fresh claim token (`claimed_by`) and a lease (`next_attempt_at` = the end of the claim). On
  PostgreSQL the rows are picked with FOR UPDATE SKIP LOCKED, so concurrent senders take different
  rows without waiting; SQLite runs one writer at a time, so the statement is atomic there too. Two
  senders never hold the same row. A sender renews its lease while it works; when a process dies,
  its rows become due again once the lease has run out and another sender takes them back.
- Every sent row is committed on its own, right after the SMTP server accepted it: after a crash,
  at most the message in flight is sent twice, with the same Message-ID (fixed when queued).
- An SMTP failure never raises. Temporary (4xx, refused connection, timeout, lost connection): tried
  again with exponential backoff, 'failed' after MAIL_MAX_ATTEMPTS. Permanent (5xx for this
  message): 'failed' at once, and the address gets a strike; at MAIL_SUPPRESS_AFTER strikes the
  address is suppressed and its waiting emails become 'suppressed'. Admins retry and lift.
"""
from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import threading
import time
import uuid
from functools import lru_cache
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

import sqlalchemy as sa
from sqlalchemy import orm
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..errors import DomainError, NotAllowedError, NotFoundError
from ..extensions import db
from ..models import EmailSuppression, OutgoingEmail, User
from .bulk import insert_rows
from ..models.database import utcnow
from ..models.outbox import EMAIL_STATUSES
from . import audit

log = logging.getLogger(__name__)

# Defaults for settings that config.py normally provides (docs/email.md, "Settings").
DEFAULTS = {
    "MAIL_BATCH_SIZE": 200,
    "MAIL_MAX_ATTEMPTS": 10,
    "MAIL_BACKOFF_BASE_SECONDS": 60,
    "MAIL_BACKOFF_MAX_SECONDS": 6 * 3600,
    "MAIL_CLAIM_LEASE_SECONDS": 120,
    "MAIL_SUPPRESS_AFTER": 3,
    "MAIL_RATE_PER_SECOND": 0,
    "MAIL_CONNECTIONS": 1,
}
MAX_RECONNECTS = 3  # per batch, after the server hung up in the middle
WAITING = ("pending", "sending")
PROBLEMS = ("failed", "suppressed")


def _setting(name: str):
    value = current_app.config.get(name)
    return DEFAULTS[name] if value is None else value


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    retrying: int = 0  # temporary failures, planned for another attempt
    suppressed: int = 0
    batches: int = 0


# ---------------------------------------------------------------- queueing


def queue_email(recipient: str, locale: str, template: str, data: dict, idempotency_key: str) -> OutgoingEmail | None:
    """Add an email to the session (no commit), or return None when this key was queued before."""
    return queue_emails([(recipient, locale, template, data, idempotency_key)])[0]


def queue_emails(emails: list[tuple[str, str, str, dict, str]],
                 objects: bool = True) -> list[OutgoingEmail | int | None]:
    """`queue_email` for many at once — (recipient, locale, template, data, idempotency key) each —
    with one query for the keys queued before and one for suppressed addresses, whatever their
    number (a matching run queues thousands of digests). None where a key was queued before; with
    `objects` False, the new rows' ids instead of their objects (bulk.insert_rows)."""
    keys = [key for *_rest, key in emails]
    seen = set(db.session.scalars(sa.select(OutgoingEmail.idempotency_key).where(OutgoingEmail.idempotency_key.in_(keys))))
    blocked = _suppressed_among(recipient for recipient, *_rest in emails)
    languages = current_app.config.get("LANGUAGES", ("nl", "en"))
    rows: list[dict] = []
    texts: list[str] = []  # each row's data, encoded
    slots: list[int | None] = []  # per email: its row, or None when queued before
    for recipient, locale, template, data, key in emails:
        if key in seen:
            slots.append(None)
            continue
        seen.add(key)
        # Encoded now, so that a date or a model in `data` fails here and not in the sender; COPY
        # writes this text (a run's digests are tens of MB of JSON).
        texts.append(json.dumps(data))
        recipient = recipient.strip()
        blocked_here = _address(recipient) in blocked
        slots.append(len(rows))
        rows.append(dict(
            recipient=recipient,
            locale=locale if locale in languages else "nl",
            template=template,
            data=data,
            idempotency_key=key,
            status="suppressed" if blocked_here else "pending",
            attempts=0,
            next_attempt_at=utcnow(),
            message_id=_new_message_id(),
            last_error=SUPPRESSED_NOTE if blocked_here else None,
        ))
    inserted = insert_rows(OutgoingEmail, rows, encoded={"data": texts}, objects=objects)  # thousands at once
    return [None if slot is None else inserted[slot] for slot in slots]


def _suppressed_among(recipients, session=None) -> set[str]:
    addresses = {_address(recipient) for recipient in recipients}
    if not addresses:
        return set()
    return set((session or db.session).scalars(
        sa.select(EmailSuppression.address).where(
            EmailSuppression.address.in_(addresses), EmailSuppression.suppressed_at.is_not(None)
        )
    ))


SUPPRESSED_NOTE = "niet verstuurd: adres geblokkeerd na herhaalde permanente weigeringen"


def is_suppressed(address: str) -> bool:
    return bool(_suppressed_among([address]))


def _address(recipient: str) -> str:
    return recipient.strip().lower()


# ---------------------------------------------------------------- sending


def send_pending(now: datetime | None = None, batch_size: int | None = None,
                 stop: Callable[[], bool] | None = None, connections: int | None = None) -> SendReport:
    """Send everything that is due, batch after batch (one SMTP connection each), until nothing is
    due, the mail server is unreachable, or `stop()` says so (checked between batches: a scheduler
    that is asked to stop finishes the batch in hand). `now` is for tests: a fixed clock.

    With MAIL_CONNECTIONS > 1, that many threads do this side by side, each claiming its own
    batches over its own connection (exactly as separate sender processes would), sharing the
    rate limit: an SMTP exchange mostly waits for the server, and the others use that time."""
    size = _batch_size(batch_size)
    limiter = mail.RateLimiter(float(_setting("MAIL_RATE_PER_SECOND") or 0))
    workers = _connections(connections)
    if workers == 1:
        report = _send_due(now, size, stop, limiter)
    else:
        report = _in_threads(workers, lambda: _send_due(now, size, stop, limiter))
    report.waiting = db.session.scalar(
        sa.select(sa.func.count(OutgoingEmail.id)).where(OutgoingEmail.status.in_(WAITING))
    )
    db.session.commit()
    return report


def _send_due(now: datetime | None, size: int, stop: Callable[[], bool] | None, limiter: mail.RateLimiter) -> SendReport:
    report = SendReport()
    while not (stop and stop()):
        batch_now = now or utcnow()
        token = _claim_token()
        rows = _claim(batch_now, size, token, report)
        if not rows:
            break
        report.batches += 1
        connected = _send_batch(rows, batch_now, token, report, limiter)
        if not connected or len(rows) < size:
            break
    return report


def _connections(requested: int | None) -> int:
    workers = max(1, int(requested or _setting("MAIL_CONNECTIONS")))
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return 1  # an in-memory database is one connection: it cannot be shared between threads
    return workers


def _in_threads(workers: int, job: Callable[[], SendReport]) -> SendReport:
    """Run `job` in `workers` threads, each in its own app context (so its own session); sum the reports."""
    app = current_app._get_current_object()
    reports: list[SendReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                reports.append(job())
        except BaseException as error:  # noqa: BLE001 — re-raised below, in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=work, name=f"mail-sender-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    total = SendReport()
    for report in reports:
        for field in ("sent", "failed", "retrying", "suppressed", "batches"):
            setattr(total, field, getattr(total, field) + getattr(report, field))
    return total


def _batch_size(requested: int | None) -> int:
    size = int(requested or _setting("MAIL_BATCH_SIZE"))
    rate = float(_setting("MAIL_RATE_PER_SECOND") or 0)
    if rate > 0:
        # A slow pace makes small batches, so a scheduler asked to stop is done within a minute.
        size = min(size, max(1, int(rate * 60)))
    return max(1, size)


def _claim_token() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _lease() -> timedelta:
    return timedelta(seconds=int(_setting("MAIL_CLAIM_LEASE_SECONDS")))


@dataclass(frozen=True)
class Claimed:
    """A claimed row as plain values: the batch holds no ORM objects and no open transaction while it
    talks to the mail server (on file-SQLite an open transaction holds the write lock for everyone)."""

    id: int
    recipient: str
    locale: str
    template: str
    data: dict
    message_id: str | None
    attempts: int


def _claim(now: datetime, batch_size: int, token: str, report: SendReport) -> list[Claimed]:
    """Claim due rows (and rows whose earlier claim ran out) in one statement; commit before sending."""
    is_due = OutgoingEmail.next_attempt_at <= now
    taken_back = db.session.scalar(
        sa.select(sa.func.count(OutgoingEmail.id)).where(OutgoingEmail.status == "sending", is_due)
    )
    if taken_back:
        log.warning("outbox: taking back %s email(s) whose sender did not finish within its claim", taken_back)
    pick = (
        sa.select(OutgoingEmail.id)
        .where(OutgoingEmail.status.in_(WAITING), is_due)
        .order_by(OutgoingEmail.next_attempt_at, OutgoingEmail.id)
        .limit(batch_size)
    )
    if db.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    db.session.execute(
        sa.update(OutgoingEmail)
        .where(OutgoingEmail.id.in_(pick.scalar_subquery()))
        .values(status="sending", claimed_by=token, next_attempt_at=now + _lease())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    claimed = [
        Claimed(*row) for row in db.session.execute(
            sa.select(OutgoingEmail.id, OutgoingEmail.recipient, OutgoingEmail.locale, OutgoingEmail.template,
                      OutgoingEmail.data, OutgoingEmail.message_id, OutgoingEmail.attempts)
            .where(OutgoingEmail.claimed_by == token, OutgoingEmail.status == "sending")
            .order_by(OutgoingEmail.id)
        )
    ]
    db.session.commit()
    return claimed


class _Batch:
    """One claimed batch: its clock, its lease, and every write to its rows (guarded by the claim token)."""

    def __init__(self, rows: list[Claimed], now: datetime, token: str, report: SendReport, session: orm.Session):
        self.rows = rows
        self.session = session  # the batch's own, on one connection (_held_session)
        self.token = token
        self.report = report
        self.started = time.monotonic()
        self.start_now = now
        self.lease = _lease()
        self.renewed = self.started
        self.blocked: set[str] = set()

    def now(self) -> datetime:
        """The batch's clock: the `now` it was claimed with plus the time spent since (fixed clocks in tests move too)."""
        return self.start_now + timedelta(seconds=time.monotonic() - self.started)

    def _ours(self):
        return OutgoingEmail.claimed_by == self.token, OutgoingEmail.status == "sending"

    def keep_claim(self, remaining: list[Claimed]) -> list[Claimed]:
        """Renew the lease every quarter lease; drop rows that are no longer ours (we were too slow)."""
        if time.monotonic() - self.renewed < self.lease.total_seconds() / 4:
            return remaining
        self.renewed = time.monotonic()
        renewed = self.session.execute(
            sa.update(OutgoingEmail).where(*self._ours()).values(next_attempt_at=self.now() + self.lease)
            .execution_options(synchronize_session=False)
        ).rowcount
        self.session.commit()
        if renewed == len(remaining):
            return remaining
        ours = set(self.session.scalars(sa.select(OutgoingEmail.id).where(*self._ours())))
        self.session.commit()
        lost = [row.id for row in remaining if row.id not in ours]
        log.error("outbox: claim of %s email(s) ran out before they were sent; left to the other sender: %s",
                  len(lost), lost)
        return [row for row in remaining if row.id in ours]

    def finish(self, row: Claimed, **values) -> bool:
        """Write the outcome of one row and release it — only while it is still ours. No commit.
        A Core statement on the session's connection: this runs once per email, and the ORM's
        bulk-update machinery cost more than the UPDATE itself."""
        done = self.session.connection().execute(
            _finish_statement(tuple(sorted(values))),
            {"row_id": row.id, "token": self.token, **{f"new_{key}": value for key, value in values.items()}},
        ).rowcount
        if not done:
            log.error("outbox: email %s was taken over by another sender before its outcome was written", row.id)
        return bool(done)

    def sent(self, row: Claimed) -> None:
        self.finish(row, status="sent", sent_at=utcnow(), last_error=None)
        self.report.sent += 1

    def retry_later(self, row: Claimed, error: str) -> None:
        attempts = row.attempts + 1
        if attempts >= int(_setting("MAIL_MAX_ATTEMPTS")):
            self.finish(row, status="failed", attempts=attempts, last_error=error[:2000])
            self.report.failed += 1
            log.error("outbox: giving up on email %s after %s attempts: %s", row.id, attempts, error)
            return
        self.finish(row, status="pending", attempts=attempts, last_error=error[:2000],
                    next_attempt_at=self.now() + backoff(attempts))
        self.report.retrying += 1

    def retry_all(self, rows: list[Claimed], error: str) -> None:
        for row in rows:
            self.retry_later(row, error)
        self.session.commit()

    def fail(self, row: Claimed, error: str) -> None:
        self.finish(row, status="failed", attempts=row.attempts + 1, last_error=error[:2000])
        self.report.failed += 1
        log.error("outbox: email %s to %s failed permanently: %s", row.id, row.recipient, error)

    def suppress(self, row: Claimed) -> None:
        self.finish(row, status="suppressed", last_error=SUPPRESSED_NOTE)
        self.report.suppressed += 1


def _send_batch(rows: list[Claimed], now: datetime, token: str, report: SendReport,
                limiter: mail.RateLimiter | None = None) -> bool:
    """Send a claimed batch over one connection. Returns False when the mail server could not be reached."""
    with _held_session() as session:
        return _send_held(_Batch(rows, now, token, report, session), limiter)


@contextmanager
def _held_session() -> Iterator[orm.Session]:
    """A session on one database connection for a whole batch. The app's sessions hand their
    connection back to the pool at every commit and check it out again, with a ping
    (pool_pre_ping), for the next statement: per email, that ping and checkout were a fifth of a
    sender's CPU (and a round trip). Its writes commit exactly as before, one commit per email."""
    with db.engine.connect() as connection, orm.Session(bind=connection) as session:
        yield session


def _send_held(batch: _Batch, limiter: mail.RateLimiter | None) -> bool:
    session = batch.session
    rows = _hold_suppressed(batch.rows, batch)
    if not rows:
        return True
    try:
        sender = mail.Sender(limiter=limiter).__enter__()
    except OSError as error:  # smtplib.SMTPException is an OSError too
        log.warning("outbox: mail server unavailable: %s", error)
        batch.retry_all(rows, f"verbinding: {error}")
        return False
    reconnects = 0
    remaining = list(rows)
    try:
        while remaining:
            remaining = batch.keep_claim(remaining)
            if not remaining:
                break
            row = remaining.pop(0)
            if _address(row.recipient) in batch.blocked:
                batch.suppress(row)
                session.commit()
                continue
            try:
                message = mail.compose(row.template, row.locale, row.recipient, row.data, row.message_id or _new_message_id())
            except Exception as error:  # a broken template or data never gets better by retrying
                log.exception("outbox: could not compose email %s", row.id)
                batch.fail(row, f"opmaken mislukt: {error!r}")
                session.commit()
                continue
            outcome, text = _deliver(sender, message)
            if outcome == "sent":
                batch.sent(row)
            elif outcome == "permanent":
                batch.fail(row, text)
                _strike(row.recipient, text, batch)
            elif outcome == "temporary":
                batch.retry_later(row, text)
            else:  # the connection is gone; the message in flight may or may not have arrived
                log.warning("outbox: connection lost while sending email %s: %s", row.id, text)
                batch.retry_later(row, f"verbinding: {text}")
                session.commit()
                if remaining and reconnects < MAX_RECONNECTS:
                    reconnects += 1
                    try:
                        sender.reconnect()
                        continue
                    except OSError as error:
                        text = str(error) or type(error).__name__
                batch.retry_all(remaining, f"verbinding: {text}")
                return False
            # One commit per message: after a crash, at most the message in flight is sent twice.
            session.commit()
    finally:
        sender.__exit__(None, None, None)
    return True


@lru_cache(maxsize=16)
def _finish_statement(columns: tuple[str, ...]) -> sa.Update:
    """_Batch.finish's UPDATE for these columns, built once (bound parameters new_<column>)."""
    table = OutgoingEmail.__table__
    return (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"), table.c.claimed_by == sa.bindparam("token"),
               table.c.status == "sending")
        .values(claimed_by=None, **{column: sa.bindparam(f"new_{column}") for column in columns})
    )


def _hold_suppressed(rows: list[Claimed], batch: _Batch) -> list[Claimed]:
    """Rows to an address suppressed after they were queued are not sent."""
    blocked = _suppressed_among((row.recipient for row in rows), batch.session)
    held = [row for row in rows if _address(row.recipient) in blocked]
    for row in held:
        batch.suppress(row)
    batch.session.commit()
    return [row for row in rows if _address(row.recipient) not in blocked]


def _deliver(sender: mail.Sender, message) -> tuple[str, str]:
    """Send one message: ('sent' | 'temporary' | 'permanent' | 'connection', error text)."""
    try:
        sender.send(message)
    except smtplib.SMTPServerDisconnected as error:
        return "connection", str(error) or "server disconnected"
    except smtplib.SMTPSenderRefused as error:
        # Our sender address was refused: not the recipient's fault, so never a strike against them.
        code, text = _smtp_status(error)
        log.error("outbox: the mail server refused our sender address: %s", text)
        return "temporary", text
    except smtplib.SMTPException as error:  # the server answered this message with an error
        code, text = _smtp_status(error)
        if code == 421:  # "service not available, closing channel"
            return "connection", text
        return ("permanent" if code is not None and code >= 500 else "temporary"), text
    except OSError as error:  # refused, reset, timed out (SMTPException is an OSError, so it comes first)
        return "connection", str(error) or type(error).__name__
    return "sent", ""


def _strike(recipient: str, error: str, batch: _Batch) -> None:
    """Count a permanent refusal against the address; suppress it at MAIL_SUPPRESS_AFTER. No commit.
    Counted with SQL arithmetic, so two senders striking the same address at once lose no strike."""
    address = _address(recipient)
    now = batch.now()
    values = {"last_error": error[:2000], "last_failure_at": now}
    count_strike = (
        sa.update(EmailSuppression)
        .where(EmailSuppression.address == address)
        .values(permanent_failures=EmailSuppression.permanent_failures + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if not batch.session.execute(count_strike).rowcount:
        try:
            with batch.session.begin_nested():
                batch.session.add(EmailSuppression(address=address, permanent_failures=1, **values))
        except IntegrityError:  # another sender added it just now
            batch.session.execute(count_strike)
    suppressed = batch.session.execute(
        sa.update(EmailSuppression)
        .where(
            EmailSuppression.address == address,
            EmailSuppression.suppressed_at.is_(None),
            EmailSuppression.permanent_failures >= int(_setting("MAIL_SUPPRESS_AFTER")),
        )
        .values(suppressed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if suppressed:
        held = _hold_waiting(address, batch.session)
        batch.blocked.add(address)
        log.warning("outbox: %s suppressed after repeated permanent failures; %s waiting email(s) held", address, held)


def _hold_waiting(address: str, session: orm.Session) -> int:
    """Waiting emails to a just-suppressed address (not those another sender holds right now) become 'suppressed'."""
    return session.execute(
        sa.update(OutgoingEmail)
        .where(sa.func.lower(OutgoingEmail.recipient) == address, OutgoingEmail.status == "pending")
        .values(status="suppressed", last_error=SUPPRESSED_NOTE, claimed_by=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: base, 2×, 4× … (1, 2, 4 … minutes by default), capped."""
    base = timedelta(seconds=int(_setting("MAIL_BACKOFF_BASE_SECONDS")))
    cap = timedelta(seconds=int(_setting("MAIL_BACKOFF_MAX_SECONDS")))
    return min(base * (2 ** min(max(attempts - 1, 0), 30)), cap)


def _smtp_status(error: smtplib.SMTPException) -> tuple[int | None, str]:
    """The SMTP reply code and text of a failed send (the worst one when several recipients were refused)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = list(error.recipients.values())
        if replies:
            code, text = max(replies, key=lambda reply: reply[0])
            return code, f"{code} {_text(text)}"
        return None, str(error)
    code = getattr(error, "smtp_code", None)
    text = getattr(error, "smtp_error", None)
    if isinstance(code, int):
        return code, f"{code} {_text(text)}"
    return None, str(error) or type(error).__name__


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


def _new_message_id() -> str:
    return make_msgid(domain="nlwerktdoor.nl")


# ---------------------------------------------------------------- admin: look, retry, lift


def status_counts() -> dict[str, int]:
    """Emails per status, every status present (zero when none)."""
    counts = dict(db.session.execute(
        sa.select(OutgoingEmail.status, sa.func.count(OutgoingEmail.id)).group_by(OutgoingEmail.status)
    ).all())
    return {status: counts.get(status, 0) for status in EMAIL_STATUSES}


def find_emails(status: str | None = None, recipient: str = "", template: str = "", limit: int = 200) -> list[OutgoingEmail]:
    """The newest emails with this status (default: failed and suppressed), optionally by recipient and kind."""
    statuses = (status,) if status in EMAIL_STATUSES else PROBLEMS
    query = sa.select(OutgoingEmail).where(OutgoingEmail.status.in_(statuses))
    if recipient.strip():
        query = query.where(sa.func.lower(OutgoingEmail.recipient).contains(recipient.strip().lower(), autoescape=True))
    if template:
        query = query.where(OutgoingEmail.template == template)
    return list(db.session.scalars(query.order_by(OutgoingEmail.id.desc()).limit(limit)))


def email_templates() -> list[str]:
    return list(db.session.scalars(sa.select(OutgoingEmail.template).distinct().order_by(OutgoingEmail.template)))


def list_suppressions(limit: int = 200) -> list[EmailSuppression]:
    """Suppressed addresses first, then addresses with strikes below the threshold."""
    return list(db.session.scalars(
        sa.select(EmailSuppression)
        .where(sa.or_(EmailSuppression.suppressed_at.is_not(None), EmailSuppression.permanent_failures > 0))
        .order_by(EmailSuppression.suppressed_at.is_(None), EmailSuppression.last_failure_at.desc(), EmailSuppression.id)
        .limit(limit)
    ))


def _require_admin(acting_user: User) -> None:
    if acting_user is None or acting_user.role != "admin":
        raise NotAllowedError(_("Alleen beheerders kunnen e-mail opnieuw versturen of een blokkade opheffen."))


def retry_email(email_id: int, acting_user: User) -> OutgoingEmail:
    """A failed or suppressed email goes back in the queue with a fresh set of attempts (same Message-ID)."""
    _require_admin(acting_user)
    email = db.session.get(OutgoingEmail, email_id)
    if email is None:
        raise NotFoundError(_("Deze e-mail bestaat niet."))
    if email.status not in PROBLEMS:
        raise DomainError(_("Alleen mislukte of tegengehouden e-mail kan opnieuw worden verstuurd."))
    if is_suppressed(email.recipient):
        raise DomainError(_("Dit adres is geblokkeerd. Hef eerst de blokkade op."))
    audit.record(acting_user, "email.retry", email, recipient=email.recipient, status=email.status,
                 attempts=email.attempts, last_error=email.last_error)
    email.status = "pending"
    email.attempts = 0
    email.next_attempt_at = utcnow()
    email.claimed_by = None
    db.session.commit()
    log.info("outbox: email %s queued again by %s", email.id, acting_user.email)
    return email


def lift_suppression(suppression_id: int, acting_user: User, resend_held: bool = False) -> tuple[EmailSuppression, int]:
    """Unblock an address (its strikes start again from zero); optionally queue the held emails again.
    Returns the suppression and how many emails were queued again."""
    _require_admin(acting_user)
    suppression = db.session.get(EmailSuppression, suppression_id)
    if suppression is None:
        raise NotFoundError(_("Deze blokkade bestaat niet."))
    now = utcnow()
    suppression.suppressed_at = None
    suppression.permanent_failures = 0
    suppression.lifted_at = now
    suppression.lifted_by_id = acting_user.id
    requeued = 0
    if resend_held:
        requeued = db.session.execute(
            sa.update(OutgoingEmail)
            .where(sa.func.lower(OutgoingEmail.recipient) == suppression.address, OutgoingEmail.status == "suppressed")
            .values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None)
            .execution_options(synchronize_session=False)
        ).rowcount
    audit.record(acting_user, "email.lift_suppression", suppression, address=suppression.address, requeued=requeued)
    db.session.commit()
    log.info("outbox: suppression of %s lifted by %s; %s email(s) queued again",
             suppression.address, acting_user.email, requeued)
    return suppression, requeued
