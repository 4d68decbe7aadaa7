"""No object is reachable by changing an id in a URL, a form field or an uploaded file.

The URL part is generated from the URL map: every route with an id parameter is asked for A's
object by everyone who is not A (404, or 403 for a role that may not use the route at all), and a
refused POST changes no row. Forms are checked for fields that carry ids; where a body could name
another organisation's object (extra fields, a CSV's external_ref or KvK number, a token), the
action lands on the actor's own objects or is refused.
"""
import base64
import json
import re
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import url_for
from flask_wtf import FlaskForm

import nlwerktdoor
from nlwerktdoor.extensions import db
from nlwerktdoor.models import Match, OutgoingEmail, Shortage, StaffListing, User, WorkerProfile
from nlwerktdoor.services import accounts
from tests.access_world import build_world, changed_tables, csrf_token, fill, fingerprint, make_match, url_values
from tests.factories import make_employer, make_shortage
from tests.test_growing import shortage_form
from tests.test_shrinking import listing_form
from tests.test_workers import profile_form

TEMPLATES = Path(nlwerktdoor.__file__).parent / "templates"

# URL parameter -> (the object, the users who must not reach it). The owners: listing = shrinking_a,
# shortage = growing, match = worker_a + growing (listing_match: shrinking_a + growing), org_id = the
# unverified organisation (only coordinators and admins verify), emails and suppressions = admins only.
INTRUDERS = {
    "listing_id": ("listing", ["shrinking_b", "growing", "unverified", "worker_a", "worker_b", "coordinator_x"]),
    "shortage_id": ("shortage", ["growing_b", "unverified", "shrinking_a", "worker_a", "worker_b", "coordinator_x"]),
    "match_id": ("match", ["worker_b", "shrinking_a", "shrinking_b", "growing_b", "unverified", "coordinator_x"]),
    # The staff listing's match (shrinking_a + growing); its intruders are checked through the same routes.
    "listing_match": ("listing_match", ["worker_a", "worker_b", "shrinking_b", "growing_b", "unverified",
                                        "coordinator_x"]),
    "org_id": ("unverified_org", ["unverified", "shrinking_a", "growing", "worker_a"]),
    "email_id": ("email", ["worker_a", "shrinking_a", "growing", "coordinator_x"]),
    "suppression_id": ("suppression", ["worker_a", "shrinking_a", "growing", "coordinator_x"]),
    # A large CSV upload: shrinking_a's under the shrinking URLs, growing's under the growing URLs
    # (tests/access_world.py names one per endpoint), so neither owner is an intruder here.
    "upload_id": ("listing_upload", ["shrinking_b", "growing_b", "unverified", "worker_a", "worker_b",
                                     "coordinator_x"]),
}
# Routes that show an object to everyone on purpose (checked separately below).
PUBLIC_BY_DESIGN = {"growing.public_detail"}
# Body that passes the form, so that a refusal is about the object, not about a missing field.
BODIES = {"matches.answer": {"answer": "yes"}, "admin.sector_trend": {"trend": "growing"}}


def id_routes(app):
    """(endpoint, method, rule, id parameter) for every route whose URL carries an object id."""
    found = []
    for rule in app.url_map.iter_rules():
        ids = [name for name in rule.arguments if name.endswith("_id") and name != "occupation_id"]
        if rule.endpoint in PUBLIC_BY_DESIGN or not ids:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule, ids[0]))
    return sorted(found, key=lambda r: (r[1] != "GET", r[0]))


def test_every_id_parameter_has_intruders(app):
    unknown = sorted({f"{endpoint}: {param}" for endpoint, _m, _r, param in id_routes(app) if param not in INTRUDERS})
    assert not unknown, f"Add the object and its intruders to INTRUDERS in tests/test_idor.py: {unknown}"


@pytest.fixture
def world(app):
    world = build_world()
    world.users["growing_b"] = make_employer(side="growing", name="Groei B BV")
    return world


def _request(app, client, endpoint, method, url):
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={**BODIES.get(endpoint, {}), "csrf_token": csrf_token(app, client)})


@pytest.mark.parametrize("intruder", ["shrinking_b", "growing_b", "unverified", "worker_b", "worker_a", "shrinking_a",
                                      "growing", "coordinator_x"])
