"""The evaluation (matching.evaluation, services.evaluation, `eval` command) on hand-made data with known answers."""

from datetime import date, timedelta

import pytest

from nlwerktdoor.matching import (
    CandidateIn,
    Explanation,
    MatchSettings,
    Proposal,
    ShortageIn,
    SkillInfo,
)
from nlwerktdoor.matching.evaluation import (
    FIT,
    MISFIT,
    Case,
    Labelled,
    Ranking,
    Site,
    check_proposals,
    evaluate_cases,
    format_report,
    gini,
    hit_rate,
    outrank_rate,
    pass_rate,
    rank_case,
    run_cases,
)
from nlwerktdoor.services import evaluation as service
from tests.engine_fixtures import small_index

INDEX = small_index(
    SkillInfo("c1", "S5.5.5", ("S",)),
    SkillInfo("c2", "S5.5.5", ("S",)),
)
SKILLS = {
    "cand": ("a1", "a2", "a3"),
    "target": ("a1", "a2", "a3"),  # everything exact
    "near": ("a1", "a2", "b1"),  # two of three exact
    "far": ("b1", "b2"),  # nothing
    "farther": ("c1", "c2"),  # nothing
    "twin": ("a1", "a2", "a3"),  # the same skills as the target
}
SETTINGS = MatchSettings(coverage_target=1.0)  # plain shares, so the numbers are exact
START = date(2020, 4, 1)


def case(id="c", kind=FIT, target="target", implausible=("far", "farther"), candidate="cand"):
    return Case(id, kind, candidate, target, "care", tuple(implausible), "constructed: test")


def test_rank_target_first_and_ahead_of_every_implausible():
    r = rank_case(case(), SKILLS, ["near"], INDEX, SETTINGS, training=False)
    assert (r.rank, r.n_options) == (1, 4)
    assert r.target_passes and r.outranks_implausible
    assert r.ahead == () and r.implausible_passing == ()


def test_rank_behind_a_better_distractor_and_ties_count_against_the_target():
    r = rank_case(case(target="near"), SKILLS, ["target"], INDEX, SETTINGS, training=False)
    assert r.rank == 2 and r.ahead == ("target",)
    assert r.outranks_implausible
    tie = rank_case(
        case(implausible=("twin", "far", "farther")),
        SKILLS,
        [],
        INDEX,
        SETTINGS,
        training=False,
    )
    assert tie.rank == 2 and not tie.outranks_implausible and tie.implausible_passing == ("twin",)


def test_a_target_below_the_threshold_fails_without_training_and_passes_with_it():
    strict = MatchSettings(coverage_target=1.0, min_coverage=0.9, min_coverage_with_training=0.5)
    without = rank_case(case(target="near"), SKILLS, [], INDEX, strict, training=False)
    with_training = rank_case(case(target="near"), SKILLS, [], INDEX, strict, training=True)
    assert not without.target_passes and with_training.target_passes


def _ranking(rank, outranks=True, passes=True):
    return Ranking("x", False, rank, 5, passes, outranks, (), ())


def test_rates_on_known_rankings():
    rankings = [
        _ranking(1),
        _ranking(2),
        _ranking(3, outranks=False),
        _ranking(4, passes=False),
    ]
    assert hit_rate(rankings, 1) == 0.25
    assert hit_rate(rankings, 3) == 0.75
    assert outrank_rate(rankings) == 0.75
    assert pass_rate(rankings) == 0.75
    assert hit_rate([], 3) == 0.0


@pytest.mark.parametrize(
    "values, expected",
    [
        ([], 0.0),
        ([0, 0], 0.0),
        ([2, 2, 2, 2], 0.0),
        ([0, 0, 0, 4], 0.75),
        ([1, 3], 0.25),
    ],
)
def test_gini(values, expected):
    assert gini(values) == pytest.approx(expected)


def _proposal(key, shortage_id, coverage=1.0, required=("a1",), score=0.9):
    return Proposal(key, shortage_id, score, 0.0, Explanation(tuple(required), (), (), (), coverage))


