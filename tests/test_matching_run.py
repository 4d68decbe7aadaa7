"""A matching run against the database: who takes part, what is stored, and that a rerun adds nothing."""
import dataclasses
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from nlwerktdoor.models import Match, MatchRun, OutgoingEmail
from nlwerktdoor.services import matching
from tests.factories import make_employer, make_listing, make_shortage, make_user, make_worker


@pytest.fixture
def growing(db):
    return make_employer(side="growing").organisation


@pytest.fixture
def shrinking(db):
    return make_employer(side="shrinking").organisation


def all_matches(db):
    return list(db.session.scalars(sa.select(Match).order_by(Match.id)))


def test_a_run_matches_a_worker_and_a_listing(db, growing, shrinking):
    # 2 positions x 3 candidates = 6 places: the listing of 4 people fills 4, the worker one more.
    shortage = make_shortage(growing, positions=2)
    listing = make_listing(shrinking, count=4)
    worker = make_worker()
    now = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)

    run = matching.run_matching(now=now)

    matches = all_matches(db)
    assert {(m.worker_id, m.listing_id) for m in matches} == {(worker.id, None), (None, listing.id)}
    assert all(m.shortage_id == shortage.id and m.run_id == run.id for m in matches)
    for m in matches:
        assert 0 < m.score <= 1
        assert m.distance_km < 5  # PC4 1011 and 1012 are neighbours
        assert m.growing_status == m.candidate_status == "pending"
        e = m.explanation
        assert set(e) == {"matched", "related", "missing", "nice_matched", "coverage", "training_offered",
                          "available_from", "start_date"}
        assert e["coverage"] >= 0.5 and e["training_offered"] is False
        candidate = worker if m.worker_id else listing
        assert (e["available_from"], e["start_date"]) == (
            candidate.available_from.isoformat(), shortage.start_date.isoformat())
        assert e["related"] and all(len(pair) == 2 for pair in e["related"])
        assert sorted(e["matched"] + [r for r, _ in e["related"]] + e["missing"]) == sorted(shortage.required_skills)

    stored = db.session.get(MatchRun, run.id)
    assert (stored.status, stored.candidates, stored.shortages, stored.new_matches) == ("done", 2, 1, 2)
    assert stored.started_at == now and stored.finished_at is not None
    assert stored.emails >= 1
    assert stored.emails == db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingEmail))


def test_a_rerun_adds_no_matches_and_a_no_stays_final(db, growing):
    make_shortage(growing)
    make_worker()
    first = matching.run_matching()
    assert first.new_matches == 1
    match = all_matches(db)[0]
    match.candidate_status = "no"
    db.session.commit()
    emails = db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingEmail))

    second = matching.run_matching()

    assert (second.status, second.new_matches, second.emails) == ("done", 0, 0)
    assert len(all_matches(db)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingEmail)) == emails


def _no_consent(w):
    w.consent_at = None
    w.consent_version = None


def _inactive_user(w):
    w.user.active = False


@pytest.mark.parametrize(
    "change",
    [
        _no_consent,
        lambda w: setattr(w, "status", "paused"),
        lambda w: setattr(w, "status", "withdrawn"),
        _inactive_user,
        lambda w: setattr(w, "desired_sectors", ["logistics"]),
        lambda w: setattr(w, "certificates", []),  # the shortage below asks for a VOG
        lambda w: setattr(w, "pc4", "9711"),  # Groningen: far beyond 30 km
        lambda w: setattr(w, "available_from", date(2027, 3, 1)),
        lambda w: setattr(w, "skills", []),
    ],
    ids=["no-consent", "paused", "withdrawn", "user-inactive", "sector-wish", "certificate", "distance",
         "availability", "skills"],
)
def test_a_worker_who_is_not_live_or_does_not_fit_is_not_matched(db, growing, change):
    make_shortage(growing, certificates=["VOG"])
    worker = make_worker(certificates=["VOG"])
    change(worker)
    db.session.commit()

    run = matching.run_matching()

    assert run.new_matches == 0 and all_matches(db) == []


