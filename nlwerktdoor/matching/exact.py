"""The exact score of many pairs, and the run's allocation around it, in compiled code (numba).

allocate.match takes each shortage's stream of pairs (bounds.py) best bound first and scores a
pair exactly when its bound comes first. In Python that was two thirds of a run: 55 us per exact
score (rules._score) and a heap of Python tuples. Here both are compiled, over plain arrays:

- `ExactTables`: the run's skills, certificates and sectors as numbers (skills numbered in the
  order of their ids, so that every tie breaks as rules.py breaks it), each skill's weight,
  commonness, groups and links, each side's skills as ranges of one array;
- `_score_pair`: rules.evaluate's arithmetic step by step, in the same order, so that every score
  is the same float (powers are read from tables that Python worked out, and the score is rounded
  to six decimals as Python's round does: `_round6`);
- `allocate_streams`: allocate.match's greedy over the streams with its heap.

rules.py stays the reference: the occupation-to-occupation transfer table (suggestions and the
evaluation's rankings), candidate_pairs and the benchmark's baselines use it, and tests check that
both give the same proposals, to the bit.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

import numpy as np

from .bounds import CandidateTable, run_offsets
from .compiled import compiled
from .rules import EARTH_RADIUS_KM
from .skills import SkillIndex
from .types import CandidateIn, Explanation, MatchSettings, Proposal, ShortageIn


def _csr(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(start offsets, values) of a list of integer lists."""
    start = run_offsets(np.fromiter(map(len, lists), np.int64, len(lists)))
    values = np.fromiter(chain.from_iterable(lists), np.int64, int(start[-1]))
    return start, values


@compiled
def _runs_sorted(values, start):
    """`values` with each run values[start[i]:start[i + 1]] sorted, in place."""
    for i in range(len(start) - 1):
        if start[i + 1] - start[i] > 1:
            values[start[i]:start[i + 1]].sort()
    return values


def _numbered(sets, number: dict) -> list[tuple[int, ...]]:
    """Each set as its sorted numbers; worked out once per distinct set (many people share theirs)."""
    seen: dict = {}
    out = []
    for values in sets:
        found = seen.get(values)
        if found is None:
            found = seen[values] = tuple(sorted(map(number.__getitem__, values)))
        out.append(found)
    return out


