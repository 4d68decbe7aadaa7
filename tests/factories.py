"""Small factories for tests: each makes one valid object and commits it."""
import itertools
import socket
from datetime import date, datetime, timezone

from nlwerktdoor import reference
from nlwerktdoor.extensions import db
from nlwerktdoor.models import Organisation, Shortage, StaffListing, User, WorkerProfile

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)
# Hashing is deliberately slow; tests reuse one hash.
_PASSWORD_HASH = None


def _password_hash():
    """argon2id with the test settings (cheap), so logging in neither rehashes nor takes long."""
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        from nlwerktdoor.services.accounts import hash_password

        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


def occupation_id(label_en: str) -> str:
    occ = reference.resolve_occupation(label_en)
    assert occ, label_en
    return occ


def essential_skills(label_en: str) -> list[str]:
    return list(reference.occupations()[occupation_id(label_en)].essential_skills)


def make_user(role="worker", organisation=None, email=None, name=None, **kw) -> User:
    """A user whose email address is verified; pass email_verified_at=None for one that is not."""
    n = next(_counter)
    kw.setdefault("email_verified_at", datetime.now(timezone.utc))
    user = User(
        email=email or f"user{n}@example.org",
        name=name or f"Persoon {n}",
        password_hash=_password_hash(),
        role=role,
        organisation=organisation,
        **kw,
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_organisation(side="growing", sector_code=None, verified=True, name=None) -> Organisation:
    n = next(_counter)
    org = Organisation(
        name=name or f"Testorganisatie {n}",
        kvk_number=f"{10000000 + n:08d}",
        sector_code=sector_code or ("care" if side == "growing" else "aviation"),
        side=side,
        verified_at=datetime.now(timezone.utc) if verified else None,
    )
    db.session.add(org)
    db.session.commit()
    return org


def make_employer(side="growing", verified=True, **kw) -> User:
    org = make_organisation(side=side, verified=verified, **kw)
    return make_user(role="employer", organisation=org)


def make_shortage(organisation, occupation="healthcare assistant", **kw) -> Shortage:
    fields = dict(
        title=kw.pop("title", "Zorgassistent gezocht"),
        sector_code=organisation.sector_code,
        occupation_id=occupation_id(occupation),
        required_skills=essential_skills(occupation),
        nice_skills=[],
        positions=1,
        pc4="1011",
        max_distance_km=30,
        start_date=date(2026, 12, 1),
        contact_email=organisation.members[0].email if organisation.members else "contact@example.org",
    )
    fields.update(kw)
    shortage = Shortage(organisation=organisation, **fields)
    db.session.add(shortage)
    db.session.commit()
    return shortage


def make_listing(organisation, occupation="flight attendant", **kw) -> StaffListing:
    fields = dict(
        sector_code=organisation.sector_code,
        occupation_id=occupation_id(occupation),
        skills=essential_skills(occupation),
        count=1,
        pc4="1012",
        max_distance_km=30,
        available_from=date(2026, 12, 1),
        contact_email=organisation.members[0].email if organisation.members else "hr@example.org",
    )
    fields.update(kw)
    listing = StaffListing(organisation=organisation, **fields)
    db.session.add(listing)
    db.session.commit()
    return listing


def make_worker(occupation="flight attendant", user=None, **kw) -> WorkerProfile:
    user = user or make_user(role="worker")
    fields = dict(
        occupation_id=occupation_id(occupation),
        skills=essential_skills(occupation),
        pc4="1012",
        max_distance_km=30,
        available_from=date(2026, 12, 1),
        consent_at=datetime.now(timezone.utc),
        consent_version="2026-11-v1",
        status="active",
    )
    fields.update(kw)
    profile = WorkerProfile(user=user, **fields)
    db.session.add(profile)
    db.session.commit()
    return profile


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (for the servers tests start: SMTP, gunicorn)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
