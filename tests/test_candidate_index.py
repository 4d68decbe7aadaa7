"""The candidate index (services/candidate_index.py): instant candidates read by it exactly what they read
without it."""
import math
import random
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
import sqlalchemy as sa

from nlwerktdoor import reference
from nlwerktdoor.matching import MatchSettings, ShortageIn, rules
from nlwerktdoor.models import CandidateIndexBuild, Match, Shortage, StaffListing, WorkerProfile
from nlwerktdoor.services import candidate_index, matching

from .factories import essential_skills, make_employer, make_listing, make_shortage, make_worker

OCCUPATIONS = ("healthcare assistant", "flight attendant", "waiter", "software developer", "shop assistant",
               "warehouse order picker", "cook")
PLACES = ("3511", "3512", "3431", "3572", "3824", "1012", "3421")
CERTIFICATES = ([], ["VOG"], ["BHV"], ["VOG", "BHV"], ["VCA"])
WISHES = ([], None, ["care"], ["logistics"], ["care", "food_retail"])


@pytest.fixture
def index_dir(app, tmp_path):
    app.config["CANDIDATE_INDEX_DIR"] = str(tmp_path / "index")
    candidate_index.forget()
    yield tmp_path / "index"
    candidate_index.forget()


def _skills(rng, occupation):
    skills = essential_skills(occupation)
    other = essential_skills(rng.choice(OCCUPATIONS))
    return rng.sample(skills, max(len(skills) - rng.randrange(4), 0)) + rng.sample(other, 2)


def _postings(rng, count):
    listings_of = make_employer(side="shrinking").organisation
    made = []
    for n in range(count):
        occupation = rng.choice(OCCUPATIONS)
        common = dict(occupation=occupation, pc4=rng.choice(PLACES), max_distance_km=rng.choice((3, 8, 15, 30, 60)),
                      skills=_skills(rng, occupation), certificates=rng.choice(CERTIFICATES),
                      available_from=date(2026, 11, 20) + timedelta(days=rng.randrange(60)))
        if n % 4 == 3:
            made.append(make_listing(listings_of, count=rng.randrange(1, 5), **common))
        else:
            made.append(make_worker(desired_sectors=rng.choice(WISHES), **common))
    return made


def _shortage(rng, sector="care"):
    occupation = rng.choice(OCCUPATIONS)
    return ShortageIn(0, sector, 52.09, 5.12, rng.choice((5, 20, 50)), tuple(essential_skills(occupation)), (),
                      frozenset(rng.choice(CERTIFICATES)), date(2026, 12, 1) + timedelta(days=rng.randrange(30)),
                      training_offered=rng.random() < 0.5, skill_level=2)


def _read(shortage, settings, use_index: bool, monkeypatch):
    """The keys of the candidates instant candidates read for `shortage` (placed at 3511), keeping those
    the engine's logistics let through (on SQLite the plain read leaves certificates and wishes to it)."""
    real = candidate_index.current
    with monkeypatch.context() as patched:
        if not use_index:
            patched.setattr(candidate_index, "current", lambda: None)
        else:
            assert real() is not None, "no usable index"
        near = reference.places_within("3511", shortage.max_distance_km)
        read = matching._live_candidates(datetime.now(timezone.utc), near=near, fitting=(shortage, settings))
    keys = [c.key for c in read if rules.passes_logistics(c, shortage, settings)]
    assert len(keys) == len(set(keys)), "a row read twice"
    return set(keys)


