"""Properties of the matching engine over random candidates and shortages (hypothesis).

Each hard rule is checked here with its own few lines, independent of the engine's code: the
distance with a separate haversine, certificates and sectors with set operations, availability
with date arithmetic. A run is random skills from a small synthetic hierarchy, coordinates in the
Netherlands' bounding box, random certificates, sector wishes, dates, capacities and positions.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from nlwerktdoor.matching import CandidateIn, MatchSettings, ShortageIn, SkillIndex, SkillInfo, evaluate, match

# Groups at every level, transversal skills, knowledge fields, languages and one catch-all field;
# some skills common (many occupations), some rare.
SKILLS = [
    SkillInfo("s1", "S1.1.1", ("S",), (), 3), SkillInfo("s2", "S1.1.1", ("S",), (), 120),
    SkillInfo("s3", "S1.1.2", ("S",), (), 10), SkillInfo("s4", "S1.2.0", ("S", "T"), (), 40),
    SkillInfo("s5", "S1.2.3", ("S", "T"), (), 2), SkillInfo("s6", "S3.3.1", ("S",), ("transversal",), 300),
    SkillInfo("s7", "S3.3.1", ("S",), (), 1), SkillInfo("s8", "S6.2.1", ("S",), (), 5),
    SkillInfo("s9", "S6.2.2", ("S",), (), 50), SkillInfo("t1", "T3.2", ("T",), (), 900),
    SkillInfo("k1", "0421", ("K",), (), 4), SkillInfo("k2", "0421", ("K",), (), 30),
    SkillInfo("k3", "0988", ("K",), (), 2), SkillInfo("l1", "L1", ("L",), (), 0),
]
INDEX = SkillIndex.build(SKILLS)
SKILL_IDS = [s.id for s in SKILLS] + ["unknown"]
CERTS = ["VOG", "BIG", "BHV", "heftruck"]
SECTORS = ["care", "logistics", "education"]
START = date(2026, 12, 1)
LAT, LON = (50.75, 53.55), (3.36, 7.23)  # the Netherlands' bounding box
GRACE = MatchSettings().availability_grace_days

skill_sets = st.frozensets(st.sampled_from(SKILL_IDS), max_size=8)
coords = st.tuples(st.floats(*LAT), st.floats(*LON))


@st.composite
def candidates(draw, i):
    lat, lon = draw(coords)
    kind = draw(st.sampled_from(["worker", "listing"]))
    return CandidateIn(
        key=f"{kind}:{i}",
        lat=lat,
        lon=lon,
        max_distance_km=draw(st.sampled_from([5, 20, 60, 150, 400])),
        skills=draw(skill_sets),
        certificates=draw(st.frozensets(st.sampled_from(CERTS))),
        desired_sectors=draw(st.frozensets(st.sampled_from(SECTORS), max_size=2)),
        available_from=START + timedelta(days=draw(st.integers(-60, 60))),
        capacity=1 if kind == "worker" else draw(st.integers(1, 4)),
        skill_level=draw(st.integers(0, 4)),
        occupation=draw(st.sampled_from(["", "cook", "pilot", "waiter"])),
    )


@st.composite
def shortages(draw, i):
    lat, lon = draw(coords)
    return ShortageIn(
        id=i,
        sector=draw(st.sampled_from(SECTORS)),
        lat=lat,
        lon=lon,
        max_distance_km=draw(st.sampled_from([10, 40, 100, 400])),
        required_skills=tuple(draw(st.lists(st.sampled_from(SKILL_IDS), max_size=7))),
        nice_skills=tuple(draw(st.lists(st.sampled_from(SKILL_IDS), max_size=3))),
        certificates=draw(st.frozensets(st.sampled_from(CERTS), max_size=2)),
        start_date=START + timedelta(days=draw(st.integers(-20, 20))),
        open_positions=draw(st.integers(0, 3)),
        training_offered=draw(st.booleans()),
        skill_level=draw(st.integers(0, 4)),
    )


@st.composite
def runs(draw):
    n_candidates = draw(st.integers(1, 12))
    n_shortages = draw(st.integers(1, 8))
    return ([draw(candidates(i)) for i in range(n_candidates)], [draw(shortages(i)) for i in range(n_shortages)])


engine_settings = st.builds(
    lambda lenient, k, m: replace(
        MatchSettings(),
        candidates_per_position=k,
        shortages_per_candidate=m,
        # Lenient settings let many pairs through, so the rules below are exercised, not just skipped.
        **({"min_coverage": 0.0, "min_coverage_with_training": 0.0} if lenient else {}),
    ),
    st.booleans(),
    st.integers(1, 3),
    st.integers(1, 3),
)

FAST = hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def haversine(a_lat, a_lon, b_lat, b_lon):
    # Written out again on purpose (not the engine's function): R = 6371.0088 km.
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b_lon - a_lon) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def breaks_a_hard_rule(c: CandidateIn, s: ShortageIn) -> str | None:
    if c.available_from > s.start_date + timedelta(days=GRACE):
        return "availability"
    if haversine(c.lat, c.lon, s.lat, s.lon) > min(c.max_distance_km, s.max_distance_km) + 1e-6:
        return "distance"
    if not set(s.certificates).issubset(c.certificates):
        return "certificates"
    if c.desired_sectors and s.sector not in c.desired_sectors:
        return "sector"
    return None


def check_proposal(p, c, s, settings):
    assert breaks_a_hard_rule(c, s) is None, breaks_a_hard_rule(c, s)
    assert 0.0 <= p.score <= 1.0
    e = p.explanation
    assert 0.0 <= e.coverage <= 1.0
    # Skill rule: enough coverage for this shortage's threshold.
    assert e.coverage >= (settings.min_coverage_with_training if s.training_offered else settings.min_coverage) - 1e-4
    # Complete explanation: each required skill in exactly one of matched / related / missing.
    required = list(dict.fromkeys(s.required_skills))
    listed = list(e.matched) + [r for r, _by in e.related] + list(e.missing)
    assert sorted(listed) == sorted(required)
    assert set(e.matched) <= c.skills
    for r, by in e.related:
        assert by in c.skills and r not in c.skills
    # One candidate skill covers at most max_related_uses required skills.
    assert max(Counter(by for _r, by in e.related).values(), default=0) <= settings.max_related_uses
    assert set(e.nice_matched) <= set(s.nice_skills)
    assert abs(p.distance_km - haversine(c.lat, c.lon, s.lat, s.lon)) < 0.01


@FAST
@given(runs(), engine_settings)
def test_no_pair_evaluated_alone_breaks_a_rule(run, settings):
    cands, shorts = run
    for c in cands:
        for s in shorts:
            p = evaluate(c, s, INDEX, settings)
            if breaks_a_hard_rule(c, s):
                assert p is None
            elif p is not None:
                check_proposal(p, c, s, settings)


@FAST
@given(runs(), engine_settings, st.randoms(use_true_random=False))
def test_a_run_keeps_the_rules_and_caps_and_ignores_input_order(run, settings, rnd):
    cands, shorts = run
    result = match(cands, shorts, INDEX, settings)
    by_key = {c.key: c for c in cands}
    by_id = {s.id: s for s in shorts}

    pairs = [(p.candidate_key, p.shortage_id) for p in result]
    assert len(pairs) == len(set(pairs))  # never twice the same pair
    for p in result:
        check_proposal(p, by_key[p.candidate_key], by_id[p.shortage_id], settings)

    # Caps: places per shortage (a listing of N people takes up to N), shortages per candidate.
    places = Counter()
    offers = Counter()
    for p in result:
        places[p.shortage_id] += 1 if by_key[p.candidate_key].capacity == 1 else 0
        offers[p.candidate_key] += 1
    for key, n in offers.items():
        assert n <= settings.shortages_per_candidate * by_key[key].capacity
    for s in shorts:
        taken = [p for p in result if p.shortage_id == s.id]
        limit = settings.candidates_per_position * s.open_positions
        assert len(taken) <= limit  # each proposal takes at least one place
        assert places[s.id] <= limit

    # The same proposals whatever the order of the input.
    shuffled_c, shuffled_s = cands[:], shorts[:]
    rnd.shuffle(shuffled_c)
    rnd.shuffle(shuffled_s)
    assert match(shuffled_c, shuffled_s, INDEX, settings) == result


def test_order_independence_on_a_larger_run():
    """Many equal scores (the same skills, the same place) stress the tie-breaking."""
    rnd = random.Random(5)
    cands = [
        CandidateIn(f"worker:{i}", 52.1, 5.1, 50, frozenset(rnd.sample(SKILL_IDS, 3)), frozenset(), frozenset(),
                    START, 1, 2)
        for i in range(60)
    ]
    shorts = [ShortageIn(i, "care", 52.1, 5.1, 50, tuple(rnd.sample(SKILL_IDS, 3)), (), frozenset(), START,
                         rnd.randint(1, 2), True, 2) for i in range(20)]
    lenient = MatchSettings(min_coverage=0, min_coverage_with_training=0)
    expected = match(cands, shorts, INDEX, lenient)
    assert len(expected) > 20
    for _ in range(3):
        rnd.shuffle(cands)
        rnd.shuffle(shorts)
        assert match(cands, shorts, INDEX, lenient) == expected


def test_threads_bound_the_same_pairs(monkeypatch):
    """A big run shares its blocks out over threads: the same pairs, bounds and proposals."""
    import threading

    from nlwerktdoor.matching import bounds

    rnd = random.Random(7)
    cands = [CandidateIn(f"worker:{i}", rnd.uniform(*LAT), rnd.uniform(*LON), rnd.choice([20, 60, 150]),
                         frozenset(rnd.sample(SKILL_IDS, 4)), frozenset(), frozenset(), START, 1, rnd.randint(0, 4))
             for i in range(300)]
    shorts = [ShortageIn(i, "care", rnd.uniform(*LAT), rnd.uniform(*LON), rnd.choice([40, 100]),
                         tuple(rnd.sample(SKILL_IDS, 4)), (), frozenset(), START, rnd.randint(1, 2), rnd.random() < 0.5,
                         rnd.randint(0, 4)) for i in range(80)]
    settings = MatchSettings(min_coverage=0.2, min_coverage_with_training=0.1)
    alone = bounds.pair_bounds(cands, shorts, INDEX, settings)
    monkeypatch.setattr(bounds, "_PARALLEL_PAIRS", 0)
    threads = set()
    share = bounds._bound_share
    # Each share waits for the other two: a pool whose first thread came back before the last share
    # was handed out would run two shares on one thread (it did on a busy machine).
    all_started = threading.Barrier(3, timeout=30)

    def counted(*args):
        if threading.current_thread().name.startswith("bounds"):
            threads.add(threading.current_thread().name)
            all_started.wait()
        return share(*args)

    monkeypatch.setattr(bounds, "_bound_share", counted)
    shared = bounds.pair_bounds(cands, shorts, INDEX, settings, workers=3)
    assert len(alone) > 100

    def pairs(found):
        return sorted(zip(found.candidate.tolist(), found.shortage.tolist(), found.score.tolist()))

    assert pairs(shared) == pairs(alone)
    assert match(cands, shorts, INDEX, settings, workers=3) == match(cands, shorts, INDEX, settings)
    assert len({name for name in threads if name.startswith("bounds")}) == 3  # three threads shared the blocks


@given(runs(), engine_settings, st.data())
@FAST
def test_an_incremental_run_is_the_full_run_restricted_to_changed_pairs(run, settings, data):
    """With every side changed, an incremental run is the full run; with some changed, every pair it
    proposes has a changed side, and it proposes every passing pair of a changed side that a full
    run over just those pairs would."""
    from nlwerktdoor.matching import Changes, candidate_pairs

    cands, shorts = run
    everything = Changes(frozenset(c.key for c in cands), frozenset(s.id for s in shorts))
    assert match(cands, shorts, INDEX, settings, changes=everything) == match(cands, shorts, INDEX, settings)

    changed = Changes(
        frozenset(data.draw(st.sets(st.sampled_from([c.key for c in cands])))),
        frozenset(data.draw(st.sets(st.sampled_from([s.id for s in shorts])))),
    )
    incremental = candidate_pairs(cands, shorts, INDEX, settings, changes=changed)
    expected = [p for p in candidate_pairs(cands, shorts, INDEX, settings)
                if p.candidate_key in changed.candidates or p.shortage_id in changed.shortages]
    assert incremental == expected


@given(runs(), engine_settings)
@FAST
def test_the_skill_bound_never_turns_away_a_pair_that_passes(run, settings):
    """The upper bound that decides most pairs early gives exactly the proposals of the full score."""
    from nlwerktdoor.matching.rules import _score

    cands, shorts = run
    for c in cands:
        for s in shorts:
            distance = haversine(c.lat, c.lon, s.lat, s.lon)
            limit = max(distance, 1.0)
            assert _score(c, s, INDEX, settings, distance, limit) == _score(c, s, INDEX, settings, distance, limit,
                                                                            bound=False)


bound_settings = st.builds(
    lambda base, generic, target, min_related, uses, decay, transversal: replace(
        base, generic_scale=generic, coverage_target=target, min_related_credit=min_related,
        max_related_uses=uses, reuse_decay=decay, credit_transversal=transversal),
    engine_settings,
    st.sampled_from([0.0, 5.0, 25.0]),
    st.sampled_from([0.0, 0.35, 1.0]),
    st.sampled_from([0.0, 0.15, 0.5]),
    # The reuse limit, which the bounds count where it holds (a transversal credit at or above the
    # floor leaves it uncounted: such a credit crosses families).
    st.sampled_from([0, 1, 2, 3]),
    st.sampled_from([0.0, 0.5, 1.0]),
    st.sampled_from([0.1, 0.5]),
)


@contextmanager
def occupation_groups(active: bool):
    """bounds._OccupationGroups for any run, however small (active), or for none."""
    from nlwerktdoor.matching.bounds import _OccupationGroups as groups

    kept = groups.MIN_GROUPS, groups.MIN_MEMBERS, groups.MIN_RUN
    groups.MIN_GROUPS, groups.MIN_MEMBERS, groups.MIN_RUN = (1, 0, 0) if active else (10**9, 0, 0)
    try:
        yield
    finally:
        groups.MIN_GROUPS, groups.MIN_MEMBERS, groups.MIN_RUN = kept


@contextmanager
def close_first(active: bool):
    """bounds._close_first (the pairs ring by ring, the close ones first, each ring cut from the start
    at the best of those before) for a run cut short however small (active), or for none."""
    from nlwerktdoor.matching import bounds

    kept = bounds._CLOSE_FIRST_PAIRS
    bounds._CLOSE_FIRST_PAIRS = 0 if active else 10**18
    try:
        yield
    finally:
        bounds._CLOSE_FIRST_PAIRS = kept


@given(runs(), bound_settings, st.booleans())
@FAST
def test_the_pair_bounds_keep_every_passing_pair_at_or_above_its_score(run, settings, groups):
    """bounds.pair_bounds (numpy, many pairs at once) holds every pair that passes, with a bound not
    below its exact score: the streams of `match` lose nothing and rank nothing too low. With the
    occupation groups (a group's bound turns its members away) or without, the same bounds."""
    from nlwerktdoor.matching import candidate_pairs
    from nlwerktdoor.matching.bounds import pair_bounds

    cands, shorts = run
    with occupation_groups(groups):
        found = pair_bounds(cands, shorts, INDEX, settings)
    with occupation_groups(not groups):
        other = pair_bounds(cands, shorts, INDEX, settings)
    bound = {(cands[c].key, shorts[s].id): b for c, s, b in zip(found.candidate, found.shortage, found.score)}
    assert bound == {(cands[c].key, shorts[s].id): b for c, s, b in zip(other.candidate, other.shortage, other.score)}
    for proposal in candidate_pairs(cands, shorts, INDEX, settings):
        assert bound[(proposal.candidate_key, proposal.shortage_id)] >= proposal.score


@given(runs(), bound_settings, st.sampled_from([0.3, 0.5, 1.0]))
@FAST
def test_the_skill_gains_never_turn_away_a_candidate_whose_skills_pass(run, settings, level_step_credit):
    """bounds.skill_gains (instant candidates judge a shortage's candidates by their skill ids before
    reading the rest): every pair whose skills pass rule 5 gets past it, whatever the thresholds,
    reuse limit, decay, level steps and generic factor."""
    from nlwerktdoor.matching.bounds import skill_gains
    from nlwerktdoor.matching.rules import _score

    settings = replace(settings, level_step_credit=level_step_credit)
    cands, shorts = run
    for s in shorts:
        gains = skill_gains(s, INDEX, settings)
        for c in cands:
            # Distance 0 and the sides' logistics aside: only the skills decide.
            if gains is not None and _score(c, s, INDEX, settings, 0.0, 1.0) is not None:
                assert gains.may_pass(c.skills), (c.skills, s.required_skills)


def test_the_skill_gains_turn_away_a_candidate_without_enough_related_skills():
    """The bound is not vacuous: with nothing related to what a shortage asks, or too little of it,
    a candidate is turned away; the same id, or enough related skills, get through."""
    from nlwerktdoor.matching.bounds import skill_gains

    settings = MatchSettings()
    shortage = ShortageIn(1, "care", 52.0, 5.0, 40, ("s1", "s3", "s8", "s9"), (), frozenset(), START)
    gains = skill_gains(shortage, INDEX, settings)
    assert not gains.may_pass({"l1", "k3", "unknown"})  # a language and a catch-all field: nothing related
    assert not gains.may_pass({"s6"})  # a common skill in another level-1 group
    assert gains.may_pass({"s1", "s3"}) and gains.may_pass({"s8", "s9"})
    assert skill_gains(replace(shortage, required_skills=()), INDEX, settings) is None  # everyone covers it


@given(runs(), bound_settings, st.data())
@FAST
def test_the_streamed_allocation_is_the_greedy_allocation_of_every_passing_pair(run, settings, data):
    """`match` scores only as far down each shortage's stream as it needs, yet proposes exactly what
    the greedy pass over every passing pair does: with earlier loads, excluded pairs and changes."""
    from nlwerktdoor.matching import Changes, allocate_under_caps, candidate_pairs

    cands, shorts = run
    keys, ids = [c.key for c in cands], [s.id for s in shorts]
    shortage_load = data.draw(st.dictionaries(st.sampled_from(ids), st.integers(0, 4)))
    candidate_load = data.draw(st.dictionaries(st.sampled_from(keys), st.integers(0, 3)))
    exclude = frozenset(data.draw(st.sets(st.tuples(st.sampled_from(keys), st.sampled_from(ids)), max_size=6)))
    changes = data.draw(st.none() | st.builds(
        Changes, st.frozensets(st.sampled_from(keys)), st.frozensets(st.sampled_from(ids))))
    expected = allocate_under_caps(candidate_pairs(cands, shorts, INDEX, settings, exclude, changes), cands, shorts,
                                   settings, shortage_load, candidate_load)
    assert match(cands, shorts, INDEX, settings, exclude, shortage_load, candidate_load, changes) == expected
    # The candidates as a table (as a run reads them: bounds.CandidateRows): the same.
    from nlwerktdoor.matching import bounds

    table = bounds.CandidateTable(data.draw(st.permutations(cands)))
    assert match(table, shorts, INDEX, settings, exclude, shortage_load, candidate_load, changes) == expected
    # Streams cut to one or two pairs per place: the shortages that need more get them, the same result.

    depth = data.draw(st.sampled_from([1, 2]))
    buffer, bounds._KEEP_BUFFER_PAIRS = bounds._KEEP_BUFFER_PAIRS, 0  # cut whatever the size
    try:
        # With occupation groups and cuts from the first pairs on: the same result.
        with occupation_groups(data.draw(st.booleans())), close_first(data.draw(st.booleans())):
            assert match(cands, shorts, INDEX, settings, exclude, shortage_load, candidate_load, changes,
                         stream_depth=depth) == expected
    finally:
        bounds._KEEP_BUFFER_PAIRS = buffer


@st.composite
def crowded_runs(draw):
    """Many candidates of a few occupations in one or two blocks (one 0.2-degree cell, two radius
    classes), and shortages around them: a block's runs and the cut of the block before meet."""
    occupations = {"cook": ("s1", "s2", "s3", "k1"), "pilot": ("s8", "s9", "k3"), "waiter": ("s4", "s5", "s6", "t1")}
    cands = []
    for i in range(draw(st.integers(10, 40))):
        occupation = draw(st.sampled_from(sorted(occupations)))
        skills = draw(st.frozensets(st.sampled_from(occupations[occupation]), min_size=1)
                      | st.frozensets(st.sampled_from(SKILL_IDS), max_size=2))
        cands.append(CandidateIn(f"worker:{i}", draw(st.floats(52.01, 52.19)), draw(st.floats(5.01, 5.19)),
                                 draw(st.sampled_from([20, 60])), skills, frozenset(), frozenset(),
                                 START + timedelta(days=draw(st.integers(-10, 10))), 1, draw(st.integers(0, 4)),
                                 occupation))
    shorts = [ShortageIn(i, "care", draw(st.floats(51.9, 52.3)), draw(st.floats(4.9, 5.3)),
                         draw(st.sampled_from([10, 40, 100])),
                         tuple(draw(st.lists(st.sampled_from(SKILL_IDS), min_size=1, max_size=6))),
                         tuple(draw(st.lists(st.sampled_from(SKILL_IDS), max_size=3))), frozenset(), START,
                         draw(st.integers(1, 2)), draw(st.booleans()), draw(st.integers(0, 4)))
              for i in range(draw(st.integers(1, 8)))]
    return cands, shorts


@given(crowded_runs(), bound_settings, st.sampled_from([1, 2, 4]),
       st.none() | st.lists(st.sampled_from([-np.inf, 0.2, 0.5, 0.7]), min_size=8, max_size=8), st.booleans())
@FAST
def test_bounds_cut_short_keep_every_passing_pair_above_what_they_left_out(run, settings, keep, floors, close):
    """pair_bounds with `keep`, cut after every block, with occupation runs: every passing pair that
    scores above what the shortage left out (`dropped`) is held, with a bound not below its score. The
    allocation's check (allocate._needs_more) rests on this; a run bound or a cut made too eager (a
    pair left out above the level `dropped` reports) breaks it. With a `floor` (a refill's cut to
    start from), no pair below it is held either. Ring by ring or not (_close_first)."""
    from nlwerktdoor.matching import bounds, candidate_pairs

    cands, shorts = run
    floor = None if floors is None else np.array(floors[:len(shorts)])
    buffer, bounds._KEEP_BUFFER_PAIRS = bounds._KEEP_BUFFER_PAIRS, 0
    try:
        with occupation_groups(True), close_first(close):
            found = bounds.pair_bounds(cands, shorts, INDEX, settings, keep=np.full(len(shorts), keep, np.int64),
                                       cut_at_once=floor is not None, floor=floor)
    finally:
        bounds._KEEP_BUFFER_PAIRS = buffer
    held = {(cands[c].key, shorts[s].id): b for c, s, b in zip(found.candidate, found.shortage, found.score)}
    if floor is not None:
        assert all(score >= floor[s] for s, score in zip(found.shortage, found.score))
    position = {s.id: n for n, s in enumerate(shorts)}
    for proposal in candidate_pairs(cands, shorts, INDEX, settings):
        if proposal.score > found.dropped[position[proposal.shortage_id]]:
            assert held[(proposal.candidate_key, proposal.shortage_id)] >= proposal.score


def test_streams_cut_short_in_threads_give_the_same_proposals(monkeypatch):
    """A national run keeps only the best pairs of each shortage, cut down in every thread as it goes
    (_KEEP_BUFFER_PAIRS): the shortages that turn out to need more get all theirs, and the proposals
    are those of the run that kept every pair. Some shortages must have needed more here."""
    from nlwerktdoor.matching import allocate, bounds

    rnd = random.Random(11)
    cands = [CandidateIn(f"worker:{i}", rnd.uniform(*LAT), rnd.uniform(*LON), rnd.choice([60, 150]),
                         frozenset(rnd.sample(SKILL_IDS, 4)), frozenset(), frozenset(), START, rnd.choice([1, 1, 3]),
                         rnd.randint(0, 4)) for i in range(400)]
    shorts = [ShortageIn(i, "care", rnd.uniform(*LAT), rnd.uniform(*LON), rnd.choice([60, 150]),
                         tuple(rnd.sample(SKILL_IDS, 4)), (), frozenset(), START, rnd.randint(1, 3), rnd.random() < 0.5,
                         rnd.randint(0, 4)) for i in range(120)]
    settings = MatchSettings(min_coverage=0.2, min_coverage_with_training=0.1)
    expected = match(cands, shorts, INDEX, settings)
    monkeypatch.setattr(bounds, "_PARALLEL_PAIRS", 0)
    monkeypatch.setattr(bounds, "_KEEP_BUFFER_PAIRS", 50)
    refilled = []
    needs_more = allocate._needs_more
    monkeypatch.setattr(allocate, "_needs_more", lambda *args: refilled.append(found := needs_more(*args)) or found)
    # A full shortage's refill starts from a floor: the last score it took.
    floors = []
    pair_bounds = allocate.pair_bounds
    monkeypatch.setattr(allocate, "pair_bounds",
                        lambda *args, **kwargs: floors.append(kwargs.get("floor")) or pair_bounds(*args, **kwargs))
    assert len(expected) > 100
    assert match(cands, shorts, INDEX, settings, workers=2, stream_depth=1) == expected
    assert len(refilled[0]) > 0 and len(refilled[-1]) == 0  # some needed more, and in the end none did
    assert any(floor is not None and np.isfinite(floor).any() for floor in floors)
    # Each round reads the exact scores of the rounds before (exact.ScoreMemo): from a table of two
    # slots, grown as it fills, the same proposals, and the later rounds score fewer pairs anew.
    from nlwerktdoor.matching import exact

    monkeypatch.setattr(allocate, "_MEMO_SLOTS", 2)
    scored = []
    allocate_streams = exact.allocate_streams
    monkeypatch.setattr(exact, "allocate_streams",
                        lambda *args: scored.append((found := allocate_streams(*args))[-1]) or found)
    assert match(cands, shorts, INDEX, settings, stream_depth=1) == expected
    assert len(scored) > 1 and scored[-1] < scored[0]
    # The pairs ring by ring, each ring cut from the start at the best of the rings before
    # (_close_first): the same proposals, and the outer rings did start from such a cut.
    monkeypatch.setattr(bounds, "_CLOSE_FIRST_PAIRS", 0)
    monkeypatch.setattr(bounds, "_RINGS_KM", (10.0, 40.0))
    starts = []
    bound_work = bounds._bound_work
    monkeypatch.setattr(bounds, "_bound_work",
                        lambda *args: starts.append(args[-1]) or bound_work(*args))
    assert match(cands, shorts, INDEX, settings, workers=2, stream_depth=1) == expected
    assert any(start is not None and np.isfinite(start).any() for start in starts)


def test_a_resumed_round_takes_what_a_round_from_the_top_takes(monkeypatch):
    """After a refill, each round resumes from the highest bound at which its streams differ from the
    round before's in a way the greedy could see (StreamAllocation.run's `before` and `above`): what
    it takes is what a round from the top over the same streams takes, and the proposals are those
    of the run that kept every pair. Here rounds resume after pairs taken again (this seed, one
    shortage per candidate and streams cut to one pair per place make several rounds)."""
    from nlwerktdoor.matching import bounds, exact

    rnd = random.Random(93)
    n_candidates, n_shortages = rnd.randint(20, 120), rnd.randint(10, 60)
    cands = [CandidateIn(f"worker:{i}", rnd.uniform(52.0, 52.3), rnd.uniform(4.6, 5.0), rnd.choice([20, 40]),
                         frozenset(rnd.sample(SKILL_IDS, 4)), frozenset(), frozenset(), START, rnd.choice([1, 1, 2]),
                         rnd.randint(0, 4)) for i in range(n_candidates)]
    shorts = [ShortageIn(i, "care", rnd.uniform(52.0, 52.3), rnd.uniform(4.6, 5.0), rnd.choice([20, 40]),
                         tuple(rnd.sample(SKILL_IDS, 4)), (), frozenset(), START, rnd.randint(1, 3), rnd.random() < 0.5,
                         rnd.randint(0, 4)) for i in range(n_shortages)]
    settings = MatchSettings(min_coverage=0.2, min_coverage_with_training=0.1, shortages_per_candidate=1)
    expected = match(cands, shorts, INDEX, settings)
    assert len(expected) > 100
    monkeypatch.setattr(bounds, "_KEEP_BUFFER_PAIRS", 0)
    resumed, run = [], exact.StreamAllocation.run

    def checked(self, streams, memo=None, before=None, above=np.inf):
        taken = run(self, streams, memo, before, above)
        if before is not None:
            whole = run(self, streams, memo)
            for field in ("candidate", "shortage", "score", "room"):
                assert np.array_equal(getattr(taken, field), getattr(whole, field)), field
            resumed.append(int(np.count_nonzero(before.score > above)))
        return taken

    monkeypatch.setattr(exact.StreamAllocation, "run", checked)
    # Every score a resumed round reads was in the memo: none had to start from the top after all.
    states, resumed_state = [], exact.resumed_state
    monkeypatch.setattr(exact, "resumed_state", lambda *args: states.append(found := resumed_state(*args)) or found)
    assert match(cands, shorts, INDEX, settings, stream_depth=1) == expected
    assert len(resumed) > 1 and max(resumed) > 0  # rounds resumed, some after pairs taken again
    assert states and all(state[0] for state in states)


def test_the_highest_change_of_the_streams_is_the_first_the_greedy_could_see():
    """allocate._highest_change: per shortage, the two streams read from the top up to the first pair
    added or gone that the round before would not have passed over (its candidate or its shortage
    full above it); the highest such bound over the shortages, -inf where nothing differs."""
    from nlwerktdoor.matching.allocate import _highest_change

    def streams(*rows):  # (shortage, candidate, bound) in _streams' order
        return (np.array([r[0] for r in rows], np.int32), np.array([r[1] for r in rows], np.int32),
                np.array([r[2] for r in rows], np.float64))

    old = streams((0, 1, 0.9), (0, 2, 0.8), (0, 3, 0.7), (1, 5, 0.95), (1, 6, 0.6), (2, 7, 0.5), (2, 8, 0.5))
    new = streams((0, 1, 0.9), (0, 2, 0.8), (0, 4, 0.75), (0, 3, 0.7), (1, 6, 0.6), (2, 7, 0.5), (2, 8, 0.5))
    key_rank = np.arange(10)
    nobody_full = np.full(10, -np.inf)

    def change(which, candidate_full=nobody_full, shortage_full=nobody_full, new=new):
        return _highest_change(*old, *new, np.array(which, np.int64), key_rank, candidate_full, shortage_full)

    assert change([0]) == 0.75  # candidate 4 added
    assert change([1]) == 0.95 and change([0, 1, 2]) == 0.95  # candidate 5 gone
    assert change([2]) == -np.inf  # the same stream
    full = nobody_full.copy()
    full[5] = 0.96  # candidate 5 was full above its pair: it was passed over, and it does not count
    assert change([1], candidate_full=full) == -np.inf and change([0, 1], candidate_full=full) == 0.75
    assert change([1], shortage_full=np.array([-np.inf, 0.97, -np.inf])) == -np.inf
    full[4] = 0.8  # so was candidate 4 above the pair added: nothing else differs
    assert change([0], candidate_full=full) == -np.inf and change([0, 1], candidate_full=full) == -np.inf
    assert change([0], shortage_full=np.array([0.75, -np.inf, -np.inf])) == 0.75  # not above it
    full[5] = 0.95  # full at its bound, not above it: the pair could have come first
    assert change([1], candidate_full=full) == 0.95
    # At the same bound, the candidate key decides the order: a pair added before another counts there.
    tied = streams((0, 1, 0.9), (0, 2, 0.8), (0, 3, 0.7), (1, 5, 0.95), (1, 6, 0.6), (2, 0, 0.5), (2, 7, 0.5),
                   (2, 8, 0.5))
    assert change([2], new=tied) == 0.5


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.1, 0.25, 0.5, 0.5000001, 0.9])), max_size=300),
       st.lists(st.integers(0, 6), min_size=6, max_size=6))
