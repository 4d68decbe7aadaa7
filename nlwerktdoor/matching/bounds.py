"""Upper bounds for many pairs at once (numpy): which pairs of a run could pass, and how high each could score.

Scoring one pair exactly (rules._score) costs tens of microseconds in Python; a national run has
billions of pairs within reach of each other. So a run first bounds every pair in blocks of
arrays: candidates of one 0.1-degree cell with one radius against the shortages in the box around
them. A pair survives when, by these bounds, it could pass every hard rule; its score bound then
orders it in its shortage's stream (allocate.match scores pairs exactly only as far down each
stream as the allocation needs).

The bounds never fall below the exact values, so no pair that passes is lost and no pair is
ranked too low:

- distance, availability, certificates and the sector wish are the hard rules themselves
  (certificates and sectors as bit masks; with more than 64 distinct ones that filter is left to
  the exact check);
- skill coverage: every required skill at its best credit alone (the same id 1.0, else the best
  group credit times the generic factor, dropped below `min_related_credit`) without the reuse
  limit, the level-step factor or the knowledge gate: those only ever lower it (rules._score
  uses the same bound per pair);
- the score: that coverage and the same bound on nice-to-have skills, with distance, reach,
  entry level and availability exact, plus a small margin for float rounding.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .skills import SkillIndex
from .types import CandidateIn, Changes, MatchSettings, ShortageIn

# Cells of 0.1 degree (about 11 km north-south, 7 km east-west in the Netherlands): small enough
# that the box around a cell is not much larger than the circle of its radius.
_CELL_DEG = 0.1
_KM_PER_DEG_LAT = math.pi * 6371.0088 / 180.0
EARTH_RADIUS_KM = 6371.0088
# Most pairs one block holds (candidates x shortages), to bound memory.
_BLOCK_PAIRS = 1_500_000
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
) -> PairBounds:
    """Every pair that could pass the hard rules (with `changes`: only pairs with a changed side)."""
    empty = PairBounds(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    if not candidates or not shortages:
        return empty
    skills = _SkillColumns(shortages, index, settings)
    side_c = _CandidateArrays(candidates, skills, index, settings, changes)
    side_s = _ShortageArrays(shortages, skills, index, settings, changes)
    side_c.masks_from(side_s)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for block in side_c.blocks():
        near = side_s.within_box(side_c.lat[block].min(), side_c.lat[block].max(),
                                 side_c.lon[block].min(), side_c.lon[block].max(), side_c.radius[block].max())
        if changes is not None:
            if not side_c.changed[block].any():
                near = near[side_s.changed[near]]
            if len(near) == 0:
                continue
        if len(near) == 0:
            continue
        step = max(1, _BLOCK_PAIRS // len(near))
        for start in range(0, len(block), step):
            found = _bound_block(block[start:start + step], near, side_c, side_s, skills, settings)
            if found is not None:
                parts.append(found)
    if not parts:
        return empty
    return PairBounds(
        np.concatenate([p[0] for p in parts]).astype(np.int32),
        np.concatenate([p[1] for p in parts]).astype(np.int32),
        np.concatenate([p[2] for p in parts]),
    )


class _SkillColumns:
    """The skills the run's shortages ask (required and nice-to-have) as matrix columns, and for
    each group the columns a candidate's skill in that group may cover, with the credit."""

    def __init__(self, shortages: Sequence[ShortageIn], index: SkillIndex, settings: MatchSettings):
        asked = sorted({s for sh in shortages for s in sh.required_skills} | {s for sh in shortages for s in sh.nice_skills})
        self.column = {skill: n for n, skill in enumerate(asked)}
        self.width = len(asked)
        self.commonness = {skill: index.commonness(skill, settings) for skill in asked}
        by_group: dict[str, list[tuple[int, float, float]]] = {}
        for skill, n in self.column.items():
            for key, credit in index.links(skill, settings):
                by_group.setdefault(key, []).append((n, credit, self.commonness[skill]))
        self.group = {key: g for g, key in enumerate(sorted(by_group))}
        counts = [len(by_group[key]) for key in sorted(by_group)]
        self.group_start = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=self.group_start[1:])
        flat = [link for key in sorted(by_group) for link in by_group[key]]
        self.link_column = np.array([c for c, _, _ in flat], np.int64)
        self.link_credit = np.array([cr for _, cr, _ in flat], np.float64)
        self.link_commonness = np.array([a for _, _, a in flat], np.float64)


