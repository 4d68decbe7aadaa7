"""All passing pairs of a run, then a fair share of them under the volume caps."""
from __future__ import annotations

import gc
import logging
import math
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterable, Mapping

import numpy as np

from .bounds import CandidateTable, give_back_freed_memory, pair_bounds, within_reach
from .compiled import compiled
from .exact import ExactTables, ScoreMemo, StreamAllocation, Taken
from .rules import distance_km, passes_logistics, _score
from .skills import SkillIndex
from .types import CandidateIn, Changes, MatchSettings, Proposal, ShortageIn

log = logging.getLogger(__name__)

# Grid cells of 0.25 degree (about 28 km north-south, 17 km east-west in the Netherlands).
_CELL_DEG = 0.25
_KM_PER_DEG_LAT = math.pi * 6371.0088 / 180.0


class _Grid:
    """Shortages bucketed by lat/lon cell, so a candidate only looks at nearby ones."""

    def __init__(self, shortages: Iterable[ShortageIn]):
        self.cells: dict[tuple[int, int], list[ShortageIn]] = defaultdict(list)
        for s in shortages:
            self.cells[self._cell(s.lat, s.lon)].append(s)

    @staticmethod
    def _cell(lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG)

    def near(self, lat: float, lon: float, radius_km: float) -> Iterable[ShortageIn]:
        """Every shortage within radius_km (and some beyond: the caller checks exactly)."""
        # A small margin keeps points exactly on the radius inside the box despite rounding.
        dlat = radius_km / _KM_PER_DEG_LAT + 1e-6
        lat_lo, lat_hi = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
        widest = math.cos(math.radians(max(abs(lat_lo), abs(lat_hi))))
        if widest < 1e-3 or radius_km / (_KM_PER_DEG_LAT * widest) >= 180.0:
            lon_cells = None  # near a pole or a huge radius: every longitude
        else:
            dlon = radius_km / (_KM_PER_DEG_LAT * widest) + 1e-6
            lon_cells = range(math.floor((lon - dlon) / _CELL_DEG), math.floor((lon + dlon) / _CELL_DEG) + 1)
        for i in range(math.floor(lat_lo / _CELL_DEG), math.floor(lat_hi / _CELL_DEG) + 1):
            if lon_cells is None:
                for (ci, _cj), bucket in self.cells.items():
                    if ci == i:
                        yield from bucket
            else:
                for j in lon_cells:
                    bucket = self.cells.get((i, j))
                    if bucket:
                        yield from bucket


def candidate_pairs(
    candidates: Iterable[CandidateIn],
    shortages: Iterable[ShortageIn],
    index: SkillIndex,
    settings: MatchSettings,
    exclude: frozenset[tuple[str, int]] = frozenset(),
    changes: Changes | None = None,
) -> list[Proposal]:
    """Every pair that passes the hard rules, best first (score, then candidate key, shortage id).
    With `changes`, only the pairs with at least one changed side."""
    candidates = _unique(candidates, lambda c: c.key, "candidate")
    shortages = _unique(shortages, lambda s: s.id, "shortage")
    grid = _Grid(shortages)
    changed_grid = grid if changes is None else _Grid(s for s in shortages if s.id in changes.shortages)
    proposals = []
    for candidate in candidates:
        near = grid if changes is None or candidate.key in changes.candidates else changed_grid
        for shortage in near.near(candidate.lat, candidate.lon, candidate.max_distance_km):
            if (candidate.key, shortage.id) in exclude or not passes_logistics(candidate, shortage, settings):
                continue
            distance = distance_km(candidate.lat, candidate.lon, shortage.lat, shortage.lon)
            limit = min(candidate.max_distance_km, shortage.max_distance_km)
            if distance > limit:
                continue
            proposal = _score(candidate, shortage, index, settings, distance, limit)
            if proposal is not None:
                proposals.append(proposal)
    proposals.sort(key=_rank)
    return proposals


