"""Probes: /healthz answers while the process lives; /readyz needs the database and a recent scheduler heartbeat."""
from datetime import timedelta

import pytest

from nlwerktdoor import create_app, jobs
from nlwerktdoor.models import SchedulerHeartbeat
from nlwerktdoor.models.database import utcnow

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/gone?connect_timeout=2"


def _beat(db, seconds_ago):
    db.session.add(SchedulerHeartbeat(host="sched-1", pid=1, beat_at=utcnow() - timedelta(seconds=seconds_ago)))
    db.session.commit()


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_with_the_database_and_a_fresh_heartbeat(app, db, client):
    app.config["SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS"] = 60
    _beat(db, seconds_ago=5)
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok" and 4 <= body["scheduler_heartbeat_age_seconds"] < 60
    assert set(body) == {"status", "database", "scheduler_heartbeat_age_seconds"}  # nothing personal, no host names


@pytest.mark.parametrize("seconds_ago, detail", [(None, "nooit"), (600, "Geen hartslag")])
def test_not_ready_without_a_recent_scheduler_heartbeat(app, db, client, seconds_ago, detail):
    app.config["SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS"] = 60
    if seconds_ago is not None:
        _beat(db, seconds_ago)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["reason"] == "scheduler" and detail in body["detail"]


def test_the_scheduler_check_can_be_switched_off(app, client):
    app.config["SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS"] = 0
    assert client.get("/readyz").status_code == 200


def test_the_heartbeat_of_a_running_scheduler_makes_it_ready(app, db, client, monkeypatch):
    app.config["SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS"] = 60
    monkeypatch.setattr(jobs, "_heartbeat_row", None)
    assert client.get("/readyz").status_code == 503
    jobs.beat()
    assert client.get("/readyz").status_code == 200


def test_without_a_database_healthz_is_up_and_readyz_says_why():
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=UNREACHABLE)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "database"


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_are_read_only(client, url):
    assert client.post(url).status_code == 405  # no form, so no CSRF token needed, and nothing to change
