"""The scheduled jobs, declared as data, and the scheduler process that runs them.

Only `nlwerktdoor scheduler run` starts a scheduler (its own process); the web app never does,
because every web worker would run every job again. Each job is a thin call into a service inside
an app context.

Jobs run once, however many schedulers run (a second one during a deploy, or one per machine):
- Every trigger is aligned to the clock (multiples of the interval since 2000-01-01 UTC), so all
  schedulers fire at the same instants, and a run's *slot* is its start time floored to the interval.
- Before working, a run claims its slot by inserting a `JobRun` row, unique per (job, slot): one
  process wins, the others skip the slot. The row is also the job-run history.
- While a run goes on, the scheduler's heartbeat thread refreshes `heartbeat_at` on its claims. A
  'running' claim whose heartbeat is older than JOB_CLAIM_TIMEOUT_SECONDS belongs to a dead process:
  the same slot is taken over, an earlier slot is marked failed (its next slot does the work).
- Below the claims the services keep their own guards (the matching run lock, unique matches and
  email idempotency keys, outbox rows claimed before sending, CSV uploads claimed one by one).
SIGTERM/SIGINT: no new run starts, the send job stops between batches, a matching run finishes;
then the process exits. A second signal stops at once.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .extensions import db
from .models import JobRun, SchedulerHeartbeat
from .models.database import utcnow

log = logging.getLogger("nlwerktdoor.jobs")

# Slots are whole multiples of a job's interval counted from here, the same on every machine.
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
HOST = socket.gethostname()[:100]

_stopping = threading.Event()  # set by SIGTERM/SIGINT: no new runs, the send job stops between batches
_active_lock = threading.Lock()
_active_claims: set[str] = set()  # tokens of this process's runs in progress (kept alive by the heartbeat)
_running = threading.Condition()
_running_jobs: list[str] = []


# --- the jobs --------------------------------------------------------------------------------------


def match_job(app: Flask, full: bool = False) -> None:
    """One matching run (it queues the digests in the same transaction); a run is never cut short.
    Incremental: the pairs with a side changed since the last run (services/matching.py)."""

    def work() -> dict:
        from .services import matching

        run = matching.run_matching(full=full)
        return {
            "match_run": getattr(run, "id", None),
            "kind": run.kind,
            "new_matches": run.new_matches,
            "emails": run.emails,
            "candidates": run.candidates,
            "shortages": run.shortages,
        }

    run_job(app, "match_full" if full else "match", lambda: _at_idle_priority(app, work))


def _at_idle_priority(app: Flask, work: Callable[[], dict]) -> dict:
    """`work()` in a thread of its own at the lowest CPU priority (MATCH_IDLE_PRIORITY, default on).

    A matching run is minutes of pure computation; on a machine shared with the web workers it
    should only take the CPU they leave, so that page latency hardly moves while it runs (issue 5,
    measured by bench/load.py --with-matching). Linux SCHED_IDLE applies to one thread, so the mail
    sender and the rest of the scheduler keep their normal priority; elsewhere nice 19 is the best
    there is. The run keeps its own app context and database session, as in any job thread."""
    if not app.config.get("MATCH_IDLE_PRIORITY", True):
        return work()
    outcome: dict = {}

    def lowered() -> None:
        try:
            if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread (Linux)
            else:
                os.nice(19)
        except OSError as error:
            log.warning("matching: could not lower the CPU priority (%s); running at normal priority", error)
        try:
            with app.app_context():
                outcome["counts"] = work()
        except BaseException as error:  # noqa: BLE001 — handed to the caller's thread below
            outcome["error"] = error

    # End this thread's transaction first: on SQLite every transaction takes the write lock (BEGIN
    # IMMEDIATE), and the run's own connection would wait for it until it timed out.
    db.session.commit()
    thread = threading.Thread(target=lowered, name="matching-run", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["counts"]


def match_full_job(app: Flask) -> None:
    """A run over every pair, for what no timestamp records (an account switched back on, a new
    consent text); MATCH_FULL_INTERVAL_HOURS apart."""
    match_job(app, full=True)


def candidate_index_job(app: Flask) -> None:
    """Write the candidate index anew (services/candidate_index.py), at the run's idle priority: at
    national size its read is a minute of work, and instant candidates read by it."""

    def work() -> dict:
        from .services import candidate_index

        build = candidate_index.build()
        return {"workers": build.workers, "listings": build.listings}

    run_job(app, "candidate_index", lambda: _at_idle_priority(app, work))


def send_mail_job(app: Flask) -> None:
    """Send what is due in the outbox, batch after batch; a stop request ends it between two batches."""

    def work() -> dict:
        from .services import outbox

        batch_size = int(current_app.config.get("MAIL_BATCH_SIZE") or getattr(outbox, "BATCH_SIZE", 200))
        totals = {"sent": 0, "failed": 0, "waiting": 0, "batches": 0}
        while True:
            started = time.perf_counter()
            report = outbox.send_pending(batch_size=batch_size, stop=_stopping.is_set)
            totals["batches"] += 1
            totals["sent"] += report.sent
            totals["failed"] += report.failed
            totals["waiting"] = report.waiting
            handled = report.sent + report.failed
            log.log(
                logging.INFO if handled else logging.DEBUG,
                "mail batch %s: sent %s, failed %s, waiting %s in %.0f ms",
                totals["batches"], report.sent, report.failed, report.waiting, (time.perf_counter() - started) * 1000,
                extra={"event": "mail_batch", "job": "send_mail", "batch": totals["batches"], "sent": report.sent,
                       "failed": report.failed, "waiting": report.waiting,
                       "duration_ms": round((time.perf_counter() - started) * 1000, 1)},
            )
            # A batch that was not full (or only met temporary failures) means: nothing more is due now.
            if handled < batch_size or not report.waiting:
                break
            if _stopping.is_set():
                log.info("job send_mail: stop requested; %s emails left for the next scheduler", report.waiting)
                break
        return totals

    run_job(app, "send_mail", work)


def import_uploads_job(app: Flask) -> None:
    """Import the large CSV uploads waiting in the queue, one at a time (services/uploads.py).

    Every upload is claimed on its own (two schedulers never import the same one); a stop request
    ends the run between two uploads. A run with nothing to do claims no slot, so the frequent
    trigger leaves no history of empty runs."""
    from .services import uploads

    if _stopping.is_set():
        return
    with app.app_context():
        try:
            if not uploads.has_work():
                return
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("job import_uploads: could not look at the queue (database unavailable?)")
            return
    run_job(app, "import_uploads", lambda: uploads.process_queue(stop=_stopping.is_set))


def _privacy_job(job_id: str, name: str) -> Callable[[Flask], None]:
    """A retention job: one call into services/privacy.py (which commits), its counts recorded."""

    def job(app: Flask) -> None:
        def work() -> dict:
            from .services import privacy

            return getattr(privacy, name)()

        run_job(app, job_id, work)

    job.__name__ = f"{job_id}_job"
    return job


expire_postings_job = _privacy_job("expire_postings", "expire_postings")
still_available_job = _privacy_job("still_available", "ask_still_available")
delete_withdrawn_job = _privacy_job("delete_withdrawn", "delete_withdrawn")
inactive_accounts_job = _privacy_job("inactive_accounts", "inactive_accounts")


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[Flask], None]
    interval: Callable[[dict], dict]  # app.config -> IntervalTrigger arguments
    misfire_grace_time: int  # seconds a late run may still start; later runs are skipped
    coalesce: bool = True  # after downtime, run once instead of once per missed turn
    max_instances: int = 1  # never overlap with itself
    # Run once as soon as the scheduler starts, so a fresh start (or a deploy) does not wait a whole
    # interval. It claims the current slot like any run: when that slot already ran, it is skipped.
    run_at_start: bool = False
    enabled: Callable[[dict], bool] = lambda config: True  # app.config -> scheduled at all


def _match_interval(config) -> dict:
    if config.get("MATCH_INTERVAL_SECONDS"):
        return {"seconds": int(config["MATCH_INTERVAL_SECONDS"])}
    return {"minutes": int(config["MATCH_INTERVAL_MINUTES"])}


def _retention_interval(config) -> dict:
    return {"minutes": int(config.get("RETENTION_JOB_INTERVAL_MINUTES") or 60)}


JOBS: tuple[JobSpec, ...] = (
    JobSpec(id="match", func=match_job, interval=_match_interval, misfire_grace_time=300, run_at_start=True),
    JobSpec(
        id="match_full",
        func=match_full_job,
        interval=lambda config: {"hours": int(config.get("MATCH_FULL_INTERVAL_HOURS") or 24)},
        misfire_grace_time=3600,
    ),
    JobSpec(
        id="candidate_index",
        func=candidate_index_job,
        interval=lambda config: {"minutes": max(int(config.get("CANDIDATE_INDEX_INTERVAL_MINUTES", 60)), 1)},
        misfire_grace_time=600,
        run_at_start=True,
        enabled=lambda config: int(config.get("CANDIDATE_INDEX_INTERVAL_MINUTES", 60)) > 0,
    ),
    JobSpec(
        id="send_mail",
        func=send_mail_job,
        interval=lambda config: {"seconds": int(config["MAIL_INTERVAL_SECONDS"])},
        misfire_grace_time=60,
    ),
    # Retention (docs/privacy.md): hourly by default; each run acts on what is due at that moment.
    *(
        JobSpec(id=job.__name__.removesuffix("_job"), func=job, interval=_retention_interval, misfire_grace_time=3600)
        for job in (expire_postings_job, still_available_job, delete_withdrawn_job, inactive_accounts_job)
    ),
    # Large CSV uploads (services/uploads.py): looked for every few seconds, a run only when one waits.
    JobSpec(
        id="import_uploads",
        func=import_uploads_job,
        interval=lambda config: {"seconds": int(config.get("IMPORT_INTERVAL_SECONDS") or 5)},
        misfire_grace_time=30,
        run_at_start=True,
    ),
)
SPECS = {spec.id: spec for spec in JOBS}


def interval_of(job_id: str, config) -> timedelta:
    return timedelta(**SPECS[job_id].interval(config))


def slot_for(moment: datetime, interval: timedelta) -> datetime:
    """The start of the interval `moment` falls in, counted from EPOCH (so every machine agrees)."""
    return EPOCH + ((moment - EPOCH) // interval) * interval


# --- claims ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    run_id: int
    job_id: str
    slot: datetime
    token: str
    taken_over_from: str | None = None  # "host:pid" of the dead process whose claim this took


def claim_slot(job_id: str, slot: datetime, now: datetime | None = None) -> Claim | None:
    """Claim (job, slot) for this process, or None when another live process has it or it already ran.

    Three short transactions: tidy the history, insert the claim (the unique constraint decides), or
    else take over a 'running' claim whose heartbeat stopped (a compare-and-set, so one taker wins).
    """
    now = now or utcnow()
    config = current_app.config
    stale_before = now - timedelta(seconds=int(config["JOB_CLAIM_TIMEOUT_SECONDS"]))
    token = uuid.uuid4().hex
    _tidy_history(job_id, slot, now, stale_before, int(config.get("JOB_HISTORY_DAYS", 30)))
    try:
        row = JobRun(job_id=job_id, slot=slot, status="running", started_at=now, heartbeat_at=now,
                     host=HOST, pid=os.getpid(), token=token, counts={})
        db.session.add(row)
        db.session.commit()
        return Claim(row.id, job_id, slot, token)
    except IntegrityError:
        db.session.rollback()
    holder = db.session.execute(
        sa.select(JobRun.id, JobRun.status, JobRun.heartbeat_at, JobRun.host, JobRun.pid)
        .where(JobRun.job_id == job_id, JobRun.slot == slot)
    ).first()
    if holder is None or holder.status != "running" or holder.heartbeat_at >= stale_before:
        db.session.rollback()
        return None
    taken = db.session.execute(
        sa.update(JobRun)
        .where(JobRun.id == holder.id, JobRun.status == "running", JobRun.heartbeat_at < stale_before)
        .values(token=token, host=HOST, pid=os.getpid(), started_at=now, heartbeat_at=now,
                takeovers=JobRun.takeovers + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount != 1:
        return None
    previous = f"{holder.host}:{holder.pid}"
    log.warning("job %s slot %s: taking over the claim of %s (no heartbeat since %s)",
                job_id, slot.isoformat(), previous, holder.heartbeat_at.isoformat(),
                extra={"event": "job_takeover", "job": job_id, "slot": slot.isoformat(), "previous": previous})
    return Claim(holder.id, job_id, slot, token, taken_over_from=previous)


def _tidy_history(job_id: str, slot: datetime, now: datetime, stale_before: datetime, keep_days: int) -> None:
    """Earlier runs of dead processes become 'failed' (the current slot does their work); old history goes."""
    db.session.execute(
        sa.update(JobRun)
        .where(JobRun.job_id == job_id, JobRun.slot < slot, JobRun.status == "running",
               JobRun.heartbeat_at < stale_before)
        .values(status="failed", finished_at=now,
                error="Afgebroken: de scheduler stopte tijdens deze taak (geen hartslag meer).")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.delete(JobRun)
        .where(JobRun.job_id == job_id, JobRun.slot < now - timedelta(days=keep_days))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def finish_claim(claim: Claim, status: str, counts: dict | None = None, error: str | None = None) -> bool:
    """Record the outcome; False when the claim is no longer ours (taken over) or the database is gone.

    Tried twice: after the database dropped our connection, the second try gets a fresh one.
    """
    for attempt in (1, 2):
        try:
            now = utcnow()
            result = db.session.execute(
                sa.update(JobRun)
                .where(JobRun.id == claim.run_id, JobRun.token == claim.token)
                .values(status=status, finished_at=now, heartbeat_at=now, counts=counts or {},
                        error=error[:2000] if error else None)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            if attempt == 2:
                log.exception("job %s slot %s: could not record its outcome (%s)", claim.job_id, claim.slot, status)
                return False
            continue
        if result.rowcount != 1:
            log.warning("job %s slot %s: claim was taken over while running; outcome %s not recorded",
                        claim.job_id, claim.slot.isoformat(), status)
            return False
        return True
    return False


def run_job(app: Flask, job_id: str, work: Callable[[], dict]) -> Claim | None:
    """Claim the current slot of `job_id`, do `work`, record the outcome and log one line.

    Never raises: a failed run is recorded as failed (with its error) and the next slot tries again.
    """
    if _stopping.is_set():
        return None
    with _running:
        _running_jobs.append(job_id)
    try:
        with app.app_context():
            return _claim_and_work(app, job_id, work)
    finally:
        with _running:
            _running_jobs.remove(job_id)
            _running.notify_all()


def _claim_and_work(app: Flask, job_id: str, work: Callable[[], dict]) -> Claim | None:
    slot = slot_for(utcnow(), interval_of(job_id, app.config))
    try:
        claim = claim_slot(job_id, slot)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("job %s slot %s: could not claim (database unavailable?)", job_id, slot.isoformat())
        return None
    if claim is None:
        log.debug("job %s slot %s: already claimed by another scheduler; skipped", job_id, slot.isoformat())
        return None
    with _active_lock:
        _active_claims.add(claim.token)
    started = time.perf_counter()
    status, counts, error = "done", {}, None
    try:
        counts = work() or {}
    except Exception as exc:  # noqa: BLE001  the job's outcome is recorded; the scheduler keeps going
        db.session.rollback()
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("job %s slot %s failed", job_id, slot.isoformat())
    finally:
        with _active_lock:
            _active_claims.discard(claim.token)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    finish_claim(claim, status, counts, error)
    summary = ", ".join(f"{key} {value}" for key, value in counts.items())
    log.log(
        logging.INFO if status == "done" else logging.ERROR,
        "job %s slot %s %s in %.0f ms%s%s", job_id, slot.isoformat(), status, duration_ms,
        f": {summary}" if summary else "", f": {error}" if error else "",
        extra={"event": "job_run", "job": job_id, "slot": slot.isoformat(), "status": status,
               "duration_ms": duration_ms, "error": error, "taken_over_from": claim.taken_over_from, **counts},
    )
    return claim


# --- heartbeat and history -------------------------------------------------------------------------

_heartbeat_row: int | None = None


def beat(now: datetime | None = None) -> None:
    """Write this scheduler's heartbeat (for /readyz) and keep this process's running claims alive."""
    global _heartbeat_row
    now = now or utcnow()
    updated = 0
    if _heartbeat_row is not None:
        updated = db.session.execute(
            sa.update(SchedulerHeartbeat).where(SchedulerHeartbeat.id == _heartbeat_row).values(beat_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    if not updated:
        row = SchedulerHeartbeat(host=HOST, pid=os.getpid(), started_at=now, beat_at=now)
        db.session.add(row)
        db.session.flush()
        _heartbeat_row = row.id
    with _active_lock:
        tokens = list(_active_claims)
    if tokens:
        db.session.execute(
            sa.update(JobRun).where(JobRun.token.in_(tokens), JobRun.status == "running").values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        sa.delete(SchedulerHeartbeat).where(SchedulerHeartbeat.beat_at < now - timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def latest_heartbeat() -> datetime | None:
    """When any scheduler last beat its heartbeat (None: never)."""
    return db.session.scalar(sa.select(sa.func.max(SchedulerHeartbeat.beat_at)))


def recent_runs(limit: int = 50, job_id: str | None = None) -> list[JobRun]:
    """The job-run history, newest first."""
    query = sa.select(JobRun).order_by(JobRun.slot.desc(), JobRun.id.desc()).limit(limit)
    if job_id:
        query = query.where(JobRun.job_id == job_id)
    return list(db.session.scalars(query))


def heartbeat_every(config) -> float:
    """Often enough that a live run is never mistaken for a dead one, and /readyz stays green."""
    limits = [10.0, int(config["JOB_CLAIM_TIMEOUT_SECONDS"]) / 4]
    if int(config.get("SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS") or 0) > 0:
        limits.append(int(config["SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS"]) / 4)
    return max(0.2, min(limits))


class _HeartbeatThread(threading.Thread):
    def __init__(self, app: Flask):
        super().__init__(name="scheduler-heartbeat", daemon=True)
        self.app = app
        self.every = heartbeat_every(app.config)
        self.halt = threading.Event()

    def beat_once(self) -> None:
        with self.app.app_context():
            try:
                beat()
            except SQLAlchemyError as error:
                db.session.rollback()
                log.warning("scheduler heartbeat failed: %s", error)

    def run(self) -> None:
        while not self.halt.wait(self.every):
            self.beat_once()


# --- the scheduler process -------------------------------------------------------------------------


def build_scheduler(app: Flask, scheduler_class=None):
    """An APScheduler 3 scheduler (BlockingScheduler unless told otherwise) with the jobs of JOBS."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (scheduler_class or BlockingScheduler)(timezone="UTC")
    for spec in JOBS:
        if not spec.enabled(app.config):
            continue
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
            start_date=EPOCH,  # fire on slot boundaries, the same instants on every machine
            **({"next_run_time": datetime.now(timezone.utc)} if spec.run_at_start else {}),
            **spec.interval(app.config),
        )
    return scheduler


