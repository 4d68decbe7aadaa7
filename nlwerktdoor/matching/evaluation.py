"""The engine measured on labelled cases: does the intended switch rank first, do implausible
professions stay out, does a run break a hard rule, and how evenly are offers spread?

Pure: occupations arrive as ids with their essential skills, places as coordinates. Two parts:

- Ranking, per case and with/without training offered: the candidate (the essential skills of
  the old occupation) is judged by `evaluate` against each option as a shortage (the intended
  target, the case's implausible professions and a fixed set of distractor occupations of growing
  sectors). Options are ordered by (passes the hard rules, score); ties count against the target.
- A run: every case's candidate placed somewhere in the country with varied radius, certificates,
  sector wishes and availability, every option posted as shortages in several places, and the
  engine's `match` run over all of it; each proposal is then checked against the hard rules
  independently of how the engine decided, and the offers per shortage are counted.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from .allocate import candidate_pairs, match
from .rules import distance_km
from .skills import SkillIndex
from .transfer import probe, without_thresholds
from .types import CandidateIn, MatchSettings, Proposal, ShortageIn

FIT = "fit"  # the candidate should fit the target (a documented or reasoned switch)
MISFIT = "misfit"  # the candidate should NOT be matched to the target
TUNE, HOLDOUT, ALL = "tune", "holdout", "all"
SPLITS = (ALL, TUNE, HOLDOUT)


def case_split(case_id: str) -> str:
    """The half a case belongs to, fixed by its id alone (bench/README.md): the first byte of the
    SHA-256 of the UTF-8 id even -> "tune" (settings may be tuned looking at it), odd -> "holdout"."""
    return TUNE if hashlib.sha256(case_id.encode("utf-8")).digest()[0] % 2 == 0 else HOLDOUT


def in_split(cases: Iterable[Case], split: str) -> list[Case]:
    """The cases of one half ("tune", "holdout"), or all of them ("all")."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    return [c for c in cases if split == ALL or case_split(c.id) == split]


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # FIT or MISFIT
    candidate: str  # occupation id
    target: str  # occupation id
    target_sector: str
    implausible: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Ranking:
    case_id: str
    training: bool
    rank: int  # 1 = the target is ahead of every other option
    n_options: int
    target_passes: bool  # the engine would match the candidate to the target
    outranks_implausible: bool
    ahead: tuple[str, ...]  # options ranked at or above the target, best first
    implausible_passing: tuple[str, ...]  # implausible options the engine would match


@dataclass(frozen=True)
class Site:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Labelled:
    """The labelled set with the reference data it needs, as plain data."""

    cases: Sequence[Case]
    skills_of: Mapping[str, Sequence[str]]  # occupation id -> essential skill ids
    sector_of: Mapping[str, str]  # occupation id -> sector code of its shortages in the run ("other")
    distractors: Sequence[str]  # fixed growing-sector occupations every target competes with
    sites: Sequence[Site]  # where the run places candidates and shortages
    start: date  # the run's main start date
    level_of: Mapping[str, int] = field(default_factory=dict)  # occupation id -> ISCO skill level
    wide: Sequence[str] = ()  # optional: every growing occupation, for the wide ranking


@dataclass
class RunResult:
    candidates: int
    shortages: int
    proposals: int
    matched_candidates: int
    violations: list[str]  # hard rules 1-5 broken by a proposal
    other_violations: list[str]  # volume caps, duplicates, explanations, score range
    offers_per_shortage: list[int]  # over the shortages that had at least one passing pair
    implausible_offers: list[tuple[str, str]]  # (candidate key, occupation id of the shortage)

    @property
    def share_matched(self) -> float:
        return self.matched_candidates / self.candidates if self.candidates else 0.0


@dataclass
class Report:
    fit_cases: int
    misfit_cases: int
    rankings: dict[bool, list[Ranking]]  # training offered -> rankings of the fit cases
    misfit_passing: dict[bool, list[str]]  # training offered -> misfit cases the engine would match
    run: RunResult
    n_distractors: int
    wide_rankings: dict[bool, list[Ranking]] = field(default_factory=dict)  # among all growing occupations
    n_wide: int = 0


# ---------------------------------------------------------------- ranking


