"""Answering a match: who may, what a 'no' means, and what a mutual yes sets in motion."""
import re

import pytest
import sqlalchemy as sa

from nlwerktdoor.errors import DomainError, NotFoundError
from nlwerktdoor.models import Match, OutgoingEmail
from nlwerktdoor.services import responses
from nlwerktdoor.services import outbox as outbox_service
from tests.factories import make_employer, make_listing, make_shortage, make_user, make_worker


@pytest.fixture(autouse=True)
def request_context(app):
    """Services speak Dutch through Flask-Babel, whose language choice looks at the request."""
    with app.test_request_context():
        yield


@pytest.fixture
def pair(db):
    """A shortage (growing employer) and a worker, matched."""
    growing = make_employer("growing", name="Zorggroep Amstel")
    shortage = make_shortage(growing.organisation, title="Zorghulp thuiszorg", contact_email=growing.email)
    worker_user = make_user(role="worker", name="Anna de Vries", email="anna@example.org", phone="0612345678")
    worker = make_worker(user=worker_user, pc4="1017")
    match = Match(shortage=shortage, worker=worker, score=0.75, distance_km=2.4,
                  explanation={"matched": list(shortage.required_skills[:2]), "related": [],
                               "missing": list(shortage.required_skills[2:4])})
    db.session.add(match)
    db.session.commit()
    return {"match": match, "growing": growing, "worker": worker_user, "shortage": shortage}


@pytest.fixture
def listing_pair(db):
    growing = make_employer("growing")
    shortage = make_shortage(growing.organisation, title="Magazijn", contact_email=growing.email)
    shrinking = make_employer("shrinking", name="Luchtvaart Schiphol")
    listing = make_listing(shrinking.organisation, contact_email="hr@luchtvaart.example", count=3)
    match = Match(shortage=shortage, listing=listing, score=0.6, distance_km=5.0, explanation={})
    db.session.add(match)
    db.session.commit()
    return {"match": match, "growing": growing, "shrinking": shrinking, "shortage": shortage}


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def answer_via_page(client, match_id: int, value: str):
    page = client.get(f"/matches/{match_id}")
    assert page.status_code == 200
    return client.post(f"/matches/{match_id}", data={"answer": value, "csrf_token": csrf_token(page.get_data(as_text=True))})


def contact_emails(db):
    return db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.template == "contact")).all()


# --- who may see and answer ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, pair):
    response = client.get(f"/matches/{pair['match'].id}")
    assert response.status_code == 302 and "/account/inloggen" in response.headers["Location"]


