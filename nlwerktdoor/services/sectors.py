"""Sectors and their trend; admins change trends as the crisis moves."""
import sqlalchemy as sa

from ..caching import public_seconds, remembered
from ..errors import ValidationError
from ..extensions import db
from ..models import Sector
from ..models.sector import DEFAULT_SECTORS, TRENDS
from . import audit


def ensure_default_sectors() -> None:
    """Insert the 2020 sectors that are missing (the initial migration does the same)."""
    existing = set(db.session.scalars(sa.select(Sector.code)))
    for code, name_nl, name_en, trend in DEFAULT_SECTORS:
        if code not in existing:
            db.session.add(Sector(code=code, name_nl=name_nl, name_en=name_en, trend=trend))
    db.session.commit()


def all_sectors() -> list[Sector]:
    return list(db.session.scalars(sa.select(Sector).order_by(Sector.name_nl)))


def public_sector_choices(locale: str) -> list[tuple[str, str]]:
    """(code, name) of every sector in the visitor's language, for the public search's filter:
    asked for on every search, so kept PUBLIC_COUNTS_SECONDS per process like the counts beside it."""
    return remembered(f"public-sector-choices:{locale}", public_seconds(),
                      lambda: [(sector.code, sector.name(locale)) for sector in all_sectors()], shared=False)


def resolve_sector(text: str) -> Sector | None:
    """A sector by code or by Dutch or English name, case-insensitive."""
    folded = " ".join(text.casefold().split())
    for sector in all_sectors():
        if folded in (sector.code.casefold(), sector.name_nl.casefold(), sector.name_en.casefold()):
            return sector
    return None


def set_trend(code: str, trend: str, acting_user=None) -> Sector:
    """Change a sector's trend; a real change is written to the audit log (acting_user None = the system)."""
    if trend not in TRENDS:
        raise ValidationError("Onbekende trend.", field="trend")
    sector = db.session.get(Sector, code)
    if sector is None:
        raise ValidationError("Onbekende sector.", field="code")
    if sector.trend != trend:
        audit.record(acting_user, "sector.set_trend", sector, before=sector.trend, after=trend)
        sector.trend = trend
    db.session.commit()
    return sector