def test_the_same_worker_unchanged_is_matched(db, growing):
    make_shortage(growing, certificates=["VOG"])
    make_worker(certificates=["VOG"])
    assert matching.run_matching().new_matches == 1


@pytest.mark.parametrize(
    "shortage_kw, growing_verified",
    [({"status": "closed"}, True), ({"status": "filled"}, True), ({"positions": 2, "filled_positions": 2}, True), ({}, False)],
    ids=["closed", "filled", "no-open-positions", "unverified-organisation"],
)
def test_a_shortage_that_is_not_live_gets_nobody(db, shortage_kw, growing_verified):
    organisation = make_employer(side="growing", verified=growing_verified).organisation
    make_shortage(organisation, **shortage_kw)
    make_worker()

    run = matching.run_matching()

    assert (run.shortages, run.new_matches) == (0, 0)


@pytest.mark.parametrize(
    "listing_kw, verified",
    [({"status": "closed"}, True), ({"available_until": date(2020, 1, 1)}, True), ({}, False)],
    ids=["closed", "expired", "unverified-organisation"],
)
def test_a_listing_that_is_not_live_is_not_offered(db, growing, listing_kw, verified):
    make_shortage(growing)
    organisation = make_employer(side="shrinking", verified=verified).organisation
    make_listing(organisation, **listing_kw)

    run = matching.run_matching()

    assert (run.candidates, run.new_matches) == (0, 0)


def test_caps_come_from_the_config(app, db, growing):
    app.config["MATCH_CANDIDATES_PER_POSITION"] = 2
    shortage = make_shortage(growing)
    workers = [make_worker(pc4=pc4) for pc4 in ("1011", "1012", "1013", "1014")]

    run = matching.run_matching()

    assert run.new_matches == 2
    assert {m.shortage_id for m in all_matches(db)} == {shortage.id}
    # While those two are in play the shortage gets nobody new ...
    assert matching.run_matching().new_matches == 0
    # ... once the employer said no to one, the next run tops up with one other candidate.
    first = all_matches(db)[0]
    first.growing_status = "no"
    db.session.commit()
    assert matching.run_matching().new_matches == 1
    assert matching.run_matching().new_matches == 0
    assert len({m.worker_id for m in all_matches(db)}) == 3 and len(workers) == 4


def test_a_failed_run_keeps_nothing_but_its_failure(db, growing, monkeypatch):
    from nlwerktdoor.services import notifications

    make_shortage(growing)
    make_worker()

    def broken(run, new_matches):
        raise RuntimeError("smtp template missing")

    monkeypatch.setattr(notifications, "queue_run_digests", broken)
    with pytest.raises(RuntimeError):
        matching.run_matching()

    assert all_matches(db) == []
    runs = list(db.session.scalars(sa.select(MatchRun)))
    assert [(r.status, "smtp template missing" in (r.error or "")) for r in runs] == [("failed", True)]


@pytest.fixture
def no_margin(app):
    """Incremental runs look back exactly to the last run's start (no margin for writes in flight)."""
    app.config["MATCH_INCREMENTAL_MARGIN_SECONDS"] = 0
    yield
    app.config.pop("MATCH_INCREMENTAL_MARGIN_SECONDS", None)


def _backdate(row, when):
    """As if the row was last written at `when` (updated_at is set on every flush otherwise)."""
    table = type(row).__table__
    db_session = sa.inspect(row).session
    db_session.execute(table.update().where(table.c.id == row.id).values(updated_at=when))
    db_session.commit()


def test_runs_are_incremental_after_the_first_and_full_on_request(db, growing, no_margin):
    long_ago = datetime(2026, 1, 1, tzinfo=timezone.utc)
    shortage = make_shortage(growing)
    make_worker(pc4="1011")
    first = matching.run_matching()
    assert (first.kind, first.new_matches) == ("full", 1)

    # A worker whose row claims it has not changed since before the first run (as after an admin
    # switched the account back on: no timestamp moves) is not examined by an incremental run ...
    hidden = make_worker(pc4="1013")
    _backdate(hidden, long_ago)
    second = matching.run_matching()
    assert (second.kind, second.new_matches) == ("incremental", 0)
    # ... a new or edited worker is ...
    edited = make_worker(pc4="1014", skills=[])
    _backdate(edited, long_ago)
    assert matching.run_matching().new_matches == 0
    edited.skills = list(shortage.required_skills)
    db.session.commit()
    third = matching.run_matching()
    assert third.new_matches == 1
    assert {m.worker_id for m in all_matches(db) if m.run_id == third.id} == {edited.id}
    # ... and a full run examines every pair.
    full = matching.run_matching(full=True)
    assert (full.kind, full.new_matches) == ("full", 1)
    assert {m.worker_id for m in all_matches(db) if m.run_id == full.id} == {hidden.id}