def test_the_best_pairs_of_each_shortage_are_kept_and_the_highest_left_out_noted(pairs, keep):
    """bounds._keep_best: of each shortage, min(its pairs, keep) pairs, none below a pair left out
    (ties at the edge either way), each with its own candidate; `dropped` raised to the highest bound
    left out, and left as it was where none is."""
    from nlwerktdoor.matching.bounds import _keep_best

    shortage = np.array([j for j, _ in pairs], np.int32)
    score = np.array([x for _, x in pairs], np.float64)
    candidate = np.arange(len(pairs), dtype=np.int32)
    keep = np.array(keep, np.int64)
    before = np.array([-np.inf, 0.3, -np.inf, 0.95, -np.inf, -np.inf])
    dropped = before.copy()
    kept_candidate, kept_shortage, kept_score = _keep_best(candidate, shortage, score, keep, dropped)
    assert kept_shortage.tolist() == shortage[kept_candidate].tolist()
    assert kept_score.tolist() == score[kept_candidate].tolist()
    for j in range(6):
        mine = sorted(score[shortage == j].tolist(), reverse=True)
        held = sorted(kept_score[kept_shortage == j].tolist(), reverse=True)
        assert held == mine[:keep[j]]  # the best, ties being equal
        left_out = mine[keep[j]:]
        assert dropped[j] == max([before[j]] + left_out)


