"""Shortages (growing side): create, edit, fill, close and reopen; candidates per shortage; the public list.

Every use case takes the acting user and checks that the shortage belongs to the user's own
organisation (another organisation's shortage is "not found"), and commits once. Candidates are
shown pseudonymously: the view models below carry no name, email or phone, so a template cannot
leak them before both sides said yes (the match page shows contact details after that).
"""
from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager, selectinload

from .. import reference
from ..errors import ValidationError
from ..caching import public_seconds, remembered
from ..extensions import db
from ..models import Match, Organisation, Shortage, StaffListing, WorkerProfile
from . import postings

log = logging.getLogger(__name__)

SIDE = "growing"
PUBLIC_PER_PAGE = 20

# DESIGN.md, "CSV": the columns of a shortages file, in this order.
CSV_COLUMNS = (
    "external_ref", "employer_kvk", "employer_name", "contact_email", "sector", "title", "occupation",
    "required_skills", "nice_skills", "positions", "postcode", "max_distance_km", "start_date", "hours_per_week",
    "certificates", "training_offered", "open_hiring",
)


@dataclass
class ShortageInput:
    """What an employer fills in for a shortage; an empty `required_skills` means the occupation's essential skills."""

    title: str
    occupation_id: str | None
    pc4: str | None
    start_date: date | None
    contact_email: str
    description: str = ""
    required_skills: list[str] = field(default_factory=list)
    nice_skills: list[str] = field(default_factory=list)
    positions: int = 1
    max_distance_km: int = 25
    hours_per_week: int = 36
    certificates: list[str] = field(default_factory=list)
    training_offered: bool = False
    open_hiring: bool = False


def _checked(values: ShortageInput) -> dict:
    title = (values.title or "").strip()
    if not title:
        raise ValidationError(_("Geef de vacature een titel."), field="title")
    if len(title) > 200:
        raise ValidationError(_("De titel mag hoogstens 200 tekens lang zijn."), field="title")
    occupation_id = postings.check_occupation(values.occupation_id)
    if values.start_date is None:
        raise ValidationError(_("Vul een startdatum in."), field="start_date")
    required = postings.skills_or_essential(values.required_skills, occupation_id, "required_skills")
    nice = [s for s in postings.check_skills(values.nice_skills, "nice_skills") if s not in required]
    return dict(
        title=title,
        description=(values.description or "").strip()[:5000],
        occupation_id=occupation_id,
        required_skills=required,
        nice_skills=nice,
        positions=postings.check_range(values.positions, 1, 1000, "positions", _("Vul een aantal plaatsen van 1 tot 1.000 in.")),
        pc4=postings.check_postcode(values.pc4),
        max_distance_km=postings.check_range(
            values.max_distance_km, 1, postings.MAX_DISTANCE_KM, "max_distance_km",
            _("Vul een afstand van 1 tot %(max)s km in.", max=postings.MAX_DISTANCE_KM),
        ),
        start_date=values.start_date,
        hours_per_week=postings.check_range(
            values.hours_per_week, 1, postings.MAX_HOURS_PER_WEEK, "hours_per_week",
            _("Vul een aantal uren van 1 tot %(max)s per week in.", max=postings.MAX_HOURS_PER_WEEK),
        ),
        certificates=postings.check_certificates(values.certificates),
        training_offered=bool(values.training_offered),
        open_hiring=bool(values.open_hiring),
        contact_email=postings.check_email(values.contact_email),
    )


def create_shortage(values: ShortageInput, acting_user) -> Shortage:
    """A new open shortage in the organisation's sector. Unverified organisations may prepare
    shortages; they are neither matched nor public until a coordinator verifies the organisation."""
    organisation = postings.own_organisation(acting_user, SIDE)
    shortage = Shortage(
        organisation_id=organisation.id, sector_code=organisation.sector_code, source="own", status="open",
        filled_positions=0, **_checked(values),
    )
    db.session.add(shortage)
    db.session.commit()
    _candidates_now(shortage)
    return shortage


def _candidates_now(shortage: Shortage) -> None:
    """Its candidates at once, not at the next run (MATCH_ON_POST); the run emails both sides. The
    shortage is saved by then: should matching fail, the employer still sees it saved (no error page),
    and the next run finds its candidates."""
    if current_app.config.get("MATCH_ON_POST", True):
        from . import matching

        try:
            matching.match_shortage_now(shortage.id)
        except Exception:  # noqa: BLE001 — as for an import (imports.py)
            db.session.rollback()
            log.exception("instant candidates for shortage %s failed; the next run matches it", shortage.id)


