"""The matching engine as tables of cases: no app, no database."""
import random
from dataclasses import replace
from datetime import date, timedelta

import pytest

from nlwerktdoor import reference
from nlwerktdoor.matching import (
    CandidateIn,
    MatchSettings,
    ShortageIn,
    SkillIndex,
    SkillInfo,
    candidate_pairs,
    distance_km,
    evaluate,
    match,
)
from nlwerktdoor.services.matching import skill_index_from_reference
from tests.engine_fixtures import small_index

START = date(2026, 12, 1)

# A small hierarchy. n_occupations = 0 makes every group fully specific and every weight 1, so the
# credits are the settings' own numbers: level 3 -> 0.9 (capped below exact), level 2 -> 0.7,
# knowledge of the same field -> 0.2, two transversal skills in the same level-1 group -> 0.1.
INDEX = small_index(
    SkillInfo("c1", "S6.1.0", ("S",)),
    SkillInfo("c2", "S6.1.3", ("S",)),
    SkillInfo("k1", "0421", ("K",)),
    SkillInfo("k2", "0421", ("K",)),
    SkillInfo("k3", "0922", ("K",)),
    SkillInfo("t1", "S1.2.3", ("S", "T")),
    SkillInfo("t2", "S1.5.1", ("S", "T")),
    SkillInfo("t3", "S1.6.1", ("S",), ("transversal",)),
    SkillInfo("l1", "L1", ("L",)),
    SkillInfo("l2", "L1", ("L",)),
    # A group that very many occupations reach says little: specificity 1 / (1 + 3000/3000) = 0.5.
    SkillInfo("g1", "S3.3.1", ("S",), (), 3000),
    SkillInfo("g2", "S3.3.1", ("S",), (), 0),
    specificity_scale=3000,
)
# Coverage = plain weighted share in most tables (no side-entrant allowance), so numbers are exact.
PLAIN = MatchSettings(coverage_target=1.0)


def cand(key="worker:1", lat=52.0, lon=5.0, radius=50, skills=("a1",), certs=(), sectors=(), available=START, capacity=1):
    return CandidateIn(key, lat, lon, radius, frozenset(skills), frozenset(certs), frozenset(sectors), available, capacity)


def short(id=1, sector="care", lat=52.0, lon=5.0, radius=50, required=("a1",), nice=(), certs=(), start=START,
          positions=1, training=False):
    return ShortageIn(id, sector, lat, lon, radius, tuple(required), tuple(nice), frozenset(certs), start, positions, training)


def test_the_base_pair_matches_exactly():
    proposal = evaluate(cand(), short(), INDEX, PLAIN)
    assert proposal is not None
    assert proposal.explanation.matched == ("a1",)
    assert proposal.explanation.coverage == 1.0
    assert proposal.distance_km == 0.0


# ------------------------------------------------------------------ hard rule 2: distance

EAST = 5.3
D = distance_km(52.0, 5.0, 52.0, EAST)


@pytest.mark.parametrize(
    "candidate_radius, shortage_radius, passes",
    [
        (D, D + 10, True),  # exactly at the candidate's (smaller) radius
        (D + 10, D, True),  # exactly at the shortage's (smaller) radius
        (D - 0.01, D + 10, False),  # just beyond the candidate's radius
        (D + 10, D - 0.01, False),  # just beyond the shortage's radius, though the candidate would travel
        (D - 0.01, D - 0.01, False),
    ],
)
def test_distance_within_the_smaller_radius(candidate_radius, shortage_radius, passes):
    c = cand(radius=candidate_radius)
    s = short(lon=EAST, radius=shortage_radius)
    assert (evaluate(c, s, INDEX, PLAIN) is not None) is passes
    # The grid pre-filter of a whole run agrees with the rule at the boundary.
    assert bool(match([c], [s], INDEX, PLAIN)) is passes


def test_distance_matches_reference_great_circle():
    assert distance_km(52.37, 4.89, 51.92, 4.48) == pytest.approx(reference.distance_km(52.37, 4.89, 51.92, 4.48))