@dataclass
class ExactTables:
    """Everything `_score_pair` reads, as arrays. Skill numbers follow the order of the ids."""

    skill_ids: list[str]
    # per skill
    weight: np.ndarray
    knowledge: np.ndarray
    commonness: np.ndarray
    link_start: np.ndarray  # the groups through which a candidate's skill may cover this one
    link_group: np.ndarray
    link_credit: np.ndarray
    hold_start: np.ndarray  # the groups in which this skill may cover others (SkillIndex.holds)
    hold_group: np.ndarray
    # per candidate
    c_lat: np.ndarray
    c_lon: np.ndarray
    c_radius: np.ndarray
    c_day: np.ndarray
    c_level: np.ndarray
    c_skill_start: np.ndarray  # its skills, sorted
    c_skills: np.ndarray
    c_cert_set: np.ndarray  # which of the distinct certificate sets (int32: as the CandidateTable has it)
    c_wish_set: np.ndarray  # which of the distinct sector wishes
    # per distinct certificate set and sector wish (a few hundred sets for millions of candidates)
    cert_set_start: np.ndarray
    cert_set_values: np.ndarray  # sorted
    wish_set_start: np.ndarray
    wish_set_values: np.ndarray  # sorted; none = any sector
    # per shortage
    s_lat: np.ndarray
    s_lon: np.ndarray
    s_radius: np.ndarray
    s_day: np.ndarray
    s_level: np.ndarray
    s_sector: np.ndarray
    s_threshold: np.ndarray
    s_entry: np.ndarray
    s_required_start: np.ndarray  # required skills once each, in the order given
    s_required: np.ndarray
    s_nice_start: np.ndarray  # nice-to-have skills not also required, once each, in the order given
    s_nice: np.ndarray
    s_cert_start: np.ndarray
    s_certs: np.ndarray
    # settings
    numbers: np.ndarray  # float settings, see _NUMBERS
    level_step_powers: np.ndarray  # level_step_credit ** k, as Python works it out
    reach_powers: np.ndarray  # level_score_factor ** k
    decay_powers: np.ndarray  # reuse_decay ** k
    integers: np.ndarray  # grace days, max related uses, free level steps, groups

    @classmethod
    def build(cls, candidates: Sequence[CandidateIn] | CandidateTable, shortages: Sequence[ShortageIn],
              index: SkillIndex, settings: MatchSettings) -> "ExactTables":
        """`candidates` may come as a bounds.CandidateTable (a run has one): their places, days, levels,
        skills, certificates and wishes are then read from its arrays and its distinct sets, not from
        100,000 candidates' objects again (at 100k x 20k a third of a second, on the thread the bounds'
        blocks share the two cores with)."""
        table = candidates if isinstance(candidates, CandidateTable) else None
        required = [tuple(dict.fromkeys(s.required_skills)) for s in shortages]
        nice = [tuple(k for k in dict.fromkeys(s.nice_skills) if k not in members)
                for s, members in zip(shortages, map(frozenset, required))]
        held = (c.skills for c in candidates) if table is None else (table.skill_names,)
        skill_ids = sorted(frozenset().union(*held, *required, *nice))
        number = {skill: n for n, skill in enumerate(skill_ids)}
        group_number: dict[str, int] = {}
        links = [[(group_number.setdefault(key, len(group_number)), credit)
                  for key, credit, _transversal_only in index.links(skill, settings)] for skill in skill_ids]
        # A level-1 link counts only between transversal skills; holds() lists a level-1 group only
        # for a transversal skill, so that test is made by the tables.
        holds = [[group_number.setdefault(key, len(group_number)) for key in index.holds(skill)] for skill in skill_ids]
        link_start, link_group = _csr([[g for g, _ in row] for row in links])
        if table is None:
            # The distinct sets numbered in order of appearance, as a CandidateTable numbers them.
            cert_number: dict = {}
            wish_number: dict = {}
            c_cert_set = np.array([cert_number.setdefault(c.certificates, len(cert_number)) for c in candidates],
                                  np.int32)
            c_wish_set = np.array([wish_number.setdefault(c.desired_sectors, len(wish_number)) for c in candidates],
                                  np.int32)
            cert_sets, wish_sets = list(cert_number), list(wish_number)
        else:
            cert_sets, wish_sets = table.cert_sets, table.wish_sets  # the distinct ones
            c_cert_set, c_wish_set = table.cert_set, table.wish_set
        names = sorted({c for x in cert_sets for c in x} | {c for s in shortages for c in s.certificates}
                       | {w for x in wish_sets for w in x} | {s.sector for s in shortages})
        code = {name: n for n, name in enumerate(names)}
        if table is None:
            c_skill_start, c_skills = _csr(_numbered((c.skills for c in candidates), number))
            c_skills = c_skills.astype(np.int32)  # as from a table (below): one compiled form of the scoring
            c_lat = np.array([c.lat for c in candidates], np.float64)
            c_lon = np.array([c.lon for c in candidates], np.float64)
            c_radius = np.array([c.max_distance_km for c in candidates], np.float64)
            c_day = np.array([c.available_from.toordinal() for c in candidates], np.int64)
            c_level = np.array([c.skill_level for c in candidates], np.int64)
        else:
            # The table numbers the candidates' skills by name among theirs alone, in the order of
            # skill_ids too (which hold them): renumbered, then sorted per candidate. In int32: at national
            # size 50 million of them.
            renumber = np.array([number[k] for k in table.skill_names] or [0], np.int32)
            c_skill_start = table.skill_start.astype(np.int64)
            c_skills = _runs_sorted(renumber[table.held_skill], c_skill_start)
            c_lat, c_lon, c_radius, c_day, c_level = table.lat, table.lon, table.radius, table.day, table.level
        # Per distinct set, not per candidate: at national size 75 MB less.
        cert_set_start, cert_set_values = _csr(_numbered(cert_sets, code))
        wish_set_start, wish_set_values = _csr(_numbered(wish_sets, code))
        s_required_start, s_required = _csr([[number[k] for k in req] for req in required])
        s_nice_start, s_nice = _csr([[number[k] for k in row] for row in nice])
        s_cert_start, s_certs = _csr([sorted(map(code.__getitem__, s.certificates)) for s in shortages])
        hold_start, hold_group = _csr(holds)
        levels = [s.skill_level for s in shortages]
        # Powers by whole steps between ISCO levels, as Python works them out (a power in compiled
        # code may differ in the last bit).
        steps = (max(chain(levels, c_level.tolist()), default=0) + 1 + max(0, -settings.free_level_steps))
        floor = settings.min_related_credit if settings.credits_never_rise else 0.0
        uses = max(settings.max_related_uses, 0)
        return cls(
            skill_ids=skill_ids,
            weight=np.array([index.weight(k, settings) for k in skill_ids], np.float64),
            knowledge=np.array([index.is_knowledge(k) for k in skill_ids], np.bool_),
            commonness=np.array([index.commonness(k, settings) for k in skill_ids], np.float64),
            link_start=link_start, link_group=link_group,
            link_credit=np.array([credit for row in links for _, credit in row], np.float64),
            hold_start=hold_start, hold_group=hold_group,
            c_lat=c_lat, c_lon=c_lon, c_radius=c_radius, c_day=c_day, c_level=c_level,
            c_skill_start=c_skill_start, c_skills=c_skills, c_cert_set=c_cert_set, c_wish_set=c_wish_set,
            cert_set_start=cert_set_start, cert_set_values=cert_set_values, wish_set_start=wish_set_start,
            wish_set_values=wish_set_values,
            s_lat=np.array([s.lat for s in shortages], np.float64),
            s_lon=np.array([s.lon for s in shortages], np.float64),
            s_radius=np.array([s.max_distance_km for s in shortages], np.float64),
            s_day=np.array([s.start_date.toordinal() for s in shortages], np.int64),
            s_level=np.array(levels, np.int64),
            s_sector=np.array([code[s.sector] for s in shortages], np.int64),
            s_threshold=np.array([settings.min_coverage_with_training if s.training_offered else settings.min_coverage
                                  for s in shortages], np.float64),
            # As rules._score has it, in Python.
            s_entry=np.array([_entry(level, settings) for level in levels], np.float64),
            s_required_start=s_required_start, s_required=s_required, s_nice_start=s_nice_start, s_nice=s_nice,
            s_cert_start=s_cert_start, s_certs=s_certs,
            numbers=np.array([settings.coverage_target, settings.min_related_credit, floor,
                              settings.weight_coverage, settings.weight_nice, settings.weight_distance,
                              settings.weight_reach, settings.weight_availability], np.float64),
            level_step_powers=np.array([settings.level_step_credit ** k for k in range(steps)], np.float64),
            reach_powers=np.array([settings.level_score_factor ** k for k in range(steps)], np.float64),
            decay_powers=np.array([settings.reuse_decay ** k for k in range(uses + 1)], np.float64),
            integers=np.array([settings.availability_grace_days, uses, settings.free_level_steps,
                               len(group_number)], np.int64),
        )

    def arrays(self) -> tuple:
        """The tables as one tuple, in the order `_score_pair` unpacks them."""
        return (self.weight, self.knowledge, self.commonness, self.link_start, self.link_group, self.link_credit,
                self.hold_start, self.hold_group,
                self.c_lat, self.c_lon, self.c_radius, self.c_day, self.c_level, self.c_skill_start, self.c_skills,
                self.c_cert_set, self.c_wish_set, self.cert_set_start, self.cert_set_values, self.wish_set_start,
                self.wish_set_values,
                self.s_lat, self.s_lon, self.s_radius, self.s_day, self.s_level, self.s_sector, self.s_threshold,
                self.s_entry, self.s_required_start, self.s_required, self.s_nice_start, self.s_nice,
                self.s_cert_start, self.s_certs,
                self.numbers, self.level_step_powers, self.reach_powers, self.decay_powers, self.integers)


def _entry(level: int, settings: MatchSettings) -> float:
    """rules._score's entry part of a shortage with this ISCO skill level, as Python works it out."""
    level = min(max(level, 1), 4) if level else 1
    return min(1.0, max(0.0, 1.0 - settings.level_ease * (level - 1) / 3))


