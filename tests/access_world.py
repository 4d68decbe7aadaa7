"""A small world with one user of every role and one object of each type per owner, for the access tests
(authorization matrix, IDOR, security headers): URLs of the URL map are filled with A's objects."""
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from nlwerktdoor import reference
from nlwerktdoor.extensions import db
from nlwerktdoor.models import (
    CsvUpload,
    EmailSuppression,
    Invitation,
    Match,
    OutgoingEmail,
    SchedulerHeartbeat,
)
from nlwerktdoor.services import accounts, privacy
from tests.factories import (
    make_employer,
    make_listing,
    make_organisation,
    make_shortage,
    make_user,
    make_worker,
)

# Every role of the issue. "growing" owns the shortage; "unverified" is another, unverified, growing employer.
ROLES = (
    "anonymous", "worker_a", "worker_b", "shrinking_a", "shrinking_b", "growing", "unverified",
    "coordinator_x", "coordinator_y", "admin",
)
LOGIN_PATH = "/account/inloggen"
EXPLANATION = {"matched": [], "related": [], "missing": [], "nice_matched": [], "coverage": 1.0,
               "training_offered": False}


@dataclass
class World:
    users: dict = field(default_factory=dict)  # role -> User (no "anonymous")
    objects: dict = field(default_factory=dict)  # name -> model instance or value


def make_match(shortage, *, worker=None, listing=None) -> Match:
    match = Match(shortage_id=shortage.id, worker_id=worker.id if worker else None,
                  listing_id=listing.id if listing else None, score=0.9, distance_km=3.0, explanation=EXPLANATION)
    db.session.add(match)
    db.session.commit()
    return match


def build_world() -> World:
    regions = sorted(reference.regions())
    users = {
        "worker_a": make_user(role="worker", name="Anna Werker"),
        "worker_b": make_user(role="worker", name="Bram Werker"),
        "shrinking_a": make_employer(side="shrinking", name="Krimp A BV"),
        "shrinking_b": make_employer(side="shrinking", name="Krimp B BV"),
        "growing": make_employer(side="growing", name="Groei A BV"),
        "unverified": make_employer(side="growing", verified=False, name="Groei Onbekend BV"),
        "coordinator_x": make_user(role="coordinator", region_code=regions[0]),
        "coordinator_y": make_user(role="coordinator", region_code=regions[1]),
        "admin": make_user(role="admin"),
    }
    world = World(users=users)
    o = world.objects
    o["worker_a_profile"] = make_worker(user=users["worker_a"])
    o["worker_b_profile"] = make_worker(user=users["worker_b"])
    o["listing"] = make_listing(users["shrinking_a"].organisation)
    o["listing_b"] = make_listing(users["shrinking_b"].organisation)
    o["shortage"] = make_shortage(users["growing"].organisation)
    o["shortage_b"] = make_shortage(users["unverified"].organisation)
    o["match"] = make_match(o["shortage"], worker=o["worker_a_profile"])
    o["listing_match"] = make_match(o["shortage"], listing=o["listing"])
    o["invitation"] = Invitation(listing_id=o["listing"].id, email="staf@krimp-a.example",
                                 token=secrets.token_urlsafe(32), invited_by_id=users["shrinking_a"].id)
    db.session.add(o["invitation"])
    o["email"] = OutgoingEmail(recipient=users["worker_a"].email, template="password", data={},
                               idempotency_key="access-test:1", status="failed")
    db.session.add(o["email"])
    o["suppression"] = EmailSuppression(address="blocked@example.org", permanent_failures=3,
                                        suppressed_at=datetime.now(UTC))
    db.session.add(o["suppression"])
    # A processed large CSV upload per side (its status page and the JSON its script polls).
    o["listing_upload"] = CsvUpload(organisation_id=users["shrinking_a"].organisation_id,
                                    user_id=users["shrinking_a"].id, kind="listings", status="done",
                                    report={"created": 1, "updated": 0, "unchanged": 0, "errors": []})
    o["shortage_upload"] = CsvUpload(organisation_id=users["growing"].organisation_id, user_id=users["growing"].id,
                                     kind="shortages", status="running", stage="checking", rows_done=1, rows_total=9,
                                     content=b"external_ref,title\n")
    db.session.add_all([o["listing_upload"], o["shortage_upload"]])
    db.session.add(SchedulerHeartbeat(host="test", pid=1))  # a live scheduler, so /readyz answers 200
    db.session.commit()
    o["unverified_org"] = users["unverified"].organisation
    o["extra_org"] = make_organisation(side="shrinking", verified=False)
    # An imported account that has not set a password yet; nobody in the matrix logs in as it, so its
    # token stays valid (logging in may rehash a password, which ends earlier links).
    imported = make_user(role="worker", name="Imke Geimporteerd")
    imported.password_hash = None
    db.session.commit()
    o["password_token"] = accounts.make_password_token(imported)
    # Someone who registered but has not clicked the link in the email yet.
    pending = make_user(role="worker", name="Piet Nogniet", email_verified_at=None)
    o["verification_token"] = accounts.make_verification_token(pending)
    o["occupation_id"] = o["listing"].occupation_id
    # Worker A was asked "still available?" (services/privacy.py): the link in that email.
    o["worker_a_profile"].reconfirm_requested_at = datetime.now(UTC)
    db.session.commit()
    o["still_available_token"] = privacy.still_available_token(o["worker_a_profile"])
    return world


