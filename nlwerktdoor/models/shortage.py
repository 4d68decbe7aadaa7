"""Shortages: a growing-side employer needs people."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import StringList, UTCDateTime, utcnow

SHORTAGE_STATUSES = ("open", "filled", "closed")


class Shortage(db.Model):
    __tablename__ = "shortages"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    external_ref: Mapped[str | None] = mapped_column(sa.String(100))
    source: Mapped[str] = mapped_column(sa.String(8), default="own")
    feed_item_id: Mapped[str | None] = mapped_column(sa.String(500))
    sector_code: Mapped[str] = mapped_column(sa.ForeignKey("sectors.code"))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    occupation_id: Mapped[str] = mapped_column(sa.String(36))
    required_skills: Mapped[list] = mapped_column(StringList, default=list)
    nice_skills: Mapped[list] = mapped_column(StringList, default=list)
    positions: Mapped[int] = mapped_column(default=1)
    filled_positions: Mapped[int] = mapped_column(default=0)
    pc4: Mapped[str] = mapped_column(sa.String(4))
    max_distance_km: Mapped[int] = mapped_column(default=25)
    start_date: Mapped[date] = mapped_column(sa.Date)
    hours_per_week: Mapped[int] = mapped_column(default=36)
    certificates: Mapped[list] = mapped_column(StringList, default=list)
    training_offered: Mapped[bool] = mapped_column(default=False)
    open_hiring: Mapped[bool] = mapped_column(default=False)
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(10), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation = relationship("Organisation")
    sector = relationship("Sector")

    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "external_ref", name="uq_shortage_org_ref"),
        sa.CheckConstraint("positions >= 1", name="ck_shortage_positions"),
        sa.CheckConstraint("status IN ('open','filled','closed')", name="ck_shortage_status"),
        sa.CheckConstraint("source IN ('own','feed')", name="ck_shortage_source"),
        # The public list reads open shortages by postcode area, newest first, a page at a time
        # (services/shortages.public_shortages): walked backwards, it stops after the page.
        sa.Index("ix_shortages_status_pc4_id", "status", "pc4", "id"),
        # ... and without a postcode newest first: walked backwards, no sort of every open shortage.
        sa.Index("ix_shortages_status_created", "status", "created_at", "id"),
    )

    @property
    def open_positions(self) -> int:
        return max(self.positions - self.filled_positions, 0)
