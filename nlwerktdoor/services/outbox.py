"""The outbox: queue an email with the transaction that caused it; send what is due later, from a job.

Invariants:
- `queue_email` never commits and never queues the same idempotency key twice (a query first, the
  unique constraint as the final guard against a second scheduler doing the same at the same time).
- `send_pending` claims rows before it works on them (PostgreSQL: FOR UPDATE SKIP LOCKED; every
  database: a compare-and-set update), so two senders never pick the same row. A claimed row is
  'sending' with `next_attempt_at` = the end of its lease: if the process dies mid-batch, the row
  is taken back once the lease has run out. The Message-ID is fixed when the row is queued, so a
  message that is sent again after such a crash can be recognised as the same message.
- An SMTP failure never raises: a temporary one is retried with exponential backoff, a permanent
  one (5xx for this message) or too many attempts marks the row 'failed'. The report says what happened.
"""
from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app

from .. import mail
from ..extensions import db
from ..models import OutgoingEmail
from ..models.database import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # 1, 2, 4 … 256 minutes: about eight and a half hours of trying
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
CLAIM_LEASE = timedelta(minutes=10)
BATCH_SIZE = 200


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0


def queue_email(recipient: str, locale: str, template: str, data: dict, idempotency_key: str) -> OutgoingEmail | None:
    """Add an email to the session (no commit), or return None when this key was queued before."""
    exists = db.session.scalar(sa.select(OutgoingEmail.id).where(OutgoingEmail.idempotency_key == idempotency_key))
    if exists is not None:
        return None
    # Round-trip through JSON now, so a date or a model in `data` fails here and not in the sender.
    payload = json.loads(json.dumps(data))
    email = OutgoingEmail(
        recipient=recipient.strip(),
        locale=locale if locale in current_app.config.get("LANGUAGES", ("nl", "en")) else "nl",
        template=template,
        data=payload,
        idempotency_key=idempotency_key,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        message_id=_new_message_id(),
    )
    db.session.add(email)
    return email


def send_pending(now: datetime | None = None, batch_size: int = BATCH_SIZE) -> SendReport:
    """Send every due email over one connection; mark each sent, retried later or failed."""
    now = now or utcnow()
    report = SendReport()
    claimed = _claim(now, batch_size)
    if claimed:
        _send_claimed(claimed, now, report)
    report.waiting = db.session.scalar(
        sa.select(sa.func.count(OutgoingEmail.id)).where(OutgoingEmail.status.in_(("pending", "sending")))
    )
    db.session.commit()
    return report


def _claim(now: datetime, batch_size: int) -> list[OutgoingEmail]:
    """Take due rows (and rows whose earlier claim ran out) and commit the claim before sending."""
    due = (
        sa.select(OutgoingEmail.id, OutgoingEmail.status, OutgoingEmail.next_attempt_at)
        .where(OutgoingEmail.status.in_(("pending", "sending")), OutgoingEmail.next_attempt_at <= now)
        .order_by(OutgoingEmail.next_attempt_at, OutgoingEmail.id)
        .limit(batch_size)
    )
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    lease_until = now + CLAIM_LEASE
    ids = []
    for row_id, status, next_attempt_at in db.session.execute(due).all():
        if status == "sending":
            log.warning("outbox: taking back email %s, whose earlier send did not finish", row_id)
        # Compare-and-set: only one sender wins a row, also on databases without SKIP LOCKED.
        result = db.session.execute(
            sa.update(OutgoingEmail)
            .where(
                OutgoingEmail.id == row_id,
                OutgoingEmail.status == status,
                OutgoingEmail.next_attempt_at == next_attempt_at,
            )
            .values(status="sending", next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            ids.append(row_id)
    db.session.commit()
    if not ids:
        return []
    return list(db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.id.in_(ids)).order_by(OutgoingEmail.id)))


def _send_claimed(rows: list[OutgoingEmail], now: datetime, report: SendReport) -> None:
    try:
        sender = mail.Sender().__enter__()
    except (OSError, smtplib.SMTPException) as error:
        # Could not reach or log in to the mail server: nothing was sent, everything is tried again later.
        log.warning("outbox: mail server unavailable: %s", error)
        for row in rows:
            _retry_later(row, now, f"verbinding: {error}", report)
        db.session.commit()
        return
    try:
        for index, row in enumerate(rows):
            try:
                message = mail.compose(row.template, row.locale, row.recipient, row.data, row.message_id or _new_message_id())
            except Exception as error:  # a broken template or data never gets better by retrying
                log.exception("outbox: could not compose email %s", row.id)
                _give_up(row, f"opmaken mislukt: {error!r}", report)
                db.session.commit()
                continue
            try:
                sender.send(message)
            except smtplib.SMTPServerDisconnected as error:
                _connection_lost(rows[index:], now, error, report)
                return
            except smtplib.SMTPException as error:  # the server answered this message with an error
                code, text = _smtp_status(error)
                if code is not None and code >= 500:
                    _give_up(row, text, report)
                else:
                    _retry_later(row, now, text, report)
            except OSError as error:  # SMTPException is an OSError too, so this comes after it
                _connection_lost(rows[index:], now, error, report)
                return
            else:
                row.status = "sent"
                row.sent_at = utcnow()
                row.last_error = None
                report.sent += 1
            # One commit per message: after a crash, at most the message in flight is sent twice.
            db.session.commit()
    finally:
        try:
            sender.__exit__(None, None, None)
        except (OSError, smtplib.SMTPException):
            pass


def _connection_lost(rows: list[OutgoingEmail], now: datetime, error: Exception, report: SendReport) -> None:
    """The connection is gone: this row and the rest of the batch wait for the next run."""
    log.warning("outbox: connection lost while sending: %s", error)
    for row in rows:
        _retry_later(row, now, f"verbinding: {error}", report)
    db.session.commit()


def _retry_later(row: OutgoingEmail, now: datetime, error: str, report: SendReport) -> None:
    row.attempts += 1
    row.last_error = error[:2000]
    if row.attempts >= current_app.config.get("MAIL_MAX_ATTEMPTS", MAX_ATTEMPTS):
        row.status = "failed"
        report.failed += 1
        log.error("outbox: giving up on email %s after %s attempts: %s", row.id, row.attempts, error)
        return
    row.status = "pending"
    row.next_attempt_at = now + backoff(row.attempts)


def _give_up(row: OutgoingEmail, error: str, report: SendReport) -> None:
    row.attempts += 1
    row.status = "failed"
    row.last_error = error[:2000]
    report.failed += 1
    log.error("outbox: email %s to %s failed permanently: %s", row.id, row.recipient, error)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 1, 2, 4, 8 … minutes, at most six hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


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
