"""Demo data: fictional, realistic, deterministic, fast, and loggable-in."""
from datetime import date

import pytest
import sqlalchemy as sa

from nlwerktdoor import reference
from nlwerktdoor.models import Organisation, Shortage, StaffListing, User, WorkerProfile
from nlwerktdoor.services import demo

TODAY = date(2026, 11, 20)


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_seed_makes_a_fictional_living_platform(app, db):
    report = demo.seed_demo(today=TODAY)
    assert report.seconds < 10

    assert (count(db, StaffListing), count(db, Shortage), count(db, WorkerProfile)) == (50, 50, 200)
    assert (report.listings, report.shortages, report.workers) == (50, 50, 200)

    organisations = db.session.scalars(sa.select(Organisation)).all()
    assert all("(fictief)" in o.name and o.kvk_number.startswith("9") for o in organisations)
    assert len({o.sector_code for o in organisations}) == 12
    assert [o.name for o in organisations if o.verified_at is None] == ["Thuiszorg Zonnebloem (fictief)"]

    emails = db.session.scalars(sa.select(User.email)).all()
    assert all(e.endswith("@example.org") or e.endswith(".nlwerktdoor.nl") for e in emails)

    occupations, places = reference.occupations(), reference.places()
    for listing in db.session.scalars(sa.select(StaffListing)):
        assert listing.occupation_id in occupations and listing.pc4 in places
        assert listing.organisation.side == "shrinking" and listing.skills
    for shortage in db.session.scalars(sa.select(Shortage)):
        assert shortage.occupation_id in occupations and shortage.pc4 in places
        assert shortage.organisation.side == "growing" and shortage.required_skills
        assert shortage.start_date > TODAY
    shortages = db.session.scalars(sa.select(Shortage)).all()
    assert any(s.training_offered for s in shortages) and any(s.open_hiring for s in shortages)
    assert any("heftruck" in s.certificates for s in shortages) and any("VOG" in s.certificates for s in shortages)

    profiles = db.session.scalars(sa.select(WorkerProfile)).all()
    assert all(p.status == "active" and p.consent_at and p.consent_version for p in profiles)
    assert all(p.occupation_id in occupations and p.pc4 in places and 10 <= p.max_distance_km <= 50 for p in profiles)
    shrinking_occupations = {
        reference.resolve_occupation(label)
        for sector in ("hospitality", "aviation", "events", "culture", "travel", "retail")
        for label in demo.OCCUPATIONS[sector]
    }
    assert {p.occupation_id for p in profiles} <= shrinking_occupations
    # More people in the big cities: Amsterdam alone holds a good share.
    in_amsterdam = sum(1 for p in profiles if places[p.pc4].municipality == "Amsterdam")
    assert in_amsterdam >= 10


def test_every_demo_occupation_resolves_in_esco():
    for sector, labels in demo.OCCUPATIONS.items():
        for label in labels:
            assert reference.resolve_occupation(label), (sector, label)


def test_same_seed_same_data(app, db):
    assert demo.fingerprint(demo.plan_demo(2020, TODAY)) == demo.fingerprint(demo.plan_demo(2020, TODAY))
    assert demo.fingerprint(demo.plan_demo(2020, TODAY)) != demo.fingerprint(demo.plan_demo(2021, TODAY))

    report = demo.seed_demo(random_seed=2020, today=TODAY)
    plan = demo.plan_demo(2020, TODAY)
    assert report.fingerprint == demo.fingerprint(plan)
    stored = sorted(db.session.execute(sa.select(Shortage.external_ref, Shortage.title, Shortage.pc4)).all())
    assert stored == sorted((s["external_ref"], s["title"], s["pc4"]) for s in plan["shortages"])
    stored_workers = sorted(db.session.execute(sa.select(User.email, WorkerProfile.pc4).join(WorkerProfile.user)).all())
    assert stored_workers == sorted((w["email"], w["pc4"]) for w in plan["workers"])


def test_only_if_empty_does_nothing_the_second_time(app, db):
    first = demo.seed_demo(only_if_empty=True)
    assert first.organisations == 31 and not first.skipped
    second = demo.seed_demo(only_if_empty=True)
    assert second.skipped and "nothing added" in second.summary()
    # Without the flag a second seed is refused too, instead of failing on duplicate logins.
    assert demo.seed_demo().skipped
    assert count(db, Organisation) == 31 and count(db, WorkerProfile) == 200


@pytest.mark.parametrize("email", [email for email, _role in demo.DEMO_ACCOUNTS])
def test_demo_accounts_can_log_in(app, db, client, login_as, email):
    demo.seed_demo()
    user = db.session.scalar(sa.select(User).where(User.email == email))
    login_as(user, password=demo.DEMO_PASSWORD)
    assert client.get("/").status_code == 200


def test_demo_worker_and_employers_are_what_the_readme_says(app, db):
    demo.seed_demo()
    worker = db.session.scalar(sa.select(User).where(User.email == "werkende@demo.nlwerktdoor.nl"))
    assert worker.worker_profile.occupation_id == reference.resolve_occupation("flight attendant")
    assert reference.place(worker.worker_profile.pc4).municipality == "Amsterdam"
    krimp = db.session.scalar(sa.select(User).where(User.email == "hr@demo-krimp.nlwerktdoor.nl"))
    groei = db.session.scalar(sa.select(User).where(User.email == "hr@demo-groei.nlwerktdoor.nl"))
    assert krimp.organisation.side == "shrinking" and krimp.organisation.name == "Oranje Luchtvaart (fictief)"
    assert groei.organisation.side == "growing" and groei.organisation.sector_code == "care"
    coordinator = db.session.scalar(sa.select(User).where(User.email == "coordinator@demo.nlwerktdoor.nl"))
    assert coordinator.role == "coordinator" and coordinator.region_code is None


def test_demo_seed_command(cli_runner, db):
    result = cli_runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "50 staff listings, 50 shortages, 200 workers" in result.output
    assert "nlwerktdoor-demo" in result.output
    again = cli_runner.invoke(args=["demo", "seed", "--if-empty"])
    assert again.exit_code == 0 and "nothing added" in again.output
    assert count(db, WorkerProfile) == 200