class _Scratch:
    """Work arrays of one run, made once (numba cannot keep them between calls)."""

    def __init__(self, tables: ExactTables):
        n_skills = max(len(tables.skill_ids), 1)
        widest = max(int(np.diff(tables.s_required_start).max(initial=0)),
                     int(np.diff(tables.s_nice_start).max(initial=0)), 1)
        most_held = max(int(np.diff(tables.c_skill_start).max(initial=0)), 1)
        holds = max(int(np.diff(tables.hold_start).max(initial=0)), 1)
        self.arrays = (
            np.full(int(tables.integers[3]) + 1, -1, np.int64),  # group -> first holding of the candidate
            np.empty(most_held * holds, np.int64),  # holding -> next holding in its group
            np.empty(most_held * holds, np.int64),  # holding -> candidate's skill
            np.zeros(n_skills, np.int64),  # uses of each candidate skill (reset after each assignment)
            np.zeros(n_skills, np.float64),  # best related credit per candidate skill, for one required skill
            np.empty(widest + 1, np.int64),  # option ranges per skill asked: start
            np.empty(widest + 1, np.int64),  # end
            np.empty(widest * most_held, np.float64),  # options: credit
            np.empty(widest * most_held, np.int64),  # options: covering skill
            np.empty(widest, np.float64),  # pending order: value
            np.empty(widest, np.int64),  # pending order: position
        )
        # per required and per nice-to-have skill: the credit given, the covering skill (-1: none)
        self.given = (np.empty(widest, np.float64), np.empty(widest, np.int64),
                      np.empty(widest, np.float64), np.empty(widest, np.int64))


_FAIL = (False, 0.0, 0.0, 0.0)
# Float sums in another order may differ in the last bits: rules._score's bound keeps this much room.
_BOUND_SLACK = 1e-9


@compiled
def _has(values, start, end, x):
    """Whether the sorted values[start:end] hold x."""
    lo, hi = start, end
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and values[lo] == x


@compiled
def _product_error(a, b):
    """a * b - fl(a * b), exactly (Dekker's product, no fused multiply-add needed)."""
    product = a * b
    split = 134217729.0 * a  # 2**27 + 1
    a_high = split - (split - a)
    a_low = a - a_high
    split = 134217729.0 * b
    b_high = split - (split - b)
    b_low = b - b_high
    return ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low


@compiled
def _round6(x):
    """round(x, 6) as Python does it: x's exact value rounded to six decimals, half to even. (numba's
    round scales by 1e6 and rounds the product, which is off where the scaled product lands on a half.)"""
    scaled = x * 1e6
    rounded = np.rint(scaled)  # half to even
    if scaled - math.floor(scaled) == 0.5:
        # On a half: exactly (Python rounds to even too), or by the product's rounding (its error decides).
        error = _product_error(x, 1e6)
        if error > 0:
            rounded = math.floor(scaled) + 1.0
        elif error < 0:
            rounded = math.floor(scaled)
    return rounded / 1e6


@compiled
def _distance(lat1, lon1, lat2, lon2):
    """rules.distance_km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


@compiled
def _options(c, asked, first, last, commonness, link_start, link_group, link_credit, c_skill_start, c_skills, floor,
             S):
    """skills.SkillIndex.options for each skill of asked[first:last] and candidate c: every candidate
    skill that covers it, (credit, skill) best first, on equal credit the lowest number (id). The
    candidate's skills by group are threaded through S (_score_pair)."""
    (head, following, holder, uses, best, opt_start, opt_end, opt_credit, opt_by, pend_value, pend_pos) = S
    held_first, held_last = c_skill_start[c], c_skill_start[c + 1]
    o = 0
    for t in range(last - first):
        required = asked[first + t]
        opt_start[t] = o
        if _has(c_skills, held_first, held_last, required):
            opt_credit[o], opt_by[o] = 1.0, required
            o += 1
            opt_end[t] = o
            continue
        common_required = commonness[required]
        for link in range(link_start[required], link_start[required + 1]):
            credit = link_credit[link]
            if credit < floor:
                continue  # nothing through this group can count (a level-1 group, by default)
            e = head[link_group[link]]
            while e >= 0:
                by = holder[e]
                value = credit * min(1.0, common_required / commonness[by])
                if value > best[by]:
                    if best[by] == 0.0:
                        opt_by[o] = by
                        o += 1
                    best[by] = value
                e = following[e]
        kept = opt_start[t]
        for q in range(opt_start[t], o):
            by = opt_by[q]
            value = best[by]
            best[by] = 0.0
            if value > 0 and value >= floor:
                opt_by[kept], opt_credit[kept] = by, value
                kept += 1
        o = kept
        # Best first, then the lowest number (insertion sort: a handful of options).
        for k in range(opt_start[t] + 1, o):
            value, by = opt_credit[k], opt_by[k]
            m = k - 1
            while m >= opt_start[t] and (opt_credit[m] < value or (opt_credit[m] == value and opt_by[m] > by)):
                opt_credit[m + 1], opt_by[m + 1] = opt_credit[m], opt_by[m]
                m -= 1
            opt_credit[m + 1], opt_by[m + 1] = value, by
        opt_end[t] = o


@compiled
def _assign(asked, first, last, related_factor, weight, min_related, max_uses, decay_powers, S, given_credit,
            given_by):
    """rules.assign over the options `_options` left in S: the same id 1.0; related skills shared
    out most valuable required skill first, each candidate skill at most max_uses times."""
    (head, following, holder, uses, best, opt_start, opt_end, opt_credit, opt_by, pend_value, pend_pos) = S
    pending = 0
    for t in range(last - first):
        o0, o1 = opt_start[t], opt_end[t]
        if o1 > o0 and opt_credit[o0] >= 1.0:
            given_credit[t], given_by[t] = 1.0, opt_by[o0]
        elif o1 > o0 and related_factor > 0:
            value = -weight[asked[first + t]] * opt_credit[o0]
            # By value, then the skill's number (id): insertion into the pending order.
            m = pending - 1
            while m >= 0 and (pend_value[m] > value
                              or (pend_value[m] == value and asked[first + pend_pos[m]] > asked[first + t])):
                pend_value[m + 1], pend_pos[m + 1] = pend_value[m], pend_pos[m]
                m -= 1
            pend_value[m + 1], pend_pos[m + 1] = value, t
            pending += 1
        else:
            given_credit[t], given_by[t] = 0.0, -1
    for k in range(pending):
        t = pend_pos[k]
        best_value, best_by = 0.0, -1
        for q in range(opt_start[t], opt_end[t]):
            credit, by = opt_credit[q], opt_by[q]
            if credit * related_factor <= best_value:
                break  # options are sorted: nothing further can beat it
            used = uses[by]
            if used >= max_uses:
                continue
            value = credit * related_factor * decay_powers[used]
            if value < min_related:
                continue
            if value > best_value or (value == best_value and best_by >= 0 and by < best_by):
                best_value, best_by = value, by
        if best_by >= 0:
            uses[best_by] += 1
        given_credit[t], given_by[t] = best_value, best_by
    for k in range(pending):
        by = given_by[pend_pos[k]]
        if by >= 0:
            uses[by] = 0


