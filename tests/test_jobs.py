"""The scheduled jobs: declared as data, each a thin call into its service, and a scheduler that stops cleanly."""
import os
import signal
import sys
import threading
import types

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from nlwerktdoor import jobs
from nlwerktdoor.models import OutgoingEmail
from nlwerktdoor.services import outbox as outbox_service


def test_jobs_are_declared_with_fixed_ids_and_safe_settings(app):
    assert [spec.id for spec in jobs.JOBS] == ["match", "send_mail"]
    app.config.update(MATCH_INTERVAL_MINUTES=7, MAIL_INTERVAL_SECONDS=45)
    scheduler = jobs.build_scheduler(app)
    built = {job.id: job for job in scheduler.get_jobs()}
    assert set(built) == {"match", "send_mail"}
    for job in built.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time and job.misfire_grace_time > 0
        assert job.args == (app,)
    assert built["match"].trigger.interval.total_seconds() == 7 * 60
    assert built["send_mail"].trigger.interval.total_seconds() == 45


def test_matching_runs_as_soon_as_the_scheduler_starts(app):
    """A fresh start or a deploy should not leave people waiting a whole interval for their first matches."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = jobs.build_scheduler(app, scheduler_class=BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        built = {job.id: job for job in scheduler.get_jobs()}
        started = datetime.now(timezone.utc)
        assert (built["match"].next_run_time - started).total_seconds() < 5
        assert (built["send_mail"].next_run_time - started).total_seconds() > 5
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

    def run_matching(now=None):
        calls.append(now)
        return types.SimpleNamespace(new_matches=0, emails=0, candidates=0, shortages=0)

    fake.run_matching = run_matching
    import nlwerktdoor.services as services

    monkeypatch.setitem(sys.modules, "nlwerktdoor.services.matching", fake)
    monkeypatch.setattr(services, "matching", fake, raising=False)
    jobs.match_job(app)
    assert calls == [None]


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