def test_grid_prefilter_finds_exactly_the_pairs_a_full_comparison_finds():
    rnd = random.Random(7)
    candidates = [
        cand(f"worker:{i}", rnd.uniform(50.7, 53.6), rnd.uniform(3.3, 7.3), rnd.choice([5, 15, 30, 60, 150]))
        for i in range(120)
    ]
    shortages = [
        short(i, lat=rnd.uniform(50.7, 53.6), lon=rnd.uniform(3.3, 7.3), radius=rnd.choice([10, 25, 80]))
        for i in range(60)
    ]
    brute = {(c.key, s.id) for c in candidates for s in shortages if evaluate(c, s, INDEX, PLAIN)}
    assert brute
    assert {(p.candidate_key, p.shortage_id) for p in candidate_pairs(candidates, shortages, INDEX, PLAIN)} == brute


# ------------------------------------------------------------------ hard rule 3: certificates


@pytest.mark.parametrize("missing", ["VOG", "BIG", "BHV"])
def test_each_required_certificate_missing_is_no_match(missing):
    required = {"VOG", "BIG", "BHV"}
    s = short(certs=required)
    assert evaluate(cand(certs=required - {missing}), s, INDEX, PLAIN) is None
    assert evaluate(cand(certs=required), s, INDEX, PLAIN) is not None
    assert evaluate(cand(certs=required | {"heftruck"}), s, INDEX, PLAIN) is not None


# ------------------------------------------------------------------ hard rule 4: sector wish


@pytest.mark.parametrize(
    "wish, passes",
    [((), True), (("care",), True), (("care", "logistics"), True), (("logistics",), False), (("education", "government"), False)],
)
def test_sector_wish(wish, passes):
    assert (evaluate(cand(sectors=wish), short(sector="care"), INDEX, PLAIN) is not None) is passes


# ------------------------------------------------------------------ hard rule 1: availability


@pytest.mark.parametrize("days, passes", [(-100, True), (0, True), (29, True), (30, True), (31, False), (90, False)])
def test_availability_within_thirty_days_of_the_start(days, passes):
    c = cand(available=START + timedelta(days=days))
    assert (evaluate(c, short(), INDEX, PLAIN) is not None) is passes


# ------------------------------------------------------------------ hard rule 5: skills


@pytest.mark.parametrize(
    "covered, training, passes",
    [(5, False, True), (4, False, False), (10, False, True), (0, False, False), (3, True, True), (2, True, False)],
)
def test_coverage_threshold_lower_with_training(covered, training, passes):
    # Skills the index does not know count by id only, each with weight 1: coverage = covered / 10.
    required = [f"x{i}" for i in range(10)]
    s = short(required=required, training=training)
    proposal = evaluate(cand(skills=required[:covered]), s, INDEX, PLAIN)
    assert (proposal is not None) is passes
    if proposal:
        assert proposal.explanation.coverage == covered / 10


def test_coverage_target_lets_a_side_entrant_count_as_complete():
    required = [f"x{i}" for i in range(10)]
    proposal = evaluate(cand(skills=required[:3]), short(required=required), INDEX, MatchSettings(coverage_target=0.6))
    assert proposal.explanation.coverage == 0.5  # 30% of the required weight, against a target of 60%
    assert evaluate(cand(skills=required[:6]), short(required=required), INDEX, MatchSettings()).explanation.coverage == 1.0


def test_a_shortage_without_required_skills_is_covered_by_anyone():
    assert evaluate(cand(skills=()), short(required=()), INDEX, PLAIN).explanation.coverage == 1.0


# ------------------------------------------------------------------ relatedness