@compiled
def _score_pair(c, s, T, S, G):
    """rules.evaluate for candidate c and shortage s: (passes, score, coverage, distance), with each
    skill's credit and covering skill in G (required, then nice-to-have). The same arithmetic in the
    same order, so the same floats."""
    (weight, knowledge, commonness, link_start, link_group, link_credit, hold_start, hold_group,
     c_lat, c_lon, c_radius, c_day, c_level, c_skill_start, c_skills, c_cert_set, c_wish_set, cert_set_start,
     cert_set_values, wish_set_start, wish_set_values,
     s_lat, s_lon, s_radius, s_day, s_level, s_sector, s_threshold, s_entry, s_required_start, s_required,
     s_nice_start, s_nice, s_cert_start, s_certs, numbers, level_step_powers, reach_powers, decay_powers,
     integers) = T
    (head, following, holder, uses, best, opt_start, opt_end, opt_credit, opt_by, pend_value, pend_pos) = S
    required_credit, required_by, nice_credit, nice_by = G
    coverage_target, min_related = numbers[0], numbers[1]
    coverage = share = nice_share = 0.0
    grace_days, free_level_steps = integers[0], integers[2]
    # The hard rules without skills (rules.passes_logistics), then the distance.
    if c_day[c] > s_day[s] + grace_days:
        return _FAIL
    held = c_cert_set[c]
    for k in range(s_cert_start[s], s_cert_start[s + 1]):
        if not _has(cert_set_values, cert_set_start[held], cert_set_start[held + 1], s_certs[k]):
            return _FAIL
    wish = c_wish_set[c]
    first, last = wish_set_start[wish], wish_set_start[wish + 1]
    if last > first and not _has(wish_set_values, first, last, s_sector[s]):
        return _FAIL
    distance = _distance(c_lat[c], c_lon[c], s_lat[s], s_lon[s])
    limit = min(c_radius[c], s_radius[s])
    if distance > limit:
        return _FAIL
    steps_up = s_level[s] - c_level[c] if c_level[c] != 0 and s_level[s] != 0 else 0
    related_factor = level_step_powers[steps_up] if steps_up > 0 else 1.0
    threshold = s_threshold[s]
    # The candidate's skills by group (SkillIndex.profile), as lists threaded through `following`.
    n_held = 0
    for k in range(c_skill_start[c], c_skill_start[c + 1]):
        skill = c_skills[k]
        for h in range(hold_start[skill], hold_start[skill + 1]):
            group = hold_group[h]
            holder[n_held], following[n_held] = skill, head[group]
            head[group] = n_held
            n_held += 1
    first, last = s_required_start[s], s_required_start[s + 1]
    _options(c, s_required, first, last, commonness, link_start, link_group, link_credit, c_skill_start, c_skills,
             numbers[2], S)
    passes = True
    total_asked = 0.0
    for t in range(last - first):
        total_asked += weight[s_required[first + t]]
    # rules._score's bound: every required skill at its best credit, no reuse limit, knowledge ungated.
    if total_asked != 0 and coverage_target > 0:
        bound = 0.0
        for t in range(last - first):
            if opt_end[t] > opt_start[t]:
                credit = opt_credit[opt_start[t]]
                if credit < 1.0:
                    credit *= related_factor
                    if credit < min_related:
                        continue
                bound += weight[s_required[first + t]] * credit
        if min(1.0, bound / total_asked / coverage_target) < threshold - _BOUND_SLACK:
            passes = False
    if passes:
        _assign(s_required, first, last, related_factor, weight, min_related, integers[1], decay_powers, S,
                required_credit, required_by)
        totals_competence = totals_knowledge = covered_competence = covered_knowledge = 0.0
        for t in range(last - first):
            skill = s_required[first + t]
            if knowledge[skill]:
                totals_knowledge += weight[skill]
                covered_knowledge += weight[skill] * required_credit[t]
            else:
                totals_competence += weight[skill]
                covered_competence += weight[skill] * required_credit[t]
        total = totals_competence + totals_knowledge
        competence_share = covered_competence / totals_competence if totals_competence else 1.0
        gate = min(1.0, competence_share / coverage_target) if coverage_target > 0 else 1.0
        covered = covered_competence + covered_knowledge * gate
        share = covered / total if total else 1.0
        coverage = min(1.0, share / coverage_target) if coverage_target > 0 else 1.0
        passes = coverage >= threshold
    if passes:
        first, last = s_nice_start[s], s_nice_start[s + 1]
        _options(c, s_nice, first, last, commonness, link_start, link_group, link_credit, c_skill_start, c_skills,
                 numbers[2], S)
        _assign(s_nice, first, last, related_factor, weight, min_related, integers[1], decay_powers, S, nice_credit,
                nice_by)
        nice_total = nice_covered = 0.0
        for t in range(last - first):
            nice_total += weight[s_nice[first + t]]
            nice_covered += weight[s_nice[first + t]] * nice_credit[t]
        nice_share = nice_covered / nice_total if nice_total else 0.0
    for k in range(c_skill_start[c], c_skill_start[c + 1]):
        skill = c_skills[k]
        for h in range(hold_start[skill], hold_start[skill + 1]):
            head[hold_group[h]] = -1
    if not passes:
        return _FAIL
    nearness = 1.0 - distance / limit if limit > 0 else 1.0
    grace = max(grace_days, 1)
    days_late = c_day[c] - s_day[s]
    readiness = min(1.0, max(0.0, (grace - days_late) / (2 * grace)))
    reach = reach_powers[max(0, steps_up - free_level_steps)]
    score = (
        numbers[3] * share * reach
        + numbers[4] * nice_share * reach
        + numbers[5] * nearness
        + numbers[6] * reach * s_entry[s]
        + numbers[7] * readiness
    )
    return True, _round6(min(1.0, max(0.0, score))), coverage, distance


@compiled
def _before(heap, x, y):
    """Whether the entry at heap position x comes before the one at y: (-score, candidate key, shortage
    id, kind), as the tuples of the Python heap compared (a bound before the exact score of the same
    pair). A heap row holds (score, candidate key rank, 2 x shortage id + kind, entry), all as floats:
    the integers are below 2**53, so exact."""
    if heap[x, 0] != heap[y, 0]:
        return heap[x, 0] > heap[y, 0]
    if heap[x, 1] != heap[y, 1]:
        return heap[x, 1] < heap[y, 1]
    return heap[x, 2] < heap[y, 2]


@compiled
def _swap(heap, i, k):
    for f in range(4):
        heap[i, f], heap[k, f] = heap[k, f], heap[i, f]


