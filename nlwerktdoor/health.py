"""Probes for the process manager and the proxy: /healthz (the process answers) and /readyz
(the database answers and a scheduler beat its heartbeat recently). JSON, no personal data,
no login, no CSRF (GET only), no rate limit."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db, limiter
from .models.database import utcnow

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Up: the process serves requests. Touches nothing else, so a database outage does not restart it."""
    return _no_store(jsonify(status="ok")), 200


@bp.get("/readyz")
@limiter.exempt
def readyz():
    from . import jobs

    try:
        db.session.execute(db.text("SELECT 1"))
        last_beat = jobs.latest_heartbeat()
    except SQLAlchemyError:
        db.session.rollback()
        return _not_ready("database", "De database is niet bereikbaar.")
    max_age = int(current_app.config.get("SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS") or 0)
    age = None if last_beat is None else round((utcnow() - last_beat).total_seconds(), 1)
    if max_age > 0:
        if age is None:
            return _not_ready("scheduler", "Er heeft nog nooit een scheduler gedraaid.")
        if age > max_age:
            return _not_ready("scheduler", f"Geen hartslag van de scheduler sinds {age:.0f} s (grens {max_age} s).",
                              scheduler_heartbeat_age_seconds=age)
    return _no_store(jsonify(status="ok", database="ok", scheduler_heartbeat_age_seconds=age)), 200


def _not_ready(reason: str, detail: str, **extra):
    return _no_store(jsonify(status="unavailable", reason=reason, detail=detail, **extra)), 503


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response
