"""The scheduled jobs: declared as data, each a thin call into its service, and a scheduler that stops cleanly."""
import os
import signal
import sys
import threading
import types

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from nlwerktdoor import jobs
from nlwerktdoor.models import OutgoingEmail
from nlwerktdoor.services import outbox as outbox_service


def test_jobs_are_declared_with_fixed_ids_and_safe_settings(app):
    expected = ["match", "match_full", "candidate_index", "send_mail", "expire_postings", "still_available",
                "delete_withdrawn", "inactive_accounts", "import_uploads"]
    assert [spec.id for spec in jobs.JOBS] == expected
    app.config.update(MATCH_INTERVAL_MINUTES=7, MAIL_INTERVAL_SECONDS=45)
    scheduler = jobs.build_scheduler(app)
    built = {job.id: job for job in scheduler.get_jobs()}
    assert set(built) == set(expected)
    for job in built.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time and job.misfire_grace_time > 0
        assert job.args == (app,)
    assert built["match"].trigger.interval.total_seconds() == 7 * 60
    assert built["send_mail"].trigger.interval.total_seconds() == 45


def test_the_candidate_index_job_writes_one_and_can_be_switched_off(app, db, tmp_path):
    """The job records a build of the candidate index (services/candidate_index.py) with its counts;
    CANDIDATE_INDEX_INTERVAL_MINUTES=0 leaves it out of the scheduler."""
    from nlwerktdoor.models import CandidateIndexBuild, JobRun
    from nlwerktdoor.services import candidate_index
    from tests.factories import make_worker

    make_worker(occupation="healthcare assistant", pc4="3512")
    app.config.update(CANDIDATE_INDEX_DIR=str(tmp_path), MATCH_IDLE_PRIORITY=False)  # in-memory SQLite: this thread
    try:
        jobs.candidate_index_job(app)
        run = db.session.scalars(sa.select(JobRun).where(JobRun.job_id == "candidate_index")).one()
        assert (run.status, run.counts) == ("done", {"workers": 1, "listings": 0})
        build = db.session.scalars(sa.select(CandidateIndexBuild)).one()
        assert (tmp_path / build.token / "manifest.json").exists()
        assert "candidate_index" in {job.id for job in jobs.build_scheduler(app).get_jobs()}
        app.config["CANDIDATE_INDEX_INTERVAL_MINUTES"] = 0
        assert "candidate_index" not in {job.id for job in jobs.build_scheduler(app).get_jobs()}
    finally:
        candidate_index.forget()