def test_the_kth_best_bound_of_each_shortage_is_its_kth_highest_rounded_down():
    """bounds._kth_best: per shortage the keep-th highest bound, never above it and at most 2**-31
    below it; -inf for a shortage with fewer pairs or nothing to keep."""
    from nlwerktdoor.matching.bounds import _kth_best

    rnd = random.Random(5)
    shortage = np.array([rnd.randrange(6) for _ in range(300)], np.int64)
    score = np.array([rnd.choice([0.25, 0.5, rnd.random()]) for _ in range(300)])
    keep = np.array([1, 3, 40, 0, 200, 7], np.int64)
    found = _kth_best(shortage, score, keep)
    for j in range(6):
        mine = sorted(score[shortage == j], reverse=True)
        if keep[j] == 0 or len(mine) < keep[j]:
            assert found[j] == -np.inf
        else:
            assert mine[keep[j] - 1] - 2**-31 <= found[j] <= mine[keep[j] - 1]
    assert np.isfinite(found).sum() >= 3


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_streams_are_ordered_by_one_key_as_by_three(monkeypatch, workers):
    """_streams sorts (shortage, bound highest first, candidate key) with one integer key, the bound
    rounded up, and reads the three columns back from it: every pair once, its bound never lower and
    at most a rounding step higher, in the order of a three-key sort. With workers, the keys are
    sorted in parts by shortage, each on a thread: the same order."""
    import numpy as np

    from nlwerktdoor.matching import allocate
    from nlwerktdoor.matching.allocate import _streams
    from nlwerktdoor.matching.bounds import PairBounds

    monkeypatch.setattr(allocate, "_PARALLEL_SORT_KEYS", 0)

    rng = np.random.default_rng(3)
    n = 5000
    pair = rng.choice(300 * 40, n, replace=False)  # every pair once, as in a run
    candidates, shortages = (pair // 40).astype(np.int32), (pair % 40).astype(np.int32)
    scores = np.round(rng.random(n), 3)  # many ties
    key_rank = rng.permutation(300)
    shortage, candidate, bound = _streams(PairBounds(candidates.copy(), shortages.copy(), scores.copy()), key_rank, 40,
                                          workers)
    given = {(int(c), int(s)): x for c, s, x in zip(candidates, shortages, scores)}
    assert len(shortage) == len(candidate) == len(bound) == n
    for c, s, x in zip(candidate.tolist(), shortage.tolist(), bound.tolist()):
        assert given[(c, s)] <= x < given[(c, s)] + 1e-6
    assert len({(c, s) for c, s in zip(candidate.tolist(), shortage.tolist())}) == n
    order = np.lexsort((key_rank[candidate], -bound, shortage))
    assert order.tolist() == list(range(n))


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=200), st.integers(1, 4))
def test_keys_are_parted_by_their_leading_field_in_order_and_about_evenly(leading, parts):
    """allocate._parted: the keys in `parts` runs, every key once; the runs in order of the leading
    field, one leading value never split over two runs, each run's keys in the order they came, and
    no run more than a leading value's keys over its share."""
    from nlwerktdoor.matching.allocate import _parted

    shift = 20
    key = np.array([(lead << shift) | n for n, lead in enumerate(leading)], np.int64)
    parted, starts = _parted(key, shift, 10, parts)
    assert len(starts) == parts + 1 and starts[0] == 0 and starts[-1] == len(key)
    assert np.all(np.diff(starts) >= 0) and sorted(parted.tolist()) == sorted(key.tolist())
    runs = [parted[starts[p]:starts[p + 1]] for p in range(parts)]
    for run in runs:
        assert np.all(np.diff(run & ((1 << shift) - 1)) > 0)  # the order they came in
    firsts, lasts = [run[0] >> shift for run in runs if len(run)], [run[-1] >> shift for run in runs if len(run)]
    assert all(last < first for last, first in zip(lasts, firsts[1:]))
    most = max(Counter(leading).values(), default=0)
    assert all(len(run) <= math.ceil(len(key) / parts) + most for run in runs)


