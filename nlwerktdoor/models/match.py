"""Matches between a candidate (worker or staff listing) and a shortage, and the runs that made them."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import UTCDateTime, utcnow

ANSWERS = ("pending", "yes", "no")
OUTCOMES = ("introduced", "hired", "not hired")


class MatchRun(db.Model):
    __tablename__ = "match_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(10), default="running")  # running | done | failed
    # full: every pair examined; incremental: only pairs with a side changed since the last run.
    kind: Mapped[str] = mapped_column(sa.String(12), default="full", server_default="full")
    candidates: Mapped[int] = mapped_column(default=0)
    shortages: Mapped[int] = mapped_column(default=0)
    new_matches: Mapped[int] = mapped_column(default=0)
    emails: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)



class CandidateIndexBuild(db.Model):
    """One build of the candidate index (services/candidate_index.py): its files are named by `token`.
    Only the newest row counts: a process uses the index files only when their token is that row's, so
    files of another database (or of this one before it was emptied) are never read for it."""

    __tablename__ = "candidate_index_builds"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(40), unique=True)
    # When the build's read began: rows changed since then (less a margin) are read from the tables.
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    workers: Mapped[int] = mapped_column(default=0)
    listings: Mapped[int] = mapped_column(default=0)


class Match(db.Model):
    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    shortage_id: Mapped[int] = mapped_column(sa.ForeignKey("shortages.id", ondelete="CASCADE"), index=True)
    # Exactly one of these two is set.
    worker_id: Mapped[int | None] = mapped_column(sa.ForeignKey("worker_profiles.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_listings.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("match_runs.id", ondelete="SET NULL"))
    score: Mapped[float] = mapped_column(sa.Float)
    distance_km: Mapped[float] = mapped_column(sa.Float)
    # {"matched": [skill ids], "related": [[required id, covering id], ...], "missing": [ids],
    #  "nice_matched": [ids], "coverage": float, "training_offered": bool}
    explanation: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    growing_status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    candidate_status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    outcome: Mapped[str | None] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When both sides were emailed about it (their run's digests). A match made the moment a
    # shortage was posted (services/matching.match_shortage_now) waits for the next run: None.
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    growing_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    candidate_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    introduced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    shortage = relationship("Shortage")
    worker = relationship("WorkerProfile")
    listing = relationship("StaffListing")
    run = relationship("MatchRun")

    __table_args__ = (
        sa.UniqueConstraint("shortage_id", "worker_id", name="uq_match_shortage_worker"),
        sa.UniqueConstraint("shortage_id", "listing_id", name="uq_match_shortage_listing"),
        sa.CheckConstraint("(worker_id IS NULL) <> (listing_id IS NULL)", name="ck_match_one_candidate"),
        sa.CheckConstraint("growing_status IN ('pending','yes','no')", name="ck_match_growing_status"),
        sa.CheckConstraint("candidate_status IN ('pending','yes','no')", name="ck_match_candidate_status"),
    )

    @property
    def candidate_type(self) -> str:
        return "worker" if self.worker_id is not None else "listing"

    @property
    def is_mutual_yes(self) -> bool:
        return self.growing_status == "yes" and self.candidate_status == "yes"