@pytest.mark.parametrize(
    "required, held, credit, by",
    [
        ("a1", "a1", 1.0, "a1"),  # the same skill
        ("a1", "a2", 0.9, "a2"),  # same level-3 group, capped below an exact match
        ("a1", "a3", 0.7, "a3"),  # same level-2 group
        ("a1", "b1", 0.0, None),  # another branch
        ("c2", "c1", 0.7, "c1"),  # "S6.1.0" hangs under level 2: related at level 2 only
        ("k1", "k2", 0.2, "k2"),  # knowledge of the same field, weakly
        ("k1", "k3", 0.0, None),  # knowledge of another field
        ("a1", "k1", 0.0, None),  # knowledge never covers a competence
        ("k1", "a1", 0.0, None),  # nor the other way round
        ("t2", "t1", 0.1, "t1"),  # transversal skills count across level-2 groups (same level 1: S1)
        ("t2", "t3", 0.1, "t3"),  # transversal by collection
        ("a1", "t1", 0.0, None),  # ... but only when the required skill is transversal too
        ("l1", "l2", 0.0, None),  # languages by id only
        ("g1", "g2", 0.5, "g2"),  # a group that 3000 occupations reach: half credit
        # ... and a skill that 3000 occupations hold says little about one that none holds
        ("g2", "g1", 0.5 / (1 + 3000 / 25), "g1"),
        ("unknown", "a1", 0.0, None),
    ],
)
def test_relatedness_credit(required, held, credit, by):
    profile = INDEX.profile(frozenset([held]), PLAIN)
    got_credit, got_by = INDEX.cover(required, profile, PLAIN)
    assert got_credit == pytest.approx(credit)
    assert got_by == by


def test_related_skill_coverage_appears_in_the_explanation():
    s = short(required=("a1", "b1", "k1"), nice=("t1", "c2"))
    proposal = evaluate(cand(skills=("a2", "b1", "t1")), s, INDEX, PLAIN)
    e = proposal.explanation
    assert e.matched == ("b1",)
    assert e.related == (("a1", "a2"),)
    assert e.missing == ("k1",)
    assert e.nice_matched == ("t1",)
    # Knowledge weighs half: (0.9 + 1.0 + 0) / (1 + 1 + 0.5)
    assert e.coverage == pytest.approx((0.9 + 1.0) / 2.5, abs=1e-4)


def test_one_candidate_skill_covers_few_required_skills_with_diminishing_credit():
    index = SkillIndex.build([SkillInfo(f"r{i}", "S4.4.4") for i in range(6)] + [SkillInfo("held", "S4.4.4")])
    settings = replace(PLAIN, min_coverage=0, min_related_credit=0)
    e = evaluate(cand(skills=("held",)), short(required=[f"r{i}" for i in range(6)]), index, settings).explanation
    assert [r for r, by in e.related] == ["r0", "r1", "r2"] and e.missing == ("r3", "r4", "r5")
    assert e.coverage == pytest.approx(0.9 * (1 + 0.5 + 0.25) / 6, abs=1e-4)


def test_the_pair_bounds_count_the_reuse_limit():
    """One held skill cannot cover six required ones: the bounds drop the pair that only the reuse
    limit fails, unscored, and keep it once a second skill of the family gives more places."""
    from nlwerktdoor.matching.bounds import pair_bounds

    index = SkillIndex.build([SkillInfo(f"r{i}", "S4.4.4") for i in range(6)]
                             + [SkillInfo("held", "S4.4.4"), SkillInfo("also", "S4.4.5")])
    settings = replace(PLAIN, min_coverage=0.3)
    required = [f"r{i}" for i in range(6)]
    one, two = cand("worker:1", skills=("held",)), cand("worker:2", skills=("held", "also"))
    shortage = short(required=required)
    # Without the limit, every required skill at 0.9 would pass 0.3 easily; with it, 0.9 x 1.75 / 6 = 0.26.
    assert evaluate(one, shortage, index, settings) is None
    # Two skills share the six out: (0.9 + 0.7 + 0.45 + 0.35 + 0.225 + 0.175) / 6 = 0.47.
    assert evaluate(two, shortage, index, settings).explanation.coverage == pytest.approx(2.8 / 6, abs=1e-4)
    found = pair_bounds([one, two], [shortage], index, settings)
    assert [[one, two][n].key for n in found.candidate] == ["worker:2"]


@pytest.mark.parametrize("candidate_level, shortage_level, factor", [(2, 2, 1.0), (2, 1, 1.0), (2, 3, 0.5), (2, 4, 0.25), (0, 4, 1.0)])
def test_related_skills_count_less_for_each_skill_level_up(candidate_level, shortage_level, factor):
    c = replace(cand(skills=("a2", "b1")), skill_level=candidate_level)
    s = replace(short(required=("a1", "b1")), skill_level=shortage_level)
    e = evaluate(c, s, INDEX, replace(PLAIN, min_coverage=0, min_related_credit=0)).explanation
    assert e.coverage == pytest.approx((1 + 0.9 * factor) / 2, abs=1e-4)