@compiled
def _pop_root(heap, n_heap):
    """The root taken out (the last entry in its place, moved down); returns the new size."""
    n_heap -= 1
    if n_heap > 0:
        for f in range(4):
            heap[0, f] = heap[n_heap, f]
        _sift_down(heap, n_heap, 0)
    return n_heap


@compiled
def _sift_down(heap, n_heap, i):
    """The entry at position i moved down to where it belongs."""
    while True:
        child = 2 * i + 1
        if child >= n_heap:
            break
        if child + 1 < n_heap and _before(heap, child + 1, child):
            child += 1
        if not _before(heap, child, i):
            break
        _swap(heap, i, child)
        i = child


@compiled
def _sift_up(heap, i):
    """The entry at position i moved up to where it belongs."""
    while i > 0:
        parent = (i - 1) // 2
        if not _before(heap, i, parent):
            break
        _swap(heap, i, parent)
        i = parent


@compiled
def _put(heap, i, score, key, rest, entry):
    heap[i, 0], heap[i, 1], heap[i, 2], heap[i, 3] = score, key, rest, entry


@compiled
def _grown(array, size):
    bigger = np.empty(max(2 * len(array), size), array.dtype)
    bigger[:len(array)] = array
    return bigger


@compiled
def _rows_grown(array, size):
    bigger = np.empty((max(2 * len(array), size), array.shape[1]), array.dtype)
    bigger[:len(array)] = array
    return bigger


@compiled
def _pool_grown(pool_score, pool_a, pool_b, pool_shortage, size):
    """allocate_streams' pool of entries with room for `size`."""
    return _grown(pool_score, size), _grown(pool_a, size), _grown(pool_b, size), _grown(pool_shortage, size)


class ScoreMemo:
    """The exact scores of the pairs one allocation scored, for the next allocation over the same
    candidates and shortages (allocate._match_kept: a national run allocates five times, each time
    with deeper streams for a few shortages, and scored mostly the same pairs again: the later
    rounds took two to three and a half minutes each). An open-addressing hash table of pair keys
    (candidate position x shortages + shortage position), one int64 a slot: the key above the low
    _SCORE_BITS, the score below them as what _score_pair rounds it to (_round6: a whole number of
    millionths, plus one; 0: the pair fails); -1 empty. A lookup reads one place in memory (at
    national size some 12 million lookups a round, nearly all of them cache misses). At national
    size the table holds some 15 million pairs in 2^25 slots: 0.25 GB (0.5 GB with the key and the
    score as two floats, 1.3 GB with each pair's coverage and distance beside them as well). Keys
    must stay below 2**(63 - _SCORE_BITS) (`fits`)."""

    def __init__(self, slots: int):
        """`slots`: a power of two (the table doubles when half full)."""
        self.table = _memo_table(slots)
        self.used = 0

    @staticmethod
    def fits(n_candidates: int, n_shortages: int) -> bool:
        """Whether every pair key of a run of this size fits beside its score."""
        return n_candidates * n_shortages < 1 << (63 - _SCORE_BITS)

    def arrays(self) -> tuple:
        return self.table, self.used

    def keep(self, arrays: tuple) -> None:
        self.table, self.used = arrays


# A memo slot's low bits: the score in millionths plus one (0 to 1,000,001; 0: fails).
_SCORE_BITS = 21
_SCORE_MASK = (1 << _SCORE_BITS) - 1


@compiled
def _memo_table(slots):
    """An empty table of `slots` slots (-1: empty)."""
    return np.full(slots, -1, np.int64)


_NO_MEMO = (np.zeros(0, np.int64), 0)
_NOTHING_AHEAD = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


@compiled
def _memo_slot(table, key):
    """Where `key` is in the table, or the empty slot where it would go (multiplicative hashing with
    the golden-ratio constant, the slot read from bit 20 up; linear probing; the table is never more
    than half full)."""
    mask = np.uint64(len(table) - 1)
    slot = np.int64((np.uint64(key) * np.uint64(11400714819323198485)) >> np.uint64(20) & mask)
    while table[slot] != -1 and table[slot] >> _SCORE_BITS != key:
        slot = (slot + 1) & np.int64(mask)
    return slot


@compiled
def _memo_entry(key, passes, score):
    """A slot's value for a pair's key and what _score_pair gave (a score of whole millionths)."""
    return (key << _SCORE_BITS) | (np.int64(np.rint(score * 1e6)) + 1 if passes else 0)


@compiled
def _memo_score(entry):
    """The score a slot holds, exactly as _score_pair gave it (_round6 divides the same whole number by
    1e6); -1.0: the pair fails."""
    millionths = entry & _SCORE_MASK
    return (millionths - 1) / 1e6 if millionths > 0 else -1.0


@compiled
def _memo_grown(table):
    """The table at twice the size, every entry in its new slot."""
    grown = _memo_table(2 * len(table))
    for old in range(len(table)):
        if table[old] != -1:
            grown[_memo_slot(grown, table[old] >> _SCORE_BITS)] = table[old]
    return grown


