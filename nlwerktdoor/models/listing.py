"""Staff listings: a shrinking-side employer offers N people of one occupation for transfer."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import StringList, UTCDateTime, utcnow

TRANSFER_TYPES = ("secondment", "permanent", "either")
LISTING_STATUSES = ("open", "closed")


class StaffListing(db.Model):
    """Carries no personal data: it describes a group of staff, not people."""

    __tablename__ = "staff_listings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    external_ref: Mapped[str | None] = mapped_column(sa.String(100))
    sector_code: Mapped[str] = mapped_column(sa.ForeignKey("sectors.code"))
    occupation_id: Mapped[str] = mapped_column(sa.String(36))
    skills: Mapped[list] = mapped_column(StringList, default=list)
    count: Mapped[int] = mapped_column(default=1)
    pc4: Mapped[str] = mapped_column(sa.String(4), index=True)  # instant candidates read by area
    max_distance_km: Mapped[int] = mapped_column(default=25)
    available_from: Mapped[date] = mapped_column(sa.Date)
    available_until: Mapped[date | None] = mapped_column(sa.Date)
    hours_per_week: Mapped[int] = mapped_column(default=36)
    transfer_type: Mapped[str] = mapped_column(sa.String(12), default="either")
    certificates: Mapped[list] = mapped_column(StringList, default=list)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    # Who receives the emails about this listing.
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: instant candidates and incremental runs read what changed since a moment.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)

    organisation = relationship("Organisation")
    sector = relationship("Sector")

    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "external_ref", name="uq_listing_org_ref"),
        sa.CheckConstraint("count >= 1", name="ck_listing_count"),
        sa.CheckConstraint("status IN ('open','closed')", name="ck_listing_status"),
        sa.CheckConstraint("transfer_type IN ('secondment','permanent','either')", name="ck_listing_transfer"),
    )
