"""Upper bounds for many pairs at once (numpy): which pairs of a run could pass, and how high each could score.

Scoring one pair exactly (rules._score) costs tens of microseconds in Python; a national run has
billions of pairs within reach of each other. So a run first bounds every pair in blocks of
arrays: candidates of one 0.2-degree cell with one radius against the shortages in the box around
them. A pair survives when, by these bounds, it could pass every hard rule; its score bound then
orders it in its shortage's stream (allocate.match scores pairs exactly only as far down each
stream as the allocation needs).

The bounds never fall below the exact values, so no pair that passes is lost and no pair is
ranked too low:

- distance, availability, certificates and the sector wish are the hard rules themselves
  (certificates and sectors as bit masks; with more than 64 distinct ones that filter is left to
  the exact check);
- skill coverage: every required skill at its best credit alone (the same id 1.0, else the best
  group credit times the generic factor, dropped below `min_related_credit`, times the level-step
  factor), knowledge as far as the competences' bound allows; for the pairs that pass that, once
  more with the reuse limit counted family by family (`_reuse_capped`): at 20k x 5k that limit is
  what made most exactly scored pairs fail;
- the score: that coverage and the same bound on nice-to-have skills, with distance, reach,
  entry level and availability exact, plus a small margin for float rounding.

In a block, the cheap rules and a first skills bound (knowledge ungated, no level-step factor)
are masks on the whole rows x shortages array; only the pairs left get a haversine, the exact
plain bound and the reuse-capped one. A big run shares its blocks out over forked processes.
"""
from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy import sparse

from .skills import MAX_RELATED_CREDIT, SkillIndex
from .types import CandidateIn, Changes, MatchSettings, ShortageIn

# Cells of 0.2 degree (about 22 km north-south, 14 km east-west in the Netherlands): measured at
# 100k x 20k against 0.1 degree and against classes of radius, about as fast and fewer blocks.
_CELL_DEG = 0.2
_KM_PER_DEG_LAT = math.pi * 6371.0088 / 180.0
EARTH_RADIUS_KM = 6371.0088
# Candidates of one cell are bounded together per radius (in whole km): a block's box is as wide as its radius.
_RADIUS_CLASS_KM = 1.0
# Most pairs one block holds (candidates x shortages), to bound memory.
_BLOCK_PAIRS = 1_500_000
# Most credits one block holds (candidates x asked skills, two float32 matrices).
_BLOCK_CREDITS = 2_000_000
# Float32 sums and a vectorised haversine differ from rules.py in the last bits: bounds get this much room.
_SLACK = 1e-5
_DISTANCE_SLACK_KM = 1e-6


@dataclass
class PairBounds:
    """Pairs that could pass, as parallel arrays: positions in the candidate and shortage lists, and
    an upper bound of each pair's score."""

    candidate: np.ndarray  # int32
    shortage: np.ndarray  # int32
    score: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.candidate)