def rank_case(
    case: Case,
    skills_of: Mapping[str, Sequence[str]],
    distractors: Iterable[str],
    index: SkillIndex,
    settings: MatchSettings,
    training: bool,
    level_of: Mapping[str, int] | None = None,
) -> Ranking:
    """Where the intended target lands among the target, the implausible options and the distractors.

    `level_of` maps occupation id -> ISCO skill level, passed to the engine as production does."""
    open_settings = without_thresholds(settings)
    level_of = level_of or {}
    candidate = frozenset(skills_of[case.candidate])
    options = tuple(dict.fromkeys((case.target, *case.implausible, *distractors)))
    options = tuple(o for o in options if o != case.candidate or o == case.target)
    keys = {}
    for option in options:
        required = tuple(skills_of[option])
        levels = (level_of.get(case.candidate, 0), level_of.get(option, 0))
        passes = probe(candidate, required, index, settings, training, levels) is not None
        scored = probe(candidate, required, index, open_settings, training, levels)
        keys[option] = (passes, scored.score if scored else 0.0)
    target_key = keys[case.target]
    ahead = sorted(
        (o for o in options if o != case.target and keys[o] >= target_key),
        key=lambda o: (keys[o], o),
        reverse=True,
    )
    return Ranking(
        case_id=case.id,
        training=training,
        rank=1 + len(ahead),
        n_options=len(options),
        target_passes=target_key[0],
        outranks_implausible=all(target_key > keys[o] for o in case.implausible),
        ahead=tuple(ahead),
        implausible_passing=tuple(o for o in case.implausible if keys[o][0]),
    )


# ---------------------------------------------------------------- a run over the labelled set


def build_run(
    data: Labelled,
) -> tuple[list[CandidateIn], list[ShortageIn], dict[int, str]]:
    """Deterministic inputs that exercise every hard rule: each case's candidate once, at one of
    the sites, with a varied radius, certificates, sector wish and availability; each option of
    any case posted at every site, with varied radius, certificates, training and start date.
    The third value maps each shortage id to its occupation."""
    cases, skills_of, sites, start, level_of = (
        data.cases,
        data.skills_of,
        data.sites,
        data.start,
        data.level_of,
    )
    candidates = []
    for i, case in enumerate(cases):
        site = sites[i % len(sites)]
        candidates.append(
            CandidateIn(
                key=f"case:{case.id}",
                lat=site.lat,
                lon=site.lon,
                max_distance_km=(25.0, 50.0, 10.0)[i % 3],
                skills=frozenset(skills_of[case.candidate]),
                certificates=frozenset({"VOG"} if i % 2 == 0 else ()),
                desired_sectors=frozenset({case.target_sector} if i % 4 == 3 else ()),
                # Most can start a week early; every seventh only 45 days after the main start date.
                available_from=start + timedelta(days=45 if i % 7 == 6 else -7),
                skill_level=level_of.get(case.candidate, 0),
            )
        )
    occupations = sorted({o for case in cases for o in (case.target, *case.implausible)} | set(data.distractors))
    shortages, occupation_of = [], {}
    for site in sites:
        for occupation in occupations:
            j = len(shortages)
            sector = data.sector_of.get(occupation, "other")
            shortages.append(
                ShortageIn(
                    id=j + 1,
                    sector=sector,
                    lat=site.lat,
                    lon=site.lon,
                    max_distance_km=(25.0, 50.0)[j % 2],
                    required_skills=tuple(skills_of[occupation]),
                    nice_skills=(),
                    certificates=frozenset({"VOG"} if sector == "care" and j % 2 == 0 else ()),
                    start_date=start + timedelta(days=30 if j % 5 == 0 else 0),
                    open_positions=1 + j % 2,
                    training_offered=j % 3 == 0,
                    skill_level=level_of.get(occupation, 0),
                )
            )
            occupation_of[j + 1] = occupation
    return candidates, shortages, occupation_of