def test_knowledge_counts_only_as_far_as_the_competences_are_covered():
    s = short(required=("k1", "a1", "b1"))
    settings = replace(PLAIN, min_coverage=0, coverage_target=0.5)
    knows_only = evaluate(cand(skills=("k1",)), s, INDEX, settings).explanation
    assert knows_only.matched == ("k1",) and knows_only.coverage == 0.0
    can_do_half = evaluate(cand(skills=("k1", "a1")), s, INDEX, settings).explanation
    assert can_do_half.coverage == pytest.approx(min(1, (1 + 0.5) / 2.5 / 0.5), abs=1e-4)


def test_the_best_covering_skill_is_named_and_the_choice_is_stable():
    profile = INDEX.profile(frozenset(["a3", "a2"]), PLAIN)
    assert INDEX.cover("a1", profile, PLAIN) == (pytest.approx(0.9), "a2")  # level 3 beats level 2


def test_weight_by_specificity():
    index = SkillIndex.build([SkillInfo("core", "S8.9.0", n_occupations=0), SkillInfo("generic", "S5.5.0", n_occupations=240)])
    assert index.weight("core", PLAIN) == 1.0
    assert index.weight("generic", PLAIN) < 0.1
    # Holding only the generic skill covers little of a job that needs both.
    proposal = evaluate(cand(skills=("generic",)), short(required=("core", "generic")), index, MatchSettings(min_coverage=0, coverage_target=1))
    assert proposal.explanation.coverage < 0.1


# ------------------------------------------------------------------ ranking and score


def ranked(candidates, shortage, settings=PLAIN):
    return [p.candidate_key for p in candidate_pairs(candidates, [shortage], INDEX, settings)]


def test_exact_beats_related_beats_fewer():
    s = short(required=("a1", "b1"))
    candidates = [
        cand("worker:fewer", skills=("b1",)),
        cand("worker:related", skills=("a2", "b1")),
        cand("worker:level2", skills=("a3", "b1")),
        cand("worker:exact", skills=("a1", "b1")),
    ]
    settings = replace(PLAIN, min_coverage=0.4)
    assert ranked(candidates, s, settings) == ["worker:exact", "worker:related", "worker:level2", "worker:fewer"]


def test_nice_to_have_then_nearer_then_earlier():
    s = short(required=("a1",), nice=("b1",))
    candidates = [
        cand("worker:far-late", lon=5.2, available=START + timedelta(days=20)),
        cand("worker:far-early", lon=5.2, available=START - timedelta(days=30)),
        cand("worker:near", lon=5.05, available=START + timedelta(days=20)),
        cand("worker:nice", lon=5.25, skills=("a1", "b1"), available=START + timedelta(days=30)),
    ]
    assert ranked(candidates, s) == ["worker:nice", "worker:near", "worker:far-early", "worker:far-late"]


def test_ties_break_on_key_not_on_input_order():
    s = short()
    keys = ["worker:3", "worker:1", "listing:2"]
    assert ranked([cand(k) for k in keys], s) == sorted(keys)


def test_scores_stay_in_unit_interval():
    rnd = random.Random(3)
    skills = ["a1", "a2", "a3", "b1", "b2", "c1", "c2", "k1", "k2", "t1", "t2", "x"]
    for i in range(300):
        c = cand(skills=rnd.sample(skills, rnd.randint(0, 6)), lon=5 + rnd.random() * 0.5,
                 available=START + timedelta(days=rnd.randint(-200, 30)))
        s = short(required=rnd.sample(skills, rnd.randint(0, 5)), nice=rnd.sample(skills, rnd.randint(0, 3)),
                  training=rnd.random() < 0.5)
        for settings in (PLAIN, MatchSettings()):
            p = evaluate(c, s, INDEX, settings)
            if p is not None:
                assert 0.0 <= p.score <= 1.0
                assert 0.0 <= p.explanation.coverage <= 1.0
                e = p.explanation
                assert sorted(e.matched + tuple(r for r, _ in e.related) + e.missing) == sorted(set(s.required_skills))