def candidates_now_for_import(shortage_ids: list[int]) -> int:
    """Instant candidates for the shortages a CSV import wrote (created or changed), in the file's
    order, for as long as IMPORT_MATCH_SECONDS allows; the others get theirs from the next run
    (MATCH_INTERVAL_MINUTES). One at a time is some 0.15 s at national size (the candidate index),
    so an upload of 2,000 rows would otherwise wait minutes for its page. Returns how many were matched."""
    if not shortage_ids or not current_app.config.get("MATCH_ON_POST", True):
        return 0
    from . import matching

    budget = float(current_app.config.get("IMPORT_MATCH_SECONDS", 2.0))
    started = time.monotonic()
    done = 0
    for shortage_id in shortage_ids:
        if time.monotonic() - started >= budget:
            break
        matching.match_shortage_now(shortage_id)
        done += 1
    return done


def update_shortage(shortage_id: int, values: ShortageInput, acting_user) -> Shortage:
    shortage = postings.load_own(Shortage, shortage_id, acting_user, SIDE)
    checked = _checked(values)
    if checked["positions"] < shortage.filled_positions:
        raise ValidationError(
            _("Er zijn al %(n)s plaatsen gevuld; het aantal plaatsen kan niet lager zijn.", n=shortage.filled_positions),
            field="positions",
        )
    for name, value in checked.items():
        setattr(shortage, name, value)
    db.session.commit()
    _candidates_now(shortage)
    return shortage


def mark_filled(shortage_id: int, acting_user) -> Shortage:
    """All positions are taken: no new candidates are proposed."""
    shortage = postings.load_own(Shortage, shortage_id, acting_user, SIDE)
    shortage.status = "filled"
    shortage.filled_positions = shortage.positions
    db.session.commit()
    return shortage


def close_shortage(shortage_id: int, acting_user) -> Shortage:
    """No longer needed (without being filled); existing matches stay so answers can still be given."""
    shortage = postings.load_own(Shortage, shortage_id, acting_user, SIDE)
    shortage.status = "closed"
    db.session.commit()
    return shortage


def reopen_shortage(shortage_id: int, acting_user) -> Shortage:
    """Open again. A shortage that was marked filled gets one open position back, since reopening it
    means somebody is needed again (the employer can change the number of positions afterwards)."""
    shortage = postings.load_own(Shortage, shortage_id, acting_user, SIDE)
    shortage.status = "open"
    if shortage.open_positions == 0:
        shortage.filled_positions = max(shortage.positions - 1, 0)
    db.session.commit()
    return shortage


def organisation_shortages(organisation_id: int, page: int | None = 1) -> postings.Page[tuple[Shortage, int]]:
    """A page of the organisation's shortages, open ones first, newest first, each with its number of candidates."""
    return postings.organisation_postings(Shortage, Match.shortage_id, organisation_id, page)


@dataclass(frozen=True)
class Candidate:
    """What a growing-side employer may see of a candidate before a mutual yes: no name, email or phone."""

    match: Match
    kind: str  # "worker" or "listing"
    occupation_id: str
    region: str
    distance_km: float
    available_from: date
    available_until: date | None
    hours_per_week: int
    skills: tuple[str, ...]
    certificates: tuple[str, ...]
    count: int  # people in a listing; 1 for a worker
    transfer_type: str | None


def shortage_candidates(shortage: Shortage) -> list[Candidate]:
    """The candidates proposed for one shortage, best first."""
    matches = db.session.scalars(
        sa.select(Match)
        .where(Match.shortage_id == shortage.id)
        .options(selectinload(Match.worker), selectinload(Match.listing))
        .order_by(Match.score.desc(), Match.id)
    )
    result = []
    for match in matches:
        source: WorkerProfile | StaffListing | None = match.worker if match.worker_id is not None else match.listing
        if source is None:
            continue
        is_worker = isinstance(source, WorkerProfile)
        result.append(
            Candidate(
                match=match,
                kind="worker" if is_worker else "listing",
                occupation_id=source.occupation_id,
                region=postings.region_of(source.pc4),
                distance_km=match.distance_km,
                available_from=source.available_from,
                available_until=None if is_worker else source.available_until,
                hours_per_week=source.hours_per_week,
                skills=tuple(source.skills or ()),
                certificates=tuple(source.certificates or ()),
                count=1 if is_worker else source.count,
                transfer_type=None if is_worker else source.transfer_type,
            )
        )
    return result