def test_instant_candidates_read_the_same_with_the_index_as_without(db, index_dir, monkeypatch):
    """Random workers and listings around Utrecht, an index built, then some of them edited, withdrawn
    or added: for random shortages the read by the index finds every candidate the plain read finds,
    and no other, and the index does leave rows out."""
    rng = random.Random(2020)
    postings = _postings(rng, 120)
    build = candidate_index.build()
    assert (build.workers, build.listings) == (90, 30)
    for posting in rng.sample(postings, 30):  # changed after the build: read as they are now
        posting.pc4 = rng.choice(PLACES)
        posting.skills = _skills(rng, rng.choice(OCCUPATIONS))
        posting.max_distance_km = rng.choice((5, 40))
        posting.certificates = rng.choice(CERTIFICATES)
        if isinstance(posting, WorkerProfile) and rng.random() < 0.3:
            posting.status = "withdrawn"
    db.session.commit()
    _postings(rng, 12)  # new since the build
    settings = MatchSettings()
    left_out = 0
    for _ in range(25):
        shortage = _shortage(rng, sector=rng.choice(("care", "logistics")))
        by_index = _read(shortage, settings, True, monkeypatch)
        assert by_index == _read(shortage, settings, False, monkeypatch)
        index, _since = candidate_index.current()
        near = reference.places_within("3511", shortage.max_distance_km)
        gains = matching.skill_gains(shortage, matching.skill_index_from_reference(), settings)
        for kind in ("worker", "listing"):
            considered = index.could_pass(kind, near, shortage, settings, None)
            left_out += len(considered) - len(index.could_pass(kind, near, shortage, settings, gains))
    assert left_out > 0  # the skills' gains turned rows away: the test covers that part too


def test_the_index_turns_away_by_place_radius_dates_certificates_and_wishes(db, index_dir):
    """Each rule alone: what the index lets through for one shortage at 3511 (20 km, VOG, care, starting 1 Dec)."""
    base = dict(occupation="healthcare assistant", pc4="3512", certificates=["VOG"], max_distance_km=30)
    fits = make_worker(**base)
    far = make_worker(**{**base, "pc4": "1012"})
    travels_too_little = make_worker(**{**base, "pc4": "3431", "max_distance_km": 1})
    too_late = make_worker(**base, available_from=date(2027, 3, 1))
    no_vog = make_worker(**{**base, "certificates": ["BHV"]})
    other_wish = make_worker(**base, desired_sectors=["logistics"])
    wishes_care = make_worker(**base, desired_sectors=["logistics", "care"])
    listing = make_listing(make_employer(side="shrinking").organisation, **base)
    # Just within each rule: a radius of exactly the whole km needed, available on the last day allowed.
    km = reference.places_within("3511", 20)["3431"]
    just_reaches = make_worker(**{**base, "pc4": "3431", "max_distance_km": math.ceil(km)})
    just_short = make_worker(**{**base, "pc4": "3431", "max_distance_km": math.ceil(km) - 1})
    last_day = date(2026, 12, 1) + timedelta(days=MatchSettings().availability_grace_days)
    just_in_time = make_worker(**base, available_from=last_day)
    a_day_late = make_worker(**base, available_from=last_day + timedelta(days=1))
    candidate_index.build()
    index, _since = candidate_index.current()
    shortage = ShortageIn(0, "care", 52.09, 5.12, 20, (), (), frozenset({"VOG"}), date(2026, 12, 1))
    near = reference.places_within("3511", 20)
    workers = set(index.could_pass("worker", near, shortage, MatchSettings(), None).tolist())
    assert workers == {fits.id, wishes_care.id, just_reaches.id, just_in_time.id}
    assert not workers & {far.id, travels_too_little.id, too_late.id, no_vog.id, other_wish.id, just_short.id,
                          a_day_late.id}
    assert set(index.could_pass("listing", near, shortage, MatchSettings(), None).tolist()) == {listing.id}
    unheard_of = ShortageIn(0, "care", 52.09, 5.12, 20, (), (), frozenset({"VOG", "brevet"}), date(2026, 12, 1))
    assert not len(index.could_pass("worker", near, unheard_of, MatchSettings(), None))