# ------------------------------------------------------------------ allocation under caps


def scored_candidates(n):
    # worker:0 is the nearest (best), worker:n-1 the farthest.
    return [cand(f"worker:{i}", lon=5.0 + i * 0.01) for i in range(n)]


@pytest.mark.parametrize("per_position, positions, expected", [(3, 1, 3), (2, 1, 2), (2, 2, 4), (3, 3, 6), (1, 0, 0)])
def test_a_shortage_gets_at_most_k_candidates_per_open_position(per_position, positions, expected):
    settings = replace(PLAIN, candidates_per_position=per_position)
    result = match(scored_candidates(6), [short(positions=positions)], INDEX, settings)
    assert [p.candidate_key for p in result] == [f"worker:{i}" for i in range(expected)]


@pytest.mark.parametrize("per_candidate, capacity, expected", [(3, 1, 3), (2, 1, 2), (2, 3, 6), (1, 2, 2)])
def test_a_candidate_gets_at_most_m_shortages_scaled_by_listing_size(per_candidate, capacity, expected):
    settings = replace(PLAIN, shortages_per_candidate=per_candidate)
    shortages = [short(i, lon=5.0 + i * 0.01) for i in range(8)]
    result = match([cand("listing:1", capacity=capacity)], shortages, INDEX, settings)
    assert [p.shortage_id for p in result] == list(range(expected))


@pytest.mark.parametrize("listing_size, others_offered", [(1, 2), (2, 1), (3, 0), (10, 0)])
def test_a_listing_of_n_people_fills_n_places_of_a_shortage(listing_size, others_offered):
    # 1 position x 3 per position = 3 places; the listing is nearest, so it is allocated first.
    candidates = [cand("listing:1", capacity=listing_size)] + [cand(f"worker:{i}", lon=5.1) for i in range(5)]
    result = match(candidates, [short()], INDEX, PLAIN)
    assert result[0].candidate_key == "listing:1"
    assert len(result) - 1 == others_offered


def test_caps_spread_offers_over_the_run():
    # Two shortages, one place each, two candidates: greedy over the whole run gives each shortage one.
    settings = replace(PLAIN, candidates_per_position=1, shortages_per_candidate=1)
    candidates = [cand("worker:a", skills=("a1", "b1")), cand("worker:b", skills=("a1",))]
    shortages = [short(1, required=("a1", "b1")), short(2, required=("a1",))]
    assert {(p.candidate_key, p.shortage_id) for p in match(candidates, shortages, INDEX, settings)} == {
        ("worker:a", 1),
        ("worker:b", 2),
    }


def test_excluded_pairs_are_not_proposed_again():
    result = match(scored_candidates(2), [short(1), short(2)], INDEX, PLAIN, exclude=frozenset({("worker:0", 1)}))
    assert ("worker:0", 1) not in {(p.candidate_key, p.shortage_id) for p in result}
    assert len(result) == 3


def test_proposals_still_in_play_count_against_the_caps():
    # 3 places; 2 taken by earlier proposals nobody answered yet -> 1 new. A candidate with 2 of its
    # 3 shortages in play gets 1 more.
    result = match(scored_candidates(5), [short(1)], INDEX, PLAIN, shortage_load={1: 2})
    assert [p.candidate_key for p in result] == ["worker:0"]
    shortages = [short(i, lon=5.0 + i * 0.01) for i in range(5)]
    result = match([cand("worker:1")], shortages, INDEX, PLAIN, candidate_load={"worker:1": 2})
    assert [p.shortage_id for p in result] == [0]
    assert match([cand("worker:1")], shortages, INDEX, PLAIN, candidate_load={"worker:1": 5}) == []