def test_an_answer_that_makes_room_reopens_a_full_shortage_to_an_incremental_run(app, db, growing, no_margin):
    """The caps: a full shortage took nobody else; a "no" makes room, and the next incremental
    run tops up although neither the shortage nor the waiting worker changed."""
    from nlwerktdoor.services import responses

    app.config["MATCH_CANDIDATES_PER_POSITION"] = 1
    long_ago = datetime(2026, 1, 1, tzinfo=timezone.utc)
    shortage = make_shortage(growing)
    workers = [make_worker(pc4=pc4) for pc4 in ("1011", "1012")]
    first = matching.run_matching()
    assert first.new_matches == 1
    for row in (shortage, *workers):
        _backdate(row, long_ago)
    assert matching.run_matching().new_matches == 0  # full: one position x 1

    proposed = all_matches(db)[0]
    responses.answer(proposed.id, make_user(role="employer", organisation=growing), yes=False)
    topped_up = matching.run_matching()
    assert (topped_up.kind, topped_up.new_matches) == ("incremental", 1)
    assert len({m.worker_id for m in all_matches(db)}) == 2


def test_a_run_never_proposes_a_pair_twice_whatever_its_kind(db, growing):
    make_shortage(growing, positions=3)
    for pc4 in ("1011", "1012", "1013"):
        make_worker(pc4=pc4)
    runs = [matching.run_matching(full=full) for full in (False, True, False, True)]
    assert [run.new_matches for run in runs] == [3, 0, 0, 0]
    pairs = [(m.shortage_id, m.worker_id) for m in all_matches(db)]
    assert len(pairs) == len(set(pairs)) == 3


def test_the_engine_inputs_of_candidates_share_what_they_have_in_common(db):
    """A national run holds millions of candidates in memory: what many have in common
    (certificates, sector wishes, dates, a list of skills) is one object, and every skill id one string."""
    from nlwerktdoor.models.database import utcnow

    first = make_worker(certificates=["VOG", "BHV"], desired_sectors=["care"])
    second = make_worker(certificates=["BHV", "VOG"], desired_sectors=["care"])
    db.session.commit()
    one, two = sorted(matching._live_candidates(utcnow()), key=lambda c: c.key)
    assert one.skills == frozenset(first.skills) and two.skills == frozenset(second.skills)
    assert one.certificates == frozenset({"VOG", "BHV"}) and one.certificates is two.certificates
    assert one.desired_sectors is two.desired_sectors and one.available_from is two.available_from
    assert all(a is b for a in one.skills for b in two.skills if a == b)
    assert one.skills is two.skills  # the same list of skills (flight attendant's): one set

    third = make_worker(skills=None, certificates=None, desired_sectors=None)  # JSON null: none of each
    (read,) = [c for c in matching._live_candidates(utcnow()) if c.key == f"worker:{third.id}"]
    assert read.skills == read.certificates == read.desired_sectors == frozenset()


