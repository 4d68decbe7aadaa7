"""Retention, run by scheduled jobs with an injected `now` (no sleeping): postings expire, workers are
asked "still available?" every 8 weeks, withdrawn profiles and inactive accounts are erased, and an
admin's "crisis over" removes all personal data except the reserve pool."""
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from nlwerktdoor import jobs
from nlwerktdoor.extensions import db
from nlwerktdoor.models import (
    AuditEntry,
    JobRun,
    Match,
    OutgoingEmail,
    User,
    WorkerProfile,
)
from nlwerktdoor.services import matching, privacy
from nlwerktdoor.services import workers as worker_service
from tests.access_world import csrf_token
from tests.factories import (
    make_employer,
    make_listing,
    make_shortage,
    make_user,
    make_worker,
)

NOW = datetime.now(UTC)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def _emails(template: str, recipient: str) -> list[OutgoingEmail]:
    return db.session.scalars(sa.select(OutgoingEmail).where(
        OutgoingEmail.template == template, OutgoingEmail.recipient == recipient)).all()


# ---------------------------------------------------------------- postings


def test_postings_expire_at_their_end_date_or_after_the_set_time(app):
    org = make_employer(side="shrinking").organisation
    ended = make_listing(org, available_until=NOW.date() - days(1))
    running = make_listing(org, available_until=NOW.date() + days(10))
    growing = make_employer(side="growing").organisation
    stale = make_shortage(growing)
    fresh = make_shortage(growing)
    stale.updated_at = NOW - days(91)
    db.session.commit()

    counts = privacy.expire_postings(now=NOW)

    db.session.expire_all()
    assert counts == {"listings_closed": 1, "shortages_closed": 1}
    assert (ended.status, running.status, stale.status, fresh.status) == ("closed", "open", "closed", "open")
    # 90 days later everything not updated since is closed too.
    assert privacy.expire_postings(now=NOW + days(91)) == {"listings_closed": 1, "shortages_closed": 1}


# ---------------------------------------------------------------- "still available?"


def test_an_active_worker_is_asked_every_8_weeks_and_a_yes_resets_the_clock(app, client):
    profile = make_worker(consent_at=NOW - days(10))
    email = profile.user.email
    assert privacy.ask_still_available(now=NOW) == {"asked": 0, "paused": 0}  # not due yet
    asked_at = NOW + days(47)
    assert privacy.ask_still_available(now=asked_at) == {"asked": 1, "paused": 0}
    assert privacy.ask_still_available(now=asked_at + days(1))["asked"] == 0  # one open question at a time
    [row] = _emails("reconfirm", email)
    link = row.data["url"]
    assert link.startswith("http://nlwerktdoor.test/werkenden/nog-beschikbaar/")

    path = link.removeprefix("http://nlwerktdoor.test")
    page = client.get(path)
    assert page.status_code == 200 and "Ben je nog beschikbaar?" in page.get_data(as_text=True)
    client.post(path, data={"csrf_token": csrf_token(app, client)})  # no answer chosen: nothing happens
    db.session.expire_all()
    assert profile.reconfirm_requested_at is not None
    response = client.post(path, data={"csrf_token": csrf_token(app, client), "answer": "yes"})
    assert response.status_code == 200
    db.session.expire_all()
    assert profile.status == "active" and profile.reconfirm_requested_at is None and profile.reconfirmed_at

    # The clock starts again from the answer: 14 days later nobody is paused, 8 weeks later asked again.
    answered = profile.reconfirmed_at
    assert privacy.ask_still_available(now=answered + days(15)) == {"asked": 0, "paused": 0}
    assert privacy.ask_still_available(now=answered + days(57))["asked"] == 1