@hsettings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.floats(0.0, 1.0))
def test_refilled_streams_are_spliced_in_as_a_sort_of_the_whole_would_put_them(seed, n_shortages, share):
    """A cut run's later rounds put the refilled shortages' new streams in place of their old ones
    (allocate._spliced) instead of sorting every pair again: the same arrays as _streams over the
    other shortages' pairs and the new ones together, whichever shortages were refilled (none, some,
    all, the first or the last)."""
    from nlwerktdoor.matching.allocate import _spliced, _streams
    from nlwerktdoor.matching.bounds import PairBounds

    rng = np.random.default_rng(seed)
    n_candidates = 50
    key_rank = rng.permutation(n_candidates)

    def pairs(shortages, n):
        pair = rng.choice(n_candidates * len(shortages), min(n, n_candidates * len(shortages)), replace=False)
        return ((pair // len(shortages)).astype(np.int32), np.asarray(shortages, np.int32)[pair % len(shortages)],
                np.round(rng.random(len(pair)), 2))

    everyone = np.arange(n_shortages)
    old = pairs(everyone, int(rng.integers(0, 400)))
    short = np.flatnonzero(rng.random(n_shortages) < share).astype(np.int64)
    more = pairs(short, int(rng.integers(0, 200))) if len(short) else (np.zeros(0, np.int32),) * 2 + (np.zeros(0),)
    streams = _streams(PairBounds(*(a.copy() for a in old)), key_rank, n_shortages)
    spliced = _spliced(list(streams), short, _streams(PairBounds(*(a.copy() for a in more)), key_rank, n_shortages))
    others = ~np.isin(old[1], short)
    whole = _streams(PairBounds(*(np.concatenate([a[others], b]) for a, b in zip(old, more))), key_rank, n_shortages)
    for got, expected in zip(spliced, whole):
        assert got.tolist() == expected.tolist()


# Every setting that enters an exact score, also where credits rise (a level step worth more than
# one, a reuse worth more than the first use) and where the coverage target is off.
scoring_settings = st.builds(
    lambda base, level_step, reach, free, decay, uses, target, generic, min_related, ease: replace(
        base, level_step_credit=level_step, level_score_factor=reach, free_level_steps=free, reuse_decay=decay,
        max_related_uses=uses, coverage_target=target, generic_scale=generic, min_related_credit=min_related,
        level_ease=ease),
    engine_settings,
    st.sampled_from([0.0, 0.5, 1.0, 1.5]),
    st.sampled_from([0.5, 1.0]),
    st.sampled_from([-1, 0, 1, 2]),
    st.sampled_from([0.0, 0.5, 1.0, 1.2]),
    st.sampled_from([0, 1, 3]),
    st.sampled_from([0.0, 0.35, 1.0]),
    st.sampled_from([0.0, 25.0]),
    st.sampled_from([0.0, 0.15]),
    st.sampled_from([0.0, 1.0]),
)


@given(runs(), scoring_settings, st.sampled_from([1, 2, 3]))
@FAST
def test_the_compiled_score_is_the_score_of_the_rules(run, settings, workers):
    """exact.score_pairs (numba, what a run's allocation scores) gives every pair what rules.evaluate
    gives it: None where a rule fails, else the same score, distance and explanation, to the bit. The
    explanations worded in slices on threads (exact._explained) are the same."""
    from nlwerktdoor.matching import exact

    cands, shorts = run
    pairs = [(c, s) for c in range(len(cands)) for s in range(len(shorts))]
    least, exact._PARALLEL_EXPLAIN = exact._PARALLEL_EXPLAIN, 0
    try:
        compiled = exact.score_pairs(cands, shorts, INDEX, settings, pairs, workers)
    finally:
        exact._PARALLEL_EXPLAIN = least
    assert compiled == [evaluate(cands[c], shorts[s], INDEX, settings) for c, s in pairs]


def test_scores_are_rounded_to_six_decimals_as_python_rounds():
    """The compiled score is rounded as Python's round(x, 6) rounds, also where x * 1e6 lands on a
    half in floating point while x itself lies just below or above it."""
    import numpy as np

    from nlwerktdoor.matching.exact import _round6

    rng = np.random.default_rng(7)
    # Halves of a millionth, and their neighbouring floats on either side.
    halves = (np.arange(0, 1_000_000, 997) + 0.5) / 1e6
    near = np.concatenate([halves, np.nextafter(halves, 0), np.nextafter(halves, 1), rng.random(20_000)])
    odd = [x for x in near.tolist() if _round6(x) != round(x, 6)]
    assert odd == []
    assert any(x * 1e6 - np.floor(x * 1e6) == 0.5 and round(x, 6) != np.rint(x * 1e6) / 1e6 for x in near.tolist())


def test_the_score_memo_gives_back_each_score_as_scored_and_keeps_them_as_it_grows():
    """ScoreMemo keeps a pair's key and its score in one int64: every score _score_pair can give
    (six decimals in [0, 1]) comes back as the same float, a failed pair as failed, for the largest
    keys it takes too; and a table that doubled finds every pair it held."""
    from nlwerktdoor.matching.exact import (ScoreMemo, _memo_entry, _memo_grown, _memo_score, _memo_slot, _memo_table,
                                            _round6)

    rng = np.random.default_rng(11)
    scores = [_round6(x) for x in np.r_[0.0, 1.0, 1e-6, 0.5, 1 - 1e-6, rng.random(5_000)].tolist()]
    largest = (1 << 42) - 1
    assert ScoreMemo.fits(2**21, 2**21 - 1) and not ScoreMemo.fits(2**21, 2**21)
    for key in (0, 1, 123_456_789, largest):
        assert [_memo_score(_memo_entry(key, True, score)) for score in scores] == scores
        assert _memo_score(_memo_entry(key, False, 0.0)) == -1.0
        assert _memo_entry(key, True, 0.25) >> 21 == key
    table, held = _memo_table(8), {}
    for key in rng.choice(1 << 40, 400, replace=False).tolist() + [largest]:
        if 2 * (len(held) + 1) > len(table):
            table = _memo_grown(table)
        score, passes = scores[len(held)], len(held) % 5 > 0
        table[_memo_slot(table, key)] = _memo_entry(key, passes, score)
        held[key] = score if passes else -1.0
    assert len(table) == 1024
    assert {key: _memo_score(table[_memo_slot(table, key)]) for key in held} == held
    assert table[_memo_slot(table, 5)] == -1  # a key never put in: an empty slot


def _destination(lat, lon, km, bearing_deg):
    """The point `km` from (lat, lon) along the great circle leaving at `bearing_deg` (R = 6371.0088 km)."""
    delta, theta, phi = km / 6371.0088, math.radians(bearing_deg), math.radians(lat)
    phi2 = math.asin(math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta))
    lam = math.atan2(math.sin(theta) * math.sin(delta) * math.cos(phi), math.cos(delta) - math.sin(phi) * math.sin(phi2))
    return math.degrees(phi2), lon + math.degrees(lam)


