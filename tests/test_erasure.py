"""Erasure: one person's name, email address and phone number leave every column of every table.

`populated_world` fills EVERY table through the services (a new table without a row fails the
test), with two workers (Anna, who is erased, and Bram, who must stay untouched) and both sides of
the exchange; then the whole database is scanned as text (JSON included).
"""
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from nlwerktdoor import jobs
from nlwerktdoor.extensions import db
from nlwerktdoor.models import (
    AuditEntry,
    CandidateIndexBuild,
    CsvUpload,
    EmailSuppression,
    Invitation,
    Match,
    OutgoingEmail,
    User,
    WorkerProfile,
)
from nlwerktdoor.services import audit, invitations, matching, privacy, responses
from nlwerktdoor.services import outbox as outbox_service
from tests.factories import (
    PASSWORD,
    make_employer,
    make_listing,
    make_shortage,
    make_user,
    make_worker,
)

ANNA = {"name": "Anna Zoë Zonnebloem", "email": "anna.zonnebloem@example.org", "phone": "06 11223344"}
BRAM = {"name": "Bram Klaproos", "email": "bram.klaproos@example.org", "phone": "06 55667788"}


def _person(details: dict, pc4: str):
    user = make_user(role="worker", name=details["name"], email=details["email"], phone=details["phone"])
    profile = make_worker(occupation="healthcare assistant", user=user, pc4=pc4, external_ref=f"ref-{pc4}")
    return user, profile


def populated_world():
    growing = make_employer(side="growing", name="Zorg Groeit BV")
    shrinking = make_employer(side="shrinking", name="Vliegt Minder BV")
    shortage = make_shortage(growing.organisation, positions=3)
    listing = make_listing(shrinking.organisation, occupation="healthcare assistant")
    anna, anna_profile = _person(ANNA, "1012")
    bram, bram_profile = _person(BRAM, "1013")
    run = matching.run_matching()  # match_runs, matches, digests in the outbox
    assert run.new_matches >= 2, run.new_matches
    for user, profile in ((anna, anna_profile), (bram, bram_profile)):
        match = db.session.scalar(sa.select(Match).where(Match.worker_id == profile.id))
        responses.answer(match.id, user, True)
        responses.answer(match.id, growing, True)  # contact emails with the worker's details
    invitations.create_invitation(listing.id, ANNA["email"], shrinking)
    invitations.create_invitation(listing.id, BRAM["email"], shrinking)
    audit.record(growing, "test.note", anna, email=ANNA["email"], note=f"spoke to {ANNA['name']}")
    audit.record(growing, "test.note", bram, email=BRAM["email"])
    db.session.add_all([
        EmailSuppression(address=ANNA["email"], permanent_failures=1, last_error=f"550 <{ANNA['email']}> unknown"),
        EmailSuppression(address=BRAM["email"], permanent_failures=1),
    ])
    # A large CSV upload waiting for the upload job (its file names the member) and a processed one.
    db.session.add_all([
        CsvUpload(organisation_id=growing.organisation_id, user_id=growing.id, kind="shortages", status="queued",
                  content=f"external_ref,contact_email,title\nz-1,{growing.email},Zorghulp\n".encode(), rows_total=1),
        CsvUpload(organisation_id=shrinking.organisation_id, user_id=shrinking.id, kind="listings", status="done",
                  report={"created": 1, "updated": 0, "unchanged": 0, "errors": []}, rows_total=1, rows_done=1),
    ])
    failed = outbox_service.queue_email(ANNA["email"], "nl", "password", {"name": ANNA["name"]}, "test:anna:failed")
    failed.status, failed.last_error = "failed", f"550 5.1.1 <{ANNA['email']}>: user unknown"
    db.session.commit()
    claim = jobs.claim_slot("match", jobs.slot_for(datetime.now(UTC), jobs.interval_of("match", {
        "MATCH_INTERVAL_MINUTES": 15})))
    jobs.finish_claim(claim, "done", {"new_matches": 2})
    jobs.beat()
    # A build of the candidate index (its files hold ids and matching attributes, no names: docs/privacy.md).
    db.session.add(CandidateIndexBuild(token="test-build", read_at=datetime.now(UTC), workers=2, listings=1))
    db.session.commit()
    return {"anna": anna, "bram": bram, "growing": growing, "shrinking": shrinking, "shortage": shortage}


def table_texts() -> dict[str, list[str]]:
    """Every row of every table as one lower-case text (JSON columns serialised)."""
    db.session.expire_all()
    texts = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(sa.select(table)).all()
        texts[table.name] = [
            " | ".join(json.dumps(v, default=str, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v) for v in row).lower()
            for row in rows
        ]
    db.session.rollback()
    return texts


def hits(texts: dict[str, list[str]], person: dict) -> list[str]:
    needles = [person["name"].lower(), person["email"].lower(), person["phone"].lower()]
    return [f"{table}: {needle}" for table, rows in texts.items() for row in rows for needle in needles
            if needle in row]


def test_every_table_is_filled(app):
    populated_world()
    empty = [name for name, rows in table_texts().items() if not rows]
    assert not empty, f"populated_world() leaves these tables empty; add rows for them: {empty}"