def test_matching_runs_as_soon_as_the_scheduler_starts(app):
    """A fresh start or a deploy should not leave people waiting a whole interval for their first matches."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = jobs.build_scheduler(app, scheduler_class=BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        built = {job.id: job for job in scheduler.get_jobs()}
        started = datetime.now(timezone.utc)
        assert (built["match"].next_run_time - started).total_seconds() < 5
        # The send job waits for its next slot boundary (aligned to the clock, see test below).
        send_at = built["send_mail"].next_run_time
        assert send_at > started and send_at == jobs.slot_for(send_at, jobs.interval_of("send_mail", app.config))
    finally:
        scheduler.shutdown(wait=False)


def test_send_mail_job_sends_the_outbox(app, db, outbox):
    outbox_service.queue_email("iemand@example.org", "nl", "contact", {
        "recipient_name": "", "side": "candidate", "url": "http://nlwerktdoor.test/matches/1", "outcome": "introduced",
        "shortage": {"title": "Zorghulp", "organisation": "Zorg BV"}, "candidate": {},
        "other": {"kind": "shortage", "email": "hr@zorg.example", "organisation": "Zorg BV"},
        "set_password_url": None,
    }, "job-test")
    db.session.commit()
    jobs.send_mail_job(app)
    jobs.send_mail_job(app)  # twice: still one email
    assert len(outbox) == 1
    assert db.session.scalar(sa.select(OutgoingEmail.status)) == "sent"


def test_match_job_runs_the_matching_service(app, monkeypatch):
    calls = []
    fake = types.ModuleType("nlwerktdoor.services.matching")

    def run_matching(now=None, full=False):
        calls.append((now, full))
        return types.SimpleNamespace(kind="full" if full else "incremental", new_matches=0, emails=0, candidates=0,
                                     shortages=0)

    fake.run_matching = run_matching
    import nlwerktdoor.services as services

    monkeypatch.setitem(sys.modules, "nlwerktdoor.services.matching", fake)
    monkeypatch.setattr(services, "matching", fake, raising=False)
    jobs.match_job(app)
    jobs.match_full_job(app)
    assert calls == [(None, False), (None, True)]


def test_disabled_scheduler_says_so_and_returns(app, capsys, monkeypatch):
    app.config["SCHEDULER_ENABLED"] = False
    monkeypatch.setattr(jobs, "build_scheduler", lambda app: pytest.fail("must not build a scheduler"))
    jobs.run_scheduler(app)
    assert "SCHEDULER_ENABLED=false" in capsys.readouterr().out


def test_scheduler_command_honours_scheduler_enabled(app, cli_runner):
    app.config["SCHEDULER_ENABLED"] = False
    result = cli_runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 0, result.output
    assert "SCHEDULER_ENABLED=false" in result.output


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_scheduler_stops_cleanly_on_a_signal(app, monkeypatch, sig):
    app.config["SCHEDULER_ENABLED"] = True
    before = signal.getsignal(sig)
    started = threading.Event()
    real_build = jobs.build_scheduler

    def build(app):
        scheduler = real_build(app)
        # Jobs far in the future: this test is about starting and stopping only.
        for job in scheduler.get_jobs():
            job.modify(next_run_time=None)
        scheduler.add_listener(lambda event: None)
        original_start = scheduler.start

        def start(*args, **kwargs):
            started.set()
            return original_start(*args, **kwargs)

        scheduler.start = start
        return scheduler

    monkeypatch.setattr(jobs, "build_scheduler", build)
    timer = threading.Timer(0.5, lambda: started.wait(5) and os.kill(os.getpid(), sig))
    timer.start()
    jobs.run_scheduler(app)  # returns only when the signal stopped it
    timer.join()
    assert started.is_set()
    assert signal.getsignal(sig) == before  # the handlers are put back


# --- jobs run once: slots, claims, takeovers, history ----------------------------------------------

import json  # noqa: E402
import logging  # noqa: E402
from datetime import timedelta  # noqa: E402

from nlwerktdoor.logging_setup import JsonFormatter  # noqa: E402
from nlwerktdoor.models import JobRun, SchedulerHeartbeat  # noqa: E402

from .factories import make_user  # noqa: E402

T0 = datetime(2026, 3, 2, 10, 7, 13, tzinfo=timezone.utc)


@pytest.mark.parametrize("moment, interval, slot", [
    (T0, timedelta(minutes=15), datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)),
    (T0, timedelta(seconds=30), datetime(2026, 3, 2, 10, 7, 0, tzinfo=timezone.utc)),
    (datetime(2026, 3, 2, 10, 15, tzinfo=timezone.utc), timedelta(minutes=15), datetime(2026, 3, 2, 10, 15, tzinfo=timezone.utc)),
])
def test_a_slot_is_the_time_floored_to_the_interval(moment, interval, slot):
    assert jobs.slot_for(moment, interval) == slot


def test_every_scheduler_fires_on_the_same_slot_boundaries(app):
    """Aligned triggers: two processes started at different times fire at the same instants."""
    app.config.update(MATCH_INTERVAL_SECONDS=20, MAIL_INTERVAL_SECONDS=30)
    scheduler = jobs.build_scheduler(app)
    built = {job.id: job for job in scheduler.get_jobs()}
    assert built["match"].trigger.interval.total_seconds() == 20  # the seconds setting wins over the minutes
    fire = built["send_mail"].trigger.get_next_fire_time(None, T0)
    assert fire == jobs.slot_for(fire, timedelta(seconds=30)) and fire > T0


def _claim(app, slot=T0, now=None, job="match"):
    return jobs.claim_slot(job, slot, now=now or T0)


def _set_heartbeat(db, run_id, when):
    db.session.execute(sa.update(JobRun).where(JobRun.id == run_id).values(heartbeat_at=when))
    db.session.commit()


def test_a_slot_is_claimed_once(app, db):
    first = _claim(app)
    assert first is not None
    assert _claim(app) is None  # the same slot: another scheduler skips it
    assert _claim(app, job="send_mail") is not None  # another job
    assert _claim(app, slot=T0 + timedelta(minutes=15)) is not None  # the next slot
    assert jobs.finish_claim(first, "done", {"new_matches": 2})
    assert _claim(app) is None  # a finished slot is never run again
    run = db.session.get(JobRun, first.run_id)
    assert (run.status, run.counts, run.finished_at is not None) == ("done", {"new_matches": 2}, True)


@pytest.mark.parametrize("silent_for, taken_over", [(timedelta(seconds=30), False), (timedelta(seconds=150), True)])
def test_a_stale_claim_is_taken_over_after_the_timeout(app, db, silent_for, taken_over):
    app.config["JOB_CLAIM_TIMEOUT_SECONDS"] = 120
    dead = _claim(app, now=T0)
    _set_heartbeat(db, dead.run_id, T0)
    again = _claim(app, now=T0 + silent_for)
    assert (again is not None) == taken_over
    if taken_over:
        assert again.run_id == dead.run_id and again.token != dead.token
        assert _claim(app, now=T0 + silent_for) is None  # only one taker
        # The presumed-dead holder wakes up: its outcome no longer counts.
        assert jobs.finish_claim(dead, "done") is False
        assert jobs.finish_claim(again, "done") is True
        assert db.session.get(JobRun, again.run_id).takeovers == 1


def test_a_run_abandoned_in_an_earlier_slot_is_marked_failed(app, db):
    app.config["JOB_CLAIM_TIMEOUT_SECONDS"] = 60
    dead = _claim(app, slot=T0, now=T0)
    _set_heartbeat(db, dead.run_id, T0)
    assert _claim(app, slot=T0 + timedelta(minutes=15), now=T0 + timedelta(minutes=15)) is not None
    run = db.session.get(JobRun, dead.run_id)
    db.session.refresh(run)
    assert run.status == "failed" and "hartslag" in run.error


def test_old_history_is_pruned(app, db):
    app.config["JOB_HISTORY_DAYS"] = 7
    old = _claim(app, slot=T0 - timedelta(days=8), now=T0 - timedelta(days=8))
    jobs.finish_claim(old, "done")
    _claim(app, slot=T0, now=T0)
    assert db.session.scalars(sa.select(JobRun.slot)).all() == [T0]


def _fake_matching(monkeypatch, run_matching):
    fake = types.ModuleType("nlwerktdoor.services.matching")
    fake.run_matching = run_matching
    import nlwerktdoor.services as services

    monkeypatch.setitem(sys.modules, "nlwerktdoor.services.matching", fake)
    monkeypatch.setattr(services, "matching", fake, raising=False)


def test_a_failing_run_is_recorded_and_the_next_slot_runs(app, db, monkeypatch, caplog):
    outcomes = iter([RuntimeError("database weg"), None])

    def run_matching(now=None, full=False):
        outcome = next(outcomes)
        if outcome:
            raise outcome
        return types.SimpleNamespace(id=7, kind="incremental", new_matches=1, emails=2, candidates=3, shortages=4)

    _fake_matching(monkeypatch, run_matching)
    clock = iter([T0, T0 + timedelta(minutes=15)])
    monkeypatch.setattr(jobs, "utcnow", lambda: next(clock, T0 + timedelta(minutes=15)))
    with caplog.at_level(logging.INFO, logger="nlwerktdoor.jobs"):
        jobs.match_job(app)  # never raises into the scheduler
        jobs.match_job(app)
    runs = db.session.scalars(sa.select(JobRun).order_by(JobRun.slot)).all()
    assert [(run.status, run.error) for run in runs] == [("failed", "RuntimeError: database weg"), ("done", None)]
    assert runs[1].counts == {"match_run": 7, "kind": "incremental", "new_matches": 1, "emails": 2, "candidates": 3, "shortages": 4}
    lines = [r for r in caplog.records if getattr(r, "event", None) == "job_run"]
    assert [(r.job, r.status) for r in lines] == [("match", "failed"), ("match", "done")]  # one line per run
    entry = json.loads(JsonFormatter().format(lines[1]))
    assert entry["job"] == "match" and entry["status"] == "done" and entry["new_matches"] == 1 and entry["slot"]


class _FakeOutbox:
    BATCH_SIZE = 5

    def __init__(self, waiting, stop_after=None):
        self.waiting, self.stop_after, self.batches = waiting, stop_after, 0

    def send_pending(self, batch_size, stop=None):
        self.batches += 1
        sent = min(batch_size, self.waiting)
        self.waiting -= sent
        if self.stop_after == self.batches:
            jobs._stopping.set()  # SIGTERM arrives while this batch is being sent
        return types.SimpleNamespace(sent=sent, failed=0, waiting=self.waiting)


@pytest.mark.parametrize("stop_after, batches", [(None, 3), (1, 1), (2, 2)])
def test_the_send_job_works_in_batches_and_stops_between_them(app, db, monkeypatch, stop_after, batches, caplog):
    import nlwerktdoor.services as services

    app.config["MAIL_BATCH_SIZE"] = 5
    fake = _FakeOutbox(waiting=12, stop_after=stop_after)
    monkeypatch.setitem(sys.modules, "nlwerktdoor.services.outbox", fake)
    monkeypatch.setattr(services, "outbox", fake, raising=False)
    monkeypatch.setattr(jobs, "_stopping", threading.Event())
    with caplog.at_level(logging.DEBUG, logger="nlwerktdoor.jobs"):
        jobs.send_mail_job(app)
    assert fake.batches == batches
    run = db.session.scalar(sa.select(JobRun))
    assert run.status == "done" and run.counts["batches"] == batches and run.counts["sent"] == min(12, 5 * batches)
    assert len([r for r in caplog.records if getattr(r, "event", None) == "mail_batch"]) == batches


def test_no_run_starts_after_a_stop_request(app, db, monkeypatch):
    stopping = threading.Event()
    stopping.set()
    monkeypatch.setattr(jobs, "_stopping", stopping)
    _fake_matching(monkeypatch, lambda now=None: pytest.fail("must not run"))
    jobs.match_job(app)
    assert db.session.scalar(sa.select(sa.func.count(JobRun.id))) == 0


def test_the_heartbeat_keeps_claims_alive_and_tells_readiness(app, db, monkeypatch):
    monkeypatch.setattr(jobs, "_heartbeat_row", None)
    assert jobs.latest_heartbeat() is None
    claim = _claim(app, now=T0)
    monkeypatch.setattr(jobs, "_active_claims", {claim.token})
    jobs.beat(now=T0 + timedelta(seconds=100))
    jobs.beat(now=T0 + timedelta(seconds=110))
    assert db.session.scalar(sa.select(sa.func.count(SchedulerHeartbeat.id))) == 1  # one row per process
    assert jobs.latest_heartbeat() == T0 + timedelta(seconds=110)
    assert db.session.scalar(sa.select(JobRun.heartbeat_at).where(JobRun.id == claim.run_id)) == T0 + timedelta(seconds=110)


def test_jobs_list_command_shows_the_history(app, db, cli_runner):
    done = _claim(app, now=T0)
    jobs.finish_claim(done, "done", {"new_matches": 3, "emails": 2})
    failed = _claim(app, slot=T0 + timedelta(minutes=15))
    jobs.finish_claim(failed, "failed", error="OperationalError: server closed the connection")
    result = cli_runner.invoke(args=["jobs", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:4] == ["match", "2026-03-02", "10:22:13", "failed"]
    assert "OperationalError: server closed the connection" in lines[1]
    assert "new_matches=3 emails=2" in lines[2]
    only_mail = cli_runner.invoke(args=["jobs", "list", "--job", "send_mail"])
    assert len(only_mail.output.splitlines()) == 1


def test_admins_see_the_job_history(app, db, client, login_as):
    claim = _claim(app, now=T0)
    jobs.finish_claim(claim, "failed", error="RuntimeError: kapot")
    login_as(make_user(role="admin"))
    page = client.get("/beheer/jobs")
    assert page.status_code == 200, (page.headers.get("Location"), page.get_data(as_text=True)[:300])
    html = page.get_data(as_text=True)
    assert "RuntimeError: kapot" in html and 'data-status="failed"' in html
    assert client.get("/beheer/jobs?job=send_mail").get_data(as_text=True).count("<tr data-status") == 0


@pytest.mark.parametrize("role", [None, "worker", "employer", "coordinator"])
def test_only_admins_see_the_job_history(app, client, login_as, role):
    if role:
        login_as(make_user(role=role))
    response = client.get("/beheer/jobs")
    assert response.status_code == (302 if role is None else 403)


def test_json_logs_when_configured(monkeypatch):
    from nlwerktdoor import create_app

    logger = logging.getLogger("nlwerktdoor")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        create_app("development", SQLALCHEMY_DATABASE_URI="sqlite://", LOG_FORMAT="json")
        ours = [h for h in logger.handlers if getattr(h, "_nlwerktdoor", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
        create_app("development", SQLALCHEMY_DATABASE_URI="sqlite://", LOG_FORMAT="text")
        ours = [h for h in logger.handlers if getattr(h, "_nlwerktdoor", False)]
        assert len(ours) == 1 and not isinstance(ours[0].formatter, JsonFormatter)  # once per process
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling policies")
def test_a_matching_run_computes_at_idle_priority_in_a_thread_of_its_own(app):
    seen = {}

    def work():
        seen["policy"] = os.sched_getscheduler(0)
        seen["thread"] = threading.current_thread().name
        # The engine's bounds share a big run out over threads started from this one: they inherit it.
        with ThreadPoolExecutor(2) as pool:
            seen["helpers"] = set(pool.map(lambda _: os.sched_getscheduler(0), range(4)))
        return {"ok": 1}

    assert jobs._at_idle_priority(app, work) == {"ok": 1}
    assert seen == {"policy": os.SCHED_IDLE, "thread": "matching-run", "helpers": {os.SCHED_IDLE}}
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller's thread is untouched

    def fails():
        raise RuntimeError("database weg")

    with pytest.raises(RuntimeError, match="database weg"):
        jobs._at_idle_priority(app, fails)
    app.config["MATCH_IDLE_PRIORITY"] = False
    try:
        jobs._at_idle_priority(app, work)
        assert seen["thread"] == threading.current_thread().name
    finally:
        app.config.pop("MATCH_IDLE_PRIORITY")
