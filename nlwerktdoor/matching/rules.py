"""The hard rules of a match and the score of one candidate-shortage pair."""
from __future__ import annotations

import math
from datetime import timedelta

from .skills import SkillIndex
from .types import CandidateIn, Explanation, MatchSettings, Proposal, ShortageIn

EARTH_RADIUS_KM = 6371.0088  # the same mean radius as nlwerktdoor.reference.distance_km


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def passes_logistics(candidate: CandidateIn, shortage: ShortageIn, settings: MatchSettings) -> bool:
    """Hard rules that need no skills and no geometry: availability (1), certificates (3),
    sector wish (4). Cheap, so they run before anything else."""
    if candidate.available_from > shortage.start_date + timedelta(days=settings.availability_grace_days):
        return False
    if not shortage.certificates <= candidate.certificates:
        return False
    if candidate.desired_sectors and shortage.sector not in candidate.desired_sectors:
        return False
    return True


def evaluate(
    candidate: CandidateIn, shortage: ShortageIn, index: SkillIndex, settings: MatchSettings
) -> Proposal | None:
    """The proposal for this pair, or None when it breaks a hard rule.

    Liveness (consent, status, verification) is decided by whoever builds the inputs; here:
    availability within the grace period after the start date, distance within the smaller of
    the two radii (boundary included), every required certificate, the sector wish, and enough
    weighted coverage of the required skills (the lower threshold when training is offered).
    """
    if not passes_logistics(candidate, shortage, settings):
        return None
    distance = distance_km(candidate.lat, candidate.lon, shortage.lat, shortage.lon)
    limit = min(candidate.max_distance_km, shortage.max_distance_km)
    if distance > limit:
        return None
    return _score(candidate, shortage, index, settings, distance, limit)


def assign(skills, index: SkillIndex, profile, settings: MatchSettings, related_factor: float = 1.0,
           found=None, weights=None):
    """Which candidate skill covers which of `skills`, and how much: {skill: (credit, by or None)}.

    The same id always counts 1.0. Related skills are shared out greedily, most valuable
    required skill first (weight x best credit, then id: independent of input order): one
    candidate skill covers at most `max_related_uses` of them, each next one at `reuse_decay`
    times the credit, so one generic skill does not "cover" ten different requirements.
    `found`: each skill's `index.options`, and `weights` each skill's `index.weight`, in the order
    of `skills`, when the caller has them.
    """
    result: dict[str, tuple[float, str | None]] = {}
    pending = []
    for n, skill in enumerate(skills):
        options = found[n] if found is not None else index.options(skill, profile, settings)
        if options and options[0][0] >= 1.0:
            result[skill] = (1.0, options[0][1])
        elif options and related_factor > 0:
            weight = weights[n] if weights is not None else index.weight(skill, settings)
            pending.append((-weight * options[0][0], skill, options))
        else:
            result[skill] = (0.0, None)
    uses: dict[str, int] = {}
    decay, limit = settings.reuse_decay, settings.max_related_uses
    pending.sort()  # by value, then id (ids are unique: the options never decide)
    for _value, skill, options in pending:
        best: tuple[float, str | None] = (0.0, None)
        for credit, by in options:
            if credit * related_factor <= best[0]:
                break  # options are sorted: nothing further can beat it
            used = uses.get(by, 0)
            if used >= limit:
                continue
            value = credit * related_factor * decay**used
            if value < settings.min_related_credit:
                continue
            if value > best[0] or (value == best[0] and best[1] is not None and by < best[1]):
                best = (value, by)
        if best[1] is not None:
            uses[best[1]] = uses.get(best[1], 0) + 1
        result[skill] = best
    return result


# Float sums in another order may differ in the last bits: the bound keeps this much room.
_BOUND_SLACK = 1e-9