@compiled
def allocate_streams(stream_candidate, stream_score, starts, ends, stream_of_start, key_rank, shortage_id,
                     candidate_left, shortage_left, capacity, exclude, T, S, G, memo, ahead):
    """allocate.match's greedy: the streams' heads in one heap, a bound scored exactly when it comes
    first, an exact proposal taken when it comes first and both sides have room. Returns the
    proposals taken, in that order: (candidate, shortage, score) as arrays, the memo, and how many
    pairs were scored exactly.

    `exclude`: sorted candidate x shortages + shortage of the pairs proposed before; the left
    arrays are changed in place. `memo` (ScoreMemo.arrays; an empty table: none): exact scores of
    pairs scored before, read instead of scoring them again, and this allocation's added. `ahead`:
    exact proposals (candidates, shortages, scores) in the heap from the start,
    beside the streams' first bounds (a resumed round: resumed_state)."""
    n_shortages = len(shortage_left)
    memo_table, memo_used = memo
    use_memo = len(memo_table) > 0
    ahead_candidate, ahead_shortage, ahead_score = ahead
    size = 2 * (len(starts) + len(ahead_candidate)) + 16
    # Entries (the pool): for a bound its stream position and end, for an exact score its candidate
    # and score; both: the shortage's position (a bound's score is read from the heap
    # only). The heap holds, by heap position, what orders the entries (score, candidate key rank,
    # 2 x shortage id + kind: 0 bound, 1 exact) and the entry's number, side by side in one row
    # (_before): a comparison reads two neighbouring rows of one array, not the pool's entries anywhere
    # (at national size, 300,000 streams, each step down the heap was a few cache misses; with the four
    # in arrays of their own, still one per array).
    pool_score = np.empty(size, np.float64)
    pool_a = np.empty(size, np.int64)
    pool_b = np.empty(size, np.int64)
    pool_shortage = np.empty(size, np.int64)
    heap = np.empty((size, 4), np.float64)
    used = 0
    n_heap = 0
    n_scored = 0
    chosen = np.empty(max(len(starts), 16), np.int64)
    n_chosen = 0
    for k in range(len(starts)):
        start = starts[k]
        pool_a[used], pool_b[used], pool_shortage[used] = start, ends[k], stream_of_start[k]
        _put(heap, n_heap, stream_score[start], key_rank[stream_candidate[start]], 2 * shortage_id[stream_of_start[k]],
             used)
        used += 1
        n_heap += 1
    for k in range(len(ahead_candidate)):
        candidate, shortage = ahead_candidate[k], ahead_shortage[k]
        pool_score[used], pool_a[used], pool_shortage[used] = ahead_score[k], candidate, shortage
        _put(heap, n_heap, ahead_score[k], key_rank[candidate], 2 * shortage_id[shortage] + 1, used)
        used += 1
        n_heap += 1
    for root in range(n_heap // 2 - 1, -1, -1):
        _sift_down(heap, n_heap, root)
    while n_heap > 0:
        top, rest = np.int64(heap[0, 3]), np.int64(heap[0, 2])
        if rest & 1 == 1:  # an exact score: taken if both sides have room
            n_heap = _pop_root(heap, n_heap)
            candidate, shortage = pool_a[top], pool_shortage[top]
            if shortage_left[shortage] > 0 and candidate_left[candidate] > 0:
                _take(candidate, shortage, candidate_left, shortage_left, capacity)
                if n_chosen == len(chosen):
                    chosen = _grown(chosen, n_chosen + 1)
                chosen[n_chosen] = top
                n_chosen += 1
            continue
        position, end, shortage = pool_a[top], pool_b[top], pool_shortage[top]
        # The stream's next pair whose candidate has room: a full candidate's pair would be passed over
        # whenever it came first (room only ever shrinks), so it is passed over now, without a trip
        # through the heap. At national size most of a round's stream pairs are such (candidates near
        # a city fill up early), and each trip was a step down a heap of 300,000 streams.
        following = position + 1
        if shortage_left[shortage] > 0:
            while following < end and candidate_left[stream_candidate[following]] <= 0:
                following += 1
        if shortage_left[shortage] <= 0 or following >= end:
            # The stream ends here (a full shortage's unscored): the root goes.
            n_heap = _pop_root(heap, n_heap)
            if shortage_left[shortage] <= 0:
                continue
        else:
            # The stream's next bound takes the root's place (one step down the heap instead of two), in
            # the root's entry too: only exact entries are taken (`chosen`), so a bound's entry is done
            # with once it leaves the heap, and the pool grows by exact scores only.
            pool_a[top] = following
            _put(heap, 0, stream_score[following], key_rank[stream_candidate[following]], rest, top)
            _sift_down(heap, n_heap, 0)
        candidate = stream_candidate[position]
        if candidate_left[candidate] <= 0 or _has(exclude, 0, len(exclude), candidate * n_shortages + shortage):
            continue
        if use_memo:
            key = candidate * n_shortages + shortage
            slot = _memo_slot(memo_table, key)
            if memo_table[slot] != -1:
                score = _memo_score(memo_table[slot])
                passes = score >= 0.0
            else:
                passes, score, _coverage, _distance = _score_pair(candidate, shortage, T, S, G)
                n_scored += 1
                memo_table[slot] = _memo_entry(key, passes, score)
                memo_used += 1
                if 2 * memo_used > len(memo_table):
                    memo_table = _memo_grown(memo_table)
        else:
            passes, score, _coverage, _distance = _score_pair(candidate, shortage, T, S, G)
            n_scored += 1
        if not passes:
            continue
        # The exact score goes into the heap, to be taken when it comes first in turn.
        if used + 1 > len(pool_score):
            pool_score, pool_a, pool_b, pool_shortage = _pool_grown(pool_score, pool_a, pool_b, pool_shortage,
                                                                    used + 1)
        if n_heap + 1 > len(heap):
            heap = _rows_grown(heap, n_heap + 1)
        pool_score[used], pool_a[used], pool_shortage[used] = score, candidate, shortage
        _put(heap, n_heap, score, key_rank[candidate], rest | 1, used)
        used += 1
        _sift_up(heap, n_heap)
        n_heap += 1
    taken = chosen[:n_chosen]
    memo = (memo_table, memo_used)
    return pool_a[taken], pool_shortage[taken], pool_score[taken], memo, n_scored


@compiled
def _take(candidate, shortage, candidate_left, shortage_left, capacity):
    """A pair taken: the candidate has one shortage less to go to, the shortage as many places less as
    the candidate is people (a listing of N fills up to N), never below none."""
    places = shortage_left[shortage]
    shortage_left[shortage] = places - min(capacity[candidate], places)
    candidate_left[candidate] -= 1


@compiled
def resumed_state(stream_candidate, stream_score, starts, ends, stream_of_start, candidate_left, shortage_left,
                  capacity, exclude, taken_candidate, taken_shortage, n_before, above, memo_table):
    """Where allocate_streams stood, over these streams, once every entry of its heap above `above` was
    done with, given the round before over streams that differ from these only at or below `above`
    (allocate._match_kept): that round's first `n_before` pairs taken (those that scored above it) are
    taken again, off the left arrays (in place); each stream of a shortage with places left starts at
    its first bound not above it; and the pairs of those streams bounded above it, whose candidate has
    room, were scored then: their exact proposals not above it wait in the heap (`ahead`). A pair
    bounded above it whose candidate was full, or whose shortage was, was passed over then, and would
    be now. Returns (whether every such score was in the memo, the streams' new starts, which
    streams go on, and the proposals ahead)."""
    n_shortages = len(shortage_left)
    for k in range(n_before):
        _take(taken_candidate[k], taken_shortage[k], candidate_left, shortage_left, capacity)
    new_starts, goes_on = starts.copy(), np.zeros(len(starts), np.bool_)
    n_ahead = 0
    ahead_candidate, ahead_shortage, ahead_score = np.empty(16, np.int64), np.empty(16, np.int64), np.empty(16)
    for k in range(len(starts)):
        shortage = stream_of_start[k]
        if shortage_left[shortage] <= 0:
            continue
        position = starts[k]
        while position < ends[k] and stream_score[position] > above:
            candidate = stream_candidate[position]
            position += 1
            key = candidate * n_shortages + shortage
            if candidate_left[candidate] <= 0 or _has(exclude, 0, len(exclude), key):
                continue
            slot = _memo_slot(memo_table, key)
            if memo_table[slot] == -1:
                return False, new_starts, goes_on, (ahead_candidate[:0], ahead_shortage[:0], ahead_score[:0])
            score = _memo_score(memo_table[slot])
            if score < 0.0 or score > above:
                continue  # failed, or taken above (those with room at the end of it all were)
            if n_ahead == len(ahead_candidate):
                ahead_candidate, ahead_shortage = _grown(ahead_candidate, 0), _grown(ahead_shortage, 0)
                ahead_score = _grown(ahead_score, 0)
            ahead_candidate[n_ahead], ahead_shortage[n_ahead], ahead_score[n_ahead] = candidate, shortage, score
            n_ahead += 1
        new_starts[k], goes_on[k] = position, position < ends[k]
    return True, new_starts, goes_on, (ahead_candidate[:n_ahead], ahead_shortage[:n_ahead], ahead_score[:n_ahead])


@compiled
def explain_many(candidates, shortages, T, S, G):
    """The explanations of the given pairs, grouped for Python to slice: (required skills, their
    covering skills (-1: none), cuts, nice-to-have skills matched, nice cuts, coverages, distances;
    the allocation keeps neither, see ScoreMemo). The required skills of
    pair k are, in the shortage's order within each kind, matched (credit 1) from cuts[k, 0], related
    from cuts[k, 1], missing from cuts[k, 2] to cuts[k, 3]; its nice-to-have skills with a credit from
    nice_cuts[k] to nice_cuts[k + 1]."""
    s_required_start, s_required, s_nice_start, s_nice = T[29], T[30], T[31], T[32]
    n_required = n_nice = 0
    for k in range(len(shortages)):
        n_required += s_required_start[shortages[k] + 1] - s_required_start[shortages[k]]
        n_nice += s_nice_start[shortages[k] + 1] - s_nice_start[shortages[k]]
    skill, by = np.empty(n_required, np.int64), np.empty(n_required, np.int64)
    cuts = np.empty((len(shortages), 4), np.int64)
    nice_skill, nice_cuts = np.empty(n_nice, np.int64), np.zeros(len(shortages) + 1, np.int64)
    coverage, distance = np.empty(len(shortages)), np.empty(len(shortages))
    r = q = 0
    for k in range(len(shortages)):
        s = shortages[k]
        _passes, _score, coverage[k], distance[k] = _score_pair(candidates[k], s, T, S, G)
        first, n = s_required_start[s], s_required_start[s + 1] - s_required_start[s]
        for kind in range(3):
            cuts[k, kind] = r
            for t in range(n):
                credit, covering = G[0][t], G[1][t]
                found = 0 if credit >= 1.0 else (1 if covering >= 0 and credit > 0 else 2)
                if found == kind:
                    skill[r], by[r] = s_required[first + t], covering if kind == 1 else -1
                    r += 1
        cuts[k, 3] = r
        first, n = s_nice_start[s], s_nice_start[s + 1] - s_nice_start[s]
        for t in range(n):
            if G[3][t] >= 0 and G[2][t] > 0:
                nice_skill[q] = s_nice[first + t]
                q += 1
        nice_cuts[k + 1] = q
    return skill, by, cuts, nice_skill[:q].copy(), nice_cuts, coverage, distance


# Fewer pairs than this are explained on one thread (threads cost more than they save).
_PARALLEL_EXPLAIN = 20_000


def _explained(tables: ExactTables, scratch: _Scratch, chosen_candidate, chosen_shortage, workers: int) -> tuple:
    """explain_many of the given pairs; with `workers` > 1 and many pairs, in that many slices, each
    on a thread of its own with scratch arrays of its own (explain_many scores each pair again and lets
    go of the interpreter lock), joined as one call would give them. At national size 918,000
    explanations, on one thread about 3.5 s."""
    if workers <= 1 or len(chosen_candidate) < _PARALLEL_EXPLAIN:
        return explain_many(chosen_candidate, chosen_shortage, tables.arrays(), scratch.arrays, scratch.given)
    edges = np.linspace(0, len(chosen_candidate), workers + 1).astype(np.int64)
    scratches = [scratch] + [_Scratch(tables) for _ in range(workers - 1)]
    arrays = tables.arrays()

    def explain_slice(w):
        part = slice(edges[w], edges[w + 1])
        return explain_many(chosen_candidate[part], chosen_shortage[part], arrays, scratches[w].arrays,
                            scratches[w].given)

    with ThreadPoolExecutor(workers, thread_name_prefix="explain") as pool:
        parts = list(pool.map(explain_slice, range(workers)))
    # Each slice's cuts count from its own start: shifted by the skills of the slices before.
    required_before = run_offsets([len(part[0]) for part in parts])
    nice_before = run_offsets([len(part[3]) for part in parts])
    return (np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts]),
            np.concatenate([part[2] + required_before[w] for w, part in enumerate(parts)]),
            np.concatenate([part[3] for part in parts]),
            np.concatenate([parts[0][4][:1]] + [part[4][1:] + nice_before[w] for w, part in enumerate(parts)]),
            np.concatenate([part[5] for part in parts]), np.concatenate([part[6] for part in parts]))