def test_a_run_reads_its_candidates_as_the_engine_table_of_the_same_candidates(db, growing, shrinking):
    """run_matching reads the candidates as a CandidateTable, row by row (no CandidateIn per candidate
    at national size): the same candidates as the list instant candidates read, and the run matches
    them as it would the list."""
    from nlwerktdoor.matching import bounds
    from nlwerktdoor.models.database import utcnow

    make_shortage(growing)
    make_worker(certificates=["VOG"], desired_sectors=["care"])
    make_worker(pc4="1012", skills=None)
    make_listing(shrinking, count=3)
    make_worker(pc4="0000")  # a postcode the reference data does not know: not read
    db.session.commit()
    as_list = matching._live_candidates(utcnow())
    table = matching._live_candidates(utcnow(), as_table=True)
    assert isinstance(table, bounds.CandidateTable) and len(table) == len(as_list) == 3
    assert sorted(table.candidates(), key=lambda c: c.key) == sorted(as_list, key=lambda c: c.key)
    assert {c.capacity for c in as_list} == {1, 3}
    seen = []
    engine_match = matching.match
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matching, "match", lambda candidates, *a, **k: seen.append(candidates) or engine_match(
            candidates, *a, **k))
        run = matching.run_matching()
    assert isinstance(seen[0], bounds.CandidateTable) and run.candidates == 3 and run.new_matches > 0
    assert run.new_matches == len(engine_match(as_list, matching._live_shortages(), matching.skill_index_from_reference(),
                                               matching.match_settings()))


def test_the_engine_is_compiled_at_deploy_by_a_command(app, cli_runner, monkeypatch):
    """`flask match warm` (the deploy step after db upgrade) runs the engine through every compiled
    function once, so that no shortage posted on the site waits for the compiler."""
    from nlwerktdoor.matching import allocate, exact

    calls = []
    allocate_streams = exact.allocate_streams
    monkeypatch.setattr(exact, "allocate_streams", lambda *args: calls.append(1) or allocate_streams(*args))
    result = cli_runner.invoke(args=["match", "warm"])
    assert result.exit_code == 0, result.output
    assert "matching engine ready" in result.output
    assert calls == [1]  # the warm-up run went through the compiled allocation
    assert allocate.warm_up() is None  # and proposes something (it raises when it does not)


@pytest.mark.parametrize("fails", [False, True])
def test_the_cycle_collector_is_off_for_a_whole_run_and_back_after(db, growing, monkeypatch, fails):
    """A run's read and store make objects that live until it ends: the collector walking them again
    and again was a third of both (matching.collector_paused around services/matching.run_matching).
    Off from the read to the commit, back on after, also when the run fails."""
    import gc

    from nlwerktdoor.services import notifications

    make_shortage(growing)
    make_worker()
    seen = {}
    read, queue = matching._live_candidates, notifications.queue_run_digests

    def reading(*args, **kwargs):
        seen["read"] = gc.isenabled()
        return read(*args, **kwargs)

    def storing(run, new_matches):
        seen["store"] = gc.isenabled()
        if fails:
            raise RuntimeError("broken digests")
        return queue(run, new_matches)

    monkeypatch.setattr(matching, "_live_candidates", reading)
    monkeypatch.setattr(notifications, "queue_run_digests", storing)
    assert gc.isenabled()
    if fails:
        with pytest.raises(RuntimeError):
            matching.run_matching()
    else:
        assert matching.run_matching().new_matches == 1
    assert seen == {"read": False, "store": False}
    assert gc.isenabled()


def test_an_edited_shortage_counts_each_of_its_matches_once(app, db, growing):
    """Instant candidates read the shortage's own matches and those of the candidates near it: a
    nearby worker already offered this shortage is both, and counts once against its room."""
    app.config["MATCH_CANDIDATES_PER_POSITION"] = 2
    try:
        shortage = make_shortage(growing)  # one position: room for two
        first = make_worker()
        assert matching.run_matching().new_matches == 1
        second = make_worker()
        assert matching.match_shortage_now(shortage.id) == 1
        assert sorted(m.worker_id for m in all_matches(db)) == sorted([first.id, second.id])
    finally:
        app.config.pop("MATCH_CANDIDATES_PER_POSITION", None)


