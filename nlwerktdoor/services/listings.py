"""Staff listings (shrinking side): create, edit, close and reopen, and what an employer sees of them.

Every use case takes the acting user and checks that the listing belongs to the user's own
organisation, even though the views check it too: a listing of another organisation is
"not found". Each use case commits once.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from ..errors import ValidationError
from ..extensions import db
from ..models import Match, Shortage, StaffListing
from ..models.listing import TRANSFER_TYPES
from . import postings

SIDE = "shrinking"

# DESIGN.md, "CSV": the columns of a listings file, in this order.
CSV_COLUMNS = (
    "external_ref", "employer_kvk", "employer_name", "contact_email", "sector", "occupation", "skills", "count",
    "postcode", "max_distance_km", "available_from", "available_until", "hours_per_week", "transfer_type",
    "certificates",
)


@dataclass
class ListingInput:
    """What an employer fills in for a listing; an empty `skills` means the occupation's essential skills."""

    occupation_id: str | None
    pc4: str | None
    available_from: date | None
    contact_email: str
    sector_code: str
    skills: list[str] = field(default_factory=list)
    count: int = 1
    max_distance_km: int = 25
    available_until: date | None = None
    hours_per_week: int = 36
    transfer_type: str = "either"
    certificates: list[str] = field(default_factory=list)
    notes: str = ""


def _checked(values: ListingInput) -> dict:
    """The column values for a listing, or a ValidationError naming the form field."""
    occupation_id = postings.check_occupation(values.occupation_id)
    if values.available_from is None:
        raise ValidationError(_("Vul in vanaf wanneer de mensen beschikbaar zijn."), field="available_from")
    if values.available_until is not None and values.available_until < values.available_from:
        raise ValidationError(_("De einddatum ligt vóór de begindatum."), field="available_until")
    if values.transfer_type not in TRANSFER_TYPES:
        raise ValidationError(_("Kies detachering, vaste overstap of beide."), field="transfer_type")
    return dict(
        occupation_id=occupation_id,
        skills=postings.skills_or_essential(values.skills, occupation_id, "skills"),
        count=postings.check_range(values.count, 1, 10000, "count", _("Vul een aantal van 1 tot 10.000 in.")),
        pc4=postings.check_postcode(values.pc4),
        max_distance_km=postings.check_range(
            values.max_distance_km, 1, postings.MAX_DISTANCE_KM, "max_distance_km",
            _("Vul een afstand van 1 tot %(max)s km in.", max=postings.MAX_DISTANCE_KM),
        ),
        available_from=values.available_from,
        available_until=values.available_until,
        hours_per_week=postings.check_range(
            values.hours_per_week, 1, postings.MAX_HOURS_PER_WEEK, "hours_per_week",
            _("Vul een aantal uren van 1 tot %(max)s per week in.", max=postings.MAX_HOURS_PER_WEEK),
        ),
        transfer_type=values.transfer_type,
        certificates=postings.check_certificates(values.certificates),
        notes=(values.notes or "").strip()[:5000],
        contact_email=postings.check_email(values.contact_email),
        sector_code=postings.check_sector(values.sector_code),
    )


def create_listing(values: ListingInput, acting_user) -> StaffListing:
    """A new open listing of the acting user's organisation. Unverified organisations may prepare
    listings; the matcher skips them until a coordinator verifies the organisation."""
    organisation = postings.own_organisation(acting_user, SIDE)
    listing = StaffListing(organisation_id=organisation.id, status="open", **_checked(values))
    db.session.add(listing)
    db.session.commit()
    return listing


def update_listing(listing_id: int, values: ListingInput, acting_user) -> StaffListing:
    listing = postings.load_own(StaffListing, listing_id, acting_user, SIDE)
    for name, value in _checked(values).items():
        setattr(listing, name, value)
    db.session.commit()
    return listing


def close_listing(listing_id: int, acting_user) -> StaffListing:
    """Closed listings are no longer matched; existing matches stay so answers can still be given."""
    return _set_status(listing_id, acting_user, "closed")


def reopen_listing(listing_id: int, acting_user) -> StaffListing:
    return _set_status(listing_id, acting_user, "open")


def _set_status(listing_id: int, acting_user, status: str) -> StaffListing:
    listing = postings.load_own(StaffListing, listing_id, acting_user, SIDE)
    listing.status = status
    db.session.commit()
    return listing


def organisation_listings(organisation_id: int, page: int | None = 1) -> postings.Page[tuple[StaffListing, int]]:
    """A page of the organisation's listings, open ones first, newest first, each with its number of matches."""
    return postings.organisation_postings(StaffListing, Match.listing_id, organisation_id, page)


def listing_matches(listing: StaffListing) -> list[Match]:
    """The matches of one listing, best first, with their shortage and its organisation loaded."""
    return list(
        db.session.scalars(
            sa.select(Match)
            .where(Match.listing_id == listing.id)
            .options(selectinload(Match.shortage).selectinload(Shortage.organisation))
            .order_by(Match.score.desc(), Match.id)
        )
    )


def example_csv(organisation, contact_email: str) -> str:
    """A small listings file that the import accepts for this organisation (semicolons and a BOM,
    so that a Dutch spreadsheet opens it as it is)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    base = [organisation.kvk_number, organisation.name, contact_email, organisation.sector_code]
    writer.writerow(["aanbod-001", *base, "cabinemedewerker", "", "12", "1118", "40", "2026-12-01", "2027-06-30", "32",
                     "either", "BHV"])
    writer.writerow(["aanbod-002", *base, "ober/serveerster", "", "5", "1011 AB", "25", "2026-12-15", "", "24",
                     "secondment", "HACCP|BHV"])
    return out.getvalue()