def test_check_proposals_finds_each_broken_rule():
    ok = CandidateIn(
        "ok",
        52.0,
        5.0,
        10,
        frozenset({"a1"}),
        frozenset({"VOG"}),
        frozenset({"care"}),
        START,
    )
    late = CandidateIn(
        "late",
        52.0,
        5.0,
        10,
        frozenset({"a1"}),
        frozenset({"VOG"}),
        frozenset(),
        START + timedelta(days=60),
    )
    far = CandidateIn("far", 53.0, 5.0, 10, frozenset({"a1"}), frozenset({"VOG"}), frozenset(), START)
    shortage = ShortageIn(1, "care", 52.0, 5.0, 10, ("a1",), (), frozenset({"VOG"}), START)
    logistics = ShortageIn(2, "logistics", 52.0, 5.0, 10, ("a1",), (), frozenset(), START)
    needs_bhv = ShortageIn(3, "care", 52.0, 5.0, 10, ("a1",), (), frozenset({"BHV"}), START)
    candidates, shortages = [ok, late, far], [shortage, logistics, needs_bhv]
    assert check_proposals([_proposal("ok", 1)], candidates, shortages, SETTINGS) == (
        [],
        [],
    )
    hard, other = check_proposals(
        [
            _proposal("late", 1),  # rule 1
            _proposal("far", 1),  # rule 2 (111 km)
            _proposal("ok", 3),  # rule 3 (BHV); ok wants care: sector fine
            _proposal("ok", 2),  # rule 4 (wants care only)
            _proposal("ok", 1),  # fine
            _proposal("ok", 1, coverage=0.2),  # rule 5, and the same pair twice
        ],
        candidates,
        shortages,
        SETTINGS,
    )
    assert [line.split(" (")[0] for line in hard] == [
        "rule 1",
        "rule 2",
        "rule 3",
        "rule 4",
        "rule 5",
    ]
    assert any("twice" in line for line in other)
    _hard, other = check_proposals(
        [_proposal("ok", 1, required=("a2",), score=1.5)],
        candidates,
        shortages,
        SETTINGS,
    )
    assert any("outside [0, 1]" in line for line in other)
    assert any("explanation" in line for line in other)


def test_check_proposals_finds_broken_volume_caps():
    caps = MatchSettings(coverage_target=1.0, candidates_per_position=1, shortages_per_candidate=1)
    cands = [CandidateIn(k, 52.0, 5.0, 10, frozenset({"a1"}), frozenset(), frozenset(), START) for k in ("x", "y")]
    shortages = [ShortageIn(i, "care", 52.0, 5.0, 10, ("a1",), (), frozenset(), START) for i in (1, 2)]
    _hard, other = check_proposals(
        [_proposal("x", 1), _proposal("y", 1), _proposal("x", 2)],
        cands,
        shortages,
        caps,
    )
    assert any("shortage 1 offered 2" in line for line in other)
    assert any("x offered 2" in line for line in other)


def test_a_run_over_tiny_cases_keeps_every_rule_and_counts_offers():
    cases = [
        case("c1"),
        case("c2", target="near"),
        case("m1", kind=MISFIT, target="far", implausible=()),
    ]
    sites = [Site("here", 52.0, 5.0), Site("there", 52.05, 5.0)]
    run = run_cases(
        Labelled(cases, SKILLS, {"target": "care"}, ["near"], sites, START),
        INDEX,
        SETTINGS,
    )
    assert run.violations == [] and run.other_violations == []
    assert run.candidates == 3 and run.shortages == 2 * 4  # target, near, far, farther at both sites
    assert run.implausible_offers == []  # nobody is offered far / farther
    assert 0 < run.share_matched <= 1
    assert sum(run.offers_per_shortage) == run.proposals