def pair_bounds(
    candidates: Sequence[CandidateIn],
    shortages: Sequence[ShortageIn],
    index: SkillIndex,
    settings: MatchSettings,
    changes: Changes | None = None,
    workers: int = 1,
) -> PairBounds:
    """Every pair that could pass the hard rules (with `changes`: only pairs with a changed side).

    `workers` > 1: a big run's blocks are shared out over that many processes (this one and forked
    copies of it, which read its arrays as they are and send back only the pairs they held)."""
    empty = PairBounds(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    if not candidates or not shortages:
        return empty
    skills = _SkillColumns(shortages, index, settings)
    side_c = _CandidateArrays(candidates, skills, index, settings, changes)
    side_s = _ShortageArrays(shortages, skills, index, settings, changes)
    side_c.masks_from(side_s)
    work: list[tuple[np.ndarray, np.ndarray]] = []
    for block in side_c.blocks():
        near = side_s.within_box(side_c.lat[block].min(), side_c.lat[block].max(),
                                 side_c.lon[block].min(), side_c.lon[block].max(), side_c.radius[block].max())
        if changes is not None and not side_c.changed[block].any():
            near = near[side_s.changed[near]]
        if len(near) == 0:
            continue
        # Rows per block: bounded by pairs (rows x shortages) and by the credit matrices (rows x skills).
        step = max(1, min(_BLOCK_PAIRS // len(near), _BLOCK_CREDITS // max(skills.width, 1)))
        work += [(block[start:start + step], near) for start in range(0, len(block), step)]
    parts = _bound_work(work, side_c, side_s, settings, workers)
    if not parts:
        return empty
    return PairBounds(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


# Below this many pairs in the blocks (about a second of work), forking costs more than it saves.
_PARALLEL_PAIRS = 5_000_000
# What forked workers read: set just before the fork, cleared after (see _bound_work).
_forked: tuple | None = None


def _bound_work(work, side_c, side_s, settings, workers: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The held pairs of every block, as (candidates, shortages, bounds) parts in any order."""
    global _forked
    pairs = sum(len(rows) * len(near) for rows, near in work)
    workers = min(max(workers, 1), len(work))
    if workers == 1 or pairs < _PARALLEL_PAIRS or "fork" not in multiprocessing.get_all_start_methods():
        return _bound_share(work, side_c, side_s, settings)
    # Every worker takes every workers-th block (neighbouring blocks cost alike): this process the
    # first share, forked copies the others. The copies see the arrays as they are at the fork.
    shares = [work[i::workers] for i in range(workers)]
    _forked = (shares, side_c, side_s, settings)
    try:
        with multiprocessing.get_context("fork").Pool(workers - 1) as pool:
            pending = pool.map_async(_bound_forked_share, range(1, workers))
            parts = _bound_share(shares[0], side_c, side_s, settings)
            for found in pending.get():
                parts += found
    finally:
        _forked = None
    return parts


def _bound_forked_share(number: int) -> list:
    shares, side_c, side_s, settings = _forked
    found = _bound_share(shares[number], side_c, side_s, settings)
    # One part per worker: fewer, bigger arrays to send back.
    return [tuple(np.concatenate([p[k] for p in found]) for k in range(3))] if found else []


def _bound_share(work, side_c, side_s, settings) -> list:
    parts = []
    for rows, near in work:
        found = _bound_block(rows, near, side_c, side_s, settings)
        if found is not None:
            parts.append(found)
    return parts


class _SkillColumns:
    """The skills the run's shortages ask (required and nice-to-have) as matrix columns, and for
    each group the columns a candidate's skill in that group may cover, with the credit."""

    def __init__(self, shortages: Sequence[ShortageIn], index: SkillIndex, settings: MatchSettings):
        asked = {s for sh in shortages for s in sh.required_skills} | {s for sh in shortages for s in sh.nice_skills}
        family_of = {skill: index.family(skill) for skill in asked}
        # The columns of one family side by side (in a shortage's sorted row, its skills of a family
        # come together: _reuse_capped), those that relate by id only (no family) last.
        asked = sorted(asked, key=lambda skill: (family_of[skill] is None, family_of[skill] or "", skill))
        self.column = {skill: n for n, skill in enumerate(asked)}
        self.width = len(asked)
        self.weight = np.array([index.weight(skill, settings) for skill in asked], np.float64)
        self.knowledge = np.array([index.is_knowledge(skill) for skill in asked], bool)
        self.commonness = {skill: index.commonness(skill, settings) for skill in asked}
        by_group: dict[str, list[tuple[int, float, float]]] = {}
        for skill, n in self.column.items():
            for key, credit, _transversal_only in index.links(skill, settings):
                by_group.setdefault(key, []).append((n, credit, self.commonness[skill]))
        self.group = {key: g for g, key in enumerate(sorted(by_group))}
        counts = [len(by_group[key]) for key in sorted(by_group)]
        self.group_start = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=self.group_start[1:])
        flat = [link for key in sorted(by_group) for link in by_group[key]]
        self.link_column = np.array([c for c, _, _ in flat], np.int64)
        self.link_credit = np.array([cr for _, cr, _ in flat], np.float64)
        self.link_commonness = np.array([a for _, _, a in flat], np.float64)
        # The family of each column (SkillIndex.family), numbered in column order; -1: relates by id only.
        self.family_number: dict[str, int] = {}
        self.family = np.array([self.family_number.setdefault(f, len(self.family_number))
                                if (f := family_of[skill]) is not None else -1 for skill in asked] or [-1], np.int64)


class _Side:
    """What both sides have, as arrays: place, radius, ISCO level, a day, and whether it changed."""

    def __init__(self, items, days, changed):
        self.lat = np.array([item.lat for item in items], np.float64)
        self.lon = np.array([item.lon for item in items], np.float64)
        self.radius = np.array([item.max_distance_km for item in items], np.float64)
        self.level = np.array([item.skill_level for item in items], np.int64)
        self.day = np.array([day.toordinal() for day in days], np.int64)
        self.changed = np.array(changed, bool) if changed is not None else np.ones(len(items), bool)


class _CandidateArrays(_Side):
    def __init__(self, candidates, skills: _SkillColumns, index: SkillIndex, settings: MatchSettings, changes):
        n = len(candidates)
        super().__init__(candidates, (c.available_from for c in candidates),
                         [c.key in changes.candidates for c in candidates] if changes is not None else None)
        self.candidates = candidates
        # Per candidate (CSR): the columns it holds by id, and per group the least common skill it
        # holds there (the generic factor favours it: min(1, commonness(required) / commonness(by))).
        # Worked out per distinct skill once, then for all candidates at once.
        distinct = sorted(frozenset().union(*(c.skills for c in candidates)))
        number = dict(zip(distinct, range(len(distinct))))
        owner_counts = np.fromiter((len(c.skills) for c in candidates), np.int64, n)
        owner = np.repeat(np.arange(n), owner_counts)
        held_skill = np.fromiter(map(number.__getitem__, chain.from_iterable(c.skills for c in candidates)), np.int64,
                                 int(owner_counts.sum()))
        column_of = np.array([skills.column.get(skill, -1) for skill in distinct] or [-1], np.int64)[held_skill]
        by_id = column_of >= 0
        self.exact_owner, self.exact_cols = owner[by_id], column_of[by_id]
        holds = [[(skills.group[key], index.commonness(skill, settings)) for key in index.holds(skill)
                  if key in skills.group] for skill in distinct]
        hold_counts = np.array([len(h) for h in holds] or [0], np.int64)
        hold_start = np.zeros(len(hold_counts) + 1, np.int64)
        np.cumsum(hold_counts, out=hold_start[1:])
        hold_group = np.array([g for h in holds for g, _ in h], np.int64)
        hold_common = np.array([a for h in holds for _, a in h], np.float64)
        counts = hold_counts[held_skill] if len(held_skill) else np.zeros(0, np.int64)
        entry = _ranges(hold_start[held_skill] if len(held_skill) else np.zeros(0, np.int64), counts)
        # The least commonness per (candidate, group): entries by one key (candidate x groups + group),
        # the minimum of each run. (One key and reduceat, not a sort on three: a national run has
        # tens of millions of entries, and this is where the engine's memory peaks.)
        n_groups = max(len(skills.group), 1)
        key = np.repeat(owner * n_groups, counts) + hold_group[entry]
        common = hold_common[entry]
        del entry, counts
        order = np.argsort(key, kind="stable")
        key, common = key[order], common[order]
        del order
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        self.group_common = np.minimum.reduceat(common, first) if len(first) else np.zeros(0)
        group_key = key[first]
        del key, common, first
        self.group_ids = group_key % n_groups
        self.group_ptr = np.searchsorted(group_key // n_groups, np.arange(n + 1), side="left")
        self.exact_ptr = np.searchsorted(self.exact_owner, np.arange(n + 1), side="left")
        # How many skills each candidate holds per family of the asked columns (the reuse limit
        # applies per covering skill), as sorted keys candidate x families + family.
        families = max(len(skills.family_number), 1)
        family_of = np.array([skills.family_number.get(index.family(skill), -1) for skill in distinct] or [-1],
                             np.int64)[held_skill]
        in_family = family_of >= 0
        self.family_key, self.family_count = np.unique(owner[in_family] * families + family_of[in_family],
                                                       return_counts=True)
        self.families = families
        self.family_ptr = np.searchsorted(self.family_key // families, np.arange(n + 1), side="left")
        self.skills = skills
        self.min_related = settings.min_related_credit

    def places(self, rows: np.ndarray) -> np.ndarray:
        """How many skills each candidate in `rows` holds per family (rows x families)."""
        table = np.zeros((len(rows), self.families), np.int64)
        starts = self.family_ptr[rows]
        counts = self.family_ptr[rows + 1] - starts
        entry = _ranges(starts, counts)
        table[np.repeat(np.arange(len(rows)), counts), self.family_key[entry] % self.families] = self.family_count[entry]
        return table

    def masks_from(self, side_s: "_ShortageArrays") -> None:
        """Certificates and sector wishes as bit masks, in the bit numbering of the shortages."""
        cands = self.candidates
        if side_s.cert_bit is not None:
            self.certs = np.array([_bits(c.certificates, side_s.cert_bit) for c in cands], np.uint64)
        if side_s.sector_bit is not None:
            self.sectors = np.array([_bits(c.desired_sectors, side_s.sector_bit) for c in cands], np.uint64)
            # A wish for sectors none of the shortages is in: no shortage fits (a bit that none has).
            self.no_wish = np.array([not c.desired_sectors for c in cands], bool)

    def blocks(self):
        """Candidate positions per cell and class of radius: a block shares one box of shortages."""
        keys = np.stack([np.floor(self.lat / _CELL_DEG), np.floor(self.lon / _CELL_DEG),
                         np.ceil(self.radius / _RADIUS_CLASS_KM)])
        order = np.lexsort(keys[::-1])
        sorted_keys = keys[:, order]
        breaks = np.flatnonzero(np.any(sorted_keys[:, 1:] != sorted_keys[:, :-1], axis=0)) + 1
        return np.split(order, breaks)

    def credits(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best credit of each candidate in `rows` for each column alone (float32, rows x columns),
        as two matrices: by the same id (1.0) and by a related skill (where the id is not held)."""
        skills = self.skills
        out = np.zeros((len(rows), skills.width), np.float32)
        exact = np.zeros((len(rows), skills.width), np.float32)
        # related: every (candidate, group) entry times every column of that group
        starts, ends = self.group_ptr[rows], self.group_ptr[rows + 1]
        counts = ends - starts
        if counts.sum():
            entry = _ranges(starts, counts)
            entry_row = np.repeat(np.arange(len(rows)), counts)
            g = self.group_ids[entry]
            link_counts = skills.group_start[g + 1] - skills.group_start[g]
            link = _ranges(skills.group_start[g], link_counts)
            row = np.repeat(entry_row, link_counts)
            common = np.repeat(self.group_common[entry], link_counts)
            credit = skills.link_credit[link] * np.minimum(1.0, skills.link_commonness[link] / common)
            keep = credit >= self.min_related
            np.maximum.at(out, (row[keep], skills.link_column[link][keep]), credit[keep].astype(np.float32))
        starts, ends = self.exact_ptr[rows], self.exact_ptr[rows + 1]
        counts = ends - starts
        if counts.sum():
            held = (np.repeat(np.arange(len(rows)), counts), self.exact_cols[_ranges(starts, counts)])
            exact[held] = 1.0
            out[held] = 0.0
        return exact, out


class _ShortageArrays(_Side):
    def __init__(self, shortages, skills: _SkillColumns, index: SkillIndex, settings: MatchSettings, changes):
        n = len(shortages)
        super().__init__(shortages, (s.start_date for s in shortages),
                         [s.id in changes.shortages for s in shortages] if changes is not None else None)
        self.threshold = np.array([settings.min_coverage_with_training if s.training_offered else settings.min_coverage
                                   for s in shortages], np.float64)
        level = np.clip(np.where(self.level > 0, self.level, 1), 1, 4)
        self.entry = np.clip(1.0 - settings.level_ease * (level - 1) / 3, 0.0, 1.0)
        # Required (raw share: weight / total) and nice-to-have (weight / nice total) as sparse rows.
        # Required skills as shares of the shortage's total weight, competences and knowledge apart
        # (knowledge counts only as far as the competences are covered: rules._score).
        # Per column the skill's weight and whether it is knowledge; per shortage its skills once each.
        required = [tuple(dict.fromkeys(s.required_skills)) for s in shortages]
        counts = np.fromiter(map(len, required), np.int64, n)
        column = np.fromiter(map(skills.column.__getitem__, chain.from_iterable(required)), np.int64, int(counts.sum()))
        owner = np.repeat(np.arange(n), counts)
        weight, knowledge = skills.weight[column], skills.knowledge[column]
        total = np.bincount(owner, weights=weight, minlength=n)
        competences = np.bincount(owner, weights=np.where(knowledge, 0.0, weight), minlength=n)
        self.asks_nothing = total == 0
        total = np.where(self.asks_nothing, 1.0, total)
        self.competence_part = np.where(self.asks_nothing, 1.0, competences / total)  # competences' share
        asking = ~self.asks_nothing[owner]
        nice_rows, nice_cols, nice_vals = [], [], []
        for j, s in enumerate(shortages):
            if not s.nice_skills:
                continue
            members = set(required[j])
            nice = [skills.column[k] for k in dict.fromkeys(s.nice_skills) if k not in members]
            nice_total = float(skills.weight[nice].sum()) if nice else 0.0
            if nice_total:
                nice_rows += [2 * n + j] * len(nice)
                nice_cols += nice
                nice_vals += (skills.weight[nice] / nice_total).tolist()
        # One matrix, three parts: row j the competences of shortage j, row n + j its knowledge, row
        # 2n + j its nice-to-have skills (a block takes all three in one slice and two products).
        self.weights = sparse.csr_matrix(
            (np.r_[(weight / total[owner])[asking], nice_vals].astype(np.float32),
             (np.r_[np.where(knowledge, owner + n, owner)[asking], nice_rows].astype(np.int64),
              np.r_[column[asking], nice_cols].astype(np.int64))),
            shape=(3 * n, skills.width))
        self.weights.sort_indices()
        self.cert_bit = _bit_numbering(c for s in shortages for c in s.certificates)
        self.sector_bit = _bit_numbering(s.sector for s in shortages)
        if self.cert_bit is not None:
            self.certs = np.array([_bits(s.certificates, self.cert_bit) for s in shortages], np.uint64)
        if self.sector_bit is not None:
            self.sector = np.array([_bits((s.sector,), self.sector_bit) for s in shortages], np.uint64)
        self.by_lat = np.argsort(self.lat, kind="stable")
        self.sorted_lat = self.lat[self.by_lat]

    def within_box(self, lat_lo, lat_hi, lon_lo, lon_hi, radius_km) -> np.ndarray:
        """Positions of the shortages in the box `radius_km` around the given box (and some beyond)."""
        dlat = radius_km / _KM_PER_DEG_LAT + 1e-6
        lo, hi = lat_lo - dlat, lat_hi + dlat
        first = np.searchsorted(self.sorted_lat, lo, side="left")
        last = np.searchsorted(self.sorted_lat, hi, side="right")
        found = self.by_lat[first:last]
        widest = math.cos(math.radians(min(max(abs(lo), abs(hi)), 89.9)))
        dlon = radius_km / (_KM_PER_DEG_LAT * widest) + 1e-6
        if dlon < 180:
            lon = self.lon[found]
            found = found[(lon >= lon_lo - dlon) & (lon <= lon_hi + dlon)]
        return np.sort(found)


def _bound_block(rows, cols, side_c: _CandidateArrays, side_s: _ShortageArrays, settings: MatchSettings):
    """(candidate positions, shortage positions, score bounds) of the pairs in rows x cols that could pass."""
    # The cheap rules first, on the whole block: availability, certificates, sector wish, and the
    # north-south distance alone (a great circle is never shorter than its difference in latitude).
    limit = np.minimum(side_c.radius[rows][:, None], side_s.radius[cols][None, :])
    ok = np.abs(side_c.lat[rows][:, None] - side_s.lat[cols][None, :]) * _KM_PER_DEG_LAT <= limit + _DISTANCE_SLACK_KM
    days_late = side_c.day[rows][:, None] - side_s.day[cols][None, :]
    ok &= days_late <= settings.availability_grace_days
    if side_s.cert_bit is not None:
        ok &= (side_s.certs[cols][None, :] & ~side_c.certs[rows][:, None]) == 0
    if side_s.sector_bit is not None:
        ok &= side_c.no_wish[rows][:, None] | ((side_c.sectors[rows][:, None] & side_s.sector[cols][None, :]) != 0)
    ok &= side_c.changed[rows][:, None] | side_s.changed[cols][None, :]
    if not ok.any():
        return None
    # Weighted sums of the best credits, by the same id and by related skills, for every asked part
    # (rows: competences, knowledge, nice-to-have of each shortage of the block) and candidate.
    exact, related = side_c.credits(rows)  # rows x columns
    n_cols = len(cols)
    weights = side_s.weights[np.concatenate([cols, cols + len(side_s.lat), cols + 2 * len(side_s.lat)])]
    sums_id, sums_related = weights @ exact.T, weights @ related.T  # 3 n_cols x rows
    if settings.coverage_target > 0 and settings.level_step_credit <= 1.0:
        # Skills, still on the whole block: every required skill at its best credit, knowledge
        # ungated and no level-step factor, is never below the share below. Most pairs within
        # reach of each other fall short here, before any work per pair.
        upper = (sums_id[:n_cols] + sums_related[:n_cols] + sums_id[n_cols:2 * n_cols]
                 + sums_related[n_cols:2 * n_cols]).T.astype(np.float64) + 2 * _SLACK
        needed = settings.coverage_target * (side_s.threshold[cols] - _SLACK)
        ok &= (upper >= needed[None, :]) | side_s.asks_nothing[cols][None, :]
    pair_rows, pair_cols = np.nonzero(ok)
    if len(pair_rows) == 0:
        return None
    # The distance itself, for the pairs left.
    c_lat, c_lon = np.radians(side_c.lat[rows][pair_rows]), np.radians(side_c.lon[rows][pair_rows])
    s_lat, s_lon = np.radians(side_s.lat[cols][pair_cols]), np.radians(side_s.lon[cols][pair_cols])
    a = np.sin((s_lat - c_lat) / 2) ** 2 + np.cos(c_lat) * np.cos(s_lat) * np.sin((s_lon - c_lon) / 2) ** 2
    distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    limit, days_late = limit[pair_rows, pair_cols], days_late[pair_rows, pair_cols]
    near = distance <= limit + _DISTANCE_SLACK_KM
    pair_rows, pair_cols, distance, limit, days_late = (
        pair_rows[near], pair_cols[near], distance[near], limit[near], days_late[near])
    if len(pair_rows) == 0:
        return None
    # Skills, for the pairs that pass the rest: sums of best credits per part (by the same id, and by
    # a related skill, which counts level_step_credit less per ISCO level up), as rules._score reads them.
    c_level, s_level = side_c.level[rows][pair_rows], side_s.level[cols][pair_cols]
    steps_up = np.where((c_level > 0) & (s_level > 0), s_level - c_level, 0)
    related_factor = np.where(steps_up > 0, settings.level_step_credit ** np.maximum(steps_up, 0).astype(np.float64), 1.0)

    def covered(kind: int) -> tuple[np.ndarray, np.ndarray]:
        """(by the same id, by related skills) per pair; kind 0 competences, 1 knowledge, 2 nice."""
        at = (pair_cols + kind * n_cols, pair_rows)
        return np.asarray(sums_id[at], np.float64), related_factor * np.asarray(sums_related[at], np.float64)

    competence_id, competence_related = covered(0)
    knowledge_id, knowledge_related = covered(1)
    part, asks_nothing = side_s.competence_part[cols][pair_cols], side_s.asks_nothing[cols][pair_cols]
    share = _share(competence_id + competence_related, knowledge_id + knowledge_related, part, asks_nothing, settings)
    if settings.coverage_target > 0:
        threshold = side_s.threshold[cols][pair_cols]
        stages = 2 if _reuse_limit_applies(settings) else 1
        for stage in range(stages):
            if stage == 1:
                # Second, for the pairs still in: the related credits under the reuse limit.
                both = _reuse_capped(weights, np.r_[pair_cols, pair_cols + n_cols], np.r_[pair_rows, pair_rows],
                                     np.r_[related_factor, related_factor], related, rows, side_c, settings)
                share = _share(competence_id + both[:len(pair_rows)], knowledge_id + both[len(pair_rows):], part,
                               asks_nothing, settings)
            passing = np.minimum(1.0, share / settings.coverage_target) >= threshold - _SLACK
            (pair_rows, pair_cols, share, steps_up, related_factor, distance, limit, days_late, part, asks_nothing,
             threshold, competence_id, knowledge_id) = (
                a[passing] for a in (pair_rows, pair_cols, share, steps_up, related_factor, distance, limit, days_late,
                                     part, asks_nothing, threshold, competence_id, knowledge_id))
            if len(pair_rows) == 0:
                return None
    # The score bound, for the pairs that could pass.
    nice_id, nice_related = covered(2)
    nice = np.minimum(nice_id + nice_related + _SLACK, 1.0)
    reach = settings.level_score_factor ** np.maximum(0, steps_up - settings.free_level_steps).astype(np.float64)
    nearness = np.where(limit > 0, 1.0 - distance / np.where(limit > 0, limit, 1.0), 1.0)
    grace = max(settings.availability_grace_days, 1)
    readiness = np.clip((grace - days_late) / (2 * grace), 0.0, 1.0)
    score = (
        settings.weight_coverage * share * reach
        + settings.weight_nice * nice * reach
        + settings.weight_distance * nearness
        + settings.weight_reach * reach * side_s.entry[cols][pair_cols]
        + settings.weight_availability * readiness
    )
    score = np.clip(score, 0.0, 1.0) + _SLACK
    return rows[pair_rows].astype(np.int32), cols[pair_cols].astype(np.int32), score


def _share(competence, knowledge, part, asks_nothing, settings: MatchSettings) -> np.ndarray:
    """The bound of the weighted share covered, from bounds of the competences and the knowledge
    covered (shares of the total weight; `part`: the competences' share of it), as rules._score
    has it: knowledge counts as far as the competences are covered."""
    if settings.coverage_target > 0:
        competence_share = np.where(part > 0, (competence + _SLACK) / np.where(part > 0, part, 1.0), 1.0)
        gate = np.minimum(1.0, competence_share / settings.coverage_target)
    else:
        gate = 1.0
    share = np.minimum(competence + knowledge * gate + _SLACK, 1.0)
    return np.where(asks_nothing, 1.0, share)


def _reuse_limit_applies(settings: MatchSettings) -> bool:
    """Whether _reuse_capped's bound holds: every related credit that counts is within a family (a
    level-1 transversal credit never reaches min_related_credit), and a further use of a skill
    never counts more than the one before."""
    return (min(settings.credit_transversal, MAX_RELATED_CREDIT) < settings.min_related_credit
            and settings.credits_never_rise)


def _reuse_capped(weights, weight_rows, related_rows, related_factor, related, rows, side_c: "_CandidateArrays",
                  settings: MatchSettings) -> np.ndarray:
    """For each (row of `weights`, row of `related`) given, a bound of the related credits of the
    asked columns that counts the reuse limit: one covering skill covers at most
    `max_related_uses` required skills, the u-th at reuse_decay**u of its credit. A candidate with
    m skills in a family thus has m places at full credit there, m at reuse_decay, and so on; every
    related credit comes from within its family. So the family's best credits, highest first, are
    counted against those places, highest first: no way of sharing out the skills (the greedy of
    rules.assign either) counts more. Where a candidate holds many skills of the family, this is
    the plain sum; where one skill would have to cover ten, it is far less.

    `weights`: the block's asked shares (CSR, sorted columns); `related`: best related credits, block
    candidates x columns; `rows`: the block's candidate positions; `related_factor` per given pair."""
    indptr, indices, data = weights.indptr, weights.indices, weights.data
    starts = indptr[weight_rows]
    counts = indptr[weight_rows + 1] - starts
    entry = _ranges(starts, counts)
    pair = np.repeat(np.arange(len(weight_rows)), counts)
    column = indices[entry]
    value = data[entry].astype(np.float64) * related[related_rows[pair], column]
    held = value > 0
    pair, column, value = pair[held], column[held], value[held] * related_factor[pair[held]]
    if len(pair) == 0:
        return np.zeros(len(weight_rows))
    family = side_c.skills.family[column]
    # Runs of one pair and one family: a shortage's row is sorted by column, and the columns of a
    # family are side by side (_SkillColumns).
    first = np.flatnonzero(np.r_[True, (pair[1:] != pair[:-1]) | (family[1:] != family[:-1])])
    size = np.diff(np.r_[first, len(pair)])
    # The candidate's skills in the family: its places per use (a related credit > 0 means it has some).
    places = side_c.places(rows)[related_rows[pair[first]], np.maximum(family[first], 0)]
    places[family[first] < 0] = 0
    # Only a run longer than its places is capped (else every credit counts in full): those runs'
    # credits, highest first, against the places, highest first.
    capped = np.flatnonzero((places > 0) & (size > places))
    if len(capped):
        entry = _ranges(first[capped], size[capped])
        run = np.repeat(np.arange(len(capped)), size[capped])
        # Sorted by run, then credit highest first, in one float key (credits are in (0, 1]; keys of
        # credits closer than about 1e-8 may swap, far below the bounds' _SLACK).
        entry = entry[np.argsort(2.0 * run + (1.0 - value[entry]))]
        rank = np.arange(len(entry)) - np.repeat(np.r_[0, np.cumsum(size[capped])[:-1]], size[capped])
        use = rank // np.repeat(places[capped], size[capped])
        limit = max(settings.max_related_uses, 0)
        value[entry] = value[entry] * np.where(use < limit, settings.reuse_decay ** np.minimum(use, limit), 0.0)
    return np.bincount(pair, weights=value, minlength=len(weight_rows))


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, start + count) for each pair, without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    offsets = np.arange(total) - np.repeat(ends - counts, counts)
    return np.repeat(starts, counts) + offsets


def _bit_numbering(values) -> dict[str, int] | None:
    """A bit per distinct value, or None when they do not fit in 64 bits."""
    distinct = sorted(set(values))
    if len(distinct) > 64:
        return None
    return {value: bit for bit, value in enumerate(distinct)}


def _bits(values, numbering: dict[str, int]) -> int:
    """The mask of `values`; a value without a bit (no shortage has it) sets none."""
    mask = 0
    for value in values:
        bit = numbering.get(value)
        if bit is not None:
            mask |= 1 << bit
    return mask