def test_same_result_whatever_the_input_order():
    rnd = random.Random(11)
    skills = ["a1", "a2", "a3", "b1", "b2", "t1", "t2"]
    candidates = [
        cand(f"worker:{i}", lat=52 + rnd.random() * 0.3, lon=5 + rnd.random() * 0.3, skills=rnd.sample(skills, 3),
             capacity=rnd.choice([1, 1, 2]))
        for i in range(40)
    ]
    shortages = [
        short(i, lat=52 + rnd.random() * 0.3, lon=5 + rnd.random() * 0.3, required=rnd.sample(skills, 2),
              positions=rnd.choice([1, 2]))
        for i in range(15)
    ]
    expected = match(candidates, shortages, INDEX, MatchSettings())
    assert len(expected) > 15
    for seed in range(5):
        rnd.seed(seed)
        c, s = candidates[:], shortages[:]
        rnd.shuffle(c)
        rnd.shuffle(s)
        assert match(c, s, INDEX, MatchSettings()) == expected


def test_duplicate_candidates_are_refused():
    with pytest.raises(ValueError):
        match([cand("worker:1"), cand("worker:1")], [short()], INDEX, PLAIN)


# ------------------------------------------------------------------ realistic cases on the real ESCO data


def essential(label_en):
    occupation_id = reference.resolve_occupation(label_en)
    assert occupation_id, label_en
    return reference.occupations()[occupation_id].essential_skills


@pytest.mark.parametrize(
    "old, new, passes",
    [
        # Crisis-time switches that happened (cabin crew into hospitals, hospitality into home care,
        # non-food retail into distribution centres): 0 shared skill ids, several shared groups.
        ("flight attendant", "healthcare assistant", True),
        ("waiter/waitress", "home care aide", True),
        ("shop assistant", "warehouse order picker", True),
        # No overlap worth the name, or domain knowledge that does not make the profession.
        ("software developer", "healthcare assistant", False),
        ("flight attendant", "airline transport pilot", False),
        ("waiter/waitress", "lawyer", False),
    ],
)
def test_realistic_switches_on_esco_essential_skills(old, new, passes):
    index = skill_index_from_reference()
    c = cand(skills=essential(old))
    s = short(required=essential(new))
    proposal = evaluate(c, s, index, MatchSettings())
    assert (proposal is not None) is passes, evaluate(c, s, index, MatchSettings(min_coverage=0))
    if passes:
        assert len(proposal.explanation.related) > len(proposal.explanation.matched)


def test_sector_domain_knowledge_alone_is_not_enough():
    # The flight attendant shares five exact skills with the pilot, and is still ranked far below
    # a care job where it shares none.
    index = skill_index_from_reference()
    c = cand(skills=essential("flight attendant"))
    anyone = MatchSettings(min_coverage=0, min_coverage_with_training=0)
    pilot = evaluate(c, short(required=essential("airline transport pilot")), index, anyone)
    care = evaluate(c, short(required=essential("healthcare assistant")), index, anyone)
    assert len(pilot.explanation.matched) >= 5 and not care.explanation.matched
    assert care.score > pilot.score


@pytest.mark.parametrize("candidate_level, shortage_level, reach", [(2, 2, 1.0), (2, 3, 1.0), (2, 4, 0.5), (1, 4, 0.25), (0, 4, 1.0), (4, 1, 1.0)])
def test_two_or_more_skill_levels_up_rank_lower_but_pass_as_before(candidate_level, shortage_level, reach):
    settings = replace(PLAIN, min_coverage=0.4, min_related_credit=0)
    c = replace(cand(skills=("a1", "b1")), skill_level=candidate_level)
    s = replace(short(required=("a1", "b1")), skill_level=shortage_level)
    p = evaluate(c, s, INDEX, settings)
    # Exact skills only: the level changes no credit, so rule 5 decides exactly as without levels.
    assert p is not None and p.explanation.coverage == 1.0
    near = settings.weight_distance + settings.weight_availability * 0.5
    entry = 1 - (shortage_level - 1) / 3  # MatchSettings.level_ease: less formal education, easier entry
    expected = settings.weight_coverage * reach + settings.weight_reach * reach * entry + near
    assert p.score == pytest.approx(expected, abs=1e-6)


def test_with_no_overlap_at_all_the_job_within_reach_ranks_first():
    c = replace(cand(skills=("a1",)), skill_level=2)
    anyone = replace(PLAIN, min_coverage=0)
    within = evaluate(c, replace(short(required=("b1",)), skill_level=2), INDEX, anyone)
    degree = evaluate(c, replace(short(required=("b1",)), skill_level=4), INDEX, anyone)
    assert within.explanation.coverage == degree.explanation.coverage == 0.0
    assert within.score > degree.score