def test_a_shortage_reaching_a_block_only_by_its_own_smaller_radius_is_still_bounded():
    """A block's shortages are those whose own radius (and the block's) reaches its box: a shortage
    with a small radius just within reach of one candidate of a wide-travelling block keeps that pair,
    in every direction and at every latitude of the country."""
    from nlwerktdoor.matching.bounds import pair_bounds

    rnd = random.Random(7)
    settings = replace(MatchSettings(), min_coverage=0.0, min_coverage_with_training=0.0)
    cands, shorts, expected = [], [], set()
    for i in range(300):
        lat, lon = rnd.uniform(*LAT), rnd.uniform(*LON)
        radius = rnd.choice([5, 10, 20, 35])
        inside = i % 3 != 0
        km = radius * (1 - 1e-7) if inside else radius * (1 + 1e-3)
        s_lat, s_lon = _destination(lat, lon, km, rnd.uniform(0, 360))
        cands.append(CandidateIn(f"worker:{i}", lat, lon, 80, frozenset({"s1"}), frozenset(), frozenset(), START))
        shorts.append(ShortageIn(i, "care", s_lat, s_lon, radius, ("s1",), (), frozenset(), START))
        if inside:
            assert haversine(lat, lon, s_lat, s_lon) <= radius
            expected.add((i, i))
    found = pair_bounds(cands, shorts, INDEX, settings)
    held = set(zip(found.candidate.tolist(), found.shortage.tolist()))
    assert expected <= held
    assert not any(c == s for c, s in held - expected)  # the pairs just out of reach are turned away