def test_a_place_only_listings_have_is_in_the_index_for_both_kinds(db, index_dir):
    """Listings are read after workers: a place where only a listing is (here 3431, and 3512 only a worker)
    gets its code then, and both kinds' arrays still cover it (the 20k bench data had such places)."""
    worker = make_worker(occupation="healthcare assistant", pc4="3512")
    listing = make_listing(make_employer(side="shrinking").organisation, occupation="healthcare assistant",
                           pc4="3431")
    candidate_index.build()
    index, _ = candidate_index.current()
    shortage = ShortageIn(0, "care", 52.09, 5.12, 30, (), (), frozenset(), date(2026, 12, 15))
    near = reference.places_within("3511", 30)
    assert {"3431", "3512"} <= set(near)
    assert index.could_pass("worker", near, shortage, MatchSettings(), None).tolist() == [worker.id]
    assert index.could_pass("listing", near, shortage, MatchSettings(), None).tolist() == [listing.id]


def test_posting_a_shortage_matches_the_same_with_the_index(app, db, index_dir, monkeypatch):
    """match_shortage_now with an index: the same matches and scores as without, including a worker who
    became a fit after the build."""
    rng = random.Random(7)
    _postings(rng, 60)
    candidate_index.build()
    late = make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])  # after the build
    organisation = make_employer().organisation
    shortage = make_shortage(organisation, pc4="3511", max_distance_km=30, certificates=["VOG"],
                             start_date=date(2026, 12, 15), positions=4)
    made = {}
    for use_index in (True, False):
        with monkeypatch.context() as patched:
            if not use_index:
                patched.setattr(candidate_index, "current", lambda: None)
            matching.match_shortage_now(shortage.id)
        made[use_index] = sorted((m.worker_id or 0, m.listing_id or 0, m.score)
                                 for m in db.session.scalars(sa.select(Match).where(Match.shortage_id == shortage.id)))
        db.session.execute(sa.delete(Match))
        db.session.commit()
    assert made[True] == made[False] and (late.id, 0) in {row[:2] for row in made[True]}


def test_an_index_is_used_only_by_its_own_database_and_where_its_files_are(app, db, index_dir):
    make_worker(occupation="healthcare assistant", pc4="3512")
    first = candidate_index.build()
    first_token = first.token
    assert candidate_index.current()[0].token == first_token
    margin = timedelta(seconds=app.config["MATCH_INCREMENTAL_MARGIN_SECONDS"])
    assert candidate_index.current()[1] == first.read_at - margin
    second = candidate_index.build()
    assert candidate_index.current()[0].token == second.token
    assert not (index_dir / first_token).exists()  # the older build's files are gone
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CandidateIndexBuild)) == 1
    # Another machine (the files are not here) or a database emptied since: no index, the plain read.
    candidate_index.forget()
    app.config["CANDIDATE_INDEX_DIR"] = str(index_dir.parent / "elsewhere")
    assert candidate_index.current() is None
    app.config["CANDIDATE_INDEX_DIR"] = str(index_dir)
    db.session.execute(sa.delete(CandidateIndexBuild))
    db.session.commit()
    assert candidate_index.current() is None


def test_match_index_command_builds_one(app, db, index_dir, cli_runner):
    make_worker(occupation="healthcare assistant", pc4="3512")
    make_listing(make_employer(side="shrinking").organisation)
    result = cli_runner.invoke(args=["match", "index"])
    assert result.exit_code == 0, result.output
    assert "1 workers, 1 listings" in result.output
    build = db.session.scalar(sa.select(CandidateIndexBuild))
    assert build.token in result.output and (index_dir / build.token / "manifest.json").exists()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Shortage)) == 0