def test_erasure_leaves_no_trace_of_the_person_in_any_column(app):
    world = populated_world()
    before = table_texts()
    assert hits(before, ANNA), "the world should mention Anna before the erasure"
    bram_before = sorted(hits(before, BRAM))

    privacy.erase_user(world["anna"], reason="test")

    after = table_texts()
    assert hits(after, ANNA) == []
    assert sorted(hits(after, BRAM)) == bram_before  # the other person is untouched
    anna = db.session.get(User, world["anna"].id)
    assert anna.email.startswith("erased-") and anna.email.endswith("@invalid")
    assert (anna.name, anna.phone, anna.password_hash, anna.active) == ("", None, None, False)
    assert db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.user_id == anna.id)) is None
    bram = db.session.get(User, world["bram"].id)
    assert (bram.name, bram.email, bram.phone) == (BRAM["name"], BRAM["email"], BRAM["phone"])
    assert bram.worker_profile is not None and bram.worker_profile.status == "active"
    # Bram's match, contact emails and invitation are still there.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Match).where(
        Match.worker_id == bram.worker_profile.id)) == 1
    assert db.session.scalar(sa.select(Invitation).where(Invitation.email == BRAM["email"])) is not None
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.erase"))
    assert entry.object_id == str(anna.id) and ANNA["email"] not in json.dumps(entry.details)


def test_erasure_cancels_unsent_emails_to_the_person(app, outbox):
    world = populated_world()
    pending = db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.status == "pending")).all()
    assert any(row.recipient == ANNA["email"] for row in pending)
    anna_match = db.session.scalar(sa.select(Match.id).where(Match.worker_id == world["anna"].worker_profile.id))
    privacy.erase_user(world["anna"])
    db.session.expire_all()
    erased_address = world["anna"].email
    rows = db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == erased_address)).all()
    assert rows and all(row.status != "pending" and row.data == {} for row in rows)
    # The employer's digest listed both workers: it still goes out, without Anna's match.
    digest = db.session.scalar(sa.select(OutgoingEmail).where(
        OutgoingEmail.template == "digest", OutgoingEmail.recipient == world["growing"].email))
    bram_match = db.session.scalar(sa.select(Match.id).where(Match.worker_id == world["bram"].worker_profile.id))
    listed = [item["match_id"] for item in digest.data["matches"]]
    assert digest.status == "pending" and bram_match in listed and anna_match not in listed
    outbox_service.send_pending()
    sent_to = {message["To"] for message in outbox}
    assert BRAM["email"] in sent_to  # the sender works ...
    assert ANNA["email"] not in sent_to and erased_address not in sent_to  # ... and skips the cancelled rows


def test_the_worker_erases_their_own_data_with_password_and_confirmation(app, client, login_as):
    world = populated_world()
    login_as(world["anna"])
    page = client.get("/werkenden/gegevens-wissen")
    assert page.status_code == 200 and "Mijn gegevens wissen" in page.get_data(as_text=True)
    from tests.access_world import csrf_token

    token = csrf_token(app, client)
    for body in ({"password": PASSWORD}, {"confirm": "y", "password": "wrong password here"}):
        response = client.post("/werkenden/gegevens-wissen", data={**body, "csrf_token": token})
        assert response.status_code == 200
        assert db.session.get(User, world["anna"].id).email == ANNA["email"]  # nothing erased
    response = client.post("/werkenden/gegevens-wissen",
                           data={"confirm": "y", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert hits(table_texts(), ANNA) == []
    assert client.get("/werkenden/profiel").status_code == 302  # logged out: the session is gone


@pytest.mark.parametrize("by", ["member", "admin"])
def test_an_organisation_erases_its_personal_data(app, by):
    world = populated_world()
    growing = world["growing"]
    make_user(role="employer", organisation=growing.organisation, name="Cor Collega",
                          email="cor@zorg-groeit.example", phone="070 1234567")
    member_email = growing.email
    acting = growing if by == "member" else make_user(role="admin")
    with pytest.raises(privacy.DomainError):
        privacy.erase_organisation(growing.organisation_id, acting, confirmed=False, password=PASSWORD)
    report = privacy.erase_organisation(growing.organisation_id, acting, confirmed=True, password=PASSWORD)
    assert report.members == 2 and report.postings_closed == 1
    texts = table_texts()
    for needle in (member_email, "cor@zorg-groeit.example", "Cor Collega", "070 1234567"):
        assert not [t for t, rows in texts.items() for row in rows if needle.lower() in row], needle
    assert world["shortage"].status == "closed" and world["shortage"].contact_email.endswith("@invalid")
    # The workers are untouched.
    assert sorted(hits(texts, BRAM)) and db.session.get(User, world["bram"].id).email == BRAM["email"]


def test_another_employer_cannot_erase_an_organisation(app):
    world = populated_world()
    with pytest.raises(privacy.NotFoundError):
        privacy.erase_organisation(world["growing"].organisation_id, world["shrinking"], confirmed=True,
                                   password=PASSWORD)
    assert db.session.get(User, world["growing"].id).email.endswith("@example.org")
