"""User accounts: workers, employer members, coordinators and admins."""
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import StringList, UTCDateTime, utcnow

ROLES = ("worker", "employer", "coordinator", "admin")
# Roles that may protect their account with a second factor (TOTP).
SECOND_FACTOR_ROLES = ("employer", "coordinator", "admin")


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


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
    # Set once the person proved the address (the emailed link); until then the account can only
    # ask for a new link. Accounts that set their first password through an emailed link count as proved.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the login session (get_id): a new value logs out every session and "remember me" cookie.
    session_token: Mapped[str | None] = mapped_column(sa.String(64), default=new_session_token)
    # Optional second factor (employers, coordinators, admins): base32 TOTP secret, set once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step used, so one code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # SHA-256 hashes of the unused one-time backup codes.
    totp_backup_codes: Mapped[list | None] = mapped_column(StringList)
    # Retention: when the "inactive for 13 months" warning was queued; erased 30 days later if still inactive.
    warned_inactive_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation = relationship("Organisation", back_populates="members", foreign_keys=[organisation_id])
    worker_profile = relationship("WorkerProfile", back_populates="user", uselist=False)

    __table_args__ = (sa.CheckConstraint("role IN ('worker','employer','coordinator','admin')", name="ck_users_role"),)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_secret) and self.totp_enabled_at is not None

    def get_id(self) -> str:
        """Flask-Login's session id: "<id>:<session token>", so rotating the token ends every session."""
        return f"{self.id}:{self.session_token or ''}"
