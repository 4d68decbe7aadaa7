"""Occupation-to-occupation transfer: how well one set of skills covers another occupation's.

The engine judges a worker against a shortage; here the same judgement is made between
occupations, so that a worker with few matches can be told "people with your skills also fit as
...". Each pair is scored by the engine's own `evaluate` (the candidate holds the source's skills,
the shortage asks the target's essential skills, same place, same day, no thresholds, the ISCO
skill levels of both occupations), so the transfer table never disagrees with the matcher about
what covers what.

Rows are computed when first asked for and kept: a row (one source against a few dozen targets)
takes milliseconds, the full table over every ESCO occupation many seconds, and a web process only
ever needs the rows of its workers' skill sets. `build()` fills every row at once (benchmarks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from .rules import evaluate
from .skills import SkillIndex
from .types import CandidateIn, MatchSettings, Proposal, ShortageIn

_DAY = date(2000, 1, 1)  # any day: both sides get the same one, so availability never decides
_MAX_ROWS = 20_000  # rows kept per table (a row is a few kilobytes)


@dataclass(frozen=True)
class Transfer:
    """How well the source skills cover `occupation_id`'s essential skills (engine's explanation)."""

    occupation_id: str
    coverage: float  # the engine's coverage in [0, 1] (1 = the side-entrant target is reached)
    matched: tuple[str, ...]
    related: tuple[tuple[str, str], ...]  # (required skill, the source skill that covers it)
    missing: tuple[str, ...]
    score: float = 0.0  # the engine's score for the pair; still ranks where coverage is capped at 1


def probe(
    skills: frozenset[str],
    required: tuple[str, ...],
    index: SkillIndex,
    settings: MatchSettings,
    training: bool = False,
    levels: tuple[int, int] = (0, 0),
) -> Proposal | None:
    """The engine's proposal for a candidate holding `skills` and a shortage asking `required`, in
    the same place on the same day with nothing else asked: only the skills and the ISCO skill
    levels (`levels` = (candidate's occupation, shortage's occupation); 0 = unknown) decide."""
    candidate = CandidateIn(
        "probe",
        0.0,
        0.0,
        1.0,
        skills,
        frozenset(),
        frozenset(),
        _DAY,
        skill_level=levels[0],
    )
    shortage = ShortageIn(
        0,
        "",
        0.0,
        0.0,
        1.0,
        required,
        (),
        frozenset(),
        _DAY,
        1,
        training,
        skill_level=levels[1],
    )
    return evaluate(candidate, shortage, index, settings)


def without_thresholds(settings: MatchSettings) -> MatchSettings:
    """The same settings with every pair passing rule 5, so that near misses still get a score."""
    return replace(settings, min_coverage=0.0, min_coverage_with_training=0.0)


class TransferTable:
    """Per source skill set, every target ranked by the engine's score (best first).

    `occupations` maps occupation id -> essential skill ids (the sources, and any target);
    `targets` are the occupations ranked when `among` is not given; `levels` maps occupation id ->
    ISCO skill level (the engine asks more of a step up). Ties break on occupation id.
    """

    def __init__(
        self,
        occupations: Mapping[str, Sequence[str]],
        targets: Iterable[str],
        index: SkillIndex,
        settings: MatchSettings | None = None,
        levels: Mapping[str, int] | None = None,
    ):
        self._occupations = {occ: tuple(dict.fromkeys(skills)) for occ, skills in occupations.items()}
        self.targets = tuple(sorted(t for t in dict.fromkeys(targets) if t in self._occupations))
        self._index = index
        self._settings = without_thresholds(settings or MatchSettings())
        self._levels = dict(levels or {})
        # (skills, level) -> {target id: (score, coverage)}; explanations are recomputed for the few shown.
        self._rows: dict[tuple[frozenset[str], int], dict[str, tuple[float, float]]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def skills_of(self, occupation_id: str | None) -> frozenset[str]:
        return frozenset(self._occupations.get(occupation_id or "", ()))

    def level_of(self, occupation_id: str | None) -> int:
        return self._levels.get(occupation_id or "", 0)

    def build(self, sources: Iterable[str] | None = None) -> TransferTable:
        """Fill the rows of `sources` (default: every occupation) against every target."""
        for occ in self._occupations if sources is None else sources:
            self._row(self.skills_of(occ), self.level_of(occ), self.targets)
        return self

    def nearest(self, occupation_id: str, k: int = 5, among: Iterable[str] | None = None) -> list[Transfer]:
        """The k targets (or occupations in `among`) that the occupation's essential skills cover best."""
        return self.nearest_for_skills(self.skills_of(occupation_id), k, among, level=self.level_of(occupation_id))

    def nearest_for_skills(
        self,
        skills: Iterable[str],
        k: int = 5,
        among: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        level: int = 0,
    ) -> list[Transfer]:
        """The same for a worker's own skill set (people add and remove skills); `level` is the
        ISCO skill level of the worker's occupation (0 = unknown)."""
        skills = frozenset(skills)
        wanted = self.targets if among is None else tuple(sorted(t for t in set(among) if t in self._occupations))
        excluded = set(exclude)
        row = self._row(skills, level, wanted)
        ranked = sorted(
            (t for t in wanted if t not in excluded),
            key=lambda t: (-row[t][0], -row[t][1], t),
        )
        return [self.transfer(skills, t, level) for t in ranked[: max(k, 0)]]

    def transfer(self, skills: Iterable[str], target_id: str, level: int = 0) -> Transfer:
        """The full explanation for one pair."""
        proposal = self._probe(frozenset(skills), level, target_id)
        if proposal is None:  # cannot happen without thresholds; never break a page over it
            return Transfer(target_id, 0.0, (), (), self._occupations.get(target_id, ()), 0.0)
        e = proposal.explanation
        return Transfer(target_id, e.coverage, e.matched, e.related, e.missing, proposal.score)

    def _probe(self, skills: frozenset[str], level: int, target_id: str) -> Proposal | None:
        levels = (level, self.level_of(target_id))
        return probe(
            skills,
            self._occupations.get(target_id, ()),
            self._index,
            self._settings,
            levels=levels,
        )

    def _row(self, skills: frozenset[str], level: int, targets: Iterable[str]) -> dict[str, tuple[float, float]]:
        row = self._rows.get((skills, level))
        if row is None:
            if len(self._rows) >= _MAX_ROWS:
                self._rows.clear()
            row = self._rows[(skills, level)] = {}
        for target in [t for t in targets if t not in row]:
            proposal = self._probe(skills, level, target)
            row[target] = (proposal.score, proposal.explanation.coverage) if proposal else (0.0, 0.0)
        return row
