"""User accounts: workers, employer members, coordinators and admins."""
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import UTCDateTime, utcnow

ROLES = ("worker", "employer", "coordinator", "admin")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    # None until the person sets one (accounts made by an import or an invitation).
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(12))
    locale: Mapped[str] = mapped_column(sa.String(2), default="nl")
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    # For coordinators: their labour-market region; None = national.
    region_code: Mapped[str | None] = mapped_column(sa.String(4))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation = relationship("Organisation", back_populates="members", foreign_keys=[organisation_id])
    worker_profile = relationship("WorkerProfile", back_populates="user", uselist=False)

    __table_args__ = (sa.CheckConstraint("role IN ('worker','employer','coordinator','admin')", name="ck_users_role"),)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)
