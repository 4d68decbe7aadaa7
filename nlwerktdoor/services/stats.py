"""Aggregate figures (no personal data) for the home page and coordinators."""
import sqlalchemy as sa

from ..caching import public_seconds, remembered
from ..extensions import db
from ..models import Organisation, Shortage, StaffListing, WorkerProfile


def public_figures() -> dict:
    """The home page's totals, counted at most once per PUBLIC_COUNTS_SECONDS per process (every
    visitor sees them; three aggregate counts per page view cost more than the page)."""
    return remembered("public-figures", public_seconds(), _count_public_figures)


def _count_public_figures() -> dict:
    verified = Organisation.verified_at.is_not(None)
    open_positions = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Shortage.positions - Shortage.filled_positions), 0))
        .join(Organisation)
        .where(Shortage.status == "open", verified)
    )
    listed_staff = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(StaffListing.count), 0))
        .join(Organisation)
        .where(StaffListing.status == "open", verified)
    )
    active_workers = db.session.scalar(
        sa.select(sa.func.count()).select_from(WorkerProfile).where(WorkerProfile.status == "active")
    )
    return {"open_positions": open_positions, "listed_staff": listed_staff, "active_workers": active_workers}