def test_changing_an_id_in_the_url_reaches_nothing(app, client, login_as, world, intruder):
    """One login per intruder; every route with an id, A's object, GET and POST."""
    login_as(world.users[intruder])
    values = url_values(world)
    wrong, tried = [], 0
    for endpoint, method, rule, param in id_routes(app):
        if param not in INTRUDERS:
            continue  # reported by test_every_id_parameter_has_intruders
        variants = [INTRUDERS[param]] + ([INTRUDERS["listing_match"]] if param == "match_id" else [])
        for name, intruders in variants:
            if intruder not in intruders:
                continue
            variant = {**values, (None, param): world.objects[name].id}
            url = url_for(endpoint, **fill(endpoint, rule.arguments, variant))
            before = fingerprint()
            response = _request(app, client, endpoint, method, url)
            tried += 1
            if response.status_code not in (403, 404):
                wrong.append(f"{method} {url}: {response.status_code} {response.headers.get('Location', '')}")
            elif fingerprint() != before:
                wrong.append(f"{method} {url}: refused but changed {changed_tables(before, fingerprint())}")
    assert tried, f"{intruder} tried nothing"
    assert not wrong, f"{intruder} reached someone else's object:\n" + "\n".join(wrong)


def test_unknown_and_foreign_match_ids_look_the_same(app, client, login_as, world):
    """Match pages are open to every logged-in user, so someone else's match must look like a missing one."""
    login_as(world.users["shrinking_b"])
    for match_id in (world.objects["match"].id, world.objects["listing_match"].id, 987654):
        assert client.get(url_for("matches.detail", match_id=match_id)).status_code == 404


@pytest.mark.parametrize("state", ["unverified", "closed"])
def test_public_shortage_page_shows_only_verified_open_shortages(client, world, state):
    shortage = world.objects["shortage_b"] if state == "unverified" else world.objects["shortage"]
    if state == "closed":
        shortage.status = "closed"
        db.session.commit()
    assert client.get(url_for("growing.public_detail", shortage_id=shortage.id)).status_code == 404


# ---------------------------------------------------------------- ids in forms


