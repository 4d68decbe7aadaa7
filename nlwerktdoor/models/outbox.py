"""The outbox: every email is a row written in the transaction that caused it, sent later by a job."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .database import UTCDateTime, utcnow

# pending: waiting for its (next) attempt · sending: claimed by a sender until next_attempt_at (the lease)
# sent · failed: a permanent refusal, or too many temporary failures · suppressed: not sent, the address is blocked
EMAIL_STATUSES = ("pending", "sending", "sent", "failed", "suppressed", "cancelled")  # cancelled: consent withdrawn or erased


class OutgoingEmail(db.Model):
    __tablename__ = "outgoing_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(254), index=True)
    locale: Mapped[str] = mapped_column(sa.String(2), default="nl")
    template: Mapped[str] = mapped_column(sa.String(60))
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # e.g. "digest:<run id>:<recipient>" — a rerun or a second scheduler cannot queue the same email twice.
    idempotency_key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The claim of the sender working on this row ('sending'): a fresh token per batch, so a sender
    # only finds, renews and releases its own rows.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(80), index=True)


class EmailSuppression(db.Model):
    """An address that refused our mail permanently (5xx) — counted across messages; blocked at the threshold."""

    __tablename__ = "email_suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(254), unique=True)  # lower case
    permanent_failures: Mapped[int] = mapped_column(default=0)  # since the last lift
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # None: not (or no longer) blocked
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