def _score(candidate, shortage, index, settings, distance, limit, bound: bool = True) -> Proposal | None:
    profile = index.profile(candidate.skills, settings)
    asked = index.asked(shortage.required_skills, settings)
    required = asked.skills
    steps_up = shortage.skill_level - candidate.skill_level if candidate.skill_level and shortage.skill_level else 0
    related_factor = settings.level_step_credit ** steps_up if steps_up > 0 else 1.0
    threshold = settings.min_coverage_with_training if shortage.training_offered else settings.min_coverage
    # index.options, with its per-candidate memo read here first: this line runs for every required
    # skill of every pair that passes the logistics, and most of those are memo hits.
    memo, options_of = profile.memo, index.options
    found = [hit if (hit := memo.get(skill)) is not None else options_of(skill, profile, settings) for skill in required]
    # Most pairs that pass the logistics fall short on skills. An upper bound decides those without
    # sharing the skills out: every required skill at its best credit, no reuse limit, knowledge
    # ungated. It is never below the coverage computed below, so no pair that passes is lost.
    if bound and asked.total and settings.coverage_target > 0:
        best = 0.0
        for weight, options in zip(asked.weights, found):
            if options:
                credit = options[0][0]
                if credit < 1.0:
                    credit *= related_factor
                    if credit < settings.min_related_credit:
                        continue
                best += weight * credit
        if min(1.0, best / asked.total / settings.coverage_target) < threshold - _BOUND_SLACK:
            return None
    cover = assign(required, index, profile, settings, related_factor, found, asked.weights)
    matched, related, missing = [], [], []
    # Competences and knowledge apart: knowledge counts only as far as the competences are covered.
    totals = [0.0, 0.0]
    covered_parts = [0.0, 0.0]
    for skill, weight, knowledge in zip(required, asked.weights, asked.knowledge):
        credit, by = cover[skill]
        part = 1 if knowledge else 0
        totals[part] += weight
        covered_parts[part] += weight * credit
        if credit >= 1.0:
            matched.append(skill)
        elif by is not None and credit > 0:
            related.append((skill, by))
        else:
            missing.append(skill)
    total = totals[0] + totals[1]
    competence_share = covered_parts[0] / totals[0] if totals[0] else 1.0
    gate = min(1.0, competence_share / settings.coverage_target) if settings.coverage_target > 0 else 1.0
    covered = covered_parts[0] + covered_parts[1] * gate
    # A shortage that names no required skills asks for nobody in particular: everyone covers it.
    share = covered / total if total else 1.0
    coverage = min(1.0, share / settings.coverage_target) if settings.coverage_target > 0 else 1.0
    if coverage < threshold:
        return None

    nice = tuple(s for s in dict.fromkeys(shortage.nice_skills) if s not in asked.members)
    nice_weights = [index.weight(skill, settings) for skill in nice]
    nice_cover = assign(nice, index, profile, settings, related_factor, weights=nice_weights)
    nice_total = nice_covered = 0.0
    nice_matched = []
    for skill, weight in zip(nice, nice_weights):
        credit, by = nice_cover[skill]
        nice_total += weight
        nice_covered += weight * credit
        if by is not None and credit > 0:
            nice_matched.append(skill)
    nice_share = nice_covered / nice_total if nice_total else 0.0

    nearness = 1.0 - distance / limit if limit > 0 else 1.0
    # Earlier is better: a month or more before the start counts fully, the last allowed day nothing.
    grace = max(settings.availability_grace_days, 1)
    days_late = (candidate.available_from - shortage.start_date).days
    readiness = min(1.0, max(0.0, (grace - days_late) / (2 * grace)))

    # Two or more ISCO skill levels up: ranked below what is within reach (MatchSettings).
    reach = settings.level_score_factor ** max(0, steps_up - settings.free_level_steps)
    # The less formal education the job asks, the easier to enter: a tie-breaker (MatchSettings.level_ease).
    level = min(max(shortage.skill_level, 1), 4) if shortage.skill_level else 1
    entry = min(1.0, max(0.0, 1.0 - settings.level_ease * (level - 1) / 3))
    # The raw share, not the capped coverage, so that more skills still rank higher above the target.
    score = (
        settings.weight_coverage * share * reach
        + settings.weight_nice * nice_share * reach
        + settings.weight_distance * nearness
        + settings.weight_reach * reach * entry
        + settings.weight_availability * readiness
    )
    score = round(min(1.0, max(0.0, score)), 6)
    explanation = Explanation(
        matched=tuple(matched),
        related=tuple(related),
        missing=tuple(missing),
        nice_matched=tuple(nice_matched),
        coverage=round(coverage, 4),
    )
    return Proposal(candidate.key, shortage.id, score, round(distance, 2), explanation)
