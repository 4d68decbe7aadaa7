"""Privacy: pseudonymous candidates before a mutual yes, human answers on both sides, consent
withdrawal cancelling unsent emails, a new consent text asking again, and the personal data export."""
import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from nlwerktdoor import mail
from nlwerktdoor.extensions import db
from nlwerktdoor.models import Match, OutgoingEmail
from nlwerktdoor.services import exports, invitations, matching, responses
from nlwerktdoor.services import workers as worker_service
from tests.access_world import csrf_token
from tests.factories import (
    make_employer,
    make_listing,
    make_shortage,
    make_user,
    make_worker,
)

WORKER = {"name": "Wendy Vertrouwelijk", "email": "wendy.vertrouwelijk@example.org", "phone": "06 98765432"}
WORKER_PC4 = "1017"  # the shortage is in 1011: the worker's own postcode must never reach the employer


def _setup(open_hiring=False):
    growing = make_employer(side="growing", name="Zorgcentrum Groei")
    shortage = make_shortage(growing.organisation, pc4="1011", open_hiring=open_hiring, positions=2)
    user = make_user(role="worker", **WORKER)
    profile = make_worker(occupation="healthcare assistant", user=user, pc4=WORKER_PC4)
    run = matching.run_matching()
    match = db.session.scalar(sa.select(Match).where(Match.worker_id == profile.id))
    assert match is not None, run
    return growing, shortage, user, profile, match


def _leaks(text: str) -> list[str]:
    found = [value for value in WORKER.values() if value.lower() in text.lower()]
    if re.search(rf"(?<![0-9]){WORKER_PC4}(?![0-9])", text):
        found.append(WORKER_PC4)
    return found


def _employer_views(client, shortage, match) -> dict[str, str]:
    pages = {}
    for url in ("/tekorten/mijn", f"/tekorten/{shortage.id}", f"/matches/{match.id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        pages[url] = response.get_data(as_text=True)
    for url in (f"/tekorten/{shortage.id}", f"/matches/{match.id}"):
        assert "Score" in pages[url] and "Afstand" in pages[url], url  # the candidate is really shown
    digests = db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == shortage.contact_email))
    for row in digests:
        message = mail.compose(row.template, row.locale, row.recipient, row.data)
        pages[f"email {row.template}"] = message.as_string() + json.dumps(row.data)
    stream = io.StringIO()
    exports.write_matches_csv(stream)
    pages["export matches"] = stream.getvalue()
    return pages


def test_the_employer_sees_a_pseudonymous_candidate_until_both_said_yes(app, client, login_as):
    growing, shortage, user, _profile, match = _setup()
    login_as(growing)
    views = _employer_views(client, shortage, match)
    assert any(key.startswith("email digest") for key in views), "the digest should have been queued"
    leaks = {name: _leaks(text) for name, text in views.items() if _leaks(text)}
    assert not leaks, leaks

    # The employer says yes: still nothing (only the worker's yes completes it).
    client.post(f"/matches/{match.id}", data={"answer": "yes", "csrf_token": csrf_token(app, client)})
    db.session.expire_all()
    assert db.session.get(Match, match.id).candidate_status == "pending"
    leaks = {name: _leaks(text) for name, text in _employer_views(client, shortage, match).items() if _leaks(text)}
    assert not leaks, leaks

    responses.answer(match.id, user, True)  # the worker says yes: now the contact details are exchanged
    page = client.get(f"/matches/{match.id}").get_data(as_text=True)
    assert WORKER["email"] in page and WORKER["name"] in page
    contact = db.session.scalar(sa.select(OutgoingEmail).where(
        OutgoingEmail.template == "contact", OutgoingEmail.recipient == shortage.contact_email))
    assert contact.data["other"]["email"] == WORKER["email"]


@pytest.mark.parametrize("open_hiring", [False, True])
def test_nothing_is_decided_without_a_person_on_each_side(app, open_hiring):
    growing, shortage, user, _profile, match = _setup(open_hiring=open_hiring)
    assert (match.growing_status, match.candidate_status, match.outcome) == ("pending", "pending", None)
    matching.run_matching()  # a rerun decides nothing either
    responses.answer(match.id, growing, True)
    db.session.expire_all()
    match = db.session.get(Match, match.id)
    assert match.candidate_status == "pending" and match.introduced_at is None and match.outcome is None
    assert db.session.get(type(shortage), shortage.id).filled_positions == 0
    assert not db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.template == "contact")).all()
    responses.answer(match.id, user, True)
    assert match.is_mutual_yes and match.outcome == ("hired" if open_hiring else "introduced")


def test_no_code_sets_an_answer_except_a_user_answering():
    """Answers are written in one place only: services/responses.answer, which needs a user with a side."""
    root = Path(__file__).resolve().parents[1] / "nlwerktdoor"
    writes = re.compile(r"(growing|candidate)_(status|answered_at)\s*=(?!=)|[\"'](growing|candidate)_status[\"']\s*:")
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "match.py" and path.parent.name == "models":
            continue  # the column definitions
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if writes.search(line) and "sa.select" not in line:
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert not offenders, offenders
    source = (root / "services" / "responses.py").read_text()
    assert source.count("setattr(match,") == 2  # the answer and its time, in answer() after side_for(user)