def check_proposals(
    proposals: Sequence[Proposal],
    candidates: Sequence[CandidateIn],
    shortages: Sequence[ShortageIn],
    settings: MatchSettings,
) -> tuple[list[str], list[str]]:
    """(hard-rule violations, other violations), each as readable lines; empty = all well.

    Checked from the inputs, not from how the engine decided: availability within the grace
    period, distance within the smaller radius, every required certificate held, the sector wish,
    enough coverage for the threshold that applies; then score in [0, 1], an explanation that
    accounts for every required skill exactly once, no pair twice, and the volume caps.
    """
    by_key = {c.key: c for c in candidates}
    by_id = {s.id: s for s in shortages}
    hard, other = [], []
    per_shortage: Counter = Counter()
    per_candidate: Counter = Counter()
    seen = set()
    for p in proposals:
        c, s = by_key[p.candidate_key], by_id[p.shortage_id]
        pair = f"{p.candidate_key} -> shortage {p.shortage_id}"
        if c.available_from > s.start_date + timedelta(days=settings.availability_grace_days):
            hard.append(f"rule 1 (availability): {pair}")
        if distance_km(c.lat, c.lon, s.lat, s.lon) > min(c.max_distance_km, s.max_distance_km) + 1e-9:
            hard.append(f"rule 2 (distance): {pair}")
        if not s.certificates <= c.certificates:
            hard.append(f"rule 3 (certificates): {pair}")
        if c.desired_sectors and s.sector not in c.desired_sectors:
            hard.append(f"rule 4 (sector wish): {pair}")
        threshold = settings.min_coverage_with_training if s.training_offered else settings.min_coverage
        if p.explanation.coverage < threshold:
            hard.append(f"rule 5 (skills, coverage {p.explanation.coverage} < {threshold}): {pair}")
        if not 0.0 <= p.score <= 1.0:
            other.append(f"score {p.score} outside [0, 1]: {pair}")
        explained = [
            *p.explanation.matched,
            *(r for r, _by in p.explanation.related),
            *p.explanation.missing,
        ]
        if sorted(explained) != sorted(set(s.required_skills)):
            other.append(f"explanation does not account for every required skill once: {pair}")
        if (p.candidate_key, p.shortage_id) in seen:
            other.append(f"pair proposed twice: {pair}")
        seen.add((p.candidate_key, p.shortage_id))
        per_shortage[s.id] += max(c.capacity, 1)
        per_candidate[c.key] += 1
    for shortage_id, n in sorted(per_shortage.items()):
        cap = settings.candidates_per_position * by_id[shortage_id].open_positions
        if n > cap:
            other.append(f"shortage {shortage_id} offered {n} people (cap {cap})")
    for key, n in sorted(per_candidate.items()):
        cap = settings.shortages_per_candidate * max(by_key[key].capacity, 1)
        if n > cap:
            other.append(f"{key} offered {n} shortages (cap {cap})")
    return hard, other


def run_cases(data: Labelled, index: SkillIndex, settings: MatchSettings) -> RunResult:
    """One matching run over the labelled set (see build_run), checked and counted."""
    candidates, shortages, occupation_of = build_run(data)
    proposals = match(candidates, shortages, index, settings)
    hard, other = check_proposals(proposals, candidates, shortages, settings)
    eligible = {p.shortage_id for p in candidate_pairs(candidates, shortages, index, settings)}
    offers = Counter(p.shortage_id for p in proposals)
    not_for = {f"case:{c.id}": set(c.implausible) | ({c.target} if c.kind == MISFIT else set()) for c in data.cases}
    implausible = [
        (p.candidate_key, occupation_of[p.shortage_id])
        for p in proposals
        if occupation_of[p.shortage_id] in not_for[p.candidate_key]
    ]
    return RunResult(
        candidates=len(candidates),
        shortages=len(shortages),
        proposals=len(proposals),
        matched_candidates=len({p.candidate_key for p in proposals}),
        violations=hard,
        other_violations=other,
        offers_per_shortage=[offers.get(s, 0) for s in sorted(eligible)],
        implausible_offers=implausible,
    )


# ---------------------------------------------------------------- figures


def gini(values: Sequence[float]) -> float:
    """0 = perfectly even, towards 1 = everything on one; 0 for an empty or all-zero list."""
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * weighted) / (n * total) - (n + 1) / n


def hit_rate(rankings: Sequence[Ranking], within: int) -> float:
    return _share(r.rank <= within for r in rankings)


def outrank_rate(rankings: Sequence[Ranking]) -> float:
    return _share(r.outranks_implausible for r in rankings)


def pass_rate(rankings: Sequence[Ranking]) -> float:
    return _share(r.target_passes for r in rankings)


