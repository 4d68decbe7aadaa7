"""The audit log: what coordinators, admins and the system did to organisations, sectors and accounts."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import UTCDateTime, utcnow


class AuditEntry(db.Model):
    """One action, written in the same transaction as the change it records (never on its own)."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None = the system (a scheduled job or a command-line operator). An erased account keeps its entries.
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(sa.String(60))  # e.g. "organisation.verify"
    object_type: Mapped[str] = mapped_column(sa.String(40))  # a table name, e.g. "organisations"
    object_id: Mapped[str] = mapped_column(sa.String(64))  # text: sectors are keyed by code
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor = relationship("User")

    __table_args__ = (sa.Index("ix_audit_entries_object", "object_type", "object_id"),)
