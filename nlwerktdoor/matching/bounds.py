"""Upper bounds for many pairs at once (numpy, numba): which pairs of a run could pass, and how high each could score.

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
  more with the reuse limit counted family by family (`_reuse_cut`): at 20k x 5k that limit is
  what made most exactly scored pairs fail;
- the score: that coverage and the same bound on nice-to-have skills, with distance, reach,
  entry level and availability exact, plus a small margin for float rounding.

In a block (compiled, numba: `_block_kernel`), the best credits of each candidate for each column
the block's shortages ask, and their weighted sums per shortage, are dense arrays for the whole
block (`_block_sums`: one vectorised pass over the rows per asked column, faster than looking
skills up pair by pair, even though most pairs never need them). Then the pairs are taken one by
one, cheapest test first, stopping at the first that fails: most pairs within a block's box are
turned away by the latitude, the dates or the first skills bound (knowledge ungated, no
level-step factor). Only the pairs left get a haversine, the plain bound and, where a family of
skills asks more than the candidate holds of it, the reuse-capped one. (The same steps as masks
over the whole block in numpy took 60% longer: every step ran over every pair, and the reuse
limit expanded each surviving pair's skills into arrays.) A big run shares its blocks out over
threads: the compiled pass lets go of the interpreter lock.
"""
from __future__ import annotations

import ctypes
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import chain

import numpy as np
from scipy import sparse

from .compiled import compiled
from .skills import MAX_RELATED_CREDIT, SkillIndex
from .types import CandidateIn, Changes, MatchSettings, ShortageIn

# Cells of 0.2 degree (about 22 km north-south, 14 km east-west in the Netherlands): measured at
# 100k x 20k against 0.1 degree and against classes of radius, about as fast and fewer blocks.
_CELL_DEG = 0.2
_KM_PER_DEG_LAT = math.pi * 6371.0088 / 180.0
EARTH_RADIUS_KM = 6371.0088
# Candidates of one cell are bounded together per radius (in whole km): a block's box is as wide as its radius.
_RADIUS_CLASS_KM = 1.0
# Most pairs one block holds (candidates x shortages), to bound memory (a float32 sum each, 24 MB).
# Each block reads the weights of its shortages once: at national size a block of 1.5 million pairs
# had 40 rows for 40,000 shortages, and that reading was a third of its time.
_BLOCK_PAIRS = 6_000_000
# Most credits one block holds (candidates x asked skills, two float32 matrices).
_BLOCK_CREDITS = 2_000_000
# Float32 sums and a vectorised haversine differ from rules.py in the last bits: bounds get this much room.
_SLACK = 1e-5
_DISTANCE_SLACK_KM = 1e-6


def _malloc_trim():
    """glibc's malloc_trim, or None (another C library)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_MALLOC_TRIM = _malloc_trim()


def give_back_freed_memory() -> None:
    """Hand the pages of memory freed so far back to the system (glibc: malloc_trim; elsewhere nothing).

    glibc keeps what numpy frees for reuse, in the heap of the thread that allocated it; the blocks'
    pairs are made on two threads and let go of at every cut, in sizes that seldom fit what comes
    next. At national size RSS after the first pass was 3.1-3.3 GB with 2.0-2.2 GB in use, and the
    refills and rounds after it started from there (twenty-seventh session). Called where a run cut
    short has just let go of many pairs: the first call after much was freed took 0.15 s (a few ms
    after that), which a shortage's instant candidates need not wait for."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


@dataclass
class PairBounds:
    """Pairs that could pass, as parallel arrays: positions in the candidate and shortage lists, and
    an upper bound of each pair's score. With `keep` (pair_bounds), `dropped` holds per shortage the
    highest bound of the pairs left out (-inf: none left out)."""

    candidate: np.ndarray  # int32
    shortage: np.ndarray  # int32
    score: np.ndarray  # float64
    dropped: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.candidate)


def pair_bounds(
    candidates: Sequence[CandidateIn] | CandidateTable,
    shortages: Sequence[ShortageIn],
    index: SkillIndex,
    settings: MatchSettings,
    changes: Changes | None = None,
    workers: int = 1,
    alongside: Callable[[], object] | None = None,
    keep: np.ndarray | None = None,
    cut_at_once: bool = False,
    floor: np.ndarray | None = None,
) -> PairBounds:
    """Every pair that could pass the hard rules (with `changes`: only pairs with a changed side).

    `keep` (per shortage position): at most that many pairs of each shortage, those with the
    highest bounds; `dropped` then says how high the bounds of the others reached. A national run
    holds billions of pairs that could pass, of which each shortage takes a dozen: the allocation
    checks that what it took never needed one of those left out (allocate._match).

    `workers` > 1: a big run's blocks are shared out over that many threads (_bound_work).
    `cut_at_once` (with `keep`): cut from the first block on (_Cutoffs), not only once a thread holds
    too many pairs: for a refill, whose shortages are known to have more pairs than they keep.
    `floor` (with `keep`, per shortage position): a cut to start from, -inf for none: a pair whose
    bound is below it is left out (and counted in `dropped`) as if `keep` better ones had been found.

    `candidates` may come as a CandidateTable: a run's refills read their candidates from the table
    the run made once (CandidateTable.subset), not from the candidates' objects again.

    `alongside`: other work of the caller's, called once while those threads run, on the calling
    thread (Python work: the blocks do not hold the interpreter lock). Not called when the blocks
    run on the calling thread (a small run, or one worker): then the caller does it afterwards."""
    empty = PairBounds(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0),
                       np.full(len(shortages), -np.inf) if keep is not None else None)
    table = candidates if isinstance(candidates, CandidateTable) else CandidateTable(candidates)
    if not len(table) or not shortages:
        return empty
    # The shortages by latitude, their positions mapped back at the end: a block's shortages, a band of
    # latitudes, then lie side by side in memory. Spread over the country, the 40,000 shortages of a
    # national block cost a few cache misses each for their weights alone, block after block: a third
    # of the blocks' time near Amsterdam (41 -> 29 ns a pair in that order).
    order = np.argsort(np.fromiter((s.lat for s in shortages), np.float64, len(shortages)), kind="stable")
    shortages = [shortages[n] for n in order.tolist()]
    if keep is not None:
        keep = keep[order]
    if floor is not None:
        floor = floor[order]
    skills = _SkillColumns(shortages, index, settings)
    side_c = _CandidateArrays(table, skills, index, settings, changes)
    side_s = _ShortageArrays(shortages, skills, index, settings, changes)
    side_c.masks_from(side_s)
    side_c.groups = _OccupationGroups(table, settings)
    boxes = []
    for block in side_c.blocks():
        box = (side_c.lat[block].min(), side_c.lat[block].max(), side_c.lon[block].min(), side_c.lon[block].max())
        widest = side_c.radius[block].max()
        near = side_s.within_box(*box, widest)
        if changes is not None and not side_c.changed[block].any():
            near = near[side_s.changed[near]]
        if len(near):
            boxes.append((side_c.groups.arrange(block), near, box, widest))
    if keep is None or sum(len(block) * len(near) for block, near, _, _ in boxes) < _CLOSE_FIRST_PAIRS:
        work = [piece for block, near, _, _ in boxes for piece in _block_work(block, near, skills.width)]
        parts = _bound_work(work, side_c, side_s, settings, workers, alongside, keep, cut_at_once, floor)
    else:
        rings = [[] for _ in range(len(_RINGS_KM) + 1)]
        for block, near, box, widest in boxes:
            inner = near[:0]
            for ring, km in enumerate(_RINGS_KM):
                within = near[np.isin(near, side_s.within_box(*box, min(widest, km)), assume_unique=True)]
                rings[ring] += _block_work(block, within[~np.isin(within, inner, assume_unique=True)], skills.width)
                inner = within
            rings[-1] += _block_work(block, near[~np.isin(near, inner, assume_unique=True)], skills.width)
        del boxes
        parts = _close_first(rings, side_c, side_s, settings, workers, alongside, keep, floor)
    if not parts:
        return empty
    dropped = None
    if keep is not None:
        dropped = np.full(len(shortages), -np.inf)
        for part in parts:
            np.maximum(dropped, part[3], out=dropped)
    # Each column joined with its parts let go right after: at national size the parts hold some
    # hundred million pairs, and holding them beside the joined columns (and the cut below) made the
    # run's peak memory.
    columns = [[part[n] for part in parts] for n in range(3)]
    del parts
    joined = []
    while columns:
        joined.append(np.concatenate(columns.pop(0)))
    found = PairBounds(*joined, dropped)
    del joined
    if keep is not None:
        if len(found) > _KEEP_BUFFER_PAIRS:
            found.candidate, found.shortage, found.score = _keep_best(found.candidate, found.shortage, found.score,
                                                                      keep, found.dropped)
        found.dropped[order] = found.dropped.copy()
    found.shortage = order[found.shortage].astype(np.int32)
    if keep is not None and (found.dropped > -np.inf).any():
        give_back_freed_memory()  # a run cut short (a national one), not a shortage's instant candidates
    return found


