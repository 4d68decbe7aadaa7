"""The scheduled jobs, declared as data, and the scheduler process that runs them.

Only `nlwerktdoor scheduler run` starts a scheduler (its own process); the web app never does,
because every web worker would run every job again. Each job is a thin call into a service inside
an app context. Two schedulers at once (e.g. during a deploy) are safe: on PostgreSQL a job takes
an advisory lock and skips its turn when the other process holds it, and below that the services
rely on unique constraints (matches, email idempotency keys) and on claiming rows before working.
"""
from __future__ import annotations

import logging
import signal
import time
import zlib
from contextlib import contextmanager
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context

log = logging.getLogger("nlwerktdoor.jobs")


def match_job(app: Flask) -> None:
    """One matching run (it queues the digests in the same transaction)."""
    with app.app_context(), _job_lock("match") as acquired:
        if not acquired:
            log.info("job match: another scheduler is running it; skipped")
            return
        from .services import matching

        started = time.perf_counter()
        run = matching.run_matching()
        log.info(
            "job match: %s new matches, %s emails queued (%s candidates, %s shortages) in %.2f s",
            run.new_matches, run.emails, run.candidates, run.shortages, time.perf_counter() - started,
        )


def send_mail_job(app: Flask) -> None:
    """Send what is due in the outbox."""
    with app.app_context(), _job_lock("send_mail") as acquired:
        if not acquired:
            log.info("job send_mail: another scheduler is running it; skipped")
            return
        from .services import outbox

        report = outbox.send_pending()
        level = logging.INFO if report.sent or report.failed else logging.DEBUG
        log.log(level, "job send_mail: sent %s, failed %s, waiting %s", report.sent, report.failed, report.waiting)


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[Flask], None]
    interval: Callable[[dict], dict]  # app.config -> IntervalTrigger arguments
    misfire_grace_time: int  # seconds a late run may still start; later runs are skipped
    coalesce: bool = True  # after downtime, run once instead of once per missed turn
    max_instances: int = 1  # never overlap with itself
    # Run once as soon as the scheduler starts, so a fresh start (or a deploy) does not wait a whole interval.
    run_at_start: bool = False


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        id="match",
        func=match_job,
        interval=lambda config: {"minutes": int(config["MATCH_INTERVAL_MINUTES"])},
        misfire_grace_time=300,
        run_at_start=True,
    ),
    JobSpec(
        id="send_mail",
        func=send_mail_job,
        interval=lambda config: {"seconds": int(config["MAIL_INTERVAL_SECONDS"])},
        misfire_grace_time=60,
    ),
)


def build_scheduler(app: Flask, scheduler_class=None):
    """An APScheduler 3 scheduler (BlockingScheduler unless told otherwise) with the jobs of JOBS."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (scheduler_class or BlockingScheduler)(timezone="UTC")
    for spec in JOBS:
        scheduler.add_job(
            spec.func,
            trigger="interval",
            args=[app],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            coalesce=spec.coalesce,
            max_instances=spec.max_instances,
            misfire_grace_time=spec.misfire_grace_time,
            **({"next_run_time": datetime.now(timezone.utc)} if spec.run_at_start else {}),
            **spec.interval(app.config),
        )
    return scheduler


def run_scheduler(app: Flask | None = None) -> None:
    """Run the jobs in the foreground until SIGTERM or SIGINT (Ctrl-C)."""
    if app is None:
        if has_app_context():
            app = current_app._get_current_object()
        else:
            from . import create_app

            app = create_app()
    if not app.config.get("SCHEDULER_ENABLED", True):
        print("Scheduler staat uit (SCHEDULER_ENABLED=false); er draaien geen taken.", flush=True)
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)

    scheduler = build_scheduler(app)

    def stop(signum, _frame):
        log.info("scheduler: %s received, stopping", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for spec in JOBS:
            log.info("scheduler: job %s every %s", spec.id, spec.interval(app.config))
        scheduler.start()  # blocks until stop() shuts it down
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("scheduler: stopped")


@contextmanager
def _job_lock(job_id: str):
    """PostgreSQL: a session advisory lock per job, held on its own connection; elsewhere always granted."""
    from .extensions import db

    engine = db.engine
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(f"nlwerktdoor.job.{job_id}".encode())
    with engine.connect() as connection:
        acquired = connection.scalar(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield bool(acquired)
        finally:
            if acquired:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