def _share(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else 0.0


def evaluate_cases(data: Labelled, index: SkillIndex, settings: MatchSettings) -> Report:
    """Every figure of the evaluation; with `data.wide`, the target is also ranked among that longer
    list of growing occupations (what the suggestions page would show)."""
    skills_of, distractors, wide, level_of = (
        data.skills_of,
        data.distractors,
        data.wide,
        data.level_of,
    )
    fits = [c for c in data.cases if c.kind == FIT]
    misfits = [c for c in data.cases if c.kind == MISFIT]
    rankings, wide_rankings, misfit_passing = {}, {}, {}
    for training in (False, True):
        rankings[training] = [rank_case(c, skills_of, distractors, index, settings, training, level_of) for c in fits]
        if wide:
            wide_rankings[training] = [rank_case(c, skills_of, wide, index, settings, training, level_of) for c in fits]
        misfit_passing[training] = [
            c.id
            for c in misfits
            if probe(
                frozenset(skills_of[c.candidate]),
                tuple(skills_of[c.target]),
                index,
                settings,
                training,
                (level_of.get(c.candidate, 0), level_of.get(c.target, 0)),
            )
            is not None
        ]
    run = run_cases(data, index, settings)
    return Report(
        len(fits),
        len(misfits),
        rankings,
        misfit_passing,
        run,
        len(distractors),
        wide_rankings,
        len(wide),
    )


def format_report(report: Report, label=lambda occupation_id: occupation_id, details: bool = True) -> str:
    """The figures as plain text (the `eval` command prints this)."""
    lines = [
        (
            f"labelled cases: {report.fit_cases} fit, {report.misfit_cases} misfit; "
            f"options per case: target + implausible + {report.n_distractors} distractors"
        ),
    ]
    for training in (False, True):
        r = report.rankings[training]
        mode = "with training offered" if training else "without training"
        lines += [
            f"[{mode}]",
            f"  {'target at rank 1:':36}{hit_rate(r, 1):6.1%}",
            f"  {'target within top 3:':36}{hit_rate(r, 3):6.1%}   (target >= 90%)",
            f"  {'target outranks every implausible:':36}{outrank_rate(r):6.1%}   (target >= 95%)",
            f"  {'target would be matched:':36}{pass_rate(r):6.1%}",
            f"  {'implausible options matched:':36}{sum(len(x.implausible_passing) for x in r):6d}",
            f"  {'misfit cases matched:':36}{len(report.misfit_passing[training]):6d} of {report.misfit_cases}",
        ]
        w = report.wide_rankings.get(training)
        if w:
            lines.append(f"  target within top 3 among all {report.n_wide} growing occupations: {hit_rate(w, 3):6.1%}")
    run = report.run
    offers = run.offers_per_shortage
    mean = sum(offers) / len(offers) if offers else 0.0
    lines += [
        "[matching run over the labelled set]",
        f"  candidates: {run.candidates}, shortages: {run.shortages}, proposals: {run.proposals}",
        f"  {'hard-rule violations:':36}{len(run.violations):6d}   (target 0)",
        f"  {'other violations:':36}{len(run.other_violations):6d}   (caps, explanations, score range)",
        f"  {'candidates with at least one match:':36}{run.share_matched:6.1%}",
        (
            f"  offers per eligible shortage: gini {gini(offers):.3f}, max {max(offers, default=0)}, "
            f"mean {mean:.2f}, eligible shortages {len(offers)}, without an offer {offers.count(0)}"
        ),
        f"  {'implausible offers in the run:':36}{len(run.implausible_offers):6d}",
    ]
    if details:
        lines += _failures(report, label)
    return "\n".join(lines)


def _failures(report: Report, label) -> list[str]:
    lines = []
    for training in (False, True):
        mode = "with training" if training else "without training"
        for r in report.rankings[training]:
            if r.rank > 3 or not r.outranks_implausible:
                ahead = ", ".join(label(o) for o in r.ahead[:5])
                why = "" if r.outranks_implausible else "implausible ahead; "
                lines.append(f"  FAIL ({mode}) {r.case_id}: {why}rank {r.rank}/{r.n_options}; ahead: {ahead}")
        for case_id in report.misfit_passing[training]:
            lines.append(f"  FAIL ({mode}) misfit {case_id}: matched but should not be")
    lines += [f"  VIOLATION {v}" for v in report.run.violations + report.run.other_violations]
    lines += [f"  IMPLAUSIBLE OFFER {key} -> {label(occ)}" for key, occ in report.run.implausible_offers]
    return ["[cases that miss a target]", *lines] if lines else []