def test_instant_candidates_read_on_while_an_unread_candidate_could_still_come_first(db, growing, monkeypatch):
    """The rounds of instant candidates (_proposals_for_one) stop only when the shortage is full and
    every proposal scores above the highest bound of the rows not read: here the first round fills it
    (three places) with a candidate far away, while the bound of the unread one, near, is above that
    score; the next round reads it and it takes the far one's place."""
    shortage = make_shortage(growing, pc4="3511", max_distance_km=50)  # one position: three places
    near = [make_worker(occupation="healthcare assistant", pc4="3512") for _ in range(3)]
    far = make_worker(occupation="healthcare assistant", pc4="3824")  # Amersfoort, some 20 km
    engine_shortage = next(s for s in matching._live_shortages() if s.id == shortage.id)
    settings = matching.match_settings()
    everyone = matching._live_candidates(datetime.now(timezone.utc),
                                         near=matching.reference.places_within("3511", 50),
                                         fitting=(engine_shortage, settings))
    by_key = {c.key: c for c in everyone}
    first = [by_key[f"worker:{w.id}"] for w in (near[0], near[1], far)]
    later = [by_key[f"worker:{near[2].id}"]]
    roomy = dataclasses.replace(engine_shortage, open_positions=10)  # every candidate's score
    scores = {p.candidate_key: p.score for p in matching.match(
        everyone, [roomy], matching.skill_index_from_reference(), settings)}
    assert scores[later[0].key] > scores[first[2].key]
    rounds = []

    def two_rounds(*args):
        rounds.append(1)
        yield first, scores[later[0].key] + 0.001  # a true bound of the unread one
        rounds.append(2)
        yield later, None

    monkeypatch.setattr(matching, "_candidates_best_first", two_rounds)
    proposals, read = matching._proposals_for_one(engine_shortage, {}, settings, datetime.now(timezone.utc))
    assert rounds == [1, 2] and len(read) == 4
    assert sorted(p.candidate_key for p in proposals) == sorted(f"worker:{w.id}" for w in near)


def test_instant_candidates_read_with_the_cycle_collector_off(db, growing, monkeypatch):
    import gc

    shortage = make_shortage(growing)
    make_worker()
    seen = []
    read = matching._live_candidates
    monkeypatch.setattr(matching, "_live_candidates", lambda *a, **k: seen.append(gc.isenabled()) or read(*a, **k))
    assert matching.match_shortage_now(shortage.id) == 1
    assert seen == [False] and gc.isenabled()


@pytest.mark.parametrize("threshold, analysed", [(2, True), (3, False)])
def test_a_run_that_stores_many_matches_renews_the_tables_statistics(db, growing, shrinking, monkeypatch,
                                                                     threshold, analysed):
    """After a big store the planner must not take `matches` for the empty table it was (instant
    candidates' read of earlier matches: 1.6 s instead of tens of ms after a national run)."""
    make_shortage(growing, positions=2)
    make_listing(shrinking, count=4)
    make_worker()
    monkeypatch.setattr(matching, "_ANALYZE_AFTER_MATCHES", threshold)
    calls = []
    real = matching._analyze_matches
    monkeypatch.setattr(matching, "_analyze_matches", lambda: (calls.append(1), real()))
    on_postgres = db.engine.dialect.name == "postgresql"
    last_analyze = sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'matches'")
    before = db.session.scalar(last_analyze) if on_postgres else None
    db.session.rollback()  # statistics views are read once per transaction
    assert matching.run_matching().new_matches == 2
    assert calls == ([1] if analysed else [])
    if not analysed:
        return
    if on_postgres:
        db.session.rollback()
        after = db.session.scalar(last_analyze)
        assert after is not None and (before is None or after > before)
    else:
        assert db.session.scalar(sa.text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'matches'")) > 0


def test_a_run_stays_stored_when_renewing_the_statistics_fails(db, growing, shrinking, monkeypatch):
    make_shortage(growing, positions=2)
    make_listing(shrinking, count=4)
    make_worker()
    monkeypatch.setattr(matching, "_ANALYZE_AFTER_MATCHES", 1)
    real_execute = db.session.execute

    def execute(statement, *args, **kwargs):
        if "ANALYZE" in str(statement):
            raise sa.exc.OperationalError(str(statement), {}, Exception("no statistics today"))
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", execute)
    run = matching.run_matching()
    monkeypatch.undo()
    assert (run.status, run.new_matches) == ("done", 2)
    assert [r.status for r in db.session.scalars(sa.select(MatchRun))] == ["done"]
    assert len(all_matches(db)) == 2