def test_the_index_sums_each_postings_gains_as_skill_gains_does(db, index_dir):
    """The vectorised sum of a posting's skills' gains is SkillGains.may_pass's sum over its skill set
    (duplicates once, unknown skills nothing), to the last bits, for every posting and several shortages."""
    rng = random.Random(11)
    postings = _postings(rng, 40)
    postings[0].skills = postings[0].skills + postings[0].skills[:3] + ["not-a-known-skill"]  # duplicates, unknown
    postings[1].skills = []
    db.session.commit()
    candidate_index.build()
    index, _since = candidate_index.current()
    settings, skill_index = MatchSettings(), matching.skill_index_from_reference()
    for occupation in ("healthcare assistant", "warehouse order picker", "cook"):
        shortage = ShortageIn(0, "care", 52.09, 5.12, 20, tuple(essential_skills(occupation)), (), frozenset(),
                              date(2026, 12, 1))
        gains = matching.skill_gains(shortage, skill_index, settings)
        for kind, model in (("worker", WorkerProfile), ("listing", StaffListing)):
            rows = index.postings[kind]
            sums = index._gains(rows, np.arange(len(rows)), gains)
            skills_of = dict(db.session.execute(sa.select(model.id, model.skills)).all())
            expected = [sum(gains.gains.get(skill, 0.0) for skill in set(skills_of[int(i)])) for i in rows.ids]
            assert sums == pytest.approx(expected, rel=1e-12, abs=1e-15)
            assert sum(1 for value in expected if value > 0) > len(expected) // 2


@pytest.mark.parametrize("first_round", [1, 3, 500])
def test_instant_candidates_read_best_first_propose_as_if_every_row_were_read(app, db, index_dir, monkeypatch,
                                                                                first_round):
    """With an index, instant candidates read the candidates in rounds, best first by a bound of their
    score, and stop once the shortage is full above every unread bound: after a run has filled many
    candidates (one shortage each), new shortages get exactly what the engine proposes from every
    candidate that could pass and every earlier match (full candidates passed over, listings by their
    people, pairs made before never again), and some read fewer rows than could pass."""
    from nlwerktdoor.matching import match

    rng = random.Random(first_round)
    monkeypatch.setitem(app.config, "MATCH_SHORTAGES_PER_CANDIDATE", 1)
    # Every posting here is seconds old: without this, all would count as changed since the build.
    monkeypatch.setitem(app.config, "MATCH_INCREMENTAL_MARGIN_SECONDS", 0)
    monkeypatch.setattr(matching, "_FIRST_ROUND_ROWS", first_round)
    _postings(rng, 160)
    growing = make_employer().organisation
    for _ in range(4):
        make_shortage(growing, occupation=rng.choice(OCCUPATIONS), pc4=rng.choice(PLACES), positions=rng.randrange(1, 3),
                      training_offered=True, certificates=[])
    assert matching.run_matching().new_matches > 0
    candidate_index.build()
    make_worker(occupation="healthcare assistant", pc4="3512")  # after the build: read in the first round

    rounds, read = [], []
    best_first = matching._candidates_best_first

    def counted(*args):
        for more, ceiling in best_first(*args):
            rounds[-1] += 1
            read[-1] += len(more)
            yield more, ceiling

    monkeypatch.setattr(matching, "_candidates_best_first", counted)
    settings = matching.match_settings()
    read_fewer = several_rounds = 0
    for _ in range(12):
        shortage = make_shortage(growing, occupation=rng.choice(OCCUPATIONS), pc4="3511", max_distance_km=40,
                                 positions=rng.randrange(1, 3), training_offered=rng.random() < 0.7, certificates=[],
                                 nice_skills=essential_skills(rng.choice(OCCUPATIONS))[:3])
        engine_shortage = next(s for s in matching._live_shortages() if s.id == shortage.id)
        near = reference.places_within("3511", 40)
        with monkeypatch.context() as plain:
            plain.setattr(candidate_index, "current", lambda: None)
            everyone = matching._live_candidates(datetime.now(timezone.utc), near=near, fitting=(engine_shortage, settings))
        exclude, shortage_load, candidate_load = matching._earlier_matches()  # every earlier match
        expected = match(everyone, [engine_shortage], matching.skill_index_from_reference(), settings,
                         exclude=exclude, shortage_load=shortage_load, candidate_load=candidate_load)
        rounds.append(0)
        read.append(0)
        assert matching.match_shortage_now(shortage.id) == len(expected)
        made = sorted((m.worker_id or 0, m.listing_id or 0, m.score)
                      for m in db.session.scalars(sa.select(Match).where(Match.shortage_id == shortage.id)))
        assert made == sorted((int(p.candidate_key.split(":")[1]) if p.candidate_key.startswith("worker") else 0,
                               int(p.candidate_key.split(":")[1]) if p.candidate_key.startswith("listing") else 0,
                               p.score) for p in expected)
        read_fewer += read[-1] < len(everyone)
        several_rounds += rounds[-1] > 1
    if first_round < 500:
        assert read_fewer and several_rounds, (rounds, read)