def test_no_answer_within_14_days_pauses_the_profile(app):
    profile = make_worker(consent_at=NOW - days(60))
    privacy.ask_still_available(now=NOW)
    assert privacy.ask_still_available(now=NOW + days(13))["paused"] == 0
    assert privacy.ask_still_available(now=NOW + days(14))["paused"] == 1
    db.session.expire_all()
    assert profile.status == "paused"
    # Resuming answers the question and restarts the clock.
    worker_service.resume(profile.user)
    assert profile.reconfirm_requested_at is None and profile.status == "active"


@pytest.mark.parametrize("answer, status", [("yes", "active"), ("no", "paused")])
def test_the_answer_decides_the_status(app, answer, status):
    profile = make_worker(consent_at=NOW - days(60))
    privacy.ask_still_available(now=NOW)
    token = privacy.still_available_token(profile)
    privacy.answer_still_available(token, answer == "yes", now=NOW + days(2))
    assert profile.status == status and profile.reconfirmed_at == NOW + days(2)


@pytest.mark.parametrize("token", ["", "not-a-token", "WzFd.bad-signature"])
def test_a_bad_link_is_refused_without_an_error(app, client, token):
    make_worker()
    response = client.get(f"/werkenden/nog-beschikbaar/{token}x")
    assert response.status_code == 404 and "werkt niet" in response.get_data(as_text=True)


def test_a_withdrawn_worker_cannot_be_reactivated_by_an_old_link(app):
    profile = make_worker(consent_at=NOW - days(60))
    privacy.ask_still_available(now=NOW)
    token = privacy.still_available_token(profile)
    worker_service.withdraw(profile.user)
    assert privacy.profile_for_token(token) is None
    with pytest.raises(privacy.NotFoundError):
        privacy.answer_still_available(token, True)
    assert profile.status == "withdrawn"


# ---------------------------------------------------------------- withdrawn and inactive


def test_withdrawn_profiles_are_erased_after_30_days(app):
    leaving = make_worker()
    staying = make_worker()
    worker_service.withdraw(leaving.user)
    worker_service.withdraw(staying.user)
    staying.withdrawn_at = NOW - days(29)
    leaving.withdrawn_at = NOW - days(30)
    db.session.commit()
    user_id = leaving.user_id
    assert privacy.delete_withdrawn(now=NOW) == {"erased": 1}
    db.session.expire_all()
    erased = db.session.get(User, user_id)
    assert erased.email.endswith("@invalid") and erased.name == "" and not erased.active
    assert db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.user_id == user_id)) is None
    assert staying.status == "withdrawn" and staying.user.active


def test_inactive_accounts_are_warned_then_erased_30_days_later(app):
    old = NOW - days(400)
    sleeper = make_user(role="worker", last_login_at=old, created_at=old)
    returner = make_user(role="employer", organisation=make_employer().organisation, last_login_at=old, created_at=old)
    reserve = make_worker(user=make_user(role="worker", last_login_at=old, created_at=old), reserve_pool=True)
    admin = make_user(role="admin", last_login_at=old, created_at=old)
    recent = make_user(role="worker", last_login_at=NOW - days(30))

    assert privacy.inactive_accounts(now=NOW) == {"warned": 2, "erased": 0, "reset": 0}
    assert _emails("inactive_warning", sleeper.email) and _emails("inactive_warning", returner.email)
    assert privacy.inactive_accounts(now=NOW + days(1))["warned"] == 0  # warned once

    returner.last_login_at = NOW + days(5)  # logs in after the warning
    db.session.commit()
    sleeper_id = sleeper.id
    assert privacy.inactive_accounts(now=NOW + days(29)) == {"warned": 0, "erased": 0, "reset": 1}
    assert privacy.inactive_accounts(now=NOW + days(30)) == {"warned": 0, "erased": 1, "reset": 0}
    db.session.expire_all()
    assert db.session.get(User, sleeper_id).email.endswith("@invalid")
    assert returner.active and returner.warned_inactive_at is None
    for kept in (reserve.user, admin, recent):
        assert kept.active and kept.warned_inactive_at is None


