"""The data generator of issue 4: deterministic, importable, plausible, and dense in the cities."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from nlwerktdoor import reference
from nlwerktdoor.models import Organisation, Shortage, StaffListing, User, WorkerProfile
from nlwerktdoor.models.sector import DEFAULT_SECTORS
from nlwerktdoor.services import generator
from nlwerktdoor.services.imports import import_csv
from nlwerktdoor.services.matching import run_matching

TODAY = date(2026, 3, 2)
TREND = {code: trend for code, _nl, _en, trend in DEFAULT_SECTORS}
BIG_FOUR = {"Amsterdam", "Rotterdam", "'s-Gravenhage", "Utrecht"}


def small(seed=7, candidates=300, shortages=100, today=TODAY):
    return generator.GeneratedData(candidates, shortages, seed=seed, today=today)


def everything(data):
    return dict(
        organisations=data.organisations("shrinking") + data.organisations("growing"),
        workers=list(data.workers()),
        listings=list(data.listings()),
        shortages=list(data.shortage_rows()),
    )


def test_same_seed_same_rows_other_seed_other_rows():
    first, again = everything(small()), everything(small())
    assert first == again
    other = everything(small(seed=8))
    for kind in ("workers", "listings", "shortages"):
        assert [r["pc4"] for r in first[kind]] != [r["pc4"] for r in other[kind]], kind


def test_csv_files_are_the_same_for_the_same_seed(tmp_path):
    one = generator.write_csv(small(), tmp_path / "one")
    two = generator.write_csv(small(), tmp_path / "two")
    assert set(one) == {"shortages", "listings", "workers"}
    for kind in one:
        assert one[kind].read_bytes() == two[kind].read_bytes()


def test_more_shortages_leave_the_candidates_alone():
    # Each kind has its own random stream: a bigger run is the smaller one plus more rows.
    smaller, bigger = small(shortages=100), small(shortages=150)
    assert list(smaller.workers()) == list(bigger.workers())
    assert list(smaller.shortage_rows()) == list(bigger.shortage_rows())[:100]


def test_counts_and_split_of_candidates():
    data = everything(small(candidates=300, shortages=100))
    assert len(data["workers"]) == 240 and len(data["listings"]) == 60 and len(data["shortages"]) == 100
    assert len({r["external_ref"] for kind in ("workers", "listings", "shortages") for r in data[kind]}) == 400
    assert len({r["email"] for r in data["workers"]}) == 240
    kvks = [o["kvk"] for o in data["organisations"]]
    assert len(kvks) == len(set(kvks)) and all(len(k) == 8 and k.isdigit() for k in kvks)


def test_values_are_plausible():
    data = everything(small())
    occupations, skills, places = reference.occupations(), reference.skills(), reference.places()
    pools = generator.occupation_pools()
    for kind in ("workers", "listings"):
        for row in data[kind]:
            assert TREND[row["sector"]] == "shrinking"
            assert row["occupation"] in {job.occupation.id for job in pools[row["sector"]][0]}
            assert row["pc4"] in places
            assert row["max_distance_km"] in {r for r, _w in generator.CANDIDATE_RADII}
            assert row["skills"] and set(row["skills"]) <= set(skills)
            assert set(row["skills"]) & set(occupations[row["occupation"]].essential_skills)
            assert set(row["certificates"]) <= set(reference.CERTIFICATES)
            assert TODAY <= row["available_from"] <= TODAY + timedelta(days=28)
            assert 16 <= row["hours_per_week"] <= 40
    for row in data["workers"]:
        assert all(TREND[s] == "growing" for s in row["desired_sectors"])
        assert row["languages"][0] == "nl"
    for row in data["listings"]:
        assert row["count"] >= 1
        assert row["available_until"] is None or row["available_until"] > row["available_from"]
    for row in data["shortages"]:
        assert TREND[row["sector"]] == "growing"
        assert row["pc4"] in places and row["positions"] >= 1
        assert row["max_distance_km"] in {r for r, _w in generator.SHORTAGE_RADII}
        assert row["required_skills"] and set(row["required_skills"]) <= set(skills)
        assert set(row["nice_skills"]) <= set(skills) and not set(row["nice_skills"]) & set(row["required_skills"])
        assert set(row["certificates"]) <= set(reference.CERTIFICATES)
        assert TODAY + timedelta(days=7) <= row["start_date"] <= TODAY + timedelta(days=42)
    # Some variety, not one value everywhere.
    workers = data["workers"]
    assert len({r["occupation"] for r in workers}) >= 20
    assert 0.2 < sum(bool(r["desired_sectors"]) for r in workers) / len(workers) < 0.6
    assert any(r["certificates"] for r in data["shortages"]) and not all(r["certificates"] for r in data["shortages"])
    assert len({r["max_distance_km"] for r in workers}) >= 5


def test_cities_are_denser_than_the_countryside():
    places = reference.places()
    geo = generator.geography()
    weight = dict(zip(geo.pc4s, geo.weights))
    city = [w for pc4, w in weight.items() if places[pc4].municipality in BIG_FOUR]
    countryside = [w for pc4, w in weight.items() if places[pc4].region_code in ("AM02", "AM01")]  # Friesland, Groningen
    # Per PC4 (and city PC4s are small besides, so far more per km²).
    assert sum(city) / len(city) > 2 * sum(countryside) / len(countryside)

    rows = [r["pc4"] for r in small(candidates=500, shortages=0).workers()]
    share_of_rows = sum(places[pc4].municipality in BIG_FOUR for pc4 in rows) / len(rows)
    share_of_pc4s = sum(places[pc4].municipality in BIG_FOUR for pc4 in geo.pc4s) / len(geo.pc4s)
    assert share_of_rows > 1.5 * share_of_pc4s
    assert 0.08 < share_of_rows < 0.25  # the big four hold about 14% of the people


def test_written_csv_imports_cleanly_through_the_importer(db, tmp_path):
    data = small(today=date.today())
    files = generator.write_csv(data, tmp_path)
    expected = {"shortages": data.shortages, "listings": data.n_listings, "workers": data.n_workers}
    for kind in ("shortages", "listings", "workers"):
        report = import_csv(kind, files[kind].read_bytes())
        assert report.ok, report.errors[:3]
        assert (report.created, report.updated) == (expected[kind], 0)

    first = next(data.workers())
    profile = db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.external_ref == first["external_ref"]))
    assert (profile.pc4, profile.skills, profile.certificates) == (first["pc4"], first["skills"], first["certificates"])
    shortage_row = next(data.shortage_rows())
    shortage = db.session.scalar(sa.select(Shortage).where(Shortage.external_ref == shortage_row["external_ref"]))
    assert shortage.required_skills == shortage_row["required_skills"]
    assert shortage.training_offered is shortage_row["training_offered"]
    # Importing the same files again changes nothing.
    again = import_csv("shortages", files["shortages"].read_bytes())
    assert again.ok and (again.created, again.unchanged) == (0, data.shortages)


@pytest.mark.parametrize("today", [date.today()])
def test_loaded_straight_into_the_database_every_row_is_live(db, today):
    data = small(candidates=200, shortages=60, today=today)
    report = generator.load_database(data)
    assert (report.workers, report.listings, report.shortages) == (160, 40, 60)
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == "worker")) == 160
    assert db.session.scalar(sa.select(sa.func.count(Organisation.id)).where(Organisation.verified_at.is_not(None))) \
        == report.organisations
    assert db.session.scalar(sa.select(sa.func.count(StaffListing.id))) == 40

    run = run_matching()
    assert (run.candidates, run.shortages) == (200, 60)
    assert run.new_matches > 0