# ---------------------------------------------------------------- the public list


@dataclass(frozen=True)
class PublicShortage:
    """One line of the public list: only what it shows. Read as plain columns, not as ORM objects
    with their skill lists: the search is the busiest page, and building twenty mapped objects
    (and decoding their JSON lists) cost more than the query behind them."""

    id: int
    title: str
    organisation_name: str
    pc4: str
    start_date: date
    positions: int
    filled_positions: int
    training_offered: bool
    open_hiring: bool
    distance_km: float | None = None

    @property
    def open_positions(self) -> int:
        return max(self.positions - self.filled_positions, 0)


# The columns of a PublicShortage, in its field order (the distance is added per search).
_PUBLIC_COLUMNS = (
    Shortage.id, Shortage.title, Organisation.name, Shortage.pc4, Shortage.start_date, Shortage.positions,
    Shortage.filled_positions, Shortage.training_offered, Shortage.open_hiring,
)


def _public(*columns):
    """Open shortages of verified organisations: what the public may see."""
    return (
        sa.select(*columns)
        .join(Organisation, Shortage.organisation_id == Organisation.id)
        .where(Shortage.status == "open", Organisation.verified_at.is_not(None))
    )


def _public_query():
    # The organisation is joined for the "verified" filter anyway, so it is loaded from the same row.
    return _public(Shortage).options(contains_eager(Shortage.organisation))


@dataclass(frozen=True)
class PublicAreaCounts:
    """Open shortages of verified organisations (of one sector, or all): in all, and per PC4 area
    in the order of reference.place_codes(), so that a search sums the areas in its radius at once."""

    total: int
    by_place: np.ndarray  # int64


def public_area_counts(sector_code: str | None = None) -> PublicAreaCounts:
    """Open shortages of verified organisations per PC4 area (of one sector, or all).

    Every public search needs these counts, and counting hundreds of thousands of rows per request
    is what made a search slow, so they are counted at most once per PUBLIC_COUNTS_SECONDS per
    process (kept in the process: every request reads them; 0 = count every time). A count may thus lag a new shortage by that long;
    the shortages listed are read live (the page around them may be kept: caching.anonymous_page)."""

    def count() -> PublicAreaCounts:
        query = _public(Shortage.pc4, sa.func.count()).group_by(Shortage.pc4)
        if sector_code:
            query = query.where(Shortage.sector_code == sector_code)
        position = {code: n for n, code in enumerate(reference.place_codes())}
        by_place = np.zeros(len(position), np.int64)
        total = 0
        for pc4, n in db.session.execute(query):
            total += n
            if pc4 in position:  # an area the reference data lacks is only counted in the total
                by_place[position[pc4]] = n
        return PublicAreaCounts(total, by_place)

    return remembered(f"public-area-counts:{sector_code or '*'}", public_seconds(), count, shared=False)


def public_shortages(
    sector_code: str | None = None, pc4: str | None = None, radius_km: int | None = None, page: int = 1,
    per_page: int = PUBLIC_PER_PAGE,
) -> postings.Page[PublicShortage]:
    """Open shortages of verified organisations. With a postcode: only those within `radius_km`
    (centroid to centroid), nearest first; without: newest first."""
    counts = public_area_counts(sector_code)
    origin = reference.place(pc4) if pc4 else None
    if origin is None:
        page = postings.clamp_page(page, counts.total, per_page)
        rows = _read_public(_public_newest(by_sector=bool(sector_code)),
                            dict(sector=sector_code, skip=(page - 1) * per_page, take=per_page))
        return postings.Page([PublicShortage(*row) for row in rows], page, per_page, counts.total)
    # The postcode index lives in memory: it names the PC4 areas within the radius, nearest first;
    # the counts per area say which areas the page shown falls in, and only those rows are read,
    # each area newest first, in one statement.
    near = reference.nearest_places(origin.pc4, radius_km if radius_km is not None else 1000)
    in_area = counts.by_place[near.positions]
    ends = np.cumsum(in_area)  # rows up to the end of each area
    total = int(ends[-1]) if len(ends) else 0
    page = postings.clamp_page(page, total, per_page)
    if not total:
        return postings.Page([], page, per_page, total)
    start = (page - 1) * per_page
    first = int(np.searchsorted(ends, start, side="right"))
    last = int(np.searchsorted(ends, min(start + per_page, total) - 1, side="right"))
    codes = reference.place_codes()
    areas = []  # (pc4, rows to skip in it, most rows to take from it, km)
    for n in range(first, last + 1):
        begins = int(ends[n] - in_area[n])
        if in_area[n]:
            areas.append((codes[near.positions[n]], max(start - begins, 0), per_page - max(begins - start, 0),
                          float(near.km[n])))
    params = dict(sector=sector_code)
    for n, (area, skip, take, _km) in enumerate(areas):
        params.update({f"area{n}": area, f"skip{n}": skip, f"take{n}": take})
    rows = _read_public(_public_in_areas(bool(sector_code), len(areas)), params)
    items = [PublicShortage(*row[:-1], distance_km=areas[row[-1]][3]) for row in rows[:per_page]]
    return postings.Page(items, page, per_page, total)