def test_within_reach_marks_every_place_a_shortage_reaches():
    """bounds.within_reach (which candidates a refill of cut streams reads): every place within a
    shortage's own radius of it is marked, just inside at every bearing and latitude of the country,
    and places far beyond every radius are not."""
    import numpy as np

    from nlwerktdoor.matching.bounds import within_reach

    rnd = random.Random(11)
    shorts, lats, lons = [], [], []
    for i in range(400):
        lat, lon = rnd.uniform(*LAT), rnd.uniform(*LON)
        radius = rnd.choice([2, 5, 10, 20, 35, 80])
        shorts.append(ShortageIn(i, "care", lat, lon, radius, ("s1",), (), frozenset(), START))
        p_lat, p_lon = _destination(lat, lon, radius * (1 - 1e-7), rnd.uniform(0, 360))
        assert haversine(lat, lon, p_lat, p_lon) <= radius
        lats.append(p_lat)
        lons.append(p_lon)
    # Far away: beyond every radius (the country spans a few degrees; these lie 3 degrees north of it).
    far = [(LAT[1] + 3 + rnd.uniform(0, 1), rnd.uniform(*LON)) for _ in range(50)]
    lat = np.array(lats + [p[0] for p in far])
    lon = np.array(lons + [p[1] for p in far])
    marked = within_reach(lat, lon, shorts)
    assert marked[:len(lats)].all()
    assert not marked[len(lats):].any()
    # One shortage marks its own surroundings only.
    alone = within_reach(lat, lon, shorts[:1])
    assert alone[0] and alone.sum() < len(lats) // 4