class _CandidateArrays:
    def __init__(self, candidates, skills: _SkillColumns, index: SkillIndex, settings: MatchSettings, changes):
        n = len(candidates)
        self.lat = np.array([c.lat for c in candidates], np.float64)
        self.lon = np.array([c.lon for c in candidates], np.float64)
        self.radius = np.array([c.max_distance_km for c in candidates], np.float64)
        self.available = np.array([c.available_from.toordinal() for c in candidates], np.int64)
        self.level = np.array([c.skill_level for c in candidates], np.int64)
        self.changed = (np.array([c.key in changes.candidates for c in candidates], bool)
                        if changes is not None else np.ones(n, bool))
        self.candidates = candidates
        # Per candidate (CSR): the columns it holds by id, and per group the least common skill it
        # holds there (the generic factor favours it: min(1, commonness(required) / commonness(by))).
        exact_cols: list[int] = []
        exact_ptr = [0]
        group_ids: list[int] = []
        group_common: list[float] = []
        group_ptr = [0]
        seen: dict[frozenset, tuple[list[int], list[tuple[int, float]]]] = {}
        column, group = skills.column, skills.group
        for c in candidates:
            known = seen.get(c.skills)
            if known is None:
                held = sorted(column[s] for s in c.skills if s in column)
                least: dict[int, float] = {}
                for s in c.skills:
                    common = None
                    for key in index.holds(s):
                        g = group.get(key)
                        if g is None:
                            continue
                        if common is None:
                            common = index.commonness(s, settings)
                        if common < least.get(g, math.inf):
                            least[g] = common
                known = seen[c.skills] = (held, sorted(least.items()))
            exact_cols.extend(known[0])
            exact_ptr.append(len(exact_cols))
            for g, common in known[1]:
                group_ids.append(g)
                group_common.append(common)
            group_ptr.append(len(group_ids))
        self.exact_cols = np.array(exact_cols, np.int64)
        self.exact_ptr = np.array(exact_ptr, np.int64)
        self.group_ids = np.array(group_ids, np.int64)
        self.group_common = np.array(group_common, np.float64)
        self.group_ptr = np.array(group_ptr, np.int64)
        self.skills = skills
        self.min_related = settings.min_related_credit

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
        """Candidate positions per (cell, radius): a block shares one box of shortages."""
        keys = np.stack([np.floor(self.lat / _CELL_DEG), np.floor(self.lon / _CELL_DEG), self.radius])
        order = np.lexsort(keys[::-1])
        sorted_keys = keys[:, order]
        breaks = np.flatnonzero(np.any(sorted_keys[:, 1:] != sorted_keys[:, :-1], axis=0)) + 1
        return np.split(order, breaks)

    def credits(self, rows: np.ndarray) -> np.ndarray:
        """Best credit of each candidate in `rows` for each column alone (float32, rows x columns)."""
        skills = self.skills
        out = np.zeros((len(rows), skills.width), np.float32)
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
            out[np.repeat(np.arange(len(rows)), counts), self.exact_cols[_ranges(starts, counts)]] = 1.0
        return out


class _ShortageArrays:
    def __init__(self, shortages, skills: _SkillColumns, index: SkillIndex, settings: MatchSettings, changes):
        n = len(shortages)
        self.lat = np.array([s.lat for s in shortages], np.float64)
        self.lon = np.array([s.lon for s in shortages], np.float64)
        self.radius = np.array([s.max_distance_km for s in shortages], np.float64)
        self.start = np.array([s.start_date.toordinal() for s in shortages], np.int64)
        self.level = np.array([s.skill_level for s in shortages], np.int64)
        self.changed = (np.array([s.id in changes.shortages for s in shortages], bool)
                        if changes is not None else np.ones(n, bool))
        self.threshold = np.array([settings.min_coverage_with_training if s.training_offered else settings.min_coverage
                                   for s in shortages], np.float64)
        level = np.clip(np.where(self.level > 0, self.level, 1), 1, 4)
        self.entry = np.clip(1.0 - settings.level_ease * (level - 1) / 3, 0.0, 1.0)
        # Required (raw share: weight / total) and nice-to-have (weight / nice total) as sparse rows.
        req_rows, req_cols, req_vals, nice_rows, nice_cols, nice_vals = [], [], [], [], [], []
        self.asks_nothing = np.zeros(n, bool)
        for j, s in enumerate(shortages):
            asked = index.asked(s.required_skills, settings)
            if asked.total:
                for skill, weight in zip(asked.skills, asked.weights):
                    req_rows.append(j)
                    req_cols.append(skills.column[skill])
                    req_vals.append(weight / asked.total)
            else:
                self.asks_nothing[j] = True
            nice = [k for k in dict.fromkeys(s.nice_skills) if k not in asked.skills]
            weights = [index.weight(k, settings) for k in nice]
            total = sum(weights)
            if total:
                for skill, weight in zip(nice, weights):
                    nice_rows.append(j)
                    nice_cols.append(skills.column[skill])
                    nice_vals.append(weight / total)
        shape = (n, skills.width)
        self.required = sparse.csr_matrix((np.array(req_vals, np.float32), (req_rows, req_cols)), shape=shape)
        self.nice = sparse.csr_matrix((np.array(nice_vals, np.float32), (nice_rows, nice_cols)), shape=shape)
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


