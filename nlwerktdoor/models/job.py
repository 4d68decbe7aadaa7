"""Scheduled job runs (one row per job and time slot: the claim and the history) and scheduler heartbeats."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .database import UTCDateTime, utcnow

JOB_RUN_STATUSES = ("running", "done", "failed")


class JobRun(db.Model):
    """A scheduler claims a slot by inserting this row; the unique (job, slot) lets only one process win.

    `heartbeat_at` is refreshed while the run goes on; a 'running' row whose heartbeat is older than
    JOB_CLAIM_TIMEOUT_SECONDS belongs to a dead process and may be taken over (`token` changes hands).
    """

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.String(40))
    slot: Mapped[datetime] = mapped_column(UTCDateTime)  # the scheduled time, floored to the job's interval
    status: Mapped[str] = mapped_column(sa.String(10), default="running", index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    host: Mapped[str] = mapped_column(sa.String(100), default="")
    pid: Mapped[int] = mapped_column(default=0)
    token: Mapped[str] = mapped_column(sa.String(40))  # who holds the claim now
    takeovers: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("job_id", "slot", name="uq_job_run_slot"),
        sa.CheckConstraint("status IN ('running','done','failed')", name="ck_job_run_status"),
    )


class SchedulerHeartbeat(db.Model):
    """One row per scheduler process, beaten every few seconds; /readyz reads the newest."""

    __tablename__ = "scheduler_heartbeats"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(100))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
