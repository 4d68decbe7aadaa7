"""Organisations: verification by coordinators, and the regional figures they watch (aggregates only)."""
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from flask_babel import gettext as _

from .. import reference
from ..errors import NotAllowedError, NotFoundError
from ..extensions import db
from ..models import Match, Organisation, Shortage, StaffListing, User, WorkerProfile
from . import audit

VERIFIER_ROLES = ("coordinator", "admin")


def verify(org_id: int, acting_user: User) -> Organisation:
    """Mark an organisation verified, recording who and when. From then on its postings are matched
    and public. Verifying twice keeps the first record."""
    if acting_user.role not in VERIFIER_ROLES:
        raise NotAllowedError(_("Alleen coördinatoren en beheerders kunnen organisaties verifiëren."))
    organisation = db.session.get(Organisation, org_id)
    if organisation is None:
        raise NotFoundError(_("Deze organisatie bestaat niet (meer)."))
    if organisation.verified_at is None:
        organisation.verified_at = datetime.now(timezone.utc)
        organisation.verified_by_id = acting_user.id
        audit.record(acting_user, "organisation.verify", organisation, name=organisation.name,
                     kvk_number=organisation.kvk_number)
        db.session.commit()
    return organisation


def awaiting_verification() -> list[Organisation]:
    """Unverified organisations, oldest first (they have waited longest)."""
    return list(
        db.session.scalars(
            sa.select(Organisation).where(Organisation.verified_at.is_(None)).order_by(Organisation.created_at, Organisation.id)
        )
    )


def verifier(organisation: Organisation) -> User | None:
    return db.session.get(User, organisation.verified_by_id) if organisation.verified_by_id else None


@dataclass
class RegionFigures:
    code: str
    name: str
    open_positions: int = 0
    listed_staff: int = 0
    active_workers: int = 0
    matches: int = 0
    mutual_yes: int = 0
    own: bool = False  # the coordinator's own region

    @property
    def total(self) -> int:
        return self.open_positions + self.listed_staff + self.active_workers + self.matches


@dataclass
class FiguresTable:
    regions: list[RegionFigures] = field(default_factory=list)
    national: RegionFigures | None = None


def _add_by_pc4(rows, figures: dict[str, RegionFigures], attribute: str) -> None:
    for pc4, amount in rows:
        place = reference.place(pc4 or "")
        if place is not None and place.region_code in figures:
            target = figures[place.region_code]
            setattr(target, attribute, getattr(target, attribute) + int(amount or 0))


def region_figures(first_region: str | None = None) -> FiguresTable:
    """Per labour-market region: open positions and listed staff of verified organisations, active
    workers with consent, matches made and mutual yeses (counted where the shortage is).

    Only sums and counts leave this function: no names, no postcodes below region level. Queries group
    by PC4 and the PC4 → region mapping happens in Python (the reference index is in memory)."""
    figures = {code: RegionFigures(code, region.name) for code, region in reference.regions().items()}
    verified = Organisation.verified_at.is_not(None)

    _add_by_pc4(
        db.session.execute(
            sa.select(Shortage.pc4, sa.func.sum(Shortage.positions - Shortage.filled_positions))
            .join(Organisation, Shortage.organisation_id == Organisation.id)
            .where(Shortage.status == "open", verified)
            .group_by(Shortage.pc4)
        ),
        figures,
        "open_positions",
    )
    _add_by_pc4(
        db.session.execute(
            sa.select(StaffListing.pc4, sa.func.sum(StaffListing.count))
            .join(Organisation, StaffListing.organisation_id == Organisation.id)
            .where(StaffListing.status == "open", verified)
            .group_by(StaffListing.pc4)
        ),
        figures,
        "listed_staff",
    )
    _add_by_pc4(
        db.session.execute(
            sa.select(WorkerProfile.pc4, sa.func.count())
            .where(WorkerProfile.status == "active", WorkerProfile.consent_at.is_not(None))
            .group_by(WorkerProfile.pc4)
        ),
        figures,
        "active_workers",
    )
    _add_by_pc4(
        db.session.execute(
            sa.select(Shortage.pc4, sa.func.count()).select_from(Match).join(Shortage).group_by(Shortage.pc4)
        ),
        figures,
        "matches",
    )
    _add_by_pc4(
        db.session.execute(
            sa.select(Shortage.pc4, sa.func.count())
            .select_from(Match)
            .join(Shortage)
            .where(Match.growing_status == "yes", Match.candidate_status == "yes")
            .group_by(Shortage.pc4)
        ),
        figures,
        "mutual_yes",
    )

    rows = sorted(figures.values(), key=lambda r: r.name)
    if first_region in figures:
        figures[first_region].own = True
        rows.sort(key=lambda r: not r.own)  # stable: the own region first, the rest by name
    national = RegionFigures("NL", _("Nederland"))
    for row in rows:
        for attribute in ("open_positions", "listed_staff", "active_workers", "matches", "mutual_yes"):
            setattr(national, attribute, getattr(national, attribute) + getattr(row, attribute))
    return FiguresTable(regions=rows, national=national)