def _bound_block(rows, cols, side_c: _CandidateArrays, side_s: _ShortageArrays, skills, settings):
    """(candidate positions, shortage positions, score bounds) of the pairs in rows x cols that could pass."""
    c_lat, c_lon = np.radians(side_c.lat[rows])[:, None], np.radians(side_c.lon[rows])[:, None]
    s_lat, s_lon = np.radians(side_s.lat[cols])[None, :], np.radians(side_s.lon[cols])[None, :]
    a = np.sin((s_lat - c_lat) / 2) ** 2 + np.cos(c_lat) * np.cos(s_lat) * np.sin((s_lon - c_lon) / 2) ** 2
    distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    limit = np.minimum(side_c.radius[rows][:, None], side_s.radius[cols][None, :])
    ok = distance <= limit + _DISTANCE_SLACK_KM
    days_late = side_c.available[rows][:, None] - side_s.start[cols][None, :]
    ok &= days_late <= settings.availability_grace_days
    if side_s.cert_bit is not None:
        ok &= (side_s.certs[cols][None, :] & ~side_c.certs[rows][:, None]) == 0
    if side_s.sector_bit is not None:
        ok &= side_c.no_wish[rows][:, None] | ((side_c.sectors[rows][:, None] & side_s.sector[cols][None, :]) != 0)
    ok &= side_c.changed[rows][:, None] | side_s.changed[cols][None, :]
    if not ok.any():
        return None
    credits = side_c.credits(rows)  # rows x columns
    share = np.asarray((side_s.required[cols] @ credits.T).T, np.float64)  # rows x cols
    share = np.where(side_s.asks_nothing[cols][None, :], 1.0, np.minimum(share + _SLACK, 1.0))
    if settings.coverage_target > 0:
        coverage = np.minimum(1.0, share / settings.coverage_target)
        ok &= coverage >= side_s.threshold[cols][None, :] - _SLACK
    pair_rows, pair_cols = np.nonzero(ok)
    if len(pair_rows) == 0:
        return None
    # The score bound, for the surviving pairs only.
    share = share[pair_rows, pair_cols]
    nice_all = side_s.nice[cols]
    nice = np.asarray((nice_all @ credits.T).T, np.float64)[pair_rows, pair_cols] + _SLACK
    nice = np.minimum(nice, 1.0)
    c_level, s_level = side_c.level[rows][pair_rows], side_s.level[cols][pair_cols]
    steps_up = np.where((c_level > 0) & (s_level > 0), s_level - c_level, 0)
    reach = settings.level_score_factor ** np.maximum(0, steps_up - settings.free_level_steps).astype(np.float64)
    d, lim = distance[pair_rows, pair_cols], limit[pair_rows, pair_cols]
    nearness = np.where(lim > 0, 1.0 - d / np.where(lim > 0, lim, 1.0), 1.0)
    grace = max(settings.availability_grace_days, 1)
    readiness = np.clip((grace - days_late[pair_rows, pair_cols]) / (2 * grace), 0.0, 1.0)
    score = (
        settings.weight_coverage * share * reach
        + settings.weight_nice * nice * reach
        + settings.weight_distance * nearness
        + settings.weight_reach * reach * side_s.entry[cols][pair_cols]
        + settings.weight_availability * readiness
    )
    score = np.clip(score, 0.0, 1.0) + _SLACK
    return rows[pair_rows], cols[pair_cols], score


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