def enter(login_as, role: str) -> tuple[World, dict]:
    """Build the world and log in as `role` (or stay anonymous); returns it with its URL values."""
    world = build_world()
    if role != "anonymous":
        login_as(world.users[role])
    return world, url_values(world)


def url_values(world: World) -> dict:
    """(endpoint or None, URL parameter) -> value: A's object for every parameter of the URL map."""
    o = world.objects
    return {
        (None, "listing_id"): o["listing"].id,
        (None, "shortage_id"): o["shortage"].id,
        (None, "match_id"): o["match"].id,
        (None, "org_id"): o["unverified_org"].id,
        (None, "code"): "hospitality",
        (None, "occupation_id"): o["occupation_id"],
        (None, "action"): "sluiten",
        (None, "email_id"): o["email"].id,
        (None, "suppression_id"): o["suppression"].id,
        ("shrinking.upload_status", "upload_id"): o["listing_upload"].id,
        ("shrinking.upload_progress_json", "upload_id"): o["listing_upload"].id,
        ("growing.upload_status", "upload_id"): o["shortage_upload"].id,
        ("growing.upload_progress_json", "upload_id"): o["shortage_upload"].id,
        ("workers.accept_invitation", "token"): o["invitation"].token,
        ("accounts.set_password", "token"): o["password_token"],
        ("accounts.verify_email", "token"): o["verification_token"],
        ("workers.still_available", "token"): o["still_available_token"],
    }


def fill(endpoint: str, arguments, values: dict) -> dict:
    filled = {}
    for name in arguments:
        key = (endpoint, name) if (endpoint, name) in values else (None, name)
        if key not in values:
            raise AssertionError(f"{endpoint}: no test value for URL parameter {name!r}; "
                                 "add one in tests/access_world.py")
        filled[name] = values[key]
    return filled


def csrf_token(app, client) -> str:
    """A valid CSRF token for this client's session, made as Flask-WTF makes it (no page fetch needed)."""
    with client.session_transaction() as session:
        raw = session.setdefault("csrf_token", secrets.token_hex(20))
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)


def fingerprint() -> dict:
    """Every row of every table, to prove a refused request changed nothing."""
    db.session.expire_all()
    result = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
        result[table.name] = [tuple(row) for row in rows]
    db.session.rollback()
    return result


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def is_login_redirect(response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and LOGIN_PATH in response.headers.get("Location", "")
