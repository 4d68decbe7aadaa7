"""Organisations (employers) and who verified them."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import UTCDateTime, utcnow

SIDES = ("shrinking", "growing")


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kvk_number: Mapped[str] = mapped_column(sa.String(8), unique=True)
    sector_code: Mapped[str] = mapped_column(sa.ForeignKey("sectors.code"))
    # Which side of the exchange this organisation works on: it lists staff (shrinking) or posts shortages (growing).
    side: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", use_alter=True, name="fk_org_verified_by"))

    sector = relationship("Sector")
    members = relationship("User", back_populates="organisation", foreign_keys="User.organisation_id")

    __table_args__ = (sa.CheckConstraint("side IN ('shrinking','growing')", name="ck_organisations_side"),)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None
