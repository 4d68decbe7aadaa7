"""Occupation-to-occupation transfer table (matching.transfer): pure, no app."""

import pytest

from nlwerktdoor import reference
from nlwerktdoor.matching import MatchSettings
from nlwerktdoor.matching.transfer import TransferTable
from nlwerktdoor.services.matching import (
    occupation_skill_level,
    skill_index_from_reference,
)
from tests.engine_fixtures import small_index

# A tiny hierarchy with every group fully specific (n_occupations = 0).
INDEX = small_index()
TINY = {
    "A": ("a1", "a2", "a3"),
    "B": ("a1", "a2", "b1"),  # two exact, one missing
    "C": ("b1", "b2"),  # nothing in common with A
    "N": ("zz-unknown-1", "zz-unknown-2"),  # nonsense: skills nobody has
}


def test_self_coverage_is_highest_and_nonsense_ranks_last():
    table = TransferTable(TINY, TINY, INDEX, MatchSettings())
    ranked = table.nearest("A", k=4)
    assert ranked[0].occupation_id == "A"
    assert ranked[0].coverage == 1.0 and ranked[0].matched == ("a1", "a2", "a3")
    assert ranked[-1].occupation_id in ("C", "N")
    assert {t.occupation_id for t in ranked[-2:]} == {"C", "N"}
    assert table.nearest("A", k=4, among=["N", "B"])[-1].occupation_id == "N"


def test_explanation_accounts_for_every_required_skill():
    table = TransferTable(TINY, TINY, INDEX, MatchSettings())
    b = next(t for t in table.nearest("A", k=4) if t.occupation_id == "B")
    assert b.matched == ("a1", "a2")
    assert b.missing == ("b1",) and b.related == ()
    assert 0.0 < b.coverage <= 1.0


def test_k_among_and_exclude():
    table = TransferTable(TINY, ["A", "B", "C"], INDEX, MatchSettings())
    assert [t.occupation_id for t in table.nearest("A", k=1)] == ["A"]
    assert table.nearest("A", k=0) == []
    assert [t.occupation_id for t in table.nearest("A", k=5, among=["C", "B", "unknown"])] == ["B", "C"]
    excluded = table.nearest_for_skills(table.skills_of("A"), k=5, exclude={"A"})
    assert "A" not in [t.occupation_id for t in excluded]


def test_rows_are_computed_once_and_build_fills_every_source():
    table = TransferTable(TINY, ["A", "B"], INDEX, MatchSettings())
    assert len(table) == 0
    first = table.nearest("A", k=2)
    assert len(table) == 1
    assert table.nearest("A", k=2) == first  # from the cached row, same answer
    table.build()
    assert len(table) == len({frozenset(s) for s in TINY.values()})


@pytest.fixture(scope="module")
def esco_table():
    occupations = {occ.id: occ.essential_skills for occ in reference.occupations().values()}
    levels = {occ_id: occupation_skill_level(occ_id) for occ_id in occupations}
    return TransferTable(occupations, (), skill_index_from_reference(), MatchSettings(), levels)


def _ids(*labels):
    return [reference.resolve_occupation(label) for label in labels]


@pytest.mark.parametrize(
    "label",
    ["flight attendant", "waiter/waitress", "shop assistant", "software developer"],
)
def test_on_esco_an_occupation_covers_itself_best(esco_table, label):
    own = reference.resolve_occupation(label)
    among = [
        own,
        *_ids(
            "healthcare assistant",
            "warehouse order picker",
            "lawyer",
            "airline transport pilot",
        ),
    ]
    assert esco_table.nearest(own, k=1, among=among)[0].occupation_id == own


def test_on_esco_a_flight_attendant_is_nearer_care_than_the_cockpit_or_the_court(
    esco_table,
):
    fa = reference.resolve_occupation("flight attendant")
    care = _ids("healthcare assistant", "care home worker", "home care aide")
    implausible = _ids("airline transport pilot", "lawyer", "specialised doctor")
    ranked = [t.occupation_id for t in esco_table.nearest(fa, k=6, among=care + implausible)]
    assert ranked[0] in care
    best_implausible = min(ranked.index(i) for i in implausible)
    assert best_implausible >= 1