def _read_public(statement, params: dict) -> list:
    """The rows of a public list's statement. On PostgreSQL outside a transaction: the statement is
    the only one the search sends, and a session's BEGIN and ROLLBACK around it were two more
    round trips (a third of the busiest page's time in the database)."""
    if db.engine.dialect.name != "postgresql":
        return db.session.execute(statement, params).all()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, params).all()


def _public_query_of(by_sector: bool):
    query = _public(*_PUBLIC_COLUMNS)
    if by_sector:
        query = query.where(Shortage.sector_code == sa.bindparam("sector"))
    return query


@lru_cache(maxsize=2)
def _public_newest(by_sector: bool) -> sa.Select:
    """Every open shortage, newest first, a page at a time (parameters: sector, skip, take). Built
    once: the busiest page then spends nothing on building it, and SQLAlchemy reuses its compiled form."""
    return (_public_query_of(by_sector).order_by(Shortage.created_at.desc(), Shortage.id.desc())
            .offset(sa.bindparam("skip", type_=sa.Integer)).limit(sa.bindparam("take", type_=sa.Integer)))


@lru_cache(maxsize=2 * (PUBLIC_PER_PAGE + 1))
def _public_in_areas(by_sector: bool, areas: int) -> sa.Select:
    """The open shortages of `areas` PC4 areas, area by area (as given), each newest first, with
    each row's area number last (parameters: sector, and per area n: area<n>, skip<n>, take<n>).
    One statement however many areas a page spans (a page in the countryside may span twenty), built
    once per number of areas."""
    parts = []
    for n in range(areas):
        part = (_public_query_of(by_sector).add_columns(sa.literal(n, sa.Integer).label("area_number"))
                .where(Shortage.pc4 == sa.bindparam(f"area{n}"))
                .order_by(Shortage.id.desc())
                .offset(sa.bindparam(f"skip{n}", type_=sa.Integer)).limit(sa.bindparam(f"take{n}", type_=sa.Integer)))
        parts.append(sa.select(part.subquery()))  # a subquery each: SQLite takes no LIMIT inside UNION ALL
    rows = sa.union_all(*parts).subquery() if areas > 1 else parts[0].subquery()
    return sa.select(rows).order_by(rows.c.area_number, rows.c.id.desc())


def public_shortage(shortage_id: int) -> Shortage | None:
    """One shortage as the public may see it: open and of a verified organisation, else None."""
    return db.session.scalar(_public_query().where(Shortage.id == shortage_id))


def example_csv(organisation, contact_email: str) -> str:
    """A small shortages file that the import accepts for this organisation (semicolons and a BOM,
    so that a Dutch spreadsheet opens it as it is)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    base = [organisation.kvk_number, organisation.name, contact_email, organisation.sector_code]
    writer.writerow(["tekort-001", *base, "Zorghulp thuiszorg", "zorghulp", "", "", "4", "3511", "25", "2026-12-01",
                     "24", "VOG", "ja", "nee"])
    writer.writerow(["tekort-002", *base, "Magazijnmedewerker avondploeg", "magazijnmedewerker", "", "", "10",
                     "5041", "30", "2026-12-15", "32", "heftruck", "ja", "ja"])
    return out.getvalue()