class StreamAllocation:
    """allocate.match's greedy (allocate_streams) over one run's candidates and shortages, as often
    as the run needs it: a cut run (allocate._match_kept) allocates again after each refill, and at
    national size building the per-candidate arrays (2.4 million dict lookups each) and the 918,000
    proposals with their explanations every round cost more than the rounds' exact scoring. Here the
    arrays are built once, `run` gives the pairs taken as arrays, and `proposals` words only the
    round that is kept.

    `tables`: ExactTables.build of these candidates and shortages, when the caller has them.
    `workers`: threads that may word the proposals (_explained)."""

    def __init__(self, table: CandidateTable, shortages: Sequence[ShortageIn], index: SkillIndex,
                 settings: MatchSettings, key_rank: np.ndarray, candidate_left: np.ndarray, shortage_left: dict,
                 exclude: frozenset, tables: ExactTables | None = None, workers: int = 1):
        self.keys, self.shortages = table.keys, shortages
        self.workers = workers
        self.tables = tables if tables is not None else ExactTables.build(table, shortages, index, settings)
        self.scratch = _Scratch(self.tables)
        self.key_rank = key_rank
        if exclude:
            position = dict(zip(table.keys, range(len(table))))
            shortage_position = {s.id: n for n, s in enumerate(shortages)}
            self.excluded = np.array(sorted(position[key] * len(shortages) + shortage_position[sid]
                                            for key, sid in exclude if key in position and sid in shortage_position),
                                     np.int64)
        else:
            self.excluded = np.zeros(0, np.int64)
        self.left = np.array(candidate_left, np.int64)
        self.room = np.fromiter((shortage_left[s.id] for s in shortages), np.int64, len(shortages))
        self.capacity = table.capacity
        self.shortage_id = np.fromiter((s.id for s in shortages), np.int64, len(shortages))

    def run(self, streams: tuple, memo: ScoreMemo | None = None, before: Taken | None = None,
            above: float = np.inf) -> Taken:
        """The greedy over the streams (stream candidates, bounds, starts, ends, shortage of each
        stream): the pairs taken, in the order taken. `memo`: exact scores of an earlier run over
        the same candidates and shortages (read, and added to).

        `before` (with `memo`): what this greedy took over streams that differ from these only in
        pairs bounded at most `above` (or in pairs it passed over, their candidate or shortage full
        above them). Everything it did above `above` happens again, so the greedy resumes from there
        (resumed_state) instead of from the top; where the memo lacks a score that needs, it runs
        from the top."""
        stream_candidate, stream_score, starts, ends, stream_of_start = streams
        # In int32 as _streams gives them (an int64 copy was 0.3 GB more in each national round).
        stream_candidate = np.asarray(stream_candidate, np.int32)
        starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
        stream_of_start = stream_of_start.astype(np.int64)
        left, room = self.left.copy(), self.room.copy()  # allocate_streams takes places off both in place
        ahead, n_before = _NOTHING_AHEAD, 0
        if before is not None and memo is not None and len(before):
            n_before = int(np.count_nonzero(before.score > above))  # the order taken: scores never rise
            done, resumed_starts, goes_on, resumed_ahead = resumed_state(
                stream_candidate, stream_score, starts, ends, stream_of_start, left, room, self.capacity,
                self.excluded, before.candidate, before.shortage, n_before, above, memo.table)
            if done:
                starts, ends, stream_of_start = resumed_starts[goes_on], ends[goes_on], stream_of_start[goes_on]
                ahead = resumed_ahead
            else:
                left, room, n_before = self.left.copy(), self.room.copy(), 0
        taken = allocate_streams(
            stream_candidate, stream_score, starts, ends, stream_of_start, self.key_rank, self.shortage_id,
            left, room, self.capacity, self.excluded, self.tables.arrays(), self.scratch.arrays,
            self.scratch.given, memo.arrays() if memo is not None else _NO_MEMO, ahead)
        candidate, shortage, score, memo_arrays, _scored = taken
        if memo is not None:
            memo.keep(memo_arrays)
        if n_before:
            candidate, shortage, score = (np.concatenate((column[:n_before], part)) for column, part in zip(
                (before.candidate, before.shortage, before.score), (candidate, shortage, score)))
        return Taken(candidate, shortage, score, room)

    def proposals(self, taken: Taken) -> list[Proposal]:
        """The pairs taken as proposals, with their explanations."""
        return _proposals(self.tables, self.scratch, self.keys, self.shortages, taken.candidate,
                          taken.shortage, taken.score, self.workers)


