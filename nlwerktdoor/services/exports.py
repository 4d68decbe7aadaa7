"""CSV exports for operators (DESIGN.md, "export matches").

Matches are written as they stream from the database (yield_per), so the export of a large run
needs little memory. The rows carry refs, never names or email addresses.
"""
from __future__ import annotations

import csv
from typing import TextIO

import sqlalchemy as sa

from .. import reference
from ..extensions import db
from ..models import Match, Shortage, StaffListing, WorkerProfile

MATCH_COLUMNS = (
    "shortage_ref", "candidate_type", "candidate_ref", "score", "distance_km", "matched_skills",
    "related_skills", "missing_skills", "growing_status", "candidate_status", "outcome",
)


def _skill(skill_id: str) -> str:
    skill = reference.skills().get(skill_id)
    return skill.label_en if skill else skill_id


def _skills(ids) -> str:
    return "|".join(_skill(skill_id) for skill_id in ids or ())


def write_matches_csv(stream: TextIO) -> int:
    """Every match, ordered by shortage and then best score first; returns the number of rows written.

    Refs are the imported rows' `external_ref`; rows made on the website get "shortage-<id>",
    "worker-<id>" or "listing-<id>".
    """
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(MATCH_COLUMNS)
    stmt = (
        sa.select(
            Match.shortage_id, Match.worker_id, Match.listing_id, Match.score, Match.distance_km, Match.explanation,
            Match.growing_status, Match.candidate_status, Match.outcome,
            Shortage.external_ref.label("shortage_ref"),
            WorkerProfile.external_ref.label("worker_ref"),
            StaffListing.external_ref.label("listing_ref"),
        )
        .join(Shortage, Shortage.id == Match.shortage_id)
        .outerjoin(WorkerProfile, WorkerProfile.id == Match.worker_id)
        .outerjoin(StaffListing, StaffListing.id == Match.listing_id)
        .order_by(Match.shortage_id, Match.score.desc(), Match.id)
        .execution_options(yield_per=1000)
    )
    written = 0
    for row in db.session.execute(stmt):
        if row.worker_id is not None:
            candidate_type, candidate_ref = "worker", row.worker_ref or f"worker-{row.worker_id}"
        else:
            candidate_type, candidate_ref = "listing", row.listing_ref or f"listing-{row.listing_id}"
        explanation = row.explanation or {}
        related = "|".join(f"{_skill(required)} <- {_skill(covering)}" for required, covering in explanation.get("related") or ())
        writer.writerow([
            row.shortage_ref or f"shortage-{row.shortage_id}",
            candidate_type,
            candidate_ref,
            f"{row.score:.3f}",
            f"{row.distance_km:.1f}",
            _skills(explanation.get("matched")),
            related,
            _skills(explanation.get("missing")),
            row.growing_status,
            row.candidate_status,
            row.outcome or "",
        ])
        written += 1
    return written
