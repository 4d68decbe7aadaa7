"""The audit log: coordinator and admin actions are recorded with actor and time, in the same
transaction as the change, and admins read them at /beheer/audit."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from nlwerktdoor import reference
from nlwerktdoor.extensions import db
from nlwerktdoor.models import AuditEntry, Organisation, Sector
from nlwerktdoor.services import audit, organisations, sectors
from tests.access_world import csrf_token
from tests.factories import make_organisation, make_user


def entries() -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


def recent(moment: datetime) -> bool:
    return abs((datetime.now(timezone.utc) - moment).total_seconds()) < 60


def test_verifying_an_organisation_records_who_and_when(app, client, login_as):
    organisation = make_organisation(verified=False, name="Zorg Noord")
    coordinator = make_user(role="coordinator")
    login_as(coordinator)
    response = client.post(f"/beheer/organisaties/{organisation.id}/verifieren",
                           data={"csrf_token": csrf_token(app, client)})
    assert response.status_code == 302
    organisation = db.session.get(Organisation, organisation.id)
    assert organisation.verified_by_id == coordinator.id and recent(organisation.verified_at)
    [entry] = entries()
    assert (entry.actor_id, entry.action, entry.object_type, entry.object_id) == (
        coordinator.id, "organisation.verify", "organisations", str(organisation.id))
    assert entry.details["name"] == "Zorg Noord" and entry.details["kvk_number"] == organisation.kvk_number
    assert entry.at == organisation.verified_at or recent(entry.at)


def test_verifying_twice_records_once(app):
    organisation = make_organisation(verified=False)
    first, second = make_user(role="coordinator"), make_user(role="admin")
    organisations.verify(organisation.id, first)
    organisations.verify(organisation.id, second)
    assert [(e.actor_id, e.action) for e in entries()] == [(first.id, "organisation.verify")]


def test_a_refused_verification_records_nothing(app):
    organisation = make_organisation(verified=False)
    with pytest.raises(Exception):
        organisations.verify(organisation.id, make_user(role="employer"))
    assert entries() == []


def test_changing_a_sector_trend_records_before_and_after(app, client, login_as):
    admin = make_user(role="admin")
    login_as(admin)
    response = client.post("/beheer/sectoren/hospitality",
                           data={"trend": "growing", "csrf_token": csrf_token(app, client)})
    assert response.status_code == 302
    [entry] = entries()
    assert (entry.actor_id, entry.action, entry.object_type, entry.object_id) == (
        admin.id, "sector.set_trend", "sectors", "hospitality")
    assert entry.details == {"before": "shrinking", "after": "growing"}
    assert recent(entry.at)


def test_setting_the_same_trend_or_a_bad_one_records_nothing(app):
    sectors.set_trend("hospitality", "shrinking", make_user(role="admin"))
    with pytest.raises(Exception):
        sectors.set_trend("hospitality", "booming", make_user(role="admin"))
    assert entries() == []


def test_a_trend_change_without_a_person_is_the_system(app):
    sectors.set_trend("care", "neutral")
    [entry] = entries()
    assert entry.actor_id is None and entry.details == {"before": "growing", "after": "neutral"}


def test_changing_a_users_role_records_the_old_role(app, client, login_as):
    target = make_user(role="worker", email="karin@regio.example")
    admin = make_user(role="admin")
    login_as(admin)
    region = sorted(reference.regions())[0]
    response = client.post("/beheer/gebruikers", data={"email": target.email, "region": region,
                                                       "csrf_token": csrf_token(app, client)})
    assert response.status_code == 302
    [entry] = entries()
    assert (entry.actor_id, entry.action, entry.object_type, entry.object_id) == (
        admin.id, "user.role", "users", str(target.id))
    assert entry.details["before"] == "worker" and entry.details["after"] == "coordinator"
    assert entry.details["region"] == region


def test_a_refused_role_change_records_nothing(app, client, login_as):
    login_as(make_user(role="admin"))
    response = client.post("/beheer/gebruikers", data={"email": make_user(role="worker").email, "region": "9999",
                                                       "csrf_token": csrf_token(app, client)})
    assert response.status_code == 200
    assert entries() == []


def test_record_does_not_commit(app):
    """The caller commits the entry with its change; a rollback takes both away."""
    sector = db.session.get(Sector, "care")
    audit.record(make_user(role="admin"), "sector.set_trend", sector, before="growing", after="neutral")
    db.session.rollback()
    assert entries() == []


def test_details_are_stored_as_plain_json(app):
    moment = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    audit.record(None, "test.action", db.session.get(Sector, "care"), when=moment, ids={3, 3}, nested={"a": (1, 2)})
    db.session.commit()
    [entry] = entries()
    assert entry.details == {"when": "2026-11-01T12:00:00+00:00", "ids": [3], "nested": {"a": [1, 2]}}


# ---------------------------------------------------------------- the page


def test_admin_sees_the_log_with_actor_action_and_time(app, client, login_as):
    coordinator = make_user(role="coordinator", name="Carla Coördinator")
    organisations.verify(make_organisation(verified=False).id, coordinator)
    sectors.set_trend("care", "neutral")
    login_as(make_user(role="admin"))
    page = client.get("/beheer/audit").get_data(as_text=True)
    assert "Carla Coördinator" in page and coordinator.email in page
    assert "organisatie geverifieerd" in page and "trend van sector gewijzigd" in page
    assert "systeem" in page  # the trend change without a person
    assert page.index("trend van sector gewijzigd") < page.index("organisatie geverifieerd")  # newest first


@pytest.mark.parametrize("role", ["coordinator", "employer", "worker"])
def test_only_admins_see_the_log(client, login_as, role):
    login_as(make_user(role=role))
    assert client.get("/beheer/audit").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/beheer/audit")
    assert response.status_code == 302 and "/account/inloggen" in response.headers["Location"]


def test_the_log_is_paginated(app, client, login_as):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    sector = db.session.get(Sector, "care")
    for n in range(audit.PER_PAGE + 7):
        audit.record(None, "test.action", sector, n=n).at = start + timedelta(minutes=n)
    db.session.commit()
    login_as(make_user(role="admin"))
    first = client.get("/beheer/audit").get_data(as_text=True)
    second = client.get("/beheer/audit?pagina=2").get_data(as_text=True)
    assert first.count("<tr>") - 1 == audit.PER_PAGE and second.count("<tr>") - 1 == 7
    assert "Pagina 1 van 2" in first and "?pagina=2" in first
    assert client.get("/beheer/audit?pagina=99").get_data(as_text=True).count("<tr>") - 1 == 7  # the last page
    assert client.get("/beheer/audit?pagina=abc").status_code == 200


def test_entries_page_clamps_and_orders_newest_first(app):
    sector = db.session.get(Sector, "care")
    old = audit.record(None, "test.old", sector)
    old.at = datetime(2020, 1, 1, tzinfo=timezone.utc)
    audit.record(None, "test.new", sector)
    db.session.commit()
    page = audit.entries(page=0, per_page=1)
    assert page.page == 1 and page.pages == 2 and [e.action for e in page.items] == ["test.new"]
    assert [e.action for e in audit.entries(page=5, per_page=1).items] == ["test.old"]