@dataclass
class Taken:
    """The pairs one allocation took, in the order taken (positions in its candidates and
    shortages), and the places each shortage has left after it."""

    candidate: np.ndarray
    shortage: np.ndarray
    score: np.ndarray
    room: np.ndarray

    def __len__(self) -> int:
        return len(self.candidate)


def score_pairs(candidates: Sequence[CandidateIn], shortages: Sequence[ShortageIn], index: SkillIndex,
                settings: MatchSettings, pairs: Sequence[tuple[int, int]], workers: int = 1) -> list[Proposal | None]:
    """The compiled rules.evaluate of each (candidate position, shortage position): a Proposal, or None
    where a hard rule fails. (What the run's allocation computes, one pair at a time; the proposals
    worded on `workers` threads, as a run's are.)"""
    tables = ExactTables.build(candidates, shortages, index, settings)
    scratch = _Scratch(tables)
    which_candidate = np.array([c for c, _ in pairs], np.int64)
    which_shortage = np.array([s for _, s in pairs], np.int64)
    passes, score = _score_many(which_candidate, which_shortage, tables.arrays(), scratch.arrays, scratch.given)
    found = iter(_proposals(tables, scratch, [c.key for c in candidates], shortages, which_candidate[passes],
                            which_shortage[passes], score[passes], workers))
    return [next(found) if ok else None for ok in passes]


@compiled
def _score_many(candidates, shortages, T, S, G):
    passes, score = np.zeros(len(candidates), np.bool_), np.zeros(len(candidates))
    for k in range(len(candidates)):
        passes[k], score[k], _coverage, _distance = _score_pair(candidates[k], shortages[k], T, S, G)
    return passes, score


def _proposals(tables: ExactTables, scratch: _Scratch, keys: list[str], shortages, chosen_candidate, chosen_shortage,
               score, workers: int = 1) -> list[Proposal]:
    """Proposals of the given pairs (each passes, with this score), with their explanations as
    rules._score words them (worked out on `workers` threads: _explained)."""
    skill, by, cuts, nice_skill, nice_cuts, coverage, distance = _explained(tables, scratch, chosen_candidate,
                                                                           chosen_shortage, workers)
    # Names by the array, then each explanation as slices of Python tuples: no loop over skills here.
    names = np.array(tables.skill_ids + [None], dtype=object)  # -1 (no covering skill) reads None
    # As tuples: a slice of one is the explanation's tuple itself (of a list, a list copied once more).
    skill, by, nice_skill = tuple(names[skill].tolist()), tuple(names[by].tolist()), tuple(names[nice_skill].tolist())
    proposals = []
    for c, s, score_k, coverage_k, distance_k, (m, r, x, end), nice_first, nice_end in zip(
            chosen_candidate.tolist(), chosen_shortage.tolist(), score.tolist(), coverage.tolist(), distance.tolist(),
            cuts.tolist(), nice_cuts.tolist(), nice_cuts[1:].tolist()):
        explanation = Explanation(matched=skill[m:r], related=tuple(zip(skill[r:x], by[r:x])),
                                  missing=skill[x:end], nice_matched=nice_skill[nice_first:nice_end],
                                  coverage=round(coverage_k, 4))
        proposals.append(Proposal(keys[c], shortages[s].id, score_k, round(distance_k, 2), explanation))
    return proposals