def test_where_skills_say_nothing_the_job_that_needs_less_education_ranks_first():
    # An actor (ISCO skill level 4) shares no ESCO skill with a call centre agent (2) nor with a
    # judge (4): no step up either way, so only the entry level tells them apart.
    c = replace(cand(skills=("a1",)), skill_level=4)
    anyone = replace(PLAIN, min_coverage=0)
    scores = {
        level: evaluate(c, replace(short(required=("b1",)), skill_level=level), INDEX, anyone).score
        for level in (0, 1, 2, 3, 4)
    }
    assert scores[1] > scores[2] > scores[3] > scores[4]
    assert scores[0] == scores[1]  # unknown level: no rule applies
    assert scores[1] - scores[4] == pytest.approx(anyone.weight_reach, abs=1e-6)
    # Switched off, the level no longer orders them.
    off = replace(anyone, level_ease=0.0)
    assert len({evaluate(c, replace(short(required=("b1",)), skill_level=level), INDEX, off).score for level in (1, 4)}) == 1


def test_entry_level_never_outweighs_a_sliver_of_coverage():
    # An elementary job the candidate does not fit at all stays below a degree job they partly cover.
    c = replace(cand(skills=("a1",)), skill_level=4)
    anyone = replace(PLAIN, min_coverage=0, min_related_credit=0)
    elementary = evaluate(c, replace(short(required=("b1", "b2")), skill_level=1), INDEX, anyone)
    one_of_thirty = ("a1", *(f"unknown{i}" for i in range(29)))  # unknown skills weigh 1 each
    degree = evaluate(c, replace(short(required=one_of_thirty), skill_level=4), INDEX, anyone)
    assert elementary.explanation.coverage == 0.0 < degree.explanation.coverage
    assert degree.score > elementary.score


def test_the_skill_bound_agrees_with_the_full_score_on_esco_profiles():
    """Over real ESCO profiles (with and without training, with skill levels), the early upper bound
    turns away exactly the pairs the full score turns away."""
    from nlwerktdoor.matching.rules import _score
    from nlwerktdoor.services.matching import occupation_skill_level

    index = skill_index_from_reference()
    rng = random.Random(7)
    occupations = sorted((o for o in reference.occupations().values() if len(o.essential_skills) >= 6),
                         key=lambda o: o.id)
    sample = rng.sample(occupations, 60)
    settings = MatchSettings()
    passed = 0
    for n, source in enumerate(sample):
        skills = list(source.essential_skills) + list(source.optional_skills)[:3]
        c = replace(cand(key=f"worker:{n}", skills=tuple(skills)), skills=frozenset(skills),
                    skill_level=occupation_skill_level(source.id))
        for m, target in enumerate(sample):
            s = replace(short(id=m, required=tuple(target.essential_skills)), training_offered=bool(m % 2),
                        skill_level=occupation_skill_level(target.id))
            fast = _score(c, s, index, settings, 1.0, 10.0)
            assert fast == _score(c, s, index, settings, 1.0, 10.0, bound=False)
            passed += fast is not None
    assert 60 <= passed < 60 * 60  # some pass (the same occupation at least), most do not