def _block_work(block: np.ndarray, cols: np.ndarray, width: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """A block's rows against `cols`, in pieces: rows per piece bounded by pairs (rows x shortages) and
    by the credit matrices (rows x skills)."""
    if not len(cols):
        return []
    step = max(1, min(_BLOCK_PAIRS // len(cols), _BLOCK_CREDITS // max(width, 1)))
    return [(block[start:start + step], cols) for start in range(0, len(block), step)]


# A run cut short (pair_bounds' `keep`) with this many pairs in its blocks' boxes bounds each block
# against the shortages within _RINGS_KM[0] of it first, then those within the next, and so on, then
# the rest, each ring cut from the start at what the rings before found (_close_first). Below it, the
# pairs fit and are never cut (100k x 20k: 0.2 billion pairs in the boxes, 4.9 million held), and the
# rings would only add each block's setup again.
_CLOSE_FIRST_PAIRS = 10_000_000_000
_RINGS_KM = (0.0, 8.0)


def _close_first(rings, side_c, side_s, settings, workers, alongside, keep, floor):
    """_bound_work over the pieces of each ring in turn, each cut from the start (`cut_at_once`) at
    each shortage's `keep`-th best bound among the pairs of the rings before (_kth_best), where it
    has that many.

    A shortage's best pairs are mostly close ones: the score is nearly all skills, and among the
    many candidates alike in skills, the nearer rank higher. Cut in one sweep over the country, a
    shortage's cut rose only as the blocks around it came: started at its final cut, the national
    first pass took 222 s instead of 340 s. What the closer rings found is some of the pairs, so its
    `keep`-th best is never above the final cut: it drops no pair the cut would keep."""
    parts = []
    for ring, work in enumerate(rings):
        if parts:
            # What the rings before held, cut to the best `keep` of each shortage (held beside the next
            # ring's pairs, tens of millions of them made the run's peak memory).
            candidate, shortage, score = (np.concatenate([part[n] for part in parts]) for n in range(3))
            dropped = np.full(len(keep), -np.inf)
            for part in parts:
                np.maximum(dropped, part[3], out=dropped)
            parts = None
            if len(candidate) > _KEEP_BUFFER_PAIRS:
                candidate, shortage, score = _keep_best(candidate, shortage, score, keep, dropped)
            start = _kth_best(shortage, score, keep)
            floor = start if floor is None else np.maximum(floor, start)
            parts = [(candidate, shortage, score, dropped)]
            del candidate, shortage, score
            give_back_freed_memory()
        parts += _bound_work(work, side_c, side_s, settings, workers, alongside if ring == len(rings) - 1 else None,
                             keep, True, floor)
    return parts


def _kth_best(shortage: np.ndarray, score: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per shortage position, the `keep`-th highest of its pairs' bounds rounded down to 2**-31 (-inf
    where it has fewer pairs)."""
    found = np.full(len(keep), -np.inf)
    counts = np.bincount(shortage, minlength=len(keep))
    among = np.flatnonzero(((counts >= keep) & (keep > 0))[shortage])
    if not len(among):
        return found
    key = _ranking_key(shortage[among], score[among])
    key.sort()
    by_shortage = key >> _BOUND_BITS
    rank = np.arange(len(key)) - np.searchsorted(by_shortage, by_shortage, side="left")
    at = rank == keep[by_shortage] - 1
    found[by_shortage[at]] = (_BOUND_FIELD - (key[at] & _BOUND_FIELD)) / 2**31
    return found


# _ranking_key: the bits of the bound's field (bounds below 8 at steps of 2**-31), and its mask.
_BOUND_BITS = 34
_BOUND_FIELD = (1 << _BOUND_BITS) - 1


def _ranking_key(shortage: np.ndarray, score: np.ndarray) -> np.ndarray:
    """One integer per pair that sorts by shortage, then bound (highest first): the bound rounded
    down to 2**-31, which only decides between nearly equal pairs."""
    key = shortage.astype(np.int64)
    key <<= _BOUND_BITS
    low = np.floor(score * 2**31).astype(np.int64)
    np.subtract(_BOUND_FIELD, low, out=low)
    key |= low
    return key


# Cells of within_reach's grid (degrees): small against the radii, few over a country.
_REACH_CELL_DEG = 0.05


def within_reach(lat: np.ndarray, lon: np.ndarray, shortages: Sequence[ShortageIn]) -> np.ndarray:
    """Which of the points (`lat`, `lon`: candidates' places) lie within some shortage's own radius
    of it (and some beyond): a pair farther apart than that never passes (rules: the smaller of both
    radii). On a grid of _REACH_CELL_DEG cells, each shortage marks the rectangle of cells its radius
    can reach, at the widest its latitudes give; a point counts when its cell is marked."""
    if not len(shortages) or not len(lat):
        return np.zeros(len(lat), bool)
    s_lat = np.fromiter((s.lat for s in shortages), np.float64, len(shortages))
    s_lon = np.fromiter((s.lon for s in shortages), np.float64, len(shortages))
    s_radius = np.fromiter((s.max_distance_km for s in shortages), np.float64, len(shortages))
    dlat = s_radius / _KM_PER_DEG_LAT + 1e-6
    widest = np.cos(np.radians(np.minimum(np.maximum(np.abs(s_lat - dlat), np.abs(s_lat + dlat)), 89.9)))
    dlon = np.minimum(s_radius / (_KM_PER_DEG_LAT * widest) + 1e-6, 360.0)
    # The grid spans the shortages' rectangles only: a point outside it is out of every one.
    lat0, lon0 = (s_lat - dlat).min(), (s_lon - dlon).min()
    rows = int(((s_lat + dlat).max() - lat0) // _REACH_CELL_DEG) + 2
    cols = int(((s_lon + dlon).max() - lon0) // _REACH_CELL_DEG) + 2
    # Each shortage's rectangle of cells into a difference table; summed up, a cell > 0 is marked.
    r0 = ((s_lat - dlat - lat0) // _REACH_CELL_DEG).astype(np.int64)
    r1 = ((s_lat + dlat - lat0) // _REACH_CELL_DEG).astype(np.int64) + 1
    c0 = ((s_lon - dlon - lon0) // _REACH_CELL_DEG).astype(np.int64)
    c1 = ((s_lon + dlon - lon0) // _REACH_CELL_DEG).astype(np.int64) + 1
    table = np.zeros((rows + 1, cols + 1), np.int64)
    np.add.at(table, (r0, c0), 1)
    np.add.at(table, (r0, c1), -1)
    np.add.at(table, (r1, c0), -1)
    np.add.at(table, (r1, c1), 1)
    marked = table.cumsum(0).cumsum(1) > 0
    row = (lat - lat0) // _REACH_CELL_DEG
    col = (lon - lon0) // _REACH_CELL_DEG
    inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    found = np.zeros(len(lat), bool)
    found[inside] = marked[row[inside].astype(np.int64), col[inside].astype(np.int64)]
    return found


@dataclass(frozen=True)
class SkillGains:
    """For one shortage: the most each skill a candidate may hold can add to the covered weight of
    its required skills (`gains`), and the covered weight below which rule 5 turns a pair away
    (`needed`). A candidate whose skills' gains add up to less cannot pass, so one shortage's
    candidates can be judged from a list of skill ids, before anything else of them is built."""

    gains: dict[str, float]
    needed: float

    def may_pass(self, skills) -> bool:
        gains = self.gains
        return sum([gains.get(skill, 0.0) for skill in skills]) >= self.needed


# Float sums in another order differ in the last bits: `needed` is lowered by this share of itself.
_GAINS_SLACK = 1e-9


def skill_gains(shortage: ShortageIn, index: SkillIndex, settings: MatchSettings) -> SkillGains | None:
    """The gains bound for `shortage` (see SkillGains); None when rule 5 cannot be bounded this way
    (no required skills: everyone covers it; settings under which a credit can rise on its way).

    Why it never turns away a pair that passes (rules._score): the covered weight is at most the sum
    over required skills of weight x credit; a held required skill gives its weight, and each held
    skill covers at most `max_related_uses` others, its n-th use at `reuse_decay`**n times a credit
    that the level step can only lower. So a held skill adds at most its own weight (if required)
    plus its best `max_related_uses` related credits, weighted, largest first with the decays in
    order (no other order of them sums higher). Knowledge's gate only lowers the sum further.
    Measured on the national data: of the 157,000 candidates within reach of a city shortage, a
    tenth get past it, and of those a few dozen pass."""
    asked = index.asked(shortage.required_skills, settings)
    if not asked.skills or asked.total <= 0 or settings.coverage_target <= 0 or not settings.credits_never_rise:
        return None
    threshold = settings.min_coverage_with_training if shortage.training_offered else settings.min_coverage
    if threshold > 1.0:
        return SkillGains({}, math.inf)  # coverage is capped at 1: nobody passes
    gains: dict[str, float] = {}
    related: dict[str, list[float]] = {}
    for skill, weight in zip(asked.skills, asked.weights):
        gains[skill] = weight
        for by, credit in index.coverers(skill, settings).items():
            related.setdefault(by, []).append(weight * credit)
    uses, decay = max(settings.max_related_uses, 0), settings.reuse_decay
    for by, values in related.items():
        values.sort(reverse=True)
        gains[by] = gains.get(by, 0.0) + sum(value * decay**n for n, value in enumerate(values[:uses]))
    needed = threshold * settings.coverage_target * asked.total
    return SkillGains(gains, needed * (1.0 - _GAINS_SLACK))


def best_credits(skills: Sequence[str], weights: Sequence[float], index: SkillIndex,
                 settings: MatchSettings) -> dict[str, np.ndarray]:
    """For each skill a candidate may hold: what it could add, per asked skill (in the order of
    `skills`), to the covered weight: the weight where it is that skill, weight x credit where it
    can cover it (SkillIndex.coverers). The most a candidate covers is then, per asked skill, the
    best of its skills' values, summed: rules._score's first bound without the level step, which
    only lowers it (score_ceilings)."""
    values: dict[str, np.ndarray] = {}
    for column, (skill, weight) in enumerate(zip(skills, weights)):
        for by, credit in ((skill, 1.0), *index.coverers(skill, settings).items()):
            row = values.get(by)
            if row is None:
                row = values[by] = np.zeros(len(skills))
            row[column] = max(row[column], weight * credit)
    return values


def score_ceilings(shortage: ShortageIn, index: SkillIndex, settings: MatchSettings, covered: np.ndarray,
                   nice_covered: np.ndarray, distance_km: np.ndarray, radius_km: np.ndarray,
                   available: np.ndarray) -> np.ndarray | None:
    """Upper bounds of rules._score for one shortage and many candidates, from what a candidate index
    holds of each: `covered` and `nice_covered`, bounds of the weight of the required and of the
    nice-to-have skills it covers (best_credits summed), its distance in km (up to a metre under the
    engine's), its own radius and its availability (date ordinals). Every part of the score at its
    most: the shares at covered / total, the reach factor at 1, nearness and readiness as they are.
    None when a part could exceed that (a level factor above 1, a negative weight).

    Instant candidates read the candidates best first by this bound and stop once the shortage is
    full with scores above any unread bound (services/matching._proposals_for_one)."""
    weights = (settings.weight_coverage, settings.weight_nice, settings.weight_distance, settings.weight_reach,
               settings.weight_availability)
    if settings.level_score_factor > 1.0 or min(weights) < 0:
        return None
    asked = index.asked(shortage.required_skills, settings)
    share = np.minimum(1.0, np.asarray(covered, float) / asked.total) if asked.total else np.ones(len(covered))
    nice_asked = nice_skills(shortage, index, settings)
    nice_total = sum(nice_asked[1])
    nice = np.minimum(1.0, np.asarray(nice_covered, float) / nice_total) if nice_total else 0.0
    limit = np.minimum(np.asarray(radius_km, float), shortage.max_distance_km)
    distance = np.maximum(np.asarray(distance_km, float) - _CEILING_DISTANCE_SLACK_KM, 0.0)
    nearness = np.where(limit > 0, 1.0 - distance / np.where(limit > 0, limit, 1.0), 1.0)
    grace = max(settings.availability_grace_days, 1)
    days_late = np.asarray(available, float) - shortage.start_date.toordinal()
    readiness = np.clip((grace - days_late) / (2 * grace), 0.0, 1.0)
    level = min(max(shortage.skill_level, 1), 4) if shortage.skill_level else 1
    entry = min(1.0, max(0.0, 1.0 - settings.level_ease * (level - 1) / 3))
    score = (settings.weight_coverage * share + settings.weight_nice * nice + settings.weight_distance * nearness
             + settings.weight_reach * entry + settings.weight_availability * readiness)
    # The score is rounded to six decimals (up by at most half a unit) and summed in another order.
    return np.minimum(1.0, score) * (1.0 + _CEILING_SLACK) + _CEILING_SLACK


def nice_skills(shortage: ShortageIn, index: SkillIndex, settings: MatchSettings) -> tuple[tuple[str, ...], list]:
    """The nice-to-have skills that count (not also required) and their weights, as rules._score has them."""
    members = index.asked(shortage.required_skills, settings).members
    nice = tuple(skill for skill in dict.fromkeys(shortage.nice_skills) if skill not in members)
    return nice, [index.weight(skill, settings) for skill in nice]


_CEILING_DISTANCE_SLACK_KM = 1e-3
_CEILING_SLACK = 1e-6


# Pairs are cut down to `keep` per shortage only once a thread's share (and then the whole) holds more
# than this many: a national run keeps memory for the pairs of a few hundred blocks, not of all of
# them, while a run of 100k x 20k (4.9 million pairs) keeps every pair and never needs more.
_KEEP_BUFFER_PAIRS = 20_000_000


def _keep_best(candidate, shortage, score, keep, dropped):
    """The pairs of each shortage with the `keep` highest bounds (ties at the edge either way); the
    highest bound of the others goes into `dropped` (per shortage, raised in place)."""
    kept = _best_of_each(shortage, score, keep, dropped)
    if kept.all():
        return candidate, shortage, score
    return candidate[kept], shortage[kept], score[kept]


@compiled
def _best_of_each(shortage, score, keep, dropped):
    """Which pairs are among the `keep` highest bounds of their shortage (_keep_best), `dropped` raised
    by the others. Three passes, no sort: a min-heap of the `keep` best bounds of each shortage that
    has more pairs than that, its least the shortage's threshold; then the pairs above it, then as many
    at it as there is room for. (The national first pass cut some 56 million pairs at a time between
    its rings by sorting them: 10 s each on one thread, and 40 bytes a pair, 2 GB, that made its peak.)"""
    n_shortages = len(keep)
    counts = np.zeros(n_shortages, np.int64)
    for k in range(len(shortage)):
        counts[shortage[k]] += 1
    places = np.zeros(n_shortages, np.int64)
    for j in range(n_shortages):
        if counts[j] > keep[j]:
            places[j] = max(keep[j], 0)
    start = np.zeros(n_shortages + 1, np.int64)
    for j in range(n_shortages):
        start[j + 1] = start[j] + places[j]
    heap, size = np.empty(start[n_shortages], np.float64), np.zeros(n_shortages, np.int64)
    for k in range(len(shortage)):
        j = shortage[k]
        if places[j] > 0:
            _heap_push(heap, start[j], size, j, places[j], score[k])
    threshold = np.full(n_shortages, -np.inf)
    room = np.zeros(n_shortages, np.int64)
    for j in range(n_shortages):
        if counts[j] > keep[j]:
            threshold[j] = heap[start[j]] if places[j] > 0 else np.inf  # keep 0: none of its pairs
            room[j] = places[j]
    for k in range(len(shortage)):
        j = shortage[k]
        if score[k] > threshold[j]:
            room[j] -= 1  # above the threshold: kept, whatever the room at it
    kept = np.ones(len(shortage), np.bool_)
    for k in range(len(shortage)):
        j = shortage[k]
        if counts[j] <= keep[j] or score[k] > threshold[j]:
            continue
        if score[k] == threshold[j] and room[j] > 0:
            room[j] -= 1
            continue
        kept[k] = False
        if score[k] > dropped[j]:
            dropped[j] = score[k]
    return kept


# Below this many pairs in the blocks (a fraction of a second of work), threads cost more than they save.
_PARALLEL_PAIRS = 5_000_000


def _bound_work(work, side_c, side_s, settings, workers: int, alongside=None, keep=None,
                cut_at_once=False, floor=None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The held pairs of every block, as (candidates, shortages, bounds, dropped) parts in any order
    (with `keep`: each thread's share already cut down to that many pairs per shortage now and then).

    `workers` > 1: that many threads share the blocks out; the compiled block pass lets go of the
    interpreter lock, so they run side by side on as many cores, reading the same arrays, while the
    calling thread does `alongside`."""
    pairs = sum(len(rows) * len(near) for rows, near in work)
    workers = min(max(workers, 1), len(work))
    if workers == 1 or pairs < _PARALLEL_PAIRS:
        workers = 1
    cutoffs = _Cutoffs(len(side_s.lat), workers, keep, len(side_c.lat), cut_at_once, floor)
    if workers == 1:
        return _bound_share(work, side_c, side_s, settings, keep, cutoffs, 0)
    # Every thread takes every workers-th block (neighbouring blocks cost alike).
    with ThreadPoolExecutor(workers, thread_name_prefix="bounds") as pool:
        shares = pool.map(lambda t: _bound_share(work[t::workers], side_c, side_s, settings, keep, cutoffs, t),
                          range(workers))
        if alongside is not None:
            alongside()
        return [part for share in shares for part in share]


class _Cutoffs:
    """Per shortage, the bound a pair must reach to be among its best `keep` (pair_bounds): the
    `keep`-th highest bound of the pairs found so far. A thread that holds too many pairs
    (_bound_share), or any thread of a refill (`at_once`), starts cutting: it keeps a min-heap of
    its pairs' `keep` highest bounds per shortage (first those it holds then, then every pair the
    kernel holds), and its row of `cut` is that heap's least once full: only ever raised, by that
    thread alone. A pair below any row's cut cannot be among the best `keep` (every row is the
    `keep`-th best of some of the pairs), so the kernel drops it as it finds it; at national size
    most pairs within reach never get past it. What it drops, it notes in the thread's row of
    `dropped`: per shortage, the highest bound (or a bound of that bound) of a pair dropped below a
    cut. Without `keep`: no cut (-inf) and no heaps. `floor` (per shortage): the cut to start from."""

    def __init__(self, n_shortages: int, workers: int, keep: np.ndarray | None, n_candidates: int = 0,
                 at_once: bool = False, floor: np.ndarray | None = None):
        self.cut = np.full((workers, n_shortages), -np.inf)
        if floor is not None and keep is not None:
            self.cut[:] = floor
        self.dropped = np.full((workers, n_shortages), -np.inf)
        self.cutting = np.zeros(workers, bool)
        self.at_once = at_once and keep is not None
        # A heap never holds more than a shortage has candidates (a refill's keep grows eightfold a round).
        self.capacity = (np.zeros(n_shortages, np.int64) if keep is None
                         else np.clip(keep, 0, n_candidates).astype(np.int64))
        self.start = run_offsets(self.capacity)

    def no_heap(self) -> tuple[np.ndarray, np.ndarray]:
        """A thread's heaps before it cuts: none."""
        return np.empty(0, np.float64), np.zeros(len(self.capacity), np.int64)

    def start_cutting(self, own: int, shortage: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Thread `own` cuts from now on, its heaps filled with the pairs it holds (`shortage`,
        `score`: at most `keep` of each): its cut is each full heap's least, and rises with it. (In
        ascending order, a shortage's bounds are a min-heap as they stand.) Returns its heaps:
        (values, sizes), the values of shortage j at start[j]:start[j + 1]."""
        values, sizes = np.empty(int(self.start[-1]), np.float64), np.zeros(len(self.capacity), np.int64)
        order = np.lexsort((score, shortage))
        by_shortage = shortage[order]
        rank = np.arange(len(order)) - np.searchsorted(by_shortage, by_shortage, side="left")
        fits = rank < self.capacity[by_shortage]
        values[self.start[by_shortage[fits]] + rank[fits]] = score[order[fits]]
        sizes[:] = np.minimum(np.bincount(shortage, minlength=len(sizes)), self.capacity)
        full = (sizes >= self.capacity) & (self.capacity > 0)
        self.cut[own, full] = np.maximum(self.cut[own, full], values[self.start[:-1][full]])
        self.cutting[own] = True
        return values, sizes


def _bound_share(work, side_c, side_s, settings, keep, cutoffs: _Cutoffs, own: int) -> list:
    """The held pairs of these blocks, as (candidates, shortages, bounds, dropped) parts. With `keep`:
    once this share holds more than _KEEP_BUFFER_PAIRS (then twice what it kept), all but the best
    `keep` of each shortage are dropped, and from then on (`cutoffs.at_once`: from the first block on)
    a pair below a cut (_Cutoffs) is dropped as the block finds it, its bound noted in `dropped`."""
    parts, held, limit = [], 0, _KEEP_BUFFER_PAIRS
    no_drop = np.full(len(side_s.lat), -np.inf)
    dropped = no_drop
    heap = cutoffs.no_heap()
    if cutoffs.at_once:
        heap = cutoffs.start_cutting(own, np.zeros(0, np.int64), np.zeros(0))
    for rows, near in work:
        found = _bound_block(rows, near, side_c, side_s, settings, cutoffs, own, heap)
        if found is None:
            continue
        parts.append(found)
        held += len(found[0])
        if keep is not None and held > limit:
            dropped = no_drop.copy() if dropped is no_drop else dropped
            candidate, shortage, score = (np.concatenate([p[n] for p in parts]) for n in range(3))
            parts = None  # the parts let go before the cut (as at the end of pair_bounds)
            parts = [_keep_best(candidate, shortage, score, keep, dropped)]
            del candidate, shortage, score
            give_back_freed_memory()
            # Only a share that holds too much cuts: a run whose pairs all fit (100k x 20k) drops
            # none, and so never needs a shortage's pairs again (allocate._match_kept).
            if not cutoffs.cutting[own]:
                heap = cutoffs.start_cutting(own, parts[0][1], parts[0][2])
            held = len(parts[0][0])
            limit = max(limit, 2 * held)  # what is kept grows towards keep per shortage: cut again at twice it
    del heap
    if keep is not None:
        dropped = np.maximum(dropped, cutoffs.dropped[own])  # the pairs the blocks dropped below a cut
        if not parts:  # every pair below a cut (a refill's floor): what was dropped still counts
            parts = [(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))]
    return [(*part, dropped) for part in parts]


class _SkillColumns:
    """The skills the run's shortages ask (required and nice-to-have) as matrix columns, and for
    each group the columns a candidate's skill in that group may cover, with the credit."""

    def __init__(self, shortages: Sequence[ShortageIn], index: SkillIndex, settings: MatchSettings):
        asked = {s for sh in shortages for s in sh.required_skills} | {s for sh in shortages for s in sh.nice_skills}
        family_of = {skill: index.family(skill) for skill in asked}
        # The columns of one family side by side (in a shortage's sorted row, its skills of a family
        # come together: _reuse_cut), those that relate by id only (no family) last.
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


class _OccupationGroups:
    """Runs of alike candidates in a block, for the run bound of _block_sums: a block's rows are put
    group by group, the candidates of one occupation side by side, and each run is first bounded as
    one candidate holding the best credits of all its rows (their skills together). Where that fails
    a shortage (or cannot reach its cutoff), so does every row of the run, and the run's sums for it
    are never made.

    Most pairs within reach fail on skills (around a city shortage 88 of 157,000 candidates pass),
    and a block's column sums are made for every pair that is not turned away first: at national size
    they were four fifths of the run. A run is bounded by its own rows in this block only, tighter than
    by all of its occupation's candidates over the country (the eleventh session's table of occupations
    x shortages: a quarter of those pairs passed at 100k). Candidates of an unknown occupation form one
    group."""

    # Fewer groups than this, or fewer candidates per group on average: no groups (one run per block).
    MIN_GROUPS, MIN_MEMBERS = 2, 50
    # Fewer rows per run of a group on average in a block: one run (the run bounds save less than they cost).
    MIN_RUN = 16

    def __init__(self, table: CandidateTable, settings: MatchSettings):
        self.group = None
        if settings.coverage_target <= 0 or settings.level_step_credit > 1.0:
            return  # the first bound is not applied (_block_kernel: first_filter)
        groups = len(np.unique(table.occupation))
        if groups >= self.MIN_GROUPS and len(table) >= self.MIN_MEMBERS * groups:
            self.group = table.occupation

    def arrange(self, block: np.ndarray) -> np.ndarray:
        """The block's candidates group by group (each group's rows side by side: _block_sums)."""
        if self.group is None:
            return block
        return block[np.argsort(self.group[block], kind="stable")]

    def segments(self, rows: np.ndarray) -> np.ndarray | None:
        """Where each group's run of `rows` starts, and the end, as _block_sums reads them; None (no
        run bounds) when there are no groups or the runs are short."""
        if self.group is None:
            return None
        of_rows = self.group[rows]
        starts = np.flatnonzero(np.r_[True, of_rows[1:] != of_rows[:-1]])
        if len(rows) < self.MIN_RUN * len(starts):
            # Runs of a row or two: bounding them costs about as much as their sums (at 100k x 20k,
            # 78 rows a block on average).
            return None
        return np.r_[starts, len(rows)].astype(np.int64)


class _Side:
    """What both sides have, as arrays: place, radius, ISCO level, a day, and whether it changed (the
    candidates' side takes these from its CandidateTable)."""

    def __init__(self, items, days, changed):
        self.lat = np.array([item.lat for item in items], np.float64)
        self.lon = np.array([item.lon for item in items], np.float64)
        self.radius = np.array([item.max_distance_km for item in items], np.float64)
        self.level = np.array([item.skill_level for item in items], np.int64)
        self.day = np.array([day.toordinal() for day in days], np.int64)
        self.changed = np.array(changed, bool) if changed is not None else np.ones(len(items), bool)


class CandidateTable:
    """The candidates of a run as arrays, all the engine reads of them: key, place, radius, ISCO level,
    day, capacity (at least 1), skills (numbered, CSR), certificates, sector wishes and occupation
    (each distinct set numbered). `match` takes one instead of a list of CandidateIn: a national run
    builds it row by row as it reads (CandidateRows), never holding 2.4 million objects with their
    sets (1.2 GB). A run's refills take the rows of the candidates near their shortages (`subset`)."""

    keys: list[str]
    lat: np.ndarray
    lon: np.ndarray
    radius: np.ndarray
    level: np.ndarray
    day: np.ndarray  # date ordinals
    capacity: np.ndarray
    skill_names: list[str]  # sorted: held_skill numbers them
    skill_start: np.ndarray
    held_skill: np.ndarray
    cert_sets: list[frozenset]  # the distinct sets, cert_set numbers them per candidate
    cert_set: np.ndarray
    wish_sets: list[frozenset]
    wish_set: np.ndarray
    occupations: list[str]  # the distinct ones, `occupation` numbers them per candidate
    occupation: np.ndarray

    def __init__(self, candidates: Iterable[CandidateIn]):
        rows = CandidateRows()
        for c in candidates:
            rows.add(c.key, c.lat, c.lon, c.max_distance_km, c.skills, c.certificates, c.desired_sectors,
                     c.available_from, c.capacity, c.skill_level, c.occupation)
        vars(self).update(vars(rows.table()))

    def __len__(self) -> int:
        return len(self.keys)

    def candidates(self) -> list[CandidateIn]:
        """The candidates as CandidateIn again (for what needs objects: the benchmark's baselines)."""
        names = self.skill_names
        return [CandidateIn(key, lat, lon, radius, frozenset(names[k] for k in self.held_skill[start:end].tolist()),
                            self.cert_sets[cert], self.wish_sets[wish], date.fromordinal(day), capacity, level,
                            self.occupations[occupation])
                for key, lat, lon, radius, start, end, cert, wish, day, capacity, level, occupation in zip(
                    self.keys, self.lat.tolist(), self.lon.tolist(), self.radius.tolist(),
                    self.skill_start[:-1].tolist(), self.skill_start[1:].tolist(), self.cert_set.tolist(),
                    self.wish_set.tolist(), self.day.tolist(), self.capacity.tolist(), self.level.tolist(),
                    self.occupation.tolist())]

    def subset(self, positions: np.ndarray) -> "CandidateTable":
        """The table of the candidates at `positions` (in that order)."""
        part = object.__new__(CandidateTable)
        part.keys = [self.keys[n] for n in positions.tolist()]
        for name in ("lat", "lon", "radius", "level", "day", "capacity", "cert_set", "wish_set", "occupation"):
            setattr(part, name, getattr(self, name)[positions])
        counts = np.diff(self.skill_start)[positions]
        part.skill_start = run_offsets(counts)
        part.held_skill = self.held_skill[concatenated_ranges(self.skill_start[positions], counts)]
        part.skill_names, part.cert_sets, part.wish_sets = self.skill_names, self.cert_sets, self.wish_sets
        part.occupations = self.occupations
        return part


class CandidateRows:
    """A CandidateTable made a candidate at a time, in compact buffers (the standard library's
    arrays): a run's read adds each row as it comes instead of making a CandidateIn of it. Skill sets,
    certificate sets, sector wishes and occupations are numbered once per distinct value: a reader
    that passes the same object for the same list (services.matching keeps one per distinct text)
    has each looked up in a dict, not numbered again."""

    def __init__(self):
        self.keys: list[str] = []
        self._lat, self._lon, self._radius = array("d"), array("d"), array("d")
        self._level, self._day, self._capacity, self._skill_count = array("q"), array("q"), array("q"), array("q")
        self._held_skill, self._cert_set, self._wish_set, self._occupation = (array("i"), array("i"), array("i"),
                                                                               array("i"))
        self._skill_number: dict[str, int] = {}  # in order of appearance; sorted by name in table()
        self._skill_sets: dict = {}  # a skill set -> its numbers
        self._cert_sets: dict = {}
        self._wish_sets: dict = {}
        self._occupations: dict = {}

    def add(self, key: str, lat: float, lon: float, max_distance_km: float, skills: Iterable[str],
            certificates: frozenset[str], desired_sectors: frozenset[str], available_from: date, capacity: int = 1,
            skill_level: int = 0, occupation: str = "") -> None:
        """One candidate, in CandidateIn's fields and order. `skills` must be hashable (a frozenset or
        a tuple of ids)."""
        numbers = self._skill_sets.get(skills)
        if numbers is None:
            number = self._skill_number
            numbers = self._skill_sets[skills] = array("i", [number.setdefault(k, len(number)) for k in skills])
        self.keys.append(key)
        self._lat.append(lat)
        self._lon.append(lon)
        self._radius.append(max_distance_km)
        self._level.append(skill_level)
        self._day.append(available_from.toordinal())
        self._capacity.append(max(capacity, 1))
        self._skill_count.append(len(numbers))
        self._held_skill.extend(numbers)
        self._cert_set.append(self._cert_sets.setdefault(certificates, len(self._cert_sets)))
        self._wish_set.append(self._wish_sets.setdefault(desired_sectors, len(self._wish_sets)))
        self._occupation.append(self._occupations.setdefault(occupation, len(self._occupations)))

    def table(self) -> CandidateTable:
        """The candidates added, as a table (the buffers are let go of)."""
        table = object.__new__(CandidateTable)
        table.keys = self.keys
        # Copied out of the buffers (frombuffer alone would keep them, growth room and all).
        table.lat, table.lon, table.radius = (np.frombuffer(column, np.float64).copy()
                                              for column in (self._lat, self._lon, self._radius))
        table.level, table.day, table.capacity = (np.frombuffer(column, np.int64).copy()
                                                  for column in (self._level, self._day, self._capacity))
        table.cert_set, table.wish_set, table.occupation = (np.frombuffer(column, np.int32).copy()
                                                            for column in (self._cert_set, self._wish_set,
                                                                           self._occupation))
        table.skill_start = run_offsets(np.frombuffer(self._skill_count, np.int64))
        # The skills numbered by name (as ExactTables numbers them too), not in order of appearance.
        names = list(self._skill_number)
        by_name = sorted(range(len(names)), key=names.__getitem__)
        renumber = np.empty(len(names), np.int32)
        renumber[by_name] = np.arange(len(names), dtype=np.int32)
        table.skill_names = [names[n] for n in by_name]
        table.held_skill = renumber[np.frombuffer(self._held_skill, np.int32)]
        table.cert_sets, table.wish_sets = list(self._cert_sets), list(self._wish_sets)
        table.occupations = list(self._occupations)
        self.__init__()
        return table


class _CandidateArrays:
    """The candidates' side of a run's blocks (_Side, from a CandidateTable), with their skills as
    the run's shortages' columns."""

    def __init__(self, table: CandidateTable, skills: _SkillColumns, index: SkillIndex, settings: MatchSettings,
                 changes):
        n = len(table)
        self.table = table
        self.lat, self.lon, self.radius = table.lat, table.lon, table.radius
        self.level, self.day = table.level, table.day
        self.changed = (np.fromiter((key in changes.candidates for key in table.keys), bool, n)
                        if changes is not None else np.ones(n, bool))
        # Per distinct skill: its column where the shortages ask it by id (-1: not asked), the groups it
        # is held in with its commonness, and its family. A block works out each of its candidates'
        # groups from its skills as it comes (_block_sums): made for all candidates at once, those
        # arrays held some 65 million (candidate, group) entries at national size, 1.1-1.2 GB in the
        # first pass and again in each refill (twenty-seventh session).
        distinct = table.skill_names
        self.skill_start, self.held_skill = table.skill_start, table.held_skill
        self.skill_column = np.array([skills.column.get(skill, -1) for skill in distinct] or [-1], np.int32)
        holds = [[(skills.group[key], index.commonness(skill, settings)) for key in index.holds(skill)
                  if key in skills.group] for skill in distinct]
        self.hold_start = run_offsets([len(h) for h in holds])
        self.hold_group = np.array([g for h in holds for g, _ in h], np.int32)
        self.hold_common = np.array([a for h in holds for _, a in h], np.float64)
        self.n_groups = max(len(skills.group), 1)
        families = max(len(skills.family_number), 1)
        self.skill_family = np.array([skills.family_number.get(index.family(skill), -1) for skill in distinct] or [-1],
                                     np.int32)
        self.families = families
        self.skills = skills
        self.min_related = settings.min_related_credit

    def places(self, rows: np.ndarray) -> np.ndarray:
        """How many skills each candidate in `rows` holds per family (rows x families)."""
        table = np.zeros((len(rows), self.families), np.int64)
        starts = self.skill_start[rows]
        counts = self.skill_start[rows + 1] - starts
        family = self.skill_family[self.held_skill[concatenated_ranges(starts, counts)]]
        row = np.repeat(np.arange(len(rows)), counts)
        in_family = family >= 0
        np.add.at(table, (row[in_family], family[in_family]), 1)
        return table

    def masks_from(self, side_s: "_ShortageArrays") -> None:
        """Certificates and sector wishes as bit masks, in the bit numbering of the shortages."""
        table = self.table
        # A mask per distinct set, then per candidate (a few hundred sets for millions of candidates).
        if side_s.cert_bit is not None:
            masks = np.array([_bits(certs, side_s.cert_bit) for certs in table.cert_sets] or [0], np.uint64)
            self.certs = masks[table.cert_set]
        if side_s.sector_bit is not None:
            masks = np.array([_bits(wish, side_s.sector_bit) for wish in table.wish_sets] or [0], np.uint64)
            self.sectors = masks[table.wish_set]
            # A wish for sectors none of the shortages is in: no shortage fits (a bit that none has).
            self.no_wish = np.array([not wish for wish in table.wish_sets] or [True], bool)[table.wish_set]

    def blocks(self):
        """Candidate positions per cell and class of radius: a block shares one box of shortages."""
        keys = np.stack([np.floor(self.lat / _CELL_DEG), np.floor(self.lon / _CELL_DEG),
                         np.ceil(self.radius / _RADIUS_CLASS_KM)])
        order = np.lexsort(keys[::-1])
        sorted_keys = keys[:, order]
        breaks = np.flatnonzero(np.any(sorted_keys[:, 1:] != sorted_keys[:, :-1], axis=0)) + 1
        return np.split(order, breaks)


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
        # Per row of `weights`, how many of its columns each family has (families numbered, -1 left
        # out): where no family has more than the candidate holds skills of it, the reuse limit
        # cannot bind and the plain bound is the reuse-capped one (_block_kernel skips the latter).
        row = np.repeat(np.arange(3 * n), np.diff(self.weights.indptr))
        family = skills.family[self.weights.indices] if skills.width else np.zeros(0, np.int64)
        keep = family >= 0
        run_key, first, run_count = np.unique(row[keep] * (len(skills.family_number) + 1) + family[keep],
                                              return_index=True, return_counts=True)
        # A run of one column never binds (a candidate holding a skill of its family has a place for
        # it): two thirds of the runs at 100k x 20k, each a lookup per pair that _reuse_cut skips.
        binds = run_count > 1
        run_key, self.run_count = run_key[binds], run_count[binds]
        self.run_start = np.flatnonzero(keep)[first[binds]]  # where each run starts in weights.indices
        self.max_run = int(self.run_count.max(initial=0))
        self.run_family = run_key % (len(skills.family_number) + 1)
        self.run_ptr = np.searchsorted(run_key // (len(skills.family_number) + 1), np.arange(3 * n + 1), side="left")
        self.cert_bit = _bit_numbering(c for s in shortages for c in s.certificates)
        self.sector_bit = _bit_numbering(s.sector for s in shortages)
        if self.cert_bit is not None:
            self.certs = np.array([_bits(s.certificates, self.cert_bit) for s in shortages], np.uint64)
        if self.sector_bit is not None:
            self.sector = np.array([_bits((s.sector,), self.sector_bit) for s in shortages], np.uint64)
        self.by_lat = np.argsort(self.lat, kind="stable")
        self.sorted_lat = self.lat[self.by_lat]

    def within_box(self, lat_lo, lat_hi, lon_lo, lon_hi, radius_km) -> np.ndarray:
        """Positions of the shortages that could reach into the given box (and some beyond): those in
        the box `radius_km` around it, and also within their own radius of it. A shortage travels no
        further than its own radius either: at 100k x 20k this leaves out a third of the shortages
        of a block's box (a fifth of its pairs), which every pair test and every column sum skipped."""
        dlat = radius_km / _KM_PER_DEG_LAT + 1e-6
        lo, hi = lat_lo - dlat, lat_hi + dlat
        first = np.searchsorted(self.sorted_lat, lo, side="left")
        last = np.searchsorted(self.sorted_lat, hi, side="right")
        found = self.by_lat[first:last]
        widest = math.cos(math.radians(min(max(abs(lo), abs(hi)), 89.9)))
        dlon = radius_km / (_KM_PER_DEG_LAT * widest) + 1e-6
        if dlon >= 180:
            return np.sort(found)
        lon = self.lon[found]
        found = found[(lon >= lon_lo - dlon) & (lon <= lon_hi + dlon)]
        lat, lon = self.lat[found], self.lon[found]
        # The same box, per shortage with the smaller of the two radii (the latitude bound is exact;
        # the longitude one is the box's own, at its widest, with the same slack).
        reach = np.minimum(self.radius[found], radius_km)
        reach_lat = reach / _KM_PER_DEG_LAT + 1e-6
        reach_lon = reach / (_KM_PER_DEG_LAT * widest) + 1e-6
        keep = ((lat >= lat_lo - reach_lat) & (lat <= lat_hi + reach_lat)
                & (lon >= lon_lo - reach_lon) & (lon <= lon_hi + reach_lon))
        return np.sort(found[keep])


def _bound_block(rows, cols, side_c: _CandidateArrays, side_s: _ShortageArrays, settings: MatchSettings,
                 cutoffs: _Cutoffs | None = None, own: int = 0, heap: tuple | None = None):
    """(candidate positions, shortage positions, score bounds) of the pairs in rows x cols that could pass."""
    stages = 0
    if settings.coverage_target > 0:
        stages = 2 if _reuse_limit_applies(settings) else 1
    places = side_c.places(rows) if stages == 2 else np.zeros((len(rows), 1), np.int64)
    no_mask = np.zeros(0, np.uint64)
    skills, weights = side_c.skills, side_s.weights
    seg_ptr = side_c.groups.segments(rows)
    group_test = seg_ptr is not None
    if not group_test:
        seg_ptr = np.array([0, len(rows)], np.int64)  # one run: every row's sums
    found_row, found_col, score = _block_kernel(
        rows, cols, seg_ptr, group_test,
        side_c.lat, side_c.lon, side_c.radius, side_c.day, side_c.level, side_c.changed,
        side_c.certs if side_s.cert_bit is not None else no_mask,
        side_c.sectors if side_s.sector_bit is not None else no_mask,
        side_c.no_wish if side_s.sector_bit is not None else np.zeros(0, bool),
        side_c.skill_start, side_c.held_skill, side_c.skill_column, side_c.hold_start, side_c.hold_group,
        side_c.hold_common, side_c.n_groups, skills.group_start, skills.link_column, skills.link_credit,
        skills.link_commonness, settings.min_related_credit,
        side_s.lat, side_s.lon, side_s.radius, side_s.day, side_s.level, side_s.changed,
        side_s.certs if side_s.cert_bit is not None else no_mask,
        side_s.sector if side_s.sector_bit is not None else no_mask,
        side_s.threshold, side_s.asks_nothing, side_s.competence_part, side_s.entry,
        side_s.cert_bit is not None, side_s.sector_bit is not None,
        places, weights.indptr, weights.indices, weights.data, len(side_s.lat), skills.width,
        side_s.run_ptr, side_s.run_family, side_s.run_count, side_s.run_start, side_s.max_run,
        int(settings.availability_grace_days), float(settings.coverage_target), float(settings.level_step_credit),
        stages, int(max(settings.max_related_uses, 0)), float(settings.reuse_decay),
        float(settings.level_score_factor), int(settings.free_level_steps),
        float(settings.weight_coverage), float(settings.weight_nice), float(settings.weight_distance),
        float(settings.weight_reach), float(settings.weight_availability),
        *_cut_arrays(cutoffs, own, heap, len(side_s.lat)),
    )
    if len(found_row) == 0:
        return None
    return rows[found_row].astype(np.int32), cols[found_col].astype(np.int32), score


def _cut_arrays(cutoffs: _Cutoffs | None, own: int, heap: tuple | None, n_shortages: int) -> tuple:
    """The kernel's cut arguments: (every thread's cuts, this thread's row, its heap values, sizes,
    starts, capacities, its row of dropped bounds)."""
    if cutoffs is None:
        cutoffs = _Cutoffs(n_shortages, 1, None)
    if heap is None:
        heap = cutoffs.no_heap()
    return (cutoffs.cut, own, heap[0], heap[1], cutoffs.start, cutoffs.capacity, cutoffs.dropped[own],
            bool(cutoffs.cutting[own]))


@compiled
def _live_runs(cols, seg_ptr, lat, radius, day, certs, sectors, any_sector, changed, s_lat, s_radius, s_day,
               block_certs, block_sector, s_changed, grace_days):
    """Per block column, the runs of rows (seg_ptr) of which some row could pass the kernel's first
    tests for its shortage, as CSR over the columns (live_ptr, live): a run is tested as one candidate
    with what its rows have together: the span of their latitudes, the widest radius, the soonest
    day, every certificate and sector wish any of them has, and whether any changed. A run that fails
    is one whose every row the kernel would turn away on latitude, availability, certificates, the
    sector wish or a changed side: no column sums are made for it (_block_sums) and its rows are not
    looked at. At national size a third of a block's box pairs fail on certificates or the wish.
    `block_certs`, `block_sector`: the shortages' masks per block column (0: none asked)."""
    n_cols, n_seg = len(cols), len(seg_ptr) - 1
    lo, hi, far = np.empty(n_seg), np.empty(n_seg), np.empty(n_seg)
    soonest = np.empty(n_seg, np.int64)
    held, wished = np.zeros(n_seg, np.uint64), np.zeros(n_seg, np.uint64)
    open_to_all, any_changed = np.zeros(n_seg, np.bool_), np.zeros(n_seg, np.bool_)
    for g in range(n_seg):
        start = seg_ptr[g]
        lo[g], hi[g], far[g], soonest[g] = lat[start], lat[start], radius[start], day[start]
        for a in range(start, seg_ptr[g + 1]):
            lo[g], hi[g] = min(lo[g], lat[a]), max(hi[g], lat[a])
            far[g], soonest[g] = max(far[g], radius[a]), min(soonest[g], day[a])
            held[g] |= certs[a]
            wished[g] |= sectors[a]
            open_to_all[g] |= any_sector[a]
            any_changed[g] |= changed[a]
    live_ptr = np.zeros(n_cols + 1, np.int64)
    live = np.empty(n_cols * n_seg, np.int64)
    n = 0
    for b in range(n_cols):
        j = cols[b]
        asked_certs, sector = block_certs[b], block_sector[b]
        for g in range(n_seg):
            # As the kernel's tests, with each row's value replaced by the one that passes most easily.
            gap = max(lo[g] - s_lat[j], s_lat[j] - hi[g], 0.0) * _KM_PER_DEG_LAT
            if gap > min(far[g], s_radius[j]) + _DISTANCE_SLACK_KM:
                continue
            if soonest[g] - s_day[j] > grace_days:
                continue
            if (asked_certs & ~held[g]) != 0:
                continue
            if not (open_to_all[g] or (wished[g] & sector) != 0):
                continue
            if not (any_changed[g] or s_changed[j]):
                continue
            live[n] = g
            n += 1
        live_ptr[b + 1] = n
    return live_ptr, live[:n]


@compiled
def _block_sums(rows, cols, skill_start, held_skill, skill_column, hold_start, hold_group, hold_common, n_groups,
                group_start, link_column, link_credit, link_commonness, min_related, w_ptr, w_idx, w_val, n_shortages,
                width, seg_ptr, live_ptr, live_in, group_test, s_threshold, s_asks_nothing, s_entry, coverage_target,
                group_cut, cut, dropped, w_coverage, w_nice, w_distance, w_reach, w_availability):
    """For the block: (local column of each asked column, -1 where the block's shortages do not ask
    it; the best credit of each block candidate for each local column alone, local columns x block
    rows (the pairs read a few columns each, scattered either way: no transposed copy); per block
    shortage and candidate, the weighted sum of those credits over the required skills, competences
    and knowledge together; the same over the nice-to-have skills, for the block columns marked in
    the last value: those with a cut when the block starts, where `group_cut`).

    A best credit is 1.0 by the same id, else the best group credit times the generic factor (if at
    least min_related), in float32: a related credit never reaches 1.0 (MAX_RELATED_CREDIT), so 1.0
    says "held". The sums are made column by column over all candidates at once (vectorised): the
    first skills bound of every pair of the block.

    `group_test`: the rows come in runs of alike candidates (seg_ptr, _OccupationGroups), and a run
    is first bounded as one candidate with the best credits of all its rows (each column's highest
    among them): no row's sum exceeds the run's. Where the run's sum fails the first bound, or
    (`group_cut`) the highest score it allows is below the shortage's cut (`cut`, per block column),
    the run keeps sums of 0 for that shortage and is left out of the runs returned, and its pairs are
    noted in `dropped` (as the kernel would: each row's bound is at most the run's). A run's sum
    costs one row's; most runs fail most shortages.

    Only the runs `live_ptr`/`live_in` give per block column (_live_runs) are looked at; those of them
    that stay live are returned the same way (the last two values), for the kernel."""
    n_rows, n_cols = len(rows), len(cols)
    n_seg = len(seg_ptr) - 1
    live = np.empty(n_seg, np.int64)
    kept_ptr = np.zeros(n_cols + 1, np.int64)
    kept = np.empty(len(live_in), np.int64)
    local = np.full(width, -1, np.int64)
    n_used = 0
    for b in range(n_cols):
        for part in range(3):
            row = part * n_shortages + cols[b]
            for p in range(w_ptr[row], w_ptr[row + 1]):
                if local[w_idx[p]] < 0:
                    local[w_idx[p]] = n_used
                    n_used += 1
    best = np.zeros((n_used, n_rows), np.float32)
    # Per row, the groups its skills are held in, each with the least commonness of those skills (the
    # generic factor favours it: min(1, commonness(required) / commonness(by))): a slot per group,
    # reset after each row.
    group_slot = np.full(n_groups, -1, np.int64)
    row_group = np.empty(n_groups, np.int64)
    row_common = np.empty(n_groups, np.float64)
    for a in range(n_rows):
        i = rows[a]
        n_held = 0
        for e in range(skill_start[i], skill_start[i + 1]):
            skill = held_skill[e]
            for h in range(hold_start[skill], hold_start[skill + 1]):
                g, common = hold_group[h], hold_common[h]
                at = group_slot[g]
                if at < 0:
                    group_slot[g] = n_held
                    row_group[n_held], row_common[n_held] = g, common
                    n_held += 1
                elif common < row_common[at]:
                    row_common[at] = common
        for k in range(n_held):
            g, common = row_group[k], row_common[k]
            group_slot[g] = -1
            for link in range(group_start[g], group_start[g + 1]):
                column = local[link_column[link]]
                if column < 0:
                    continue
                credit = link_credit[link] * min(1.0, link_commonness[link] / common)
                if credit >= min_related and np.float32(credit) > best[column, a]:
                    best[column, a] = np.float32(credit)
        for e in range(skill_start[i], skill_start[i + 1]):
            column = skill_column[held_skill[e]]
            if column >= 0 and local[column] >= 0:
                best[local[column], a] = 1.0
    # Each run's best credit per column: the highest of its rows'.
    run_best = np.zeros((n_used if group_test else 0, n_seg), np.float32)
    if group_test:
        for column in range(n_used):
            credits = best[column]
            for g in range(n_seg):
                top = np.float32(0.0)
                for a in range(seg_ptr[g], seg_ptr[g + 1]):
                    if credits[a] > top:
                        top = credits[a]
                run_best[column, g] = top
    # Four columns at a time: each pass over a row of sums reads and writes it once for four terms.
    sums = np.zeros((n_cols, n_rows), np.float32)
    nice_sums = np.zeros((n_cols if group_cut else 0, n_rows), np.float32)
    with_nice = np.zeros(n_cols, np.bool_)
    for b in range(n_cols):
        out = sums[b]
        j = cols[b]
        n_live = 0
        for k in range(live_ptr[b], live_ptr[b + 1]):
            g = live_in[k]
            if group_test and not s_asks_nothing[j]:
                # As the kernel's first bound and early cut, with one _SLACK more: the run's sum is made
                # in float64, a row's in float32 in another order, a few float32 ulps apart.
                required = 0.0
                for p in range(w_ptr[j], w_ptr[j + 1]):
                    required += np.float64(w_val[p]) * run_best[local[w_idx[p]], g]
                for p in range(w_ptr[n_shortages + j], w_ptr[n_shortages + j + 1]):
                    required += np.float64(w_val[p]) * run_best[local[w_idx[p]], g]
                if required + 3 * _SLACK < coverage_target * (s_threshold[j] - _SLACK):
                    continue
                if group_cut and cut[b] > -np.inf:
                    nice = 0.0
                    for p in range(w_ptr[2 * n_shortages + j], w_ptr[2 * n_shortages + j + 1]):
                        nice += np.float64(w_val[p]) * run_best[local[w_idx[p]], g]
                    # Distance, reach and availability at their best (the weights are not negative here).
                    highest = _score_bound(min(1.0, required + 3 * _SLACK), min(1.0, nice + 3 * _SLACK), 1.0, 1.0, 1.0,
                                           s_entry[j], w_coverage, w_nice, w_distance, w_reach, w_availability)
                    if highest < cut[b]:
                        dropped[j] = max(dropped[j], highest)  # the run's pairs are dropped
                        continue
            live[n_live] = g
            n_live += 1
        kept[kept_ptr[b]:kept_ptr[b] + n_live] = live[:n_live]
        kept_ptr[b + 1] = kept_ptr[b] + n_live
        if n_live == 0:
            continue
        # Required skills (competences, knowledge) into `sums`; where the shortage has a cut, its
        # nice-to-have skills into `nice_sums` too, for the kernel's early cut.
        with_nice[b] = group_cut and cut[b] > -np.inf
        for part in range(3 if with_nice[b] else 2):
            row = part * n_shortages + cols[b]
            out = sums[b] if part < 2 else nice_sums[b]
            p, end = w_ptr[row], w_ptr[row + 1]
            while p + 4 <= end:
                x1, x2 = best[local[w_idx[p]]], best[local[w_idx[p + 1]]]
                x3, x4 = best[local[w_idx[p + 2]]], best[local[w_idx[p + 3]]]
                v1, v2, v3, v4 = w_val[p], w_val[p + 1], w_val[p + 2], w_val[p + 3]
                for k in range(n_live):
                    _add_four(out, x1, x2, x3, x4, v1, v2, v3, v4, seg_ptr[live[k]], seg_ptr[live[k] + 1])
                p += 4
            while p < end:
                x1, v1 = best[local[w_idx[p]]], w_val[p]
                for k in range(n_live):
                    _add_one(out, x1, v1, seg_ptr[live[k]], seg_ptr[live[k] + 1])
                p += 1
    return local, best, sums, nice_sums, with_nice, kept_ptr, kept


@compiled
def _add_four(out, x1, x2, x3, x4, v1, v2, v3, v4, start, stop):
    """out[start:stop] += v1 x1 + v2 x2 + v3 x3 + v4 x4 over those rows (in this order of operations).

    A function of its own, over slices read from 0, so that LLVM vectorises the loop (AVX-512 here):
    written inline in _block_sums, over `range(start, stop)`, it stayed scalar. The same floats either
    way; the Amsterdam sample's blocks took about 7% less time (bench/README.md, sixteenth session)."""
    o, y1, y2, y3, y4 = out[start:stop], x1[start:stop], x2[start:stop], x3[start:stop], x4[start:stop]
    for a in range(stop - start):
        o[a] += (v1 * y1[a] + v2 * y2[a]) + (v3 * y3[a] + v4 * y4[a])


@compiled
def _add_one(out, x1, v1, start, stop):
    """out[start:stop] += v1 x1 over those rows (vectorised, as _add_four)."""
    o, y1 = out[start:stop], x1[start:stop]
    for a in range(stop - start):
        o[a] += v1 * y1[a]


@compiled
def _score_bound(share, nice, reach, nearness, readiness, entry, w_coverage, w_nice, w_distance, w_reach,
                 w_availability):
    """The score (rules._score's sum) from bounds of its parts, clipped to [0, 1], plus _SLACK: the one
    formula of the kernel's early cut, its final bound and _block_sums' run cut."""
    score = (w_coverage * share * reach + w_nice * nice * reach + w_distance * nearness
             + w_reach * reach * entry + w_availability * readiness)
    return min(1.0, max(0.0, score)) + _SLACK


@compiled
def _split_sums(a, row, w_ptr, w_idx, w_val, local, best):
    """Of `row` of the asked weights, for block candidate a: the weighted sum of the columns it holds
    by id, and of its best related credits for the others."""
    by_id = by_related = 0.0
    for p in range(w_ptr[row], w_ptr[row + 1]):
        credit = best[local[w_idx[p]], a]
        if credit >= 1.0:
            by_id += w_val[p]
        else:
            by_related += np.float64(w_val[p]) * credit
    return by_id, by_related


@compiled
def _share_of(competence, knowledge, part, asks_nothing, coverage_target):
    """The bound of the weighted share covered, from bounds of the competences and the knowledge
    covered (shares of the total weight; `part`: the competences' share of it), as rules._score
    has it: knowledge counts as far as the competences are covered."""
    if asks_nothing:
        return 1.0
    gate = 1.0
    if coverage_target > 0:
        competence_share = (competence + _SLACK) / part if part > 0 else 1.0
        gate = min(1.0, competence_share / coverage_target)
    return min(competence + knowledge * gate + _SLACK, 1.0)


@compiled
def _reuse_cut(a, row, run_ptr, run_family, run_count, run_start, w_idx, w_val, local, best, related_factor,
               places, max_uses, decay_powers, scratch):
    """How much the reuse limit takes off the related credits of `row` of the asked weights for block
    candidate `a` (each credit times related_factor). One covering skill covers at most `max_uses`
    required skills, the u-th at decay**u of its credit (decay_powers[u]). A candidate with m skills
    in a family thus has m places at full credit there, m at decay, and so on; every related credit
    comes from within its family. So the family's best credits, highest first, are counted against
    those places, highest first: no way of sharing out the skills (the greedy of rules.assign
    either) counts more. A family binds only where the row asks more of its columns than the
    candidate holds skills of it (its run: the columns of a family are side by side,
    _SkillColumns); elsewhere every credit counts in full and nothing is read."""
    cut = 0.0
    for k in range(run_ptr[row], run_ptr[row + 1]):
        room = places[a, run_family[k]]
        if room <= 0 or run_count[k] <= room:
            continue
        size = 0
        full = 0.0
        for q in range(run_start[k], run_start[k] + run_count[k]):
            credit = best[local[w_idx[q]], a]
            value = np.float64(w_val[q]) * credit if credit < 1.0 else 0.0
            if value > 0:
                scratch[size] = value * related_factor
                full += scratch[size]
                size += 1
        if size <= room:
            continue
        # Highest first (insertion sort: a run is a handful of credits), the rank-th at decay**(rank // room).
        for k2 in range(1, size):
            value = scratch[k2]
            m = k2 - 1
            while m >= 0 and scratch[m] < value:
                scratch[m + 1] = scratch[m]
                m -= 1
            scratch[m + 1] = value
        counted = 0.0
        for rank in range(min(size, room * max_uses)):
            counted += scratch[rank] * decay_powers[rank // room]
        cut += full - counted
    return cut


@compiled
def _block_kernel(rows, cols, seg_ptr, group_test,
                  c_lat, c_lon, c_radius, c_day, c_level, c_changed, c_certs, c_sectors, c_no_wish,
                  skill_start, held_skill, skill_column, hold_start, hold_group, hold_common, n_groups,
                  group_start, link_column, link_credit, link_commonness, min_related,
                  s_lat, s_lon, s_radius, s_day, s_level, s_changed, s_certs, s_sector, s_threshold, s_asks_nothing,
                  s_part, s_entry, use_certs, use_sectors, places, w_ptr, w_idx, w_val, n_shortages, width,
                  run_ptr, run_family, run_count, run_start, max_run, grace_days, coverage_target, level_step_credit,
                  stages, max_uses, decay, level_score_factor, free_level_steps, w_coverage, w_nice, w_distance,
                  w_reach, w_availability, cuts, own, heap_value, heap_size, heap_start, heap_capacity,
                  dropped, cutting):
    """The pairs of rows x cols that could pass, in one pass over the block: (block rows, block
    columns, score bounds). Only the rows of the runs that could pass are looked at (_live_runs, then
    the run bounds of _block_sums). Per pair, cheapest first: the north-south distance (a great circle is
    never shorter than its difference in latitude), availability, certificates, sector wish; every
    required skill at its best credit alone (knowledge ungated, no level-step factor); the distance
    itself; the same with the level-step factor and the knowledge gate; then with the reuse limit
    (stages 2). The score bound: that coverage and the same bound on nice-to-have skills, with
    distance, reach, entry level and availability exact, plus _SLACK for float rounding.

    The cut (_Cutoffs): a pair below the highest of the threads' cuts (`cuts`) of its shortage is
    dropped; once the thread is `cutting`, each pair held goes into its heap of its shortage, and once
    that is full, its least is this thread's cut (row `own` of `cuts`). A pair dropped
    below a cut raises `dropped` of its shortage to its bound, or to the bound of its bound that
    dropped it (the early cut, the run cut)."""
    n_rows, n_cols = len(rows), len(cols)
    # Per block column, the highest cut of any thread now; raised below as this thread's heaps fill.
    cut = np.empty(n_cols, np.float64)
    for b in range(n_cols):
        j = cols[b]
        highest = cuts[0, j]
        for t in range(1, cuts.shape[0]):
            highest = max(highest, cuts[t, j])
        cut[b] = highest
    first_filter = coverage_target > 0 and level_step_credit <= 1.0
    # The sums bound the share only where no credit can rise (level steps) and no weight is negative.
    early_cut = first_filter and min(w_coverage, w_nice, w_distance, w_reach, w_availability) >= 0
    run_test = group_test and first_filter
    run_cut = early_cut and level_score_factor <= 1.0
    # The block's candidates side by side (the inner loop reads them in order, not all over memory).
    lat, radius, day = c_lat[rows], c_radius[rows], c_day[rows]
    certs = c_certs[rows] if use_certs else np.zeros(n_rows, np.uint64)
    sectors = c_sectors[rows] if use_sectors else np.zeros(n_rows, np.uint64)
    any_sector = c_no_wish[rows] if use_sectors else np.ones(n_rows, np.bool_)
    changed = c_changed[rows]
    lon = c_lon[rows]
    no_certs = np.zeros(n_cols, np.uint64)
    block_certs = no_certs
    block_sector = no_certs
    if use_certs:
        block_certs = s_certs[cols]
    if use_sectors:
        block_sector = s_sector[cols]
    live_ptr, live_in = _live_runs(cols, seg_ptr, lat, radius, day, certs, sectors, any_sector, changed, s_lat,
                                   s_radius, s_day, block_certs, block_sector, s_changed, grace_days)
    local, best, sums, nice_sums, with_nice, live_ptr, live_in = _block_sums(
        rows, cols, skill_start, held_skill, skill_column, hold_start, hold_group, hold_common, n_groups, group_start,
        link_column, link_credit, link_commonness, min_related, w_ptr, w_idx, w_val, n_shortages, width, seg_ptr,
        live_ptr, live_in, run_test, s_threshold, s_asks_nothing, s_entry, coverage_target, run_cut, cut,
        dropped, w_coverage, w_nice, w_distance, w_reach, w_availability)
    out_row = np.empty(n_rows * n_cols, np.int64)
    out_col = np.empty(n_rows * n_cols, np.int64)
    out_score = np.empty(n_rows * n_cols, np.float64)
    scratch = np.empty(max_run + 1, np.float64)
    decay_powers = decay ** np.arange(max(max_uses, 1)).astype(np.float64)
    found = 0
    grace = max(grace_days, 1)
    # For the haversine: each row's cosine of its latitude once (the same float as per pair).
    row_cos = np.empty(n_rows, np.float64)
    for a in range(n_rows):
        row_cos[a] = math.cos(math.radians(lat[a]))
    farthest_lat = np.abs(lat).max() if n_rows else 0.0
    # Powers by the number of ISCO levels up (0-4 where both are known; more where levels are odd).
    reach_power = np.empty(8, np.float64)
    related_power = np.empty(8, np.float64)
    for n in range(8):
        reach_power[n] = level_score_factor ** n
        related_power[n] = level_step_credit ** n
    for b in range(n_cols):
        if live_ptr[b] == live_ptr[b + 1]:
            continue  # no run of rows could pass (_live_runs, _block_sums)
        j = cols[b]
        s_lat_j, s_radius_j, s_day_j, s_changed_j = s_lat[j], s_radius[j], s_day[j], s_changed[j]
        s_lon_j, s_cos_j = s_lon[j], math.cos(math.radians(s_lat[j]))
        # An east-west lower bound of the distance: a great circle between latitudes no further from the
        # equator than `farthest` is at least R cos(farthest) |dlon| (1 - dlon^2 / 24) long (asin x >= x,
        # sin x >= x - x^3 / 6), for |dlon| < 1 radian; a hair less, for the rounding of either side.
        east_west = EARTH_RADIUS_KM * math.cos(math.radians(min(max(farthest_lat, abs(s_lat_j)), 90.0))) * (1 - 1e-9)
        s_certs_j = s_certs[j] if use_certs else np.uint64(0)
        s_sector_j = s_sector[j] if use_sectors else np.uint64(0)
        asks_nothing = s_asks_nothing[j]
        threshold = s_threshold[j]
        # Skills: every required skill at its best credit alone, the first bound.
        needed = coverage_target * (threshold - _SLACK) if first_filter and not asks_nothing else -np.inf
        row_sums = sums[b]
        for k in range(live_ptr[b], live_ptr[b + 1]):
            for a in range(seg_ptr[live_in[k]], seg_ptr[live_in[k] + 1]):
                # Cheapest first: the north-south distance (a great circle is never shorter than its
                # difference in latitude), a lower bound of the east-west one, availability, certificates,
                # sector wish, a changed side, the first skills bound.
                limit = min(radius[a], s_radius_j)
                if abs(lat[a] - s_lat_j) * _KM_PER_DEG_LAT > limit + _DISTANCE_SLACK_KM:
                    continue
                dlon = abs(math.radians(lon[a] - s_lon_j))
                east_west_km = east_west * dlon * (1.0 - dlon * dlon / 24.0) if dlon < 1.0 else 0.0
                if east_west_km > limit + _DISTANCE_SLACK_KM:
                    continue
                days_late = day[a] - s_day_j
                if days_late > grace_days:
                    continue
                if (s_certs_j & ~certs[a]) != 0:
                    continue
                if not (any_sector[a] or (sectors[a] & s_sector_j) != 0):
                    continue
                if not (changed[a] or s_changed_j):
                    continue
                if np.float64(row_sums[a]) + 2 * _SLACK < needed:
                    continue
                i = rows[a]
                if early_cut and cut[b] > -np.inf:
                    # The highest score this pair could have (every required and nice-to-have skill at its
                    # best credit alone, the least distance its latitudes and longitudes allow): below the
                    # shortage's cut, it is dropped anyway, before its distance and its sums by id and
                    # related are worked out.
                    up = s_level[j] - c_level[i] if c_level[i] > 0 and s_level[j] > 0 else 0
                    over = max(0, up - free_level_steps)
                    reach = reach_power[over] if over < 8 else level_score_factor ** over
                    share = 1.0 if asks_nothing else min(1.0, np.float64(sums[b, a]) + 2 * _SLACK)
                    # Nice-to-have skills: each at its best credit alone (where the sums were made; else all held).
                    nice = min(1.0, np.float64(nice_sums[b, a]) + 2 * _SLACK) if with_nice[b] else 1.0
                    # Nearness: the distance is at least the north-south and the east-west bounds, a hair less.
                    least_km = max(abs(lat[a] - s_lat_j) * _KM_PER_DEG_LAT, east_west_km) * (1 - 1e-9)
                    nearness = max(0.0, 1.0 - least_km / limit) if limit > 0 else 1.0
                    readiness = min(1.0, max(0.0, (grace - days_late) / (2 * grace)))
                    highest = _score_bound(share, nice, reach, nearness, readiness, s_entry[j], w_coverage, w_nice,
                                           w_distance, w_reach, w_availability)
                    if highest < cut[b]:
                        dropped[j] = max(dropped[j], highest)
                        continue
                # The distance itself (haversine, as rules.distance_km).
                c_phi, s_phi = math.radians(c_lat[i]), math.radians(s_lat_j)
                h = (math.sin((s_phi - c_phi) / 2) ** 2
                     + row_cos[a] * s_cos_j * math.sin(math.radians(s_lon_j - c_lon[i]) / 2) ** 2)
                distance = 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))
                if distance > limit + _DISTANCE_SLACK_KM:
                    continue
                # Then by id and by related skills apart, competences and knowledge apart.
                competence_id, competence_related = _split_sums(a, j, w_ptr, w_idx, w_val, local, best)
                knowledge_id, knowledge_related = _split_sums(a, n_shortages + j, w_ptr, w_idx, w_val, local, best)
                steps_up = s_level[j] - c_level[i] if c_level[i] > 0 and s_level[j] > 0 else 0
                related_factor = (related_power[steps_up] if steps_up < 8 else level_step_credit ** steps_up) \
                    if steps_up > 0 else 1.0
                part = s_part[j]
                share = _share_of(competence_id + related_factor * competence_related,
                                  knowledge_id + related_factor * knowledge_related, part, asks_nothing,
                                  coverage_target)
                if stages >= 1:
                    if min(1.0, share / coverage_target) < threshold - _SLACK:
                        continue
                    if stages == 2:
                        # The reuse limit, where it binds: the related credits less what it takes off.
                        competence_capped = related_factor * competence_related - _reuse_cut(
                            a, j, run_ptr, run_family, run_count, run_start, w_idx, w_val, local, best,
                            related_factor, places, max_uses, decay_powers, scratch)
                        knowledge_capped = related_factor * knowledge_related - _reuse_cut(
                            a, n_shortages + j, run_ptr, run_family, run_count, run_start, w_idx, w_val, local, best,
                            related_factor, places, max_uses, decay_powers, scratch)
                        share = _share_of(competence_id + competence_capped, knowledge_id + knowledge_capped, part,
                                          asks_nothing, coverage_target)
                        if min(1.0, share / coverage_target) < threshold - _SLACK:
                            continue
                nice_id, nice_related = _split_sums(a, 2 * n_shortages + j, w_ptr, w_idx, w_val, local, best)
                nice = min(nice_id + related_factor * nice_related + _SLACK, 1.0)
                over = max(0, steps_up - free_level_steps)
                reach = reach_power[over] if over < 8 else level_score_factor ** over
                nearness = 1.0 - distance / limit if limit > 0 else 1.0
                readiness = min(1.0, max(0.0, (grace - days_late) / (2 * grace)))
                bound = _score_bound(share, nice, reach, nearness, readiness, s_entry[j], w_coverage, w_nice,
                                     w_distance, w_reach, w_availability)
                if bound < cut[b]:
                    dropped[j] = max(dropped[j], bound)
                    continue  # below the best `keep` of this shortage found so far (_Cutoffs)
                out_row[found], out_col[found] = a, b
                out_score[found] = bound
                found += 1
                if cutting and heap_capacity[j] > 0:
                    least = _heap_push(heap_value, heap_start[j], heap_size, j, heap_capacity[j], bound)
                    if least > cut[b]:
                        cut[b] = least
                        cuts[own, j] = max(cuts[own, j], least)
    return out_row[:found].copy(), out_col[:found].copy(), out_score[:found].copy()


@compiled
def _heap_push(value, start, size, j, capacity, x):
    """Into the min-heap of shortage j (value[start:start + capacity], size[j] held) a bound `x`,
    keeping the `capacity` highest; returns the least held once full (-inf until then)."""
    n = size[j]
    if n < capacity:
        i = n
        value[start + i] = x
        while i > 0:
            parent = (i - 1) // 2
            if value[start + parent] <= value[start + i]:
                break
            value[start + parent], value[start + i] = value[start + i], value[start + parent]
            i = parent
        size[j] = n + 1
        return value[start] if n + 1 == capacity else -np.inf
    if x > value[start]:
        value[start] = x
        i = 0
        while True:
            child = 2 * i + 1
            if child >= capacity:
                break
            if child + 1 < capacity and value[start + child + 1] < value[start + child]:
                child += 1
            if value[start + i] <= value[start + child]:
                break
            value[start + i], value[start + child] = value[start + child], value[start + i]
            i = child
    return value[start]


def _reuse_limit_applies(settings: MatchSettings) -> bool:
    """Whether _reuse_cut's bound holds: every related credit that counts is within a family (a
    level-1 transversal credit never reaches min_related_credit), and a further use of a skill
    never counts more than the one before."""
    return (min(settings.credit_transversal, MAX_RELATED_CREDIT) < settings.min_related_credit
            and settings.credits_never_rise)


def run_offsets(counts) -> np.ndarray:
    """Where each of consecutive runs of these lengths starts, and the end (CSR offsets)."""
    start = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(np.asarray(counts, np.int64), out=start[1:])
    return start


def concatenated_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
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