# ---------------------------------------------------------------- crisis over


def _crisis_world():
    growing = make_employer(side="growing", name="Groei BV")
    make_shortage(growing.organisation, pc4="1011")
    shrinking = make_employer(side="shrinking", name="Krimp BV")
    make_listing(shrinking.organisation, occupation="healthcare assistant")
    keeper = make_worker(occupation="healthcare assistant",
                         user=make_user(role="worker", name="Karin Reserve", email="karin@example.org"),
                         reserve_pool=True)
    leaver = make_worker(occupation="healthcare assistant",
                         user=make_user(role="worker", name="Lars Weg", email="lars@example.org", phone="0612121212"))
    admin = make_user(role="admin", name="Beheer Der")
    coordinator = make_user(role="coordinator", name="Coco Ordinator")
    matching.run_matching()
    return growing, shrinking, keeper, leaver, admin, coordinator


def test_crisis_over_removes_all_personal_data_except_the_reserve_pool(app):
    growing, shrinking, keeper, leaver, admin, coordinator = _crisis_world()
    with pytest.raises(privacy.DomainError):
        privacy.crisis_over(admin, confirmed=False)
    with pytest.raises(privacy.NotAllowedError):
        privacy.crisis_over(coordinator, confirmed=True)
    assert leaver.user.email == "lars@example.org"  # nothing happened yet
    employer_emails = [growing.email, shrinking.email]

    report = privacy.crisis_over(admin, confirmed=True)

    assert (report.workers_erased, report.reserve_pool_kept, report.employers_erased) == (1, 1, 2)
    db.session.expire_all()
    from tests.test_erasure import table_texts

    texts = table_texts()
    for needle in ("lars@example.org", "Lars Weg", "0612121212", *employer_emails):
        assert not [t for t, rows in texts.items() for row in rows if needle.lower() in row], needle
    keeper = db.session.get(WorkerProfile, keeper.id)
    assert keeper.user.email == "karin@example.org" and keeper.status == "paused"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Match)) == 0
    assert admin.active and coordinator.active and coordinator.name == "Coco Ordinator"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "privacy.crisis_over"))
    assert entry.actor_id == admin.id and entry.details["workers_erased"] == 1
    assert matching.run_matching().new_matches == 0  # nobody left to match


def test_the_admin_page_asks_for_confirmation_then_shows_a_summary(app, client, login_as):
    _growing, _shrinking, _keeper, leaver, admin, _coordinator = _crisis_world()
    login_as(admin)
    page = client.get("/beheer/crisis-voorbij").get_data(as_text=True)
    assert "reservepool" in page
    client.post("/beheer/crisis-voorbij", data={"csrf_token": csrf_token(app, client)})
    db.session.expire_all()
    assert leaver.user.email == "lars@example.org"
    response = client.post("/beheer/crisis-voorbij", data={"csrf_token": csrf_token(app, client), "confirm": "y"})
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    assert response.status_code == 200 and "Werkenden gewist 1" in text and "In de reservepool bewaard 1" in text


# ---------------------------------------------------------------- the jobs


def test_the_retention_jobs_are_scheduled_and_record_their_counts(app):
    ids = {spec.id for spec in jobs.JOBS}
    assert {"expire_postings", "still_available", "delete_withdrawn", "inactive_accounts"} <= ids
    org = make_employer(side="shrinking").organisation
    make_listing(org, available_until=date.today() - days(1))
    jobs.SPECS["expire_postings"].func(app)
    run = db.session.scalar(sa.select(JobRun).where(JobRun.job_id == "expire_postings"))
    assert run.status == "done" and run.counts == {"listings_closed": 1, "shortages_closed": 0}
    for job_id in ("still_available", "delete_withdrawn", "inactive_accounts"):
        jobs.SPECS[job_id].func(app)
        assert db.session.scalar(sa.select(JobRun.status).where(JobRun.job_id == job_id)) == "done", job_id