def test_withdrawing_cancels_unsent_emails_about_the_person(app, client, login_as):
    growing, shortage, user, profile, _match = _setup()
    # A second worker in the same digest: that digest stays, without the withdrawn worker's match.
    other = make_worker(occupation="healthcare assistant", pc4="1016")
    second = make_shortage(growing.organisation, pc4="1011", title="Tweede plek")
    matching.run_matching()
    shared = db.session.scalar(sa.select(OutgoingEmail).where(
        OutgoingEmail.template == "digest", OutgoingEmail.recipient == shortage.contact_email,
        OutgoingEmail.idempotency_key.like("digest:2:%")))
    assert shared is not None and {i["match_id"] for i in shared.data["matches"]} & {
        m.id for m in db.session.scalars(sa.select(Match).where(Match.worker_id == profile.id))}
    to_worker = db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == user.email)).all()
    assert to_worker and all(row.status == "pending" for row in to_worker)

    login_as(user)
    client.post("/werkenden/profiel/afmelden", data={"csrf_token": csrf_token(app, client)})
    db.session.expire_all()

    assert all(row.status == "cancelled" and row.last_error == "consent withdrawn"
               for row in db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == user.email)))
    first = db.session.scalar(sa.select(OutgoingEmail).where(OutgoingEmail.idempotency_key.like("digest:1:%"),
                                                             OutgoingEmail.recipient == shortage.contact_email))
    assert first.status == "cancelled"  # it listed only this worker
    shared = db.session.get(OutgoingEmail, shared.id)
    assert shared.status == "pending"
    worker_matches = {m.id for m in db.session.scalars(sa.select(Match).where(Match.worker_id == profile.id))}
    assert shared.data["matches"] and not {i["match_id"] for i in shared.data["matches"]} & worker_matches
    assert profile.status == "withdrawn" and profile.withdrawn_at is not None
    assert other.status == "active" and second.status == "open"
    # The sender takes only pending rows.
    from nlwerktdoor.services import outbox as outbox_service

    mail.memory_outbox.clear()
    outbox_service.send_pending()
    assert WORKER["email"] not in {m["To"] for m in mail.memory_outbox}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingEmail).where(
        OutgoingEmail.status == "cancelled")) >= 2


def test_a_new_consent_text_asks_again_and_stops_matching_until_then(app, client, login_as):
    growing = make_employer(side="growing")
    make_shortage(growing.organisation, pc4="1011")
    user = make_user(role="worker")
    profile = make_worker(occupation="healthcare assistant", user=user)
    app.config["CONSENT_VERSION"] = "2027-01-v2"
    assert matching.run_matching().new_matches == 0  # consent to the old text does not count

    login_as(user)
    response = client.get("/werkenden/profiel")
    assert response.status_code == 302 and response.headers["Location"].endswith("/werkenden/toestemming")
    page = client.get("/werkenden/toestemming").get_data(as_text=True)
    assert "2027-01-v2" in page
    token = csrf_token(app, client)
    client.post("/werkenden/toestemming", data={"csrf_token": token})  # no tick: nothing changes
    db.session.expire_all()
    assert profile.consent_version == "2026-11-v1"
    client.post("/werkenden/toestemming", data={"csrf_token": token, "consent": "y"})
    db.session.expire_all()
    assert profile.consent_version == "2027-01-v2" and profile.consent_at is not None
    assert client.get("/werkenden/profiel").status_code == 200
    assert matching.run_matching().new_matches == 1


def test_the_worker_downloads_everything_held_about_them(app, client, login_as):
    _growing, shortage, user, profile, match = _setup()
    listing = make_listing(make_employer(side="shrinking").organisation)
    shrinking_member = listing.organisation.members[0]
    invitations.create_invitation(listing.id, user.email, shrinking_member)
    worker_service.pause(user)
    login_as(user)
    response = client.get("/werkenden/mijn-gegevens.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_json()
    assert data["user"]["email"] == WORKER["email"] and data["user"]["phone"] == WORKER["phone"]
    for secret in ("password_hash", "session_token", "totp_secret", "totp_backup_codes"):
        assert secret not in data["user"]
    assert data["worker_profile"]["pc4"] == WORKER_PC4 and data["worker_profile"]["status"] == "paused"
    assert data["consents"] == [{"given_at": profile.consent_at.isoformat(), "text_version": "2026-11-v1"}]
    assert [(m["id"], m["growing_status"], m["candidate_status"]) for m in data["matches"]] == [
        (match.id, "pending", "pending")]
    assert data["matches"][0]["shortage"]["title"] == shortage.title
    assert {e["template"] for e in data["emails"]} >= {"digest", "invitation"}
    assert data["invitations"][0]["email"] == WORKER["email"]
    json.dumps(data)  # plain JSON
