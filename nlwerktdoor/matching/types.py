"""Plain, frozen data that goes into and comes out of the matching engine."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class SkillInfo:
    """What the engine needs to know about one ESCO skill to judge relatedness.

    group_code is the nearest ESCO group above the skill: "S4.8.1" (skills, three levels; a
    trailing ".0" means the skill hangs directly under the level above), "T3.2" (transversal),
    "L1" (languages) or an ISCED-F field such as "0721" (knowledge). n_occupations counts the
    occupations that hold the skill as essential: the specificity signal.
    """

    id: str
    group_code: str
    pillars: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    n_occupations: int = 0


@dataclass(frozen=True)
class CandidateIn:
    """A worker ("worker:<id>", capacity 1) or a staff listing ("listing:<id>", capacity = people)."""

    key: str
    lat: float
    lon: float
    max_distance_km: float
    skills: frozenset[str]
    certificates: frozenset[str]
    desired_sectors: frozenset[str]  # empty = any sector
    available_from: date
    capacity: int = 1


@dataclass(frozen=True)
class ShortageIn:
    id: int
    sector: str
    lat: float
    lon: float
    max_distance_km: float
    required_skills: tuple[str, ...]
    nice_skills: tuple[str, ...]
    certificates: frozenset[str]
    start_date: date
    open_positions: int = 1
    training_offered: bool = False


@dataclass(frozen=True)
class MatchSettings:
    """Thresholds, relatedness credits and volume caps; the defaults are the documented ones.

    Coverage is the weighted share of the required skills that the candidate covers (see
    skills.py for credits and weights), divided by `coverage_target` and capped at 1: nobody
    switching sector holds every ESCO essential skill of the new occupation, so covering 60% of
    the required weight already counts as complete. A pair passes with coverage >= min_coverage,
    or >= min_coverage_with_training when the employer offers training (side-entrants welcome).

    Credits for a required skill: the same id 1.0; a candidate skill in the same level-3 group
    `credit_level3`, level-2 group `credit_level2` (both times the group's specificity, never
    above 0.9 so an exact match always ranks higher); knowledge of the same ISCED field
    `credit_knowledge`; two transversal skills in the same level-1 group `credit_transversal`.
    """

    min_coverage: float = 0.5
    min_coverage_with_training: float = 0.3
    candidates_per_position: int = 3
    shortages_per_candidate: int = 3
    availability_grace_days: int = 30
    coverage_target: float = 0.6
    credit_level3: float = 1.0
    credit_level2: float = 0.7
    credit_knowledge: float = 0.2
    credit_transversal: float = 0.2
    knowledge_weight: float = 0.5
    # Score weights (sum 1), in DESIGN.md's order of importance: required skills, nice-to-have
    # skills, nearness (share of the allowed radius left), availability (a tie-breaker).
    weight_coverage: float = 0.85
    weight_nice: float = 0.10
    weight_distance: float = 0.045
    weight_availability: float = 0.005


@dataclass(frozen=True)
class Explanation:
    """Why a pair matched: every required skill is in exactly one of matched, related, missing."""

    matched: tuple[str, ...]
    related: tuple[tuple[str, str], ...]  # (required skill, the candidate's skill that covers it)
    missing: tuple[str, ...]
    nice_matched: tuple[str, ...]
    coverage: float


@dataclass(frozen=True)
class Proposal:
    candidate_key: str
    shortage_id: int
    score: float  # in [0, 1]; higher is better
    distance_km: float
    explanation: Explanation