def test_the_compiled_score_is_the_score_of_the_rules_on_esco_profiles():
    """exact.score_pairs (numba: what a run's allocation scores) against rules.evaluate on real ESCO
    profiles, where many related credits tie: every pair the same, to the bit and the explanation.
    Places, dates and certificates vary around each rule's edge (29 to 31 days late, the radius)."""
    from nlwerktdoor.matching.exact import score_pairs
    from nlwerktdoor.services.matching import occupation_skill_level

    index = skill_index_from_reference()
    rng = random.Random(11)
    occupations = sorted((o for o in reference.occupations().values() if len(o.essential_skills) >= 6),
                         key=lambda o: o.id)
    sample = rng.sample(occupations, 50)
    candidates, shortages = [], []
    for n, source in enumerate(sample):
        skills = frozenset(list(source.essential_skills) + list(source.optional_skills)[:3])
        candidates.append(replace(cand(key=f"worker:{n}", lat=52.0 + n * 0.004, radius=(10, 25, 50)[n % 3],
                                       certs=("VOG",) if n % 2 else (), sectors=("care",) if n % 5 == 0 else (),
                                       available=START + timedelta(days=29 + n % 3)),
                                  skills=skills, skill_level=occupation_skill_level(source.id)))
    for m, target in enumerate(sample):
        shortages.append(replace(short(id=m, sector=("care", "logistics")[m % 2], lat=52.1, radius=(20, 40)[m % 2],
                                       required=tuple(target.essential_skills),
                                       nice=tuple(target.optional_skills)[:5], certs=("VOG",) if m % 4 == 0 else ()),
                                 training_offered=bool(m % 3 == 0), skill_level=occupation_skill_level(target.id)))
    for settings in (MatchSettings(), MatchSettings(min_coverage=0.0, min_coverage_with_training=0.0)):
        pairs = [(c, s) for c in range(len(candidates)) for s in range(len(shortages))]
        expected = [evaluate(candidates[c], shortages[s], index, settings) for c, s in pairs]
        assert score_pairs(candidates, shortages, index, settings, pairs) == expected
        assert sum(p is not None for p in expected) > 50
        assert any(p is not None and p.explanation.related for p in expected)


def test_the_run_leaves_the_cycle_collector_as_it_found_it():
    import gc

    assert gc.isenabled()
    try:
        assert match([cand()], [short()], INDEX, PLAIN)
        assert gc.isenabled()
        gc.disable()
        assert match([cand()], [short()], INDEX, PLAIN)
        assert not gc.isenabled()
        with pytest.raises(ValueError):
            match([cand(), cand()], [short()], INDEX, PLAIN)  # a duplicate candidate: refused
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_settings_hash_is_kept_and_agrees_with_equality():
    """MatchSettings works its hash out once (the skill index keys its memos by it): equal settings,
    however made, hash alike, also after a pickle round trip; other settings are another key."""
    import dataclasses
    import pickle

    from nlwerktdoor.matching.types import MatchSettings

    base = MatchSettings()
    memo = {base: "base"}
    assert memo[MatchSettings()] == "base"
    assert memo[pickle.loads(pickle.dumps(base))] == "base"
    other = dataclasses.replace(base, min_coverage=base.min_coverage + 0.01)
    assert other not in memo
    assert memo[dataclasses.replace(other, min_coverage=base.min_coverage)] == "base"


def test_without_a_writable_cache_the_engine_compiles_per_process():
    """Where numba cannot keep compiled code on disk (a read-only install under systemd's
    ProtectSystem=strict, no NUMBA_CACHE_DIR), importing the engine must not fail: it compiles anew."""
    from nlwerktdoor.matching.compiled import cache_available

    def no_locator(**options):
        def decorate(function):
            raise RuntimeError(f"cannot cache function {function.__name__!r}: no locator available for file 'x'")
        return decorate

    assert cache_available(no_locator) is False
    assert cache_available() is True  # here the source tree is writable


def test_memory_a_thread_freed_is_given_back_to_the_system():
    """A run's blocks make their pairs on worker threads and let go of most of them at each cut; glibc
    keeps such memory in the thread's heap. give_back_freed_memory hands its pages back: resident
    memory falls by what was freed, even with an array still held above it."""
    import os
    import threading

    import numpy as np

    from nlwerktdoor.matching import bounds

    def resident() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    assert bounds._MALLOC_TRIM is not None  # glibc, as on every machine the project runs on
    held = []

    def churn():
        big = np.ones(16 << 20, np.uint8)  # freed, it raises glibc's threshold for mapping arrays alone
        del big
        arrays = [np.ones(1 << 20, np.uint8) for _ in range(300)]  # now from the thread's heap
        held.append(arrays[-1])  # the last stays: the heap cannot simply be cut short at its top
        del arrays

    thread = threading.Thread(target=churn)
    thread.start()
    thread.join()
    before = resident()
    bounds.give_back_freed_memory()
    assert before - resident() > 200 << 20