def test_score_ceilings_are_never_below_the_score(db):
    """bounds.score_ceilings from a candidate's gains, distance, radius and availability is at least the
    engine's score, for random candidates and shortages (the rounds of instant candidates rely on it)."""
    from nlwerktdoor.matching import CandidateIn
    from nlwerktdoor.matching.bounds import best_credits, nice_skills, score_ceilings, skill_gains

    rng = random.Random(5)
    index = matching.skill_index_from_reference()
    settings = MatchSettings()
    checked, tightest = 0, 1.0
    for _ in range(300):
        occupation = rng.choice(OCCUPATIONS)
        shortage = ShortageIn(1, "care", 52.09, 5.12, rng.choice((10, 30, 50)), tuple(essential_skills(occupation)),
                              tuple(essential_skills(rng.choice(OCCUPATIONS))[:3]) if rng.random() < 0.5 else (),
                              frozenset(), date(2026, 12, 1), training_offered=rng.random() < 0.5,
                              skill_level=rng.choice((0, 1, 2, 3, 4)))
        gains = skill_gains(shortage, index, settings)
        skills = frozenset(_skills(rng, rng.choice(OCCUPATIONS)))
        lat, lon = 52.09 + rng.uniform(-0.3, 0.3), 5.12 + rng.uniform(-0.4, 0.4)
        candidate = CandidateIn("worker:1", lat, lon, rng.choice((10, 25, 60)), skills, frozenset(), frozenset(),
                                date(2026, 11, 1) + timedelta(days=rng.randrange(60)), 1, rng.choice((0, 1, 2, 3)))
        distance = rules.distance_km(lat, lon, shortage.lat, shortage.lon)
        limit = min(candidate.max_distance_km, shortage.max_distance_km)
        if distance > limit or not rules.passes_logistics(candidate, shortage, settings):
            continue
        proposal = rules._score(candidate, shortage, index, settings, distance, limit)
        if proposal is None:
            continue
        asked = index.asked(shortage.required_skills, settings)

        def most(values, width):  # per asked skill the best of the candidate's skills, summed
            rows = [values[skill] for skill in skills if skill in values]
            return float(np.max(rows, axis=0).sum()) if rows else 0.0

        # As the index: the lower of the best credits summed and the gains (which count the reuse limit).
        covered = min(most(best_credits(asked.skills, asked.weights, index, settings), len(asked.skills)),
                      sum(gains.gains.get(skill, 0.0) for skill in skills))
        nice = nice_skills(shortage, index, settings)
        (ceiling,) = score_ceilings(shortage, index, settings, np.array([covered]),
                                    np.array([most(best_credits(*nice, index, settings), len(nice[0]))]),
                                    np.array([distance]), np.array([candidate.max_distance_km]),
                                    np.array([candidate.available_from.toordinal()]))
        assert proposal.score <= ceiling, (proposal, ceiling)
        tightest = min(tightest, ceiling - proposal.score)
        checked += 1
    assert checked > 50
    assert tightest < 0.01  # some ceilings are (nearly) reached: the bound is not just loose