def run_scheduler(app: Flask | None = None) -> None:
    """Run the jobs in the foreground until SIGTERM or SIGINT (Ctrl-C), then let the running job finish."""
    if app is None:
        # The CLI (`nlwerktdoor scheduler run`) provides the app; importing the factory here would make
        # this module, and the admin pages that read the job history, depend on every blueprint.
        if not has_app_context():
            raise RuntimeError("run_scheduler needs an app: pass one, or call it from the CLI")
        app = current_app._get_current_object()
    if not app.config.get("SCHEDULER_ENABLED", True):
        print("Scheduler staat uit (SCHEDULER_ENABLED=false); er draaien geen taken.", flush=True)
        return
    _stopping.clear()
    # The matching engine compiled (or loaded from numba's cache) now, not inside the first run.
    from .matching import warm_up

    warm_up()
    scheduler = build_scheduler(app)
    heartbeat = _HeartbeatThread(app)
    heartbeat.beat_once()  # ready at once, not a heartbeat later
    heartbeat.start()
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def stop(signum, _frame):
        log.info("scheduler: %s received, finishing the current batch and stopping", signal.Signals(signum).name,
                 extra={"event": "scheduler_stop"})
        _stopping.set()
        for sig, handler in previous.items():  # a second signal stops at once
            signal.signal(sig, handler)
        scheduler.shutdown(wait=False)

    for sig in signals:
        signal.signal(sig, stop)
    try:
        for spec in JOBS:
            log.info("scheduler: job %s every %s", spec.id, spec.interval(app.config))
        scheduler.start()  # blocks until stop() shuts it down
        _wait_for_running_jobs()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        heartbeat.halt.set()
        _stopping.clear()  # the process may go on (tests, or a scheduler run from a shell)
    log.info("scheduler: stopped", extra={"event": "scheduler_stopped"})


def _wait_for_running_jobs() -> None:
    with _running:
        while _running_jobs:
            log.info("scheduler: waiting for %s to finish", ", ".join(_running_jobs))
            _running.wait(timeout=5)