@pytest.mark.parametrize("who", ["other_worker", "other_employer", "shrinking_employer", "coordinator", "admin"])
def test_strangers_get_404(db, client, login_as, pair, who):
    stranger = {
        "other_worker": lambda: make_worker().user,
        "other_employer": lambda: make_employer("growing"),
        "shrinking_employer": lambda: make_employer("shrinking"),
        "coordinator": lambda: make_user(role="coordinator"),
        "admin": lambda: make_user(role="admin"),
    }[who]()
    login_as(stranger)
    match_id = pair["match"].id
    assert client.get(f"/matches/{match_id}").status_code == 404
    # Even with a valid CSRF token from another page, the answer is refused the same way.
    token = csrf_token(client.get("/account/inloggen").get_data(as_text=True) or "")
    assert client.post(f"/matches/{match_id}", data={"answer": "yes", "csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Match, match_id).growing_status == "pending"
    assert db.session.get(Match, match_id).candidate_status == "pending"


def test_unknown_match_is_404(client, login_as, pair):
    login_as(pair["worker"])
    assert client.get("/matches/999999").status_code == 404


def test_side_for(pair, listing_pair):
    match = pair["match"]
    assert responses.side_for(pair["growing"], match) == "growing"
    assert responses.side_for(pair["worker"], match) == "candidate"
    assert responses.side_for(listing_pair["growing"], match) is None
    assert responses.side_for(None, match) is None
    lmatch = listing_pair["match"]
    assert responses.side_for(listing_pair["shrinking"], lmatch) == "candidate"
    assert responses.side_for(listing_pair["growing"], lmatch) == "growing"
    assert responses.side_for(pair["worker"], lmatch) is None


def test_a_post_without_csrf_token_is_refused(db, client, login_as, pair):
    login_as(pair["worker"])
    response = client.post(f"/matches/{pair['match'].id}", data={"answer": "yes"})
    assert response.status_code in (302, 400)
    db.session.expire_all()
    assert db.session.get(Match, pair["match"].id).candidate_status == "pending"


# --- answering -------------------------------------------------------------------------------------------


def test_worker_and_employer_answer_through_the_page(db, client, login_as, pair):
    match_id = pair["match"].id
    login_as(pair["worker"])
    response = answer_via_page(client, match_id, "yes")
    assert response.status_code == 302
    db.session.expire_all()
    match = db.session.get(Match, match_id)
    assert match.candidate_status == "yes" and match.candidate_answered_at is not None
    assert match.growing_status == "pending" and match.introduced_at is None
    assert contact_emails(db) == []

    client.post("/account/uitloggen", data={"csrf_token": csrf_token(client.get(f"/matches/{match_id}").get_data(as_text=True))})
    login_as(pair["growing"])
    page = client.get(f"/matches/{match_id}").get_data(as_text=True)
    assert "Zorghulp thuiszorg" in page
    assert answer_via_page(client, match_id, "yes").status_code == 302
    db.session.expire_all()
    match = db.session.get(Match, match_id)
    assert match.is_mutual_yes and match.outcome == "introduced" and match.introduced_at is not None
    page = client.get(f"/matches/{match_id}").get_data(as_text=True)
    assert "Anna de Vries" in page and "anna@example.org" in page and "0612345678" in page


def test_growing_side_cannot_see_the_candidate_before_a_mutual_yes(client, login_as, pair):
    login_as(pair["growing"])
    page = client.get(f"/matches/{pair['match'].id}").get_data(as_text=True)
    for secret in ("Anna de Vries", "anna@example.org", "0612345678", "1017"):
        assert secret not in page
    # What it does see: occupation, region, distance, and the explanation.
    assert "Groot Amsterdam" in page
    assert "2.4 km" in page
    assert 'value="yes"' in page and 'value="no"' in page


def test_the_candidate_sees_the_employer_contact_only_after_a_mutual_yes(db, client, login_as, pair):
    login_as(pair["worker"])
    page = client.get(f"/matches/{pair['match'].id}").get_data(as_text=True)
    assert pair["growing"].email not in page
    responses.answer(pair["match"].id, pair["growing"], True)
    responses.answer(pair["match"].id, pair["worker"], True)
    page = client.get(f"/matches/{pair['match'].id}").get_data(as_text=True)
    assert pair["growing"].email in page and "Zorggroep Amstel" in page
    assert 'value="yes"' not in page


@pytest.mark.parametrize("side", ["growing", "worker"])
def test_no_is_final(db, pair, side):
    user = pair[side]
    responses.answer(pair["match"].id, user, False)
    for again in (True, False):
        with pytest.raises(DomainError) as error:
            responses.answer(pair["match"].id, user, again)
        assert "definitief" in error.value.message
    db.session.expire_all()
    field = "growing_status" if side == "growing" else "candidate_status"
    assert getattr(db.session.get(Match, pair["match"].id), field) == "no"


def test_no_after_mutual_yes_is_refused_and_yes_again_changes_nothing(db, pair):
    match_id = pair["match"].id
    responses.answer(match_id, pair["worker"], True)
    responses.answer(match_id, pair["growing"], True)
    with pytest.raises(DomainError):
        responses.answer(match_id, pair["growing"], False)
    responses.answer(match_id, pair["worker"], True)
    db.session.expire_all()
    match = db.session.get(Match, match_id)
    assert match.is_mutual_yes and match.outcome == "introduced"
    assert len(contact_emails(db)) == 2


def test_yes_can_become_no_before_the_other_side_answered(db, pair):
    responses.answer(pair["match"].id, pair["worker"], True)
    responses.answer(pair["match"].id, pair["worker"], False)
    responses.answer(pair["match"].id, pair["growing"], True)
    db.session.expire_all()
    match = db.session.get(Match, pair["match"].id)
    assert match.candidate_status == "no" and not match.is_mutual_yes and match.outcome is None
    assert contact_emails(db) == []


def test_a_stranger_cannot_answer_through_the_service(pair):
    with pytest.raises(NotFoundError):
        responses.answer(pair["match"].id, make_employer("growing"), True)
    with pytest.raises(NotFoundError):
        responses.answer(987654, pair["worker"], True)


def test_the_page_shows_a_refused_answer_as_a_message(db, client, login_as, pair):
    login_as(pair["worker"])
    match_id = pair["match"].id
    token = csrf_token(client.get(f"/matches/{match_id}").get_data(as_text=True))
    client.post(f"/matches/{match_id}", data={"answer": "no", "csrf_token": token})
    response = client.post(f"/matches/{match_id}", data={"answer": "yes", "csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    assert "definitief" in response.get_data(as_text=True)
    bogus = client.post(f"/matches/{match_id}", data={"answer": "misschien", "csrf_token": token}, follow_redirects=True)
    assert bogus.status_code == 200


# --- the mutual yes ------------------------------------------------------------------------------------


def test_mutual_yes_sends_each_side_the_others_contact_details(db, outbox, pair):
    responses.answer(pair["match"].id, pair["growing"], True)
    assert contact_emails(db) == []
    responses.answer(pair["match"].id, pair["worker"], True)
    emails = {e.recipient: e for e in contact_emails(db)}
    assert set(emails) == {pair["growing"].email, "anna@example.org"}
    assert emails["anna@example.org"].idempotency_key == f"contact:{pair['match'].id}:anna@example.org"

    outbox_service.send_pending()
    sent = {m["To"]: m.get_body(("plain",)).get_content() for m in outbox}
    to_employer = sent[pair["growing"].email]
    assert "Anna de Vries" in to_employer and "anna@example.org" in to_employer and "0612345678" in to_employer
    to_worker = sent["anna@example.org"]
    assert pair["growing"].email in to_worker and "Zorggroep Amstel" in to_worker
    assert "0612345678" not in to_worker


def test_mutual_yes_on_a_listing_shares_the_listing_contact(db, outbox, listing_pair):
    match_id = listing_pair["match"].id
    responses.answer(match_id, listing_pair["shrinking"], True)
    responses.answer(match_id, listing_pair["growing"], True)
    outbox_service.send_pending()
    sent = {m["To"]: m.get_body(("plain",)).get_content() for m in outbox}
    assert "hr@luchtvaart.example" in sent[listing_pair["growing"].email]
    assert "Luchtvaart Schiphol" in sent[listing_pair["growing"].email]
    assert listing_pair["growing"].email in sent["hr@luchtvaart.example"]


def test_open_hiring_fills_a_position_and_then_the_shortage(db, pair):
    shortage = pair["shortage"]
    shortage.open_hiring = True
    shortage.positions = 2
    db.session.commit()
    other_worker = make_worker(pc4="1018")
    second = Match(shortage=shortage, worker=other_worker, score=0.7, distance_km=3.0, explanation={})
    third_worker = make_worker(pc4="1019")
    third = Match(shortage=shortage, worker=third_worker, score=0.6, distance_km=3.0, explanation={})
    db.session.add_all([second, third])
    db.session.commit()

    responses.answer(pair["match"].id, pair["growing"], True)
    responses.answer(pair["match"].id, pair["worker"], True)
    db.session.expire_all()
    assert db.session.get(Match, pair["match"].id).outcome == "hired"
    assert (shortage.filled_positions, shortage.status) == (1, "open")

    responses.answer(second.id, other_worker.user, True)
    responses.answer(second.id, pair["growing"], True)
    db.session.expire_all()
    assert (shortage.filled_positions, shortage.status) == (2, "filled")

    # Filled: a later yes is refused with a clear message; a no is still possible.
    with pytest.raises(DomainError) as error:
        responses.answer(third.id, third_worker.user, True)
    assert "niet meer open" in error.value.message
    responses.answer(third.id, third_worker.user, False)