def match(
    candidates: Iterable[CandidateIn] | CandidateTable,
    shortages: Iterable[ShortageIn],
    index: SkillIndex,
    settings: MatchSettings,
    exclude: frozenset[tuple[str, int]] = frozenset(),
    shortage_load: Mapping[int, int] | None = None,
    candidate_load: Mapping[str, int] | None = None,
    changes: Changes | None = None,
    workers: int = 1,
    stream_depth: int | None = None,
) -> list[Proposal]:
    """The new proposals of one run, fairly spread, best first.

    Pairs in `exclude` (already proposed in an earlier run, whatever the answer) are skipped.
    Caps per run: a shortage receives at most candidates_per_position x open_positions people,
    a candidate is offered at most shortages_per_candidate x capacity shortages. A listing of N
    people counts as N candidates: it fills up to N of a shortage's places (never more than are
    left) and may go to N times as many shortages. Allocation is greedy by score over the whole
    run, so the total score is high while no shortage grabs every good candidate; ties break on
    candidate key and shortage id, which makes the result independent of input order.

    The loads are proposals from earlier runs that are still in play (nobody said no, no outcome
    yet): places they take (people, for a listing) per shortage, proposals per candidate. They
    count against the caps, so a rerun tops up instead of offering k more people every run.

    `changes` (an incremental run): only pairs with a changed side are examined (see Changes).

    The result is exactly `allocate_under_caps(candidate_pairs(...))`, without scoring every pair:
    bounds.pair_bounds gives each pair that could pass an upper bound of its score, each shortage
    gets a stream of its pairs by that bound, best first, and one heap merges the streams. A pair is
    scored exactly when its bound comes first; the exact proposal goes back into the heap and is
    taken when it comes first in turn. Nothing below an open stream's bound can outrank it, so the
    proposals come out in the greedy order. A full shortage's stream is dropped and a full
    candidate's pairs are passed over, unscored: most pairs of a big run are never scored. The
    heap and the exact scores are compiled (exact.py): the same arithmetic as rules.evaluate, to the
    bit, about fifty times faster than in Python.

    `candidates` may come as a bounds.CandidateTable (built as a run reads them: CandidateRows), the
    same candidates as arrays: a national run then never holds a CandidateIn per candidate.

    `workers`: threads the bounds of a big run may use (bounds.pair_bounds); the result is the same.

    `stream_depth`: where the pairs that could pass are too many to hold (bounds._KEEP_BUFFER_PAIRS;
    at national size billions), keep only that many pairs per place a shortage has left, those with
    the highest bounds, and check afterwards that no shortage needed one of those left out; those
    that might have get their pairs again, cut deeper, and the allocation runs again until none
    could (`_match_kept`, `_needs_more`). The result is the same.
    """
    with collector_paused():
        return _match(candidates, shortages, index, settings, exclude, shortage_load, candidate_load, changes,
                      workers, stream_depth)