@given(runs())
@FAST
def test_the_candidate_table_holds_each_candidate_as_given(run):
    """bounds.CandidateTable (made row by row: CandidateRows): each candidate reads back as given, its
    capacity at least 1; the skills numbered in order of their names in int32, each distinct set of
    certificates once. A subset is those rows."""
    from nlwerktdoor.matching.bounds import CandidateTable

    cands, _ = run
    cands = cands + [replace(c, key=c.key + "-nobody", capacity=0) for c in cands[:1]]  # a listing of none
    table = CandidateTable(cands)
    assert table.skill_names == sorted({k for c in cands for k in c.skills})
    assert len(table.cert_sets) == len({c.certificates for c in cands})
    assert table.held_skill.dtype == np.int32
    as_given = [replace(c, capacity=max(c.capacity, 1)) for c in cands]
    assert table.candidates() == as_given
    positions = np.arange(len(cands))[::-2]
    assert table.subset(positions).candidates() == [as_given[n] for n in positions.tolist()]


def test_a_candidate_table_with_a_key_twice_is_refused():
    from nlwerktdoor.matching.bounds import CandidateTable

    c = CandidateIn("worker:1", 52.1, 5.1, 20, frozenset({"s1"}), frozenset(), frozenset(), START)
    with pytest.raises(ValueError, match="duplicate candidate 'worker:1'"):
        match(CandidateTable([c, c]), [ShortageIn(1, "care", 52.1, 5.1, 20, ("s1",), (), frozenset(), START)],
              INDEX, MatchSettings())


@given(runs(), scoring_settings)
@FAST
def test_the_exact_tables_read_from_the_candidate_table_are_the_same(run, settings):
    """ExactTables.build with the run's CandidateTable (its arrays and distinct sets) gives every
    table exactly as built from the candidates' objects: the skills renumbered and sorted per
    candidate, the certificates and wishes, places, days and levels."""
    from dataclasses import fields

    from nlwerktdoor.matching.bounds import CandidateTable
    from nlwerktdoor.matching.exact import ExactTables

    cands, shorts = run
    plain = ExactTables.build(cands, shorts, INDEX, settings)
    tabled = ExactTables.build(CandidateTable(cands), shorts, INDEX, settings)
    for field in fields(ExactTables):
        mine, theirs = getattr(tabled, field.name), getattr(plain, field.name)
        if isinstance(theirs, np.ndarray):
            assert mine.dtype == theirs.dtype and mine.tolist() == theirs.tolist(), field.name
        else:
            assert mine == theirs, field.name
