"""Worker opt-in profiles and the invitations that lead to them."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import StringList, UTCDateTime, utcnow

WORKER_STATUSES = ("active", "paused", "withdrawn")


class WorkerProfile(db.Model):
    __tablename__ = "worker_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    external_ref: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    occupation_id: Mapped[str] = mapped_column(sa.String(36))
    skills: Mapped[list] = mapped_column(StringList, default=list)
    pc4: Mapped[str] = mapped_column(sa.String(4), index=True)  # instant candidates read by area
    max_distance_km: Mapped[int] = mapped_column(default=25)
    desired_sectors: Mapped[list] = mapped_column(StringList, default=list)  # empty = any sector
    hours_per_week: Mapped[int] = mapped_column(default=36)
    available_from: Mapped[date] = mapped_column(sa.Date)
    certificates: Mapped[list] = mapped_column(StringList, default=list)
    languages: Mapped[list] = mapped_column(StringList, default=list)
    # Consent to be introduced to employers: when, and to which text version. None = no consent.
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_version: Mapped[str | None] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(10), default="active", index=True)
    # Set when the person opted in through an employer's invitation for a staff listing.
    listing_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_listings.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: instant candidates and incremental runs read what changed since a moment.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    # Retention (docs/privacy.md): "still available?" asked at (None = no open question), last confirmed at
    # (the 8-week clock; None = count from consent_at), withdrawn at (erased 30 days later).
    reconfirm_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reconfirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "Bewaar mijn profiel voor een volgende crisis": kept (paused) when an admin declares the crisis over.
    reserve_pool: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    user = relationship("User", back_populates="worker_profile")
    listing = relationship("StaffListing")

    __table_args__ = (sa.CheckConstraint("status IN ('active','paused','withdrawn')", name="ck_worker_status"),)

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None


class Invitation(db.Model):
    """An employer invites a member of staff to opt in; the token opens a pre-filled profile form."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_listings.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    listing = relationship("StaffListing")

    __table_args__ = (sa.UniqueConstraint("listing_id", "email", name="uq_invitation_listing_email"),)