@contextmanager
def collector_paused():
    """Python's cycle collector off for the duration (as it was before, after): for work that makes
    many objects that stay until it ends. Here, while the engine runs: scoring a pair
    allocates dozens of short-lived containers, and every few hundred allocations the collector
    walks the young ones, many of which (memos, profiles) stay: a fifth to a third of the exact
    scoring went there (20k x 5k: 2.0 s -> 1.4 s without it). The engine makes no reference cycles,
    so nothing is held back meanwhile; other threads' cycles wait until the run ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _match(candidates, shortages, index, settings, exclude, shortage_load, candidate_load, changes, workers,
           stream_depth=None):
    if isinstance(candidates, CandidateTable):
        table = candidates
        _unique(table.keys, lambda key: key, "candidate")
    else:
        table = CandidateTable(_unique(candidates, lambda c: c.key, "candidate"))
    shortages = _unique(shortages, lambda s: s.id, "shortage")
    candidate_left = _candidate_room(table.keys, table.capacity, settings, candidate_load)
    shortage_left = _shortage_room(shortages, settings, shortage_load)
    live = np.flatnonzero(candidate_left > 0)
    if len(live) < len(table):
        table, candidate_left = table.subset(live), candidate_left[live]
    shortages = [s for s in shortages if shortage_left[s.id] > 0]
    keep = None
    if stream_depth is not None:
        keep = np.array([max(stream_depth, 1) * shortage_left[s.id] for s in shortages], np.int64)
    # The exact scoring's tables are Python work: built while the bounds' compiled blocks run in threads.
    built: list[ExactTables] = []
    bounds = pair_bounds(table, shortages, index, settings, changes, workers, keep=keep,
                         alongside=lambda: built.append(ExactTables.build(table, shortages, index, settings)))
    if not len(bounds):
        return []
    if bounds.dropped is not None and (bounds.dropped > -np.inf).any():
        return _match_kept(table, shortages, index, settings, exclude, changes, workers, bounds, keep,
                           candidate_left, shortage_left, built[0] if built else None)
    if not built:
        # The blocks ran on this thread: the tables are built afterwards, for the candidates the bounds
        # held only. A shortage posted in a city reads 150,000 candidates and holds a few thousand
        # (instant candidates at national size: the tables of all of them took a second).
        held = np.unique(bounds.candidate)
        if len(held) < len(table):
            table, candidate_left = table.subset(held), candidate_left[held]
            bounds.candidate = np.searchsorted(held, bounds.candidate).astype(np.int32)
    return _allocate(table, shortages, index, settings, bounds, _key_rank(table.keys), candidate_left,
                     shortage_left, exclude, built[0] if built else None, workers)


def _key_rank(keys: list[str]) -> np.ndarray:
    key_rank = np.empty(len(keys), np.int64)
    key_rank[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return key_rank


def _allocate(table, shortages, index, settings, bounds, key_rank, candidate_left, shortage_left, exclude, tables,
              workers=1):
    """allocate_streams over the streams of these bounds: pairs by shortage, then bound (highest
    first), then candidate key (as the ranking). `bounds` lets go of its arrays (_streams)."""
    streams = _streams(bounds, key_rank, len(shortages), workers)
    del bounds
    allocation = StreamAllocation(table, shortages, index, settings, key_rank, candidate_left, shortage_left, exclude,
                                  tables, workers)
    return allocation.proposals(allocation.run(_heads(*streams)))


def _heads(stream_shortage, stream_candidate, stream_score) -> tuple:
    """The streams as allocate_streams reads them: (candidates, bounds, starts, ends, shortage of each)."""
    starts = np.flatnonzero(np.r_[True, stream_shortage[1:] != stream_shortage[:-1]])
    ends = np.r_[starts[1:], len(stream_shortage)]
    return stream_candidate, stream_score, starts, ends, stream_shortage[starts]


# How much deeper the streams of a shortage that needed more are cut the next round.
_DEEPER = 8
# Slots the exact scores' memo starts with (a power of two; it doubles when half full).
_MEMO_SLOTS = 1 << 20


def _match_kept(table: CandidateTable, shortages, index, settings, exclude, changes, workers, bounds, keep,
                candidate_left, shortage_left, tables):
    """The allocation over streams cut short (pair_bounds' `keep`), made exact: a shortage whose
    pairs were cut and that could have needed one of them (_needs_more) gets its pairs again from a
    run over its box, cut _DEEPER times deeper (where there are still too many to hold), and the
    allocation runs again, until none could. Each round such a shortage keeps more of its pairs,
    until it keeps them all, so it ends; with streams a dozen times as deep as the places, most
    shortages never need a second round.

    A full shortage's refill leaves out, from its first block on, every pair whose bound is below the
    last score it took (pair_bounds' `floor`): such a pair cannot come before that one. At national
    size 36,000 of the first refill's 61,000 shortages were full; with the floor that refill held 24
    instead of 42 million pairs, and it and the rounds after it took 418 s instead of 537. A cascade
    may lower a shortage's last score in the next round (more shortages need a second refill: 11,223
    instead of 8,896); the check then finds it again. It still ends: `keep` grows each round, and once
    a shortage keeps every pair above its floor, it needs more only when its last score falls below
    the one before, which can happen only so often.

    A round after the first resumes from the highest bound at which its streams differ from the round
    before's in a way the greedy could see (_highest_change): above it, it would do what that round
    did (StreamAllocation.run's `before` and `above`). After a refill of a few shortages that bound is
    often low: the last national round took 26 s from the top, 8 s resumed.

    What does not change between rounds is made once: the candidates' table (CandidateTable: a refill
    takes the rows of those near its shortages), the allocation's arrays (StreamAllocation),
    the sorted streams (the refilled shortages' streams are put in place of theirs: _spliced), the
    exact scores (ScoreMemo); and only the last round's proposals are worded."""
    key_rank = _key_rank(table.keys)
    allocation = StreamAllocation(table, shortages, index, settings, key_rank, candidate_left, shortage_left, exclude,
                                  tables, workers)
    keep = keep.copy()
    dropped = bounds.dropped.copy()
    streams = list(_streams(bounds, key_rank, len(shortages), workers))  # a list: _spliced lets go as it goes
    del bounds
    give_back_freed_memory()
    # Each round scores mostly the pairs the round before scored.
    memo = ScoreMemo(_MEMO_SLOTS) if ScoreMemo.fits(len(table), len(shortages)) else None
    before, above = None, np.inf
    while True:
        taken = allocation.run(_heads(*streams), memo, before, above)
        last = _last_taken(taken, len(dropped))
        short = _needs_more(taken, dropped, last)
        if not len(short):
            # The streams and the memo (at national size some GB) go before the proposals are worded.
            del streams, memo
            return allocation.proposals(taken)
        keep[short] *= _DEEPER
        # A full shortage needs no pair below the last it took: a pair whose bound is lower cannot come
        # before that one (the greedy takes pairs best first), so the refill cuts there from the start.
        # Where a cascade lowers that last pair in the next round, the check finds the shortage again.
        floor = np.where(taken.room[short] <= 0, last[short], -np.inf)
        # Only the candidates within those shortages' reach: at national size a few of the shortages
        # need more, and reading every candidate's skills again for them took minutes and gigabytes.
        again = [shortages[n] for n in short.tolist()]
        near = np.flatnonzero(within_reach(table.lat, table.lon, again))
        log.info("streams cut short: %d shortages get their pairs again, %d times deeper, from %d of %d candidates",
                 len(again), _DEEPER, len(near), len(table))
        rows = table if len(near) == len(table) else table.subset(near)  # near: positions in order
        more = pair_bounds(rows, again, index, settings, changes, workers,
                           keep=keep[short], cut_at_once=True, floor=floor)
        dropped[short] = more.dropped
        more.candidate = near[more.candidate].astype(np.int32)
        more.shortage = short[more.shortage].astype(np.int32)
        new = _streams(more, key_rank, len(shortages), workers)
        # The next round resumes from the highest bound at which its streams differ from this round's.
        before, above = taken, _highest_change(*streams, *new, short, key_rank, _full_above(taken, allocation.left),
                                               np.where(taken.room <= 0, last, -np.inf))
        streams = list(_spliced(streams, short, new))
        del more, new
        give_back_freed_memory()


@compiled
def _highest_change(shortage, candidate, score, new_shortage, new_candidate, new_score, which, key_rank,
                    candidate_full, shortage_full):
    """The highest bound at which the new streams of the shortages `which` (_streams' order) differ from
    their streams in (shortage, candidate, score) in a way the greedy could see: a pair added or gone,
    unless its candidate or its shortage was full above it in the round before (`candidate_full`,
    `shortage_full`: per side, the score above which that round filled it, -inf where it did not): up
    to that bound the rounds are the same, so it is passed over in both. Above it, a round over the
    new streams does what the round over the old ones did (StreamAllocation.run's `above`); -inf:
    nothing differs.

    Both are in the same order (shortage, bound highest first, candidate key), so each shortage's two
    streams are read side by side from the top, up to the first difference that counts."""
    highest = -np.inf
    for s in which:
        i, old_end = np.searchsorted(shortage, s, side="left"), np.searchsorted(shortage, s, side="right")
        j, new_end = np.searchsorted(new_shortage, s, side="left"), np.searchsorted(new_shortage, s, side="right")
        while i < old_end or j < new_end:
            if i < old_end and j < new_end and candidate[i] == new_candidate[j] and score[i] == new_score[j]:
                i += 1
                j += 1
                continue
            if j < new_end and (i >= old_end or new_score[j] > score[i] or (
                    new_score[j] == score[i] and key_rank[new_candidate[j]] < key_rank[candidate[i]])):
                if candidate_full[new_candidate[j]] > new_score[j] or shortage_full[s] > new_score[j]:
                    j += 1  # added, but passed over when it comes
                    continue
                highest = max(highest, new_score[j])  # added
                break
            if candidate_full[candidate[i]] > score[i] or shortage_full[s] > score[i]:
                i += 1  # gone, but passed over
                continue
            highest = max(highest, score[i])  # gone
            break
    return highest


def _spliced(streams: list, short: np.ndarray, more) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sorted streams (shortage, candidate, bound: _streams) with those of the shortages `short`
    (sorted positions) replaced by `more` (their new streams, sorted the same way): the others stay
    in place, and each new stream goes in where its shortage's belongs. No sort of the whole again
    (at national size tens of millions of pairs, every round).

    `streams` is a list, emptied as its columns are merged: each old column is let go of once its
    merged one is made, so that only one column is held twice at a time (at national size the three
    side by side were 0.6 GB more for a moment, about the run's peak)."""
    shortage = streams[0]
    refilled = np.zeros(int(max(shortage.max(initial=-1), short.max(initial=-1))) + 1, bool)
    refilled[short] = True
    stays = refilled[shortage]
    np.logical_not(stays, out=stays)
    from_new = _merge_sources(shortage, stays, more[0])
    del shortage
    merged = [None, None, None]
    for n in (1, 2, 0):  # the shortages last: `stays` and `from_new` were read from them
        merged[n] = _merged(streams[n], stays, more[n], from_new)
        streams[n] = None
    streams.clear()
    return merged[0], merged[1], merged[2]


@compiled
def _merge_sources(shortage, stays, new_shortage):
    """Which pairs of the merge of the old pairs that `stays` and the new ones (both sorted by
    shortage) come from the new: by shortage, the new before the old of a later shortage."""
    total = np.count_nonzero(stays) + len(new_shortage)
    from_new = np.zeros(total, np.bool_)
    i = k = 0
    for o in range(total):
        while i < len(shortage) and not stays[i]:
            i += 1
        if k < len(new_shortage) and (i >= len(shortage) or new_shortage[k] < shortage[i]):
            from_new[o] = True
            k += 1
        else:
            i += 1
    return from_new


@compiled
def _merged(column, stays, new_column, from_new):
    """One column of _spliced, in one compiled pass: the old values that stay and the new ones, in the
    order `from_new` gives. (With numpy's masks and inserts, six passes over the columns: 2.4-4.4 s a
    round at national size.)"""
    out = np.empty(len(from_new), column.dtype)
    i = k = 0
    for o in range(len(from_new)):
        if from_new[o]:
            out[o] = new_column[k]
            k += 1
        else:
            while not stays[i]:
                i += 1
            out[o] = column[i]
            i += 1
    return out


def _last_taken(taken: Taken, n_shortages: int) -> np.ndarray:
    """Per shortage position, the score of the last pair the allocation took for it (inf: none)."""
    last = np.full(n_shortages, np.inf)
    which, score = _last_of(taken.shortage, taken.score)
    last[which] = score
    return last


def _full_above(taken: Taken, left: np.ndarray) -> np.ndarray:
    """Per candidate position, the score of the last pair the allocation took for it where that
    left it full (`left`: the proposals it could take), else -inf. A pair of it bounded below that
    comes after its last, and is passed over."""
    floor = np.full(len(left), -np.inf)
    which, score = _last_of(taken.candidate, taken.score)
    full = np.bincount(taken.candidate, minlength=len(left))[which] >= left[which]
    floor[which[full]] = score[full]
    return floor


def _last_of(owner: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each owner (a side's position) of the pairs taken, and the score of the last it took: the
    first of it from the end."""
    which, first = np.unique(owner[::-1], return_index=True)
    return which, score[::-1][first]


def _needs_more(taken: Taken, dropped: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Positions of the shortages whose left-out pairs (bounds up to `dropped`) the allocation might
    have taken: those not full at the end, and those whose last proposal (`last`: _last_taken) did not
    score above every left-out bound. A left-out pair scores at most its bound, and the greedy takes
    pairs best first: once a shortage is full with a last score above that, none of them could have
    come before."""
    full = taken.room <= 0
    cut = dropped > -np.inf
    return np.flatnonzero(cut & ~(full & (last > dropped))).astype(np.int64)


def warm_up() -> None:
    """Compile the engine's compiled functions, or load them from numba's cache: a run of two
    candidates and two shortages that passes through all of them. Compiling takes seconds (about
    fifteen on a fresh install, with nothing cached); a process that will match calls this before it
    is needed, so that no run, and no shortage posted on the site, waits for the compiler."""
    from datetime import date

    from .types import SkillInfo

    index = SkillIndex.build([SkillInfo("a", "S1.1.1", ("S",), (), 3), SkillInfo("b", "S1.1.1", ("S",), (), 5),
                              SkillInfo("c", "S1.1.2", ("S",), (), 9)])
    day = date(2026, 1, 1)
    candidates = [CandidateIn(f"worker:{n}", 52.0, 5.0, 30, frozenset(skills), frozenset(), frozenset(), day)
                  for n, skills in enumerate((("a", "c"), ("b",)))]
    shortages = [ShortageIn(n, "care", 52.0, 5.01, 30, ("a", "b", "c"), ("c",), frozenset(), day) for n in (1, 2)]
    if not match(candidates, shortages, index, MatchSettings(min_coverage=0.0, min_coverage_with_training=0.0)):
        raise RuntimeError("the engine's warm-up run proposed nothing")


def _streams(bounds, key_rank: np.ndarray, n_shortages: int, workers: int = 1
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs by shortage, then bound (highest first), then candidate key: (shortage, candidate,
    bound) of each, as the streams and the heap read them.

    One sort of one integer key (shortage, bound, key rank) where the bits allow, ten times faster
    than a sort on three keys at millions of pairs; the three columns are then read back from the
    sorted key (no permutation to apply). The bound takes the bits left: it is rounded up to a
    multiple of 2**-bits (at national size about 2e-7), still never below the exact score, and the
    streams and the heap both read the rounded value, so they agree on the order."""
    shortage_bits = max(int(n_shortages).bit_length(), 1)
    rank_bits = max(len(key_rank).bit_length(), 1)
    bound_bits = min(62 - shortage_bits - rank_bits, 40)  # the bound's field holds up to 2**(bits + 1)
    if bound_bits < 16 or not len(bounds) or bounds.score.max() >= 2.0:
        order = np.lexsort((key_rank[bounds.candidate], -bounds.score, bounds.shortage))
        return bounds.shortage[order], bounds.candidate[order], bounds.score[order]
    scale = float(2**bound_bits)
    top = 2 * 2**bound_bits - 1
    key = bounds.shortage.astype(np.int64) << (bound_bits + 1 + rank_bits)
    bounds.shortage = None
    key |= (top - np.ceil(bounds.score * scale).astype(np.int64)) << rank_bits  # the highest bound first
    bounds.score = None
    key |= key_rank[bounds.candidate]
    bounds.candidate = None
    key = _sorted_keys(key, bound_bits + 1 + rank_bits, n_shortages, workers)
    by_rank = np.argsort(key_rank)
    candidate = by_rank[key & ((1 << rank_bits) - 1)].astype(np.int32)
    score = (top - ((key >> rank_bits) & top)) / scale
    return (key >> (bound_bits + 1 + rank_bits)).astype(np.int32), candidate, score


# Fewer keys than this: one sort on this thread (threads cost more than they save).
_PARALLEL_SORT_KEYS = 1_000_000


def _sorted_keys(key: np.ndarray, shift: int, n_shortages: int, workers: int) -> np.ndarray:
    """The unique integer keys of _streams, sorted: with `workers` > 1 and many keys, first put into
    `workers` parts by their leading field (the shortage: key >> shift, below n_shortages), the parts
    in its order and about equally big, then each part sorted on a thread of its own (numpy lets go of
    the interpreter lock while it sorts).

    Every key is unique (one pair of a shortage and a candidate each), so any sort gives the same
    order. numpy's default sort is vectorised on x86, but how fast differs from machine to machine:
    at 100k x 20k (4.9 million keys) 0.03 s on an Intel Xeon, 0.29-0.42 s on an AMD EPYC of the same
    kind, where the parts took 0.04 s and their sorts on two threads 0.14-0.16 s."""
    workers = min(max(workers, 1), 64)
    if workers == 1 or len(key) < _PARALLEL_SORT_KEYS:
        key.sort()
        return key
    parted, starts = _parted(key, shift, n_shortages, workers)
    del key
    with ThreadPoolExecutor(workers, thread_name_prefix="streams") as pool:
        list(pool.map(lambda p: parted[starts[p]:starts[p + 1]].sort(), range(workers)))
    return parted


@compiled
def _parted(key, shift, n_buckets, parts):
    """The keys in `parts` runs by their leading field (key >> shift, below n_buckets), the runs in
    its order, each run's keys in their order before; the runs' starts and the end (parts + 1). A run
    ends at the first leading value that takes it to its share of the keys."""
    counts = np.zeros(n_buckets, np.int64)
    for k in key:
        counts[k >> shift] += 1
    part_of = np.empty(n_buckets, np.int64)
    starts = np.zeros(parts + 1, np.int64)
    total, p = 0, 0
    for b in range(n_buckets):
        if p < parts - 1 and total * parts >= (p + 1) * len(key):
            p += 1
            starts[p] = total
        part_of[b] = p
        total += counts[b]
    for q in range(p + 1, parts + 1):
        starts[q] = total
    at = starts[:-1].copy()
    parted = np.empty_like(key)
    for k in key:
        q = part_of[k >> shift]
        parted[at[q]] = k
        at[q] += 1
    return parted, starts


def _room(candidates, shortages, settings, shortage_load, candidate_load):
    """Places left per candidate key and per shortage id under the caps, and each candidate's capacity."""
    keys = [c.key for c in candidates]
    capacity = np.array([max(c.capacity, 1) for c in candidates], np.int64)
    candidate_left = _candidate_room(keys, capacity, settings, candidate_load)
    return (dict(zip(keys, candidate_left.tolist())), _shortage_room(shortages, settings, shortage_load),
            dict(zip(keys, capacity.tolist())))


def _candidate_room(keys: list[str], capacity: np.ndarray, settings: MatchSettings,
                    candidate_load: Mapping[str, int] | None) -> np.ndarray:
    """Shortages each candidate may still be offered under the cap: shortages_per_candidate times its
    capacity (people), less its proposals still in play."""
    load = (np.fromiter((candidate_load.get(key, 0) for key in keys), np.int64, len(keys)) if candidate_load
            else np.zeros(len(keys), np.int64))
    return max(settings.shortages_per_candidate, 0) * capacity - load


def _shortage_room(shortages, settings: MatchSettings, shortage_load: Mapping[int, int] | None) -> dict[int, int]:
    """Places each shortage id has left under its cap: candidates_per_position per open position, less
    the places its proposals still in play take."""
    shortage_load = shortage_load or {}
    return {s.id: max(settings.candidates_per_position, 0) * max(s.open_positions, 0) - shortage_load.get(s.id, 0)
            for s in shortages}


def allocate_under_caps(
    proposals: Iterable[Proposal],
    candidates: Iterable[CandidateIn],
    shortages: Iterable[ShortageIn],
    settings: MatchSettings,
    shortage_load: Mapping[int, int] | None = None,
    candidate_load: Mapping[str, int] | None = None,
) -> list[Proposal]:
    """The passing pairs, taken greedily best first (by score, then candidate key, shortage id) while
    both sides have room under the caps of `match`."""
    candidate_left, shortage_left, capacity = _room(list(candidates), list(shortages), settings, shortage_load,
                                                    candidate_load)
    chosen = []
    for proposal in sorted(proposals, key=_rank):
        places = shortage_left[proposal.shortage_id]
        if places <= 0 or candidate_left[proposal.candidate_key] <= 0:
            continue
        shortage_left[proposal.shortage_id] = places - min(capacity[proposal.candidate_key], places)
        candidate_left[proposal.candidate_key] -= 1
        chosen.append(proposal)
    return chosen


def places_left(shortage: ShortageIn, proposals: Iterable[Proposal], candidates: Iterable[CandidateIn],
                settings: MatchSettings, shortage_load: Mapping[int, int] | None = None) -> int:
    """Places `shortage` has left under its cap once its `proposals` (best first) are taken, counted as
    allocate_under_caps counts them: a listing fills up to its people, never more than are left."""
    _, shortage_left, capacity = _room(list(candidates), [shortage], settings, shortage_load, None)
    places = shortage_left[shortage.id]
    for proposal in proposals:
        if proposal.shortage_id == shortage.id and places > 0:
            places -= min(capacity[proposal.candidate_key], places)
    return places


def _rank(p: Proposal):
    return (-p.score, p.candidate_key, p.shortage_id)


def _unique(items, key, what):
    items = list(items)
    seen = set()
    for item in items:
        k = key(item)
        if k in seen:
            raise ValueError(f"duplicate {what} {k!r}")
        seen.add(k)
    return items
