"""Plain, frozen data that goes into and comes out of the matching engine."""
from __future__ import annotations

from dataclasses import dataclass, fields
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


@dataclass(frozen=True, slots=True)
class CandidateIn:
    """A worker ("worker:<id>", capacity 1) or a staff listing ("listing:<id>", capacity = people).
    Slots: a national run holds millions (services.matching._candidate_fields keeps them small)."""

    key: str
    lat: float
    lon: float
    max_distance_km: float
    skills: frozenset[str]
    certificates: frozenset[str]
    desired_sectors: frozenset[str]  # empty = any sector
    available_from: date
    capacity: int = 1
    # ISCO skill level of the candidate's occupation (1-4, 0 = unknown): see MatchSettings.max_level_gap.
    skill_level: int = 0
    # The occupation the candidate comes from (ESCO id, "" = unknown): never scored, it only groups
    # candidates whose skills are alike, so a run can turn a whole group away from a shortage (bounds.py).
    occupation: str = ""


@dataclass(frozen=True, slots=True)
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
    skill_level: int = 0  # ISCO skill level of the shortage's occupation (1-4, 0 = unknown)


@dataclass(frozen=True)
class Changes:
    """What changed since the last run (an incremental run): only pairs with at least one side in
    here are examined. Every other pair was examined before and, if it passed, was left out only
    because one side was full; the caller puts a side whose room grew since (an answer, an edit) in
    here too, so an incremental run proposes what a full run would."""

    candidates: frozenset[str] = frozenset()  # candidate keys
    shortages: frozenset[int] = frozenset()  # shortage ids


@dataclass(frozen=True)
class MatchSettings:
    """Thresholds, relatedness credits and volume caps; the defaults are the documented ones.

    Coverage is the weighted share of the required skills that the candidate covers (see
    skills.py for credits and weights), divided by `coverage_target` and capped at 1: nobody
    switching sector holds every ESCO essential skill of the new occupation, so covering 35% of
    the required weight already counts as complete. A pair passes with coverage >= min_coverage,
    or >= min_coverage_with_training when the employer offers training (side-entrants welcome).

    Credits for a required skill: the same id 1.0; a candidate skill in the same level-3 group
    `credit_level3`, level-2 group `credit_level2` (both times the group's specificity, never
    above 0.9 so an exact match always ranks higher); knowledge of the same ISCED field
    `credit_knowledge`; two transversal skills in the same level-1 group `credit_transversal`.
    A related credit below `min_related_credit` (after the factors below) counts as missing: a
    faint resemblance is no reason to tell someone a skill is covered.

    Specific, not generic (see skills.py): a related credit is also scaled down when the covering
    skill is far more common than the required one (`generic_scale`: "work ergonomically", essential
    for 139 occupations, says little about "comply with legislation related to health care"). One
    candidate skill covers at most `max_related_uses` required skills of a shortage, each further
    one at `reuse_decay` times the credit of the one before. Knowledge (exact or related) counts in
    proportion to how well the candidate covers the shortage's competences, up to
    `coverage_target`: facts of the old sector (air transport law) do not carry a flight attendant
    into the cockpit. For every ISCO skill level the shortage's occupation sits above the
    candidate's (a waiter, level 2, as a lawyer, level 4: two levels), related skills count
    `level_step_credit` times less: years of education are not on-the-job training, while
    a step sideways or down (flight attendant to healthcare assistant) costs nothing.

    Ranking across a big step up: the score's skill parts (required and nice-to-have) are
    multiplied by `level_score_factor` for every ISCO skill level the shortage's occupation sits
    above the candidate's beyond the first `free_level_steps`. One step (secondary to
    post-secondary vocational: a shop assistant as a medical administrative assistant, cabin crew
    in a care home) is what side-entrants did in 2020; two steps (a waiter as a lawyer, a
    receptionist as a psychologist) mean a university degree, so such a shortage ranks below every
    job within reach even when ESCO gives both the same faint overlap. The same factor is
    also a small score part of its own (`weight_reach`), so that where ESCO shows no overlap at
    all, the job within reach still ranks above it. It orders, it never decides: the threshold of
    rule 5 is unchanged.

    Entry level: that reach part is also graded by the ISCO skill level the shortage's occupation
    asks for, times 1 - `level_ease` x (level - 1) / 3 (level 1, elementary work learnt on the
    job: all of it; level 4, a university degree: none of it with the default 1.0; unknown level:
    all of it). Where the skills say equally little about two jobs (an actor has no ESCO skill of
    a call centre agent, nor of a judge), the one that needs less formal education ranks first.
    It is a tie-breaker worth at most `weight_reach`, never more than a sliver of skill coverage.
    """

    min_coverage: float = 0.5
    min_coverage_with_training: float = 0.3
    candidates_per_position: int = 3
    shortages_per_candidate: int = 3
    availability_grace_days: int = 30
    coverage_target: float = 0.35
    credit_level3: float = 1.0
    credit_level2: float = 0.7
    credit_knowledge: float = 0.2
    credit_transversal: float = 0.1
    knowledge_weight: float = 0.5
    generic_scale: float = 25.0
    min_related_credit: float = 0.15
    max_related_uses: int = 3
    reuse_decay: float = 0.5
    level_step_credit: float = 0.5
    level_score_factor: float = 0.5
    free_level_steps: int = 1
    level_ease: float = 1.0
    # Score weights (sum 1), in DESIGN.md's order of importance: required skills, nice-to-have
    # skills, nearness (share of the allowed radius left), skill level within reach and entry level
    # (see level_ease), availability (a tie-breaker).
    weight_coverage: float = 0.83
    weight_nice: float = 0.10
    weight_distance: float = 0.045
    weight_reach: float = 0.02
    weight_availability: float = 0.005

    def __hash__(self) -> int:
        # Worked out once: the skill index keys its memos by the settings, several times for every
        # pair scored, and hashing every field each time was a few per cent of exact scoring.
        # (All fields are numbers: the hash is the same in every process, also after pickling.)
        try:
            return self.__dict__["_hash"]
        except KeyError:
            value = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", value)
            return value

    @property
    def credits_never_rise(self) -> bool:
        """Whether a related credit only ever shrinks on its way into a match (a level step up at
        most keeps it, a further use of the covering skill at most keeps it): what lets the engine
        drop credits below min_related_credit early and bound the reuse limit (skills.py, bounds.py)."""
        return self.level_step_credit <= 1.0 and 0.0 <= self.reuse_decay <= 1.0


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a pair matched: every required skill is in exactly one of matched, related, missing."""

    matched: tuple[str, ...]
    related: tuple[tuple[str, str], ...]  # (required skill, the candidate's skill that covers it)
    missing: tuple[str, ...]
    nice_matched: tuple[str, ...]
    coverage: float


@dataclass(frozen=True, slots=True)
class Proposal:
    candidate_key: str
    shortage_id: int
    score: float  # in [0, 1]; higher is better
    distance_km: float
    explanation: Explanation