def test_report_prints_every_figure():
    cases = [
        case("c1"),
        case("c2", target="near"),
        case("m1", kind=MISFIT, target="far", implausible=()),
    ]
    report = evaluate_cases(
        Labelled(cases, SKILLS, {}, ["near"], [Site("here", 52.0, 5.0)], START),
        INDEX,
        SETTINGS,
    )
    assert report.fit_cases == 2 and report.misfit_cases == 1
    assert report.misfit_passing == {False: [], True: []}
    text = format_report(report)
    for figure in FIGURES:
        assert figure in text


FIGURES = (
    "target at rank 1:",
    "target within top 3:",
    "target outranks every implausible:",
    "hard-rule violations:",
    "candidates with at least one match:",
    "offers per eligible shortage: gini",
    "without training",
    "with training offered",
)


# ---------------------------------------------------------------- the labelled set and the command


def test_the_labelled_set_loads_and_is_large_enough():
    cases = service.load_cases(service.DEFAULT_CASES.read_text(encoding="utf-8"))
    fits = [c for c in cases if c.kind == FIT]
    assert len(fits) >= 40
    assert any(c.kind == MISFIT for c in cases)
    assert all(len(c.implausible) >= 3 for c in fits)
    assert all(c.source for c in cases)
    assert len({c.id for c in cases}) == len(cases)


@pytest.mark.parametrize(
    "row, message",
    [
        (
            "x,fit,flight attendant,no such job,care,lawyer|judge|notary,src",
            "unknown occupation",
        ),
        (
            "x,maybe,flight attendant,healthcare assistant,care,lawyer|judge|notary,src",
            "kind must be",
        ),
        (
            "x,fit,flight attendant,healthcare assistant,care,lawyer|judge,src",
            "at least 3 implausible",
        ),
        (
            "x,fit,flight attendant,healthcare assistant,care,lawyer|judge|notary,",
            "source is empty",
        ),
    ],
)
def test_bad_cases_are_refused_with_the_row(row, message):
    header = "id,kind,candidate,target,target_sector,implausible,source\n"
    with pytest.raises(service.CasesError, match=message) as error:
        service.load_cases(header + row + "\n")
    assert "row 2" in str(error.value)


def test_eval_command_prints_every_figure(cli_runner):
    result = cli_runner.invoke(args=["eval", "--quiet"])
    assert result.exit_code == 0, result.output
    for figure in FIGURES + (
        "misfit cases matched:",
        "implausible offers in the run:",
        "time:",
    ):
        assert figure in result.output


def test_eval_command_reports_a_bad_file(cli_runner, tmp_path):
    bad = tmp_path / "cases.csv"
    bad.write_text("id,kind,candidate,target,target_sector,implausible,source\nx,fit,nobody,nobody,care,,\n")
    result = cli_runner.invoke(args=["eval", "--cases", str(bad)])
    assert result.exit_code != 0
    assert "unknown occupation" in result.output


def test_the_split_is_fixed_by_the_id_and_both_halves_are_used():
    from nlwerktdoor.matching.evaluation import HOLDOUT, TUNE, case_split, in_split

    cases = service.load_cases(service.DEFAULT_CASES.read_text(encoding="utf-8"))
    assert case_split("fa-hca") == case_split("fa-hca")
    tune, holdout = in_split(cases, TUNE), in_split(cases, HOLDOUT)
    assert {c.id for c in tune}.isdisjoint(c.id for c in holdout)
    assert len(tune) + len(holdout) == len(cases) == len(in_split(cases, "all"))
    assert min(sum(c.kind == FIT for c in half) for half in (tune, holdout)) >= 15
    with pytest.raises(ValueError):
        in_split(cases, "other")


@pytest.mark.parametrize("split", ["tune", "holdout"])
def test_eval_command_on_one_half(cli_runner, split):
    result = cli_runner.invoke(args=["eval", "--quiet", "--split", split])
    assert result.exit_code == 0, result.output
    assert f"split: {split}" in result.output
    from nlwerktdoor.matching.evaluation import in_split

    half = in_split(service.load_cases(service.DEFAULT_CASES.read_text(encoding="utf-8")), split)
    assert f"labelled cases: {sum(c.kind == FIT for c in half)} fit, {sum(c.kind == MISFIT for c in half)} misfit" in result.output
