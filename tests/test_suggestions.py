"""Adjacent-occupation suggestions on the worker's "Mijn matches" page (services.suggestions)."""

import html

import pytest

from nlwerktdoor import reference
from nlwerktdoor.extensions import db
from nlwerktdoor.models import Match
from nlwerktdoor.services.suggestions import (
    GROWING_OCCUPATIONS,
    curated_growing_occupations,
    growing_targets,
    suggestions_for,
)
from tests.factories import make_organisation, make_shortage, make_worker, occupation_id

MATCHES_URL = "/werkenden/matches"
HEADING = "Mensen met jouw vaardigheden passen ook als"
IMPLAUSIBLE = (
    "airline transport pilot",
    "lawyer",
    "specialised doctor",
    "civil engineer",
)


def test_every_curated_occupation_exists_in_esco():
    assert len(curated_growing_occupations()) == len({label for _sector, label in GROWING_OCCUPATIONS})


def test_a_flight_attendant_gets_plausible_suggestions_not_the_cockpit_or_the_court(
    app,
):
    care = make_organisation(side="growing", sector_code="care")
    # Open shortages for implausible professions in a growing sector: they are targets too.
    for label in IMPLAUSIBLE:
        make_shortage(care, occupation=label, title=label)
    worker = make_worker(occupation="flight attendant")
    suggestions = suggestions_for(worker, k=5)
    suggested = {s.occupation_id for s in suggestions}
    assert len(suggestions) == 5
    assert suggested.isdisjoint(occupation_id(label) for label in IMPLAUSIBLE)
    assert occupation_id("flight attendant") not in suggested  # never their own occupation
    assert all(s.sector_code in ("care", "food-retail", "logistics", "education", "government") for s in suggestions)
    assert any(s.fit in ("good", "training") for s in suggestions)


def test_a_suggestion_lists_missing_skills_and_nearby_shortages(app):
    worker = make_worker(occupation="waiter/waitress", pc4="1012", max_distance_km=30)
    top = suggestions_for(worker, k=1)[0]
    care = make_organisation(side="growing", sector_code="care")
    label = reference.occupations()[top.occupation_id].label_en
    near = make_shortage(care, occupation=label, title="Dichtbij", pc4="1011")
    make_shortage(care, occupation=label, title="Te ver", pc4="9711")  # Groningen: beyond 30 km
    again = suggestions_for(worker, k=1)[0]
    assert again.occupation_id == top.occupation_id
    assert [s.id for s in again.nearby] == [near.id] and again.n_nearby == 1
    assert len(again.missing) <= 3 and set(again.missing) <= set(
        reference.occupations()[top.occupation_id].essential_skills
    )
    assert again.list_radius_km == 50  # the smallest radius of the public list that covers 30 km


def test_only_open_shortages_of_growing_sectors_add_targets(app):
    growing = make_organisation(side="growing", sector_code="care")
    shrinking = make_organisation(side="growing", sector_code="aviation")
    make_shortage(growing, occupation="midwife")
    make_shortage(shrinking, occupation="airport security officer")
    make_shortage(growing, occupation="radiographer", status="closed")
    targets = growing_targets()
    assert targets[occupation_id("midwife")] == "care"
    assert occupation_id("airport security officer") not in targets
    assert occupation_id("radiographer") not in targets


def test_a_worker_without_matches_sees_suggestions(client, login_as):
    care = make_organisation(side="growing", sector_code="care")
    for label in IMPLAUSIBLE:
        make_shortage(care, occupation=label, title="Vacature", pc4="9711")  # far away: no match
    worker = make_worker(occupation="flight attendant")
    login_as(worker.user)
    page = html.unescape(client.get(MATCHES_URL).get_data(as_text=True))
    assert "Nog geen matches" in page
    assert HEADING in page
    first = suggestions_for(worker, k=1)[0]
    assert reference.occupation_label(first.occupation_id, "nl") in page
    assert "/tekorten/?postcode=1012" in page
    for label in IMPLAUSIBLE:
        assert reference.occupation_label(occupation_id(label), "nl") not in page


@pytest.mark.parametrize("n_matches, shown", [(2, True), (3, False)])
def test_suggestions_only_while_a_worker_has_few_matches(client, login_as, n_matches, shown):
    worker = make_worker(occupation="flight attendant")
    care = make_organisation(side="growing", sector_code="care")
    for i in range(n_matches):
        shortage = make_shortage(care, title=f"Zorg {i}")
        db.session.add(
            Match(
                shortage_id=shortage.id,
                worker_id=worker.id,
                score=0.8,
                distance_km=1.0,
                explanation={},
            )
        )
    db.session.commit()
    login_as(worker.user)
    page = html.unescape(client.get(MATCHES_URL).get_data(as_text=True))
    assert (HEADING in page) is shown


def test_no_profile_no_suggestions(app):
    assert suggestions_for(None) == []
