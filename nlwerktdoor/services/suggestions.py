"""Adjacent-occupation suggestions: "people with your skills also fit as ..." for a worker with few matches.

The occupations suggested are those of growing sectors: a curated list of occupations that took
on side-entrants in the 2020 crisis (the labelled set in bench/eval_cases.csv draws on the same
switches), plus the occupations of open shortages in sectors currently marked growing. They are
ranked by the engine's own coverage of each occupation's essential skills by the worker's skills
(matching.transfer), so a suggestion never contradicts what the matcher would decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa

from .. import reference
from ..extensions import db
from ..matching import MatchSettings
from ..matching.transfer import TransferTable
from ..models import Organisation, Sector, Shortage, WorkerProfile
from .matching import match_settings, occupation_skill_level, skill_index_from_reference
from .sectors import all_sectors

# (sector code, ESCO occupation by English preferred label). Chosen from the sectors that grew in
# 2020 (DESIGN.md) and the jobs that side-entrants actually took: care support, logistics, food
# retail, school and day-care assistance, public phone lines and administration.
GROWING_OCCUPATIONS: tuple[tuple[str, str], ...] = (
    ("care", "healthcare assistant"),
    ("care", "nurse assistant"),
    ("care", "home care aide"),
    ("care", "care home worker"),
    ("care", "residential home older adult care worker"),
    ("care", "disability support worker"),
    ("care", "hospital porter"),
    ("care", "covid tester"),
    ("care", "front line medical receptionist"),
    ("care", "medical administrative assistant"),
    ("care", "patient transport services driver"),
    ("care", "sterile services technician"),
    ("care", "diet cook"),
    ("care", "food service worker"),
    ("care", "building cleaner"),
    ("care", "physiotherapy assistant"),
    ("care", "security guard"),
    ("logistics", "warehouse order picker"),
    ("logistics", "warehouse worker"),
    ("logistics", "hand packer"),
    ("logistics", "mail clerk"),
    ("logistics", "postman/postwoman"),
    ("logistics", "car and van delivery driver"),
    ("logistics", "cargo vehicle driver"),
    ("logistics", "motorcycle delivery person"),
    ("logistics", "bicycle courier"),
    ("logistics", "forklift operator"),
    ("food-retail", "shelf filler"),
    ("food-retail", "cashier"),
    ("food-retail", "crowd controller"),
    ("food-retail", "industrial cook"),
    ("education", "primary school teaching assistant"),
    ("education", "early years teaching assistant"),
    ("education", "special educational needs assistant"),
    ("education", "child day care worker"),
    ("government", "call centre agent"),
    ("government", "customer contact centre information clerk"),
    ("government", "data entry clerk"),
    ("government", "administrative assistant"),
)

# The radius choices of the public shortage list (growing.forms.RADIUS_CHOICES).
_LIST_RADII = (5, 10, 25, 50, 100)
MISSING_SHOWN = 3
NEARBY_SHOWN = 2


@dataclass(frozen=True)
class NearbyShortage:
    id: int
    title: str
    pc4: str
    distance_km: float


@dataclass(frozen=True)
class Suggestion:
    occupation_id: str
    sector_code: str | None
    coverage: float  # the engine's coverage in [0, 1]
    fit: str  # "good" (would match), "training" (would match where training is offered), "far"
    missing: tuple[str, ...]  # the most defining missing skills, at most MISSING_SHOWN
    n_missing: int
    n_covered: int  # required skills covered exactly or by a related skill
    nearby: tuple[NearbyShortage, ...]  # nearest open shortages for this occupation
    n_nearby: int
    list_radius_km: int  # for the link to the public list, filtered near the worker
    sector: Sector | None = None  # the sector row (names in both languages), when known


def occupation_by_label(label_en: str) -> str | None:
    """An ESCO occupation id by its English preferred label (exact, case-insensitive), else any label."""
    return _by_english_label().get(label_en.strip().casefold()) or reference.resolve_occupation(label_en)


@lru_cache(maxsize=1)
def _by_english_label() -> dict[str, str]:
    return {occ.label_en.casefold(): occ.id for occ in reference.occupations().values()}


@lru_cache(maxsize=1)
def curated_growing_occupations() -> dict[str, str]:
    """Occupation id -> sector code of the curated list (labels that do not resolve are skipped)."""
    result = {}
    for sector, label in GROWING_OCCUPATIONS:
        occupation_id = occupation_by_label(label)
        if occupation_id:
            result.setdefault(occupation_id, sector)
    return result


def transfer_table() -> TransferTable:
    """The process-wide transfer table for the configured engine settings (rows fill on first use)."""
    return _transfer_table(match_settings())


@lru_cache(maxsize=4)
def _transfer_table(settings: MatchSettings) -> TransferTable:
    occupations = {occ.id: occ.essential_skills for occ in reference.occupations().values()}
    levels = {occ_id: occupation_skill_level(occ_id) for occ_id in occupations}
    return TransferTable(
        occupations,
        curated_growing_occupations(),
        skill_index_from_reference(),
        settings,
        levels,
    )


def growing_targets() -> dict[str, str]:
    """Occupation id -> sector code: the curated list plus the occupations of open shortages of
    verified organisations in sectors that are growing now (a shortage's sector wins)."""
    targets = dict(curated_growing_occupations())
    rows = db.session.execute(
        sa.select(Shortage.occupation_id, Shortage.sector_code)
        .join(Organisation, Shortage.organisation_id == Organisation.id)
        .join(Sector, Shortage.sector_code == Sector.code)
        .where(
            Shortage.status == "open",
            Organisation.verified_at.is_not(None),
            Sector.trend == "growing",
        )
        .distinct()
        .order_by(Shortage.occupation_id, Shortage.sector_code)
    )
    for occupation_id, sector_code in rows:
        if occupation_id in reference.occupations():
            targets.setdefault(occupation_id, sector_code)
    return targets


def suggestions_for(profile: WorkerProfile | None, k: int = 5) -> list[Suggestion]:
    """The k occupations of growing sectors that the worker's skills cover best, other than their
    own, each with the most defining skills still missing and the nearest open shortages for it.

    Always returns k suggestions when there are that many targets, even when none fits well: a
    worker without matches deserves to see where they stand; `fit` says how near each one is.
    """
    if profile is None:
        return []
    skills = frozenset(profile.skills or ()) or transfer_table().skills_of(profile.occupation_id)
    targets = growing_targets()
    settings = match_settings()
    index = skill_index_from_reference()
    transfers = transfer_table().nearest_for_skills(
        skills,
        k,
        among=targets,
        exclude={profile.occupation_id},
        level=occupation_skill_level(profile.occupation_id),
    )
    nearby = _nearby_shortages(profile, [t.occupation_id for t in transfers])
    sectors = {sector.code: sector for sector in all_sectors()}
    result = []
    for t in transfers:
        if t.coverage >= settings.min_coverage:
            fit = "good"
        elif t.coverage >= settings.min_coverage_with_training:
            fit = "training"
        else:
            fit = "far"
        # The most defining first: a skill few occupations share says most about the job.
        missing = sorted(t.missing, key=lambda s: (-index.weight(s, settings), s))
        found = nearby.get(t.occupation_id, [])
        result.append(
            Suggestion(
                occupation_id=t.occupation_id,
                sector_code=targets.get(t.occupation_id),
                coverage=t.coverage,
                fit=fit,
                missing=tuple(missing[:MISSING_SHOWN]),
                n_missing=len(t.missing),
                n_covered=len(t.matched) + len(t.related),
                nearby=tuple(found[:NEARBY_SHOWN]),
                n_nearby=len(found),
                list_radius_km=next(
                    (r for r in _LIST_RADII if r >= profile.max_distance_km),
                    _LIST_RADII[-1],
                ),
                sector=sectors.get(targets.get(t.occupation_id) or ""),
            )
        )
    return result


def _nearby_shortages(profile: WorkerProfile, occupation_ids: list[str]) -> dict[str, list[NearbyShortage]]:
    """Open public shortages for these occupations within the worker's travel distance, nearest first."""
    origin = reference.place(profile.pc4)
    if origin is None or not occupation_ids:
        return {}
    query = (
        sa.select(Shortage)
        .join(Organisation, Shortage.organisation_id == Organisation.id)
        .where(
            Shortage.status == "open",
            Organisation.verified_at.is_not(None),
            Shortage.occupation_id.in_(occupation_ids),
        )
        .order_by(Shortage.id)
    )
    found: dict[str, list[NearbyShortage]] = {}
    for shortage in db.session.scalars(query):
        place = reference.place(shortage.pc4)
        if place is None:
            continue
        distance = reference.distance_km(origin.lat, origin.lon, place.lat, place.lon)
        if distance <= profile.max_distance_km:
            found.setdefault(shortage.occupation_id, []).append(
                NearbyShortage(shortage.id, shortage.title, shortage.pc4, round(distance, 1))
            )
    for items in found.values():
        items.sort(key=lambda s: (s.distance_km, s.id))
    return found
