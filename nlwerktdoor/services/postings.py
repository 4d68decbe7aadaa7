"""Checks and helpers shared by the listing and shortage use cases (both sides of the exchange).

The forms check the same things first; these checks are the service's own guard (defense in
depth), so a script or a later API cannot store a posting that the matcher would trip over.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from .. import reference
from ..errors import NotAllowedError, NotFoundError, ValidationError
from ..extensions import db
from ..models import Match, Sector

MAX_DISTANCE_KM = 250  # the same bound as the CSV import
MAX_HOURS_PER_WEEK = 60

T = TypeVar("T")


def own_organisation(acting_user, side: str):
    """The acting user's organisation, provided it is an employer member on this side."""
    organisation = getattr(acting_user, "organisation", None) if getattr(acting_user, "role", None) == "employer" else None
    if organisation is None or organisation.side != side:
        raise NotAllowedError(_("Alleen werkgevers aan deze kant van het platform kunnen dit doen."))
    return organisation


def load_own(model, object_id: int, acting_user, side: str):
    """The object if it belongs to the acting user's organisation; otherwise 'not found' (ids cannot be probed)."""
    organisation = own_organisation(acting_user, side)
    obj = db.session.get(model, object_id)
    if obj is None or obj.organisation_id != organisation.id:
        raise NotFoundError(_("Niet gevonden."))
    return obj


def check_occupation(occupation_id: str | None) -> str:
    if not occupation_id or occupation_id not in reference.occupations():
        raise ValidationError(_("Kies een beroep uit de lijst."), field="occupation")
    return occupation_id


def check_skills(skill_ids, field: str) -> list[str]:
    known = reference.skills()
    unknown = [s for s in skill_ids or [] if s not in known]
    if unknown:
        raise ValidationError(_("Onbekende vaardigheid: %(names)s", names=", ".join(unknown)), field=field)
    return list(dict.fromkeys(skill_ids or []))


def skills_or_essential(skill_ids, occupation_id: str, field: str) -> list[str]:
    """An empty skill list means the occupation's essential skills (the same rule as the CSV import)."""
    skills = check_skills(skill_ids, field)
    return skills or list(reference.occupations()[occupation_id].essential_skills)


def check_postcode(text: str | None) -> str:
    pc4 = reference.parse_postcode(text)
    if pc4 is None:
        raise ValidationError(_("Vul een geldige Nederlandse postcode in, bijvoorbeeld 1011 of 1011 AB."), field="postcode")
    return pc4


def check_range(value, low: int, high: int, field: str, message: str) -> int:
    if value is None or isinstance(value, bool) or not low <= int(value) <= high:
        raise ValidationError(message, field=field)
    return int(value)


def check_certificates(codes, field: str = "certificates") -> list[str]:
    result = []
    for code in codes or []:
        parsed = reference.parse_certificate(code)
        if parsed is None:
            raise ValidationError(_("Onbekend certificaat: %(code)s", code=code), field=field)
        result.append(parsed)
    return list(dict.fromkeys(result))


def check_email(text: str | None, field: str = "contact_email") -> str:
    try:
        return validate_email((text or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValidationError(_("Vul een geldig e-mailadres in."), field=field) from error


def check_sector(code: str | None) -> str:
    if not code or db.session.get(Sector, code) is None:
        raise ValidationError(_("Kies een sector uit de lijst."), field="sector")
    return code


def region_of(pc4: str) -> str:
    place = reference.place(pc4)
    return place.region if place else ""


def distance_between(pc4_a: str, pc4_b: str) -> float | None:
    a, b = reference.place(pc4_a), reference.place(pc4_b)
    if a is None or b is None:
        return None
    return reference.distance_km(a.lat, a.lon, b.lat, b.lon)


@dataclass
class Page(Generic[T]):
    """One page of results; `page` counts from 1."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


OWN_PER_PAGE = 50  # an organisation's own listings or shortages per page (a chain may have thousands)


def clamp_page(page: int | None, total: int, per_page: int) -> int:
    """A page number past the end shows the last page; nonsense shows the first."""
    last = max(1, -(-total // per_page))
    return min(max(page or 1, 1), last)


def organisation_postings(model, match_column, organisation_id: int, page: int | None = 1,
                          per_page: int = OWN_PER_PAGE) -> Page[tuple]:
    """One page of an organisation's listings or shortages, open ones first, newest first, each with
    its number of matches (`match_column` is Match.listing_id or Match.shortage_id)."""
    total = db.session.scalar(sa.select(sa.func.count(model.id)).where(model.organisation_id == organisation_id))
    page = clamp_page(page, total, per_page)
    match_count = sa.select(sa.func.count(Match.id)).where(match_column == model.id).correlate(model).scalar_subquery()
    rows = db.session.execute(
        sa.select(model, match_count)
        .where(model.organisation_id == organisation_id)
        .order_by(sa.case((model.status == "open", 0), else_=1), model.created_at.desc(), model.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    )
    return Page([(posting, count) for posting, count in rows], page, per_page, total)