def _form_classes():
    import nlwerktdoor.accounts.views  # noqa: F401  (forms are defined by the blueprints)

    seen, todo = set(), [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return [cls for cls in seen if cls.__module__.startswith("nlwerktdoor")]


def test_no_form_carries_an_object_id(app):
    """Objects are named by the URL (checked above), never by a form field a user could change."""
    with app.test_request_context():
        offenders = []
        for cls in _form_classes():
            try:
                form = cls(formdata=None, meta={"csrf": False})
            except TypeError:
                continue  # forms that need choices: their fields are checked in the templates below
            offenders += [f"{cls.__name__}.{name}" for name in form._fields
                          if name == "id" or (name.endswith("_id") and name != "occupation_id")]
    assert not offenders, offenders


def test_no_template_has_a_hidden_field_other_than_csrf_and_next():
    allowed = {"csrf_token", "next"}
    found = []
    for path in TEMPLATES.rglob("*.html"):
        for tag in re.findall(r"<input[^>]*type=[\"']hidden[\"'][^>]*>", path.read_text()):
            name = re.search(r"name=[\"']([^\"']+)", tag)
            if not name or name.group(1) not in allowed:
                found.append(f"{path.relative_to(TEMPLATES)}: {tag}")
    assert not found, "Hidden fields that could carry an id: " + "; ".join(found)


EXTRA_IDS = ("id", "organisation_id", "user_id", "listing_id", "shortage_id", "worker_id", "match_id")


def _extra_ids(world) -> dict:
    o = world.objects
    return {"id": o["listing"].id, "organisation_id": world.users["shrinking_a"].organisation_id,
            "user_id": world.users["worker_a"].id, "listing_id": o["listing"].id, "shortage_id": o["shortage"].id,
            "worker_id": o["worker_a_profile"].id, "match_id": o["match"].id}


def test_extra_id_fields_in_a_listing_form_are_ignored(app, client, login_as, world):
    a_listing = world.objects["listing"]
    before = {c.key: getattr(a_listing, c.key) for c in StaffListing.__table__.columns}
    login_as(world.users["shrinking_b"])
    data = listing_form(csrf_token=csrf_token(app, client), **_extra_ids(world))
    response = client.post(url_for("shrinking.create"), data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    newest = db.session.scalars(sa.select(StaffListing).order_by(StaffListing.id.desc())).first()
    assert newest.organisation_id == world.users["shrinking_b"].organisation_id
    assert {c.key: getattr(db.session.get(StaffListing, a_listing.id), c.key) for c in StaffListing.__table__.columns} \
        == before
    # Editing B's own listing with A's ids in the body changes B's listing only.
    own = world.objects["listing_b"]
    response = client.post(url_for("shrinking.edit", listing_id=own.id),
                           data=listing_form(csrf_token=csrf_token(app, client), count="7", **_extra_ids(world)))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(StaffListing, own.id).count == 7
    assert db.session.get(StaffListing, a_listing.id).count == before["count"]


def test_extra_id_fields_in_a_shortage_form_are_ignored(app, client, login_as, world):
    a_shortage = world.objects["shortage"]
    login_as(world.users["growing_b"])
    response = client.post(url_for("growing.create"),
                           data=shortage_form(csrf_token=csrf_token(app, client), **_extra_ids(world)))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    newest = db.session.scalars(sa.select(Shortage).order_by(Shortage.id.desc())).first()
    assert newest.id != a_shortage.id and newest.organisation_id == world.users["growing_b"].organisation_id
    assert db.session.get(Shortage, a_shortage.id).title == "Zorgassistent gezocht"


def test_extra_id_fields_in_a_profile_form_change_only_the_own_profile(app, client, login_as, world):
    a_profile = world.objects["worker_a_profile"]
    a_before = (a_profile.pc4, a_profile.hours_per_week, a_profile.user_id)
    login_as(world.users["worker_b"])
    data = profile_form(client, hours_per_week="12", **_extra_ids(world))
    assert client.post(url_for("workers.profile"), data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(WorkerProfile, world.objects["worker_b_profile"].id).hours_per_week == 12
    a_profile = db.session.get(WorkerProfile, a_profile.id)
    assert (a_profile.pc4, a_profile.hours_per_week, a_profile.user_id) == a_before


def test_colleague_invitation_from_b_is_for_b_whatever_the_body_says(app, client, login_as, world, outbox):
    login_as(world.users["shrinking_b"])
    response = client.post(url_for("accounts.organisation"), data={
        "email": "nieuw@krimp-b.example", "csrf_token": csrf_token(app, client), **_extra_ids(world)})
    assert response.status_code == 302
    email = db.session.scalar(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == "nieuw@krimp-b.example"))
    token = email.data["link"].split("uitnodiging=")[1]
    organisation, address = accounts.invitation_for_token(token)
    assert organisation.id == world.users["shrinking_b"].organisation_id and address == "nieuw@krimp-b.example"


# ---------------------------------------------------------------- ids in uploaded files


def _csv(rows: list[dict]) -> bytes:
    header = list(rows[0])
    lines = [";".join(header)] + [";".join(str(row[c]) for c in header) for row in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("kind", ["listings", "shortages"])
def test_csv_upload_cannot_touch_another_organisations_posting(app, client, login_as, world, kind):
    """B uploads a row with A's external_ref and A's KvK number: A's posting stays as it was."""
    if kind == "listings":
        owner, intruder, model, endpoint = world.users["shrinking_a"], world.users["shrinking_b"], StaffListing, \
            "shrinking.upload"
        posting = world.objects["listing"]
        row = {"external_ref": "A-001", "employer_kvk": owner.organisation.kvk_number, "contact_email": "",
               "occupation": "cabinemedewerker", "count": "9", "postcode": "1011", "available_from": "2026-12-01"}
    else:
        owner, intruder, model, endpoint = world.users["growing"], world.users["growing_b"], Shortage, "growing.upload"
        posting = world.objects["shortage"]
        row = {"external_ref": "A-001", "employer_kvk": owner.organisation.kvk_number, "contact_email": "",
               "title": "Overgenomen", "occupation": "zorghulp", "positions": "9", "postcode": "1011",
               "start_date": "2026-12-01"}
    posting.external_ref = "A-001"
    db.session.commit()
    before = {c.key: getattr(posting, c.key) for c in model.__table__.columns}
    login_as(intruder)
    response = client.post(url_for(endpoint), data={"csrf_token": csrf_token(app, client),
                                                    "file": (BytesIO(_csv([row])), "rijen.csv")},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 302)
    db.session.expire_all()
    assert {c.key: getattr(db.session.get(model, posting.id), c.key) for c in model.__table__.columns} == before
    # Whatever was created belongs to B.
    orgs = set(db.session.scalars(sa.select(model.organisation_id).where(model.external_ref == "A-001")))
    assert orgs <= {owner.organisation_id, intruder.organisation_id}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(model)
                             .where(model.external_ref == "A-001", model.organisation_id == owner.organisation_id)) == 1


def test_csv_upload_cannot_make_another_organisations_member_the_contact(app, client, login_as, world):
    a_organisation_id = world.users["shrinking_a"].organisation_id
    login_as(world.users["shrinking_b"])
    row = {"external_ref": "B-001", "contact_email": world.users["shrinking_a"].email,
           "occupation": "cabinemedewerker", "count": "2", "postcode": "1011", "available_from": "2026-12-01"}
    before = fingerprint()
    response = client.post(url_for("shrinking.upload"), data={"csrf_token": csrf_token(app, client),
                                                               "file": (BytesIO(_csv([row])), "rijen.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert fingerprint() == before
    db.session.expire_all()
    member = db.session.get(User, world.users["shrinking_a"].id)
    assert member.organisation_id == a_organisation_id and member.role == "employer"


# ---------------------------------------------------------------- ids in tokens


def test_colleague_invitation_token_cannot_be_pointed_at_another_organisation(app, client, world):
    inviter = world.users["shrinking_a"]
    token = accounts.make_invitation_token(inviter.organisation, "nieuw@example.org", inviter)
    head, _dot, tail = token.partition(".")
    # Change the organisation id inside the token without the secret: the signature no longer fits.
    payload = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    payload["o"] = world.users["shrinking_b"].organisation_id
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    response = client.get(url_for("accounts.register", uitnodiging=f"{forged}.{tail}"))
    assert response.status_code == 400
    # A password-reset token (another salt, same secret) is no invitation either.
    response = client.get(url_for("accounts.register", uitnodiging=accounts.make_password_token(inviter)))
    assert response.status_code == 400


@pytest.mark.parametrize("change", ["left the organisation", "deactivated", "became coordinator", "deleted"])
def test_an_invitation_dies_when_its_sender_is_no_longer_a_member(app, client, world, change):
    """Staff join only by an invitation from one of the organisation's (current) members."""
    inviter = world.users["shrinking_a"]
    colleague = make_employer(side="shrinking")  # a second member, so the organisation lives on
    colleague.organisation_id = inviter.organisation_id
    db.session.commit()
    token = accounts.make_invitation_token(inviter.organisation, "nieuw@example.org", inviter)
    assert client.get(url_for("accounts.register", uitnodiging=token)).status_code == 200
    if change == "left the organisation":
        inviter.organisation_id = world.users["shrinking_b"].organisation_id
    elif change == "deactivated":
        inviter.active = False
    elif change == "became coordinator":
        inviter.role, inviter.organisation_id = "coordinator", None
    else:
        token = accounts.make_invitation_token(inviter.organisation, "nieuw@example.org", colleague)
        db.session.delete(colleague)
    db.session.commit()
    response = client.get(url_for("accounts.register", uitnodiging=token))
    assert response.status_code == 400
    assert "verlopen of ongeldig" in response.get_data(as_text=True)


def test_joining_an_existing_organisation_needs_an_invitation(app, client, world):
    """Registering with the KvK number of an existing organisation never adds you to it."""
    organisation = world.users["shrinking_a"].organisation
    members_before = {m.id for m in organisation.members}
    response = client.post(url_for("accounts.register", role="employer", side="shrinking"), data={
        "csrf_token": csrf_token(app, client), "name": "Indringer", "email": "indringer@example.org",
        "password": "een heel lang wachtwoord", "confirm": "een heel lang wachtwoord",
        "organisation_name": organisation.name, "kvk_number": organisation.kvk_number, "sector": "aviation",
        "side": "shrinking", "locale": "nl",
    })
    assert response.status_code == 200
    assert "uitnodigen" in response.get_data(as_text=True)
    db.session.expire_all()
    assert {m.id for m in db.session.get(type(organisation), organisation.id).members} == members_before
    assert db.session.scalar(sa.select(User).where(User.email == "indringer@example.org")) is None


@pytest.mark.parametrize("token", ["unknown", "x" * 65, "used"])
def test_worker_invitation_tokens_cannot_be_guessed_or_reused(app, client, world, token):
    invitation = world.objects["invitation"]
    if token == "used":
        invitation.accepted_at = invitation.created_at
        db.session.commit()
        token = invitation.token
    assert client.get(url_for("workers.accept_invitation", token=token)).status_code == 404


def test_a_match_answer_for_someone_elses_match_changes_nothing(app, client, login_as, world):
    """The POST body names only yes/no; the match id in the URL is checked against the user."""
    other = make_match(make_shortage(world.users["growing_b"].organisation), worker=world.objects["worker_b_profile"])
    login_as(world.users["worker_a"])
    before = fingerprint()
    response = client.post(url_for("matches.answer", match_id=other.id),
                           data={"answer": "yes", "csrf_token": csrf_token(app, client)})
    assert response.status_code == 404
    assert fingerprint() == before
    assert db.session.get(Match, other.id).candidate_status == "pending"
