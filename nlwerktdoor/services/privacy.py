"""Privacy use cases: consent withdrawal side effects, export, erasure, retention and "crisis over".

Invariants (docs/privacy.md is the data register):
- Erasure leaves no name, email address or phone number of the person in any table: the user row
  stays (audit entries and verifications point at it) with a placeholder address on `.invalid`,
  no name, phone, password or second factor, and deactivated; the worker profile and its matches
  are deleted; emails to or about the person are scrubbed (and cancelled when still unsent);
  invitations for the address and its suppression are deleted; their CSV uploads, and waiting
  uploads naming their address, are deleted; audit details naming the person are emptied. One transaction per erasure (or per batch job run), all or nothing.
- Retention jobs take an explicit `now` (tests inject one) and commit once per run.
- Nothing here answers a match: a human says yes on both sides (services/responses.py).
"""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..errors import DomainError, NotAllowedError, NotFoundError
from ..extensions import db
from ..models import (
    AuditEntry,
    CsvUpload,
    EmailSuppression,
    Invitation,
    Match,
    Organisation,
    OutgoingEmail,
    Shortage,
    StaffListing,
    User,
    WorkerProfile,
)
from ..models.database import utcnow
from ..models.user import new_session_token
from . import audit, notifications, outbox

CANCELLED = "cancelled"
MIN_IDENTIFIER = 3  # shorter names are not searched for inside other text (too many false hits)
ERASED_DOMAIN = "invalid"  # RFC 2606: never routable
STILL_AVAILABLE_SALT = "still-available"
NOT_EXPORTED_USER_FIELDS = {"password_hash", "session_token", "totp_secret", "totp_backup_codes", "totp_last_step"}


def _setting(name: str) -> int:
    return int(current_app.config[name])


def placeholder_email() -> str:
    return f"erased-{secrets.token_hex(8)}@{ERASED_DOMAIN}"


def is_erased(user: User) -> bool:
    return user.email.endswith("@" + ERASED_DOMAIN) and user.email.startswith("erased-")


# ---------------------------------------------------------------- emails about a person


def _strings(value):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _names_person(value, identifiers: set[str]) -> bool:
    """Whether any string in this JSON value contains one of the identifiers (lower case)."""
    return any(identifier in text.lower() for text in _strings(value) for identifier in identifiers)


def _mentions(column, user: User):
    """SQL: the column, as text, contains the person's email, name or phone (as typed, or as JSON
    escapes it), case-insensitively. A pre-filter; the rows found are checked again in Python."""
    needles = set()
    for value in (user.email, user.name, user.phone):
        if value and len(value.strip()) >= MIN_IDENTIFIER:
            value = value.strip()
            needles |= {value.lower(), json.dumps(value)[1:-1].lower(), json.dumps(value.lower())[1:-1]}
    if not needles:
        return sa.false()
    text = sa.func.lower(sa.cast(column, sa.Text))
    return sa.or_(*(text.contains(needle, autoescape=True) for needle in sorted(needles)))


def _identifiers(user: User) -> set[str]:
    values = {user.email, user.name, user.phone}
    return {v.strip().lower() for v in values if v and len(v.strip()) >= MIN_IDENTIFIER}


def _match_ids(profile: WorkerProfile | None) -> set[int]:
    if profile is None:
        return set()
    return set(db.session.scalars(sa.select(Match.id).where(Match.worker_id == profile.id)))


def _is_about(row: OutgoingEmail, match_ids: set[int]) -> bool:
    """A digest item or contact email concerning one of these matches."""
    data = row.data or {}
    if any(isinstance(item, dict) and item.get("match_id") in match_ids for item in data.get("matches") or ()):
        return True
    key = row.idempotency_key or ""
    return key.startswith("contact:") and key.split(":")[1].isdigit() and int(key.split(":")[1]) in match_ids


def _without_matches(data: dict, match_ids: set[int]) -> dict:
    kept = [item for item in data.get("matches") or () if item.get("match_id") not in match_ids]
    return {**data, "matches": kept}


def cancel_unsent_about(user: User, profile: WorkerProfile | None, reason: str = "consent withdrawn") -> int:
    """Cancel pending emails to this person, and take their matches out of pending emails to others
    (a digest left with nothing is cancelled). Emails already being sent are left alone. No commit."""
    address = notifications.normalise_email(user.email)
    match_ids = _match_ids(profile)
    cancelled = 0
    rows = db.session.scalars(sa.select(OutgoingEmail).where(OutgoingEmail.status == "pending"))
    for row in rows:
        to_person = notifications.normalise_email(row.recipient) == address
        if not to_person and not _is_about(row, match_ids):
            continue
        if not to_person and row.template == "digest":
            remaining = _without_matches(row.data or {}, match_ids)
            if remaining["matches"]:
                row.data = remaining
                continue
        row.status = CANCELLED
        row.last_error = reason
        cancelled += 1
    return cancelled


# ---------------------------------------------------------------- consent


def accepted_consent_versions() -> tuple[str, ...]:
    """Consents that count for matching: the current text, and the consent an operator's CSV import
    records (gathered by the employer with the import; services/imports.py). An older text does not."""
    from .imports import CONSENT_VERSION as IMPORTED

    return (current_app.config["CONSENT_VERSION"], IMPORTED)


def needs_reconsent(profile: WorkerProfile | None) -> bool:
    """Consent given to an older text: not matched until the worker says yes to the current one."""
    return (
        profile is not None
        and profile.consent_at is not None
        and profile.consent_version not in accepted_consent_versions()
    )


def reconsent(user: User, consent_given: bool) -> WorkerProfile:
    profile = _worker_profile(user)
    if not consent_given:
        raise DomainError(_("Vink het vakje aan om opnieuw toestemming te geven, of meld je af."), field="consent")
    profile.consent_at = utcnow()
    profile.consent_version = current_app.config["CONSENT_VERSION"]
    profile.reconfirmed_at = profile.consent_at
    db.session.commit()
    return profile


def _worker_profile(user: User) -> WorkerProfile:
    if user is None or user.role != "worker":
        raise NotAllowedError(_("Alleen werkenden hebben een profiel."))
    profile = db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.user_id == user.id))
    if profile is None:
        raise NotFoundError(_("Je hebt nog geen profiel."))
    return profile


def set_reserve_pool(user: User, keep: bool) -> WorkerProfile:
    profile = _worker_profile(user)
    profile.reserve_pool = bool(keep)
    db.session.commit()
    return profile


# ---------------------------------------------------------------- export


def _plain(value):
    return audit._plain(value)


def _row(obj, skip=()) -> dict:
    return {c.key: _plain(getattr(obj, c.key)) for c in sa.inspect(type(obj)).columns if c.key not in skip}


def export_user(user: User) -> dict:
    """Everything held about this person, as plain JSON-ready data."""
    profile = db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.user_id == user.id))
    address = notifications.normalise_email(user.email)
    emails = db.session.scalars(
        sa.select(OutgoingEmail).where(sa.func.lower(OutgoingEmail.recipient) == address).order_by(OutgoingEmail.id)
    )
    invitations = db.session.scalars(
        sa.select(Invitation).where(sa.func.lower(Invitation.email) == address).order_by(Invitation.id)
    )
    matches = []
    if profile is not None:
        for match in db.session.scalars(sa.select(Match).where(Match.worker_id == profile.id).order_by(Match.id)):
            shortage = match.shortage
            matches.append({
                **_row(match, skip={"worker_id", "listing_id", "run_id"}),
                "shortage": {"title": shortage.title, "organisation": shortage.organisation.name,
                             "occupation_id": shortage.occupation_id, "pc4": shortage.pc4},
            })
    return {
        "exported_at": utcnow().isoformat(),
        "user": _row(user, skip=NOT_EXPORTED_USER_FIELDS),
        "worker_profile": _row(profile) if profile is not None else None,
        "consents": (
            [{"given_at": _plain(profile.consent_at), "text_version": profile.consent_version}]
            if profile is not None and profile.consent_at is not None else []
        ),
        "matches": matches,
        "emails": [
            {k: v for k, v in _row(row).items() if k not in {"claimed_by", "idempotency_key"}} for row in emails
        ],
        "invitations": [
            {"listing_id": inv.listing_id, "organisation": inv.listing.organisation.name, "email": inv.email,
             "created_at": _plain(inv.created_at), "accepted_at": _plain(inv.accepted_at)}
            for inv in invitations
        ],
    }


# ---------------------------------------------------------------- erasure


def _scrub_text(text: str | None, identifiers: set[str], replacement: str) -> str | None:
    for identifier in sorted(identifiers, key=len, reverse=True):
        if text:
            text = re.sub(re.escape(identifier), replacement, text, flags=re.IGNORECASE)
    return text


def _erase_user_rows(user: User, placeholder: str) -> None:
    """Erase one person in the session (no commit)."""
    identifiers = _identifiers(user)
    address = notifications.normalise_email(user.email)
    profile = db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.user_id == user.id))
    match_ids = _match_ids(profile)

    contact_keys = [OutgoingEmail.idempotency_key.like(f"contact:{match_id}:%") for match_id in sorted(match_ids)]
    suspects = sa.select(OutgoingEmail).where(sa.or_(
        sa.func.lower(OutgoingEmail.recipient) == address,
        _mentions(OutgoingEmail.data, user),
        _mentions(OutgoingEmail.last_error, user),
        sa.and_(OutgoingEmail.template == "digest", OutgoingEmail.status == "pending") if match_ids else sa.false(),
        *contact_keys,
    ))
    for row in db.session.scalars(suspects):
        to_person = notifications.normalise_email(row.recipient) == address
        about = _is_about(row, match_ids) or _names_person(row.data, identifiers)
        if not (to_person or about):
            continue
        if to_person:
            row.recipient = placeholder
            row.data = {}
        elif row.template == "digest":
            remaining = _without_matches(row.data or {}, match_ids)
            keep = remaining["matches"] and not _names_person(remaining, identifiers)
            row.data = remaining if keep else {}
        else:
            row.data = {}
        row.idempotency_key = _scrub_text(row.idempotency_key, identifiers, placeholder)
        row.last_error = _scrub_text(row.last_error, identifiers, "[gewist]")
        # Nothing left to send (or to retry); a digest that still lists other matches goes out without theirs.
        if (to_person and row.status != "sent") or (row.status == "pending" and not row.data):
            row.status = CANCELLED
            row.last_error = "erased"

    db.session.execute(sa.delete(Invitation).where(sa.func.lower(Invitation.email) == address))
    db.session.execute(sa.delete(EmailSuppression).where(sa.func.lower(EmailSuppression.address) == address))
    audit_suspects = sa.select(AuditEntry).where(sa.or_(
        sa.and_(AuditEntry.object_type == "users", AuditEntry.object_id == str(user.id)),
        _mentions(AuditEntry.details, user),
    ))
    for entry in db.session.scalars(audit_suspects):
        own = entry.object_type == "users" and entry.object_id == str(user.id)
        if own or _names_person(entry.details, identifiers):
            entry.details = {"erased": True}
    # CSV uploads (services/uploads.py): the person's own, and any file of their organisation still
    # waiting to be imported that names their address (only members can be a posting's contact).
    db.session.execute(sa.delete(CsvUpload).where(CsvUpload.user_id == user.id)
                       .execution_options(synchronize_session=False))
    if user.organisation_id is not None and address:
        waiting = db.session.execute(sa.select(CsvUpload.id, CsvUpload.content).where(
            CsvUpload.organisation_id == user.organisation_id, CsvUpload.content.is_not(None))).all()
        naming = [row.id for row in waiting if address.encode() in row.content.lower()]
        if naming:
            db.session.execute(sa.delete(CsvUpload).where(CsvUpload.id.in_(naming))
                               .execution_options(synchronize_session=False))
    # Postings that used this address as their contact (an employer member).
    for model in (Shortage, StaffListing):
        db.session.execute(
            sa.update(model).where(sa.func.lower(model.contact_email) == address)
            .values(contact_email=placeholder).execution_options(synchronize_session=False)
        )

    if profile is not None:
        db.session.execute(sa.delete(Match).where(Match.worker_id == profile.id))
        db.session.delete(profile)
    user.email = placeholder
    user.name = ""
    user.phone = None
    user.password_hash = None
    user.active = False
    user.session_token = new_session_token()  # every session ends
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.totp_backup_codes = None
    user.email_verified_at = None
    user.last_login_at = None
    user.region_code = None
    user.organisation_id = None
    user.warned_inactive_at = None


def erase_user(user: User, acting_user: User | None = None, reason: str = "request", commit: bool = True) -> User:
    """Erase every personal field of this person; recorded in the audit log without naming them."""
    if user is None:
        raise NotFoundError(_("Dit account bestaat niet."))
    if is_erased(user):
        return user
    _erase_user_rows(user, placeholder_email())
    db.session.flush()
    actor = None if acting_user is None or acting_user.id == user.id else acting_user
    audit.record(actor, "user.erase", user, reason=reason)
    if commit:
        db.session.commit()
    return user


def erase_own_account(user: User, password: str, confirmed: bool) -> None:
    """The worker's own "Mijn gegevens wissen": a confirmation and their password."""
    from . import accounts

    if not confirmed:
        raise DomainError(_("Vink aan dat je al je gegevens wilt laten wissen."), field="confirm")
    if not accounts.verify_password(user.password_hash, password or ""):
        raise DomainError(_("Dit wachtwoord klopt niet."), field="password")
    erase_user(user, reason="own request")


@dataclass
class OrganisationErasure:
    members: int = 0
    postings_closed: int = 0
    invitations: int = 0


def erase_organisation(org_id: int, acting_user: User, confirmed: bool, password: str | None = None,
                       commit: bool = True) -> OrganisationErasure:
    """Erase an organisation's personal data: its members, its postings' contact addresses (postings
    closed) and invitations to its staff. Its own members (with their password) and admins may do this."""
    from . import accounts

    organisation = db.session.get(Organisation, org_id)
    own = acting_user is not None and acting_user.role == "employer" and acting_user.organisation_id == org_id
    if organisation is None or not (own or (acting_user is not None and acting_user.role == "admin")):
        raise NotFoundError(_("Deze organisatie bestaat niet."))
    if not confirmed:
        raise DomainError(_("Vink aan dat je alle persoonsgegevens van deze organisatie wilt wissen."), field="confirm")
    if own and not accounts.verify_password(acting_user.password_hash, password or ""):
        raise DomainError(_("Dit wachtwoord klopt niet."), field="password")
    report = _erase_organisation_rows(organisation, acting_user)
    if commit:
        db.session.commit()
    return report


def _erase_organisation_rows(organisation: Organisation, acting_user: User | None) -> OrganisationErasure:
    report = OrganisationErasure()
    listing_ids = list(db.session.scalars(sa.select(StaffListing.id).where(StaffListing.organisation_id == organisation.id)))
    if listing_ids:
        report.invitations = db.session.execute(
            sa.delete(Invitation).where(Invitation.listing_id.in_(listing_ids))
        ).rowcount or 0
    # Its CSV uploads: waiting files name its contacts, reports are about its postings.
    db.session.execute(sa.delete(CsvUpload).where(CsvUpload.organisation_id == organisation.id)
                       .execution_options(synchronize_session=False))
    members = list(db.session.scalars(sa.select(User).where(User.organisation_id == organisation.id)))
    for member in members:
        _erase_user_rows(member, placeholder_email())
        report.members += 1
    for model in (Shortage, StaffListing):
        for posting in db.session.scalars(sa.select(model).where(model.organisation_id == organisation.id)):
            if posting.status == "open":
                report.postings_closed += 1
            posting.status = "closed"
            if not posting.contact_email.endswith("@" + ERASED_DOMAIN):
                posting.contact_email = placeholder_email()
    db.session.flush()
    audit.record(acting_user if acting_user is not None and not is_erased(acting_user) else None,
                 "organisation.erase", organisation, members=report.members, postings_closed=report.postings_closed)
    return report


# ---------------------------------------------------------------- "still available?"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=STILL_AVAILABLE_SALT)


def still_available_token(profile: WorkerProfile) -> str:
    return _serializer().dumps(profile.id)


def profile_for_token(token: str) -> WorkerProfile | None:
    """The profile this "still available?" link answers for; None for a bad or expired link (valid
    until the next question would be sent), or when the person withdrew or was erased since."""
    try:
        profile_id = _serializer().loads(token, max_age=_setting("RECONFIRM_EVERY_DAYS") * 86400)
    except (BadSignature, ValueError, TypeError):
        return None
    profile = db.session.get(WorkerProfile, profile_id) if isinstance(profile_id, int) else None
    if profile is None or profile.consent_at is None or not profile.user.active:
        return None
    return profile


def answer_still_available(token: str, available: bool, now: datetime | None = None) -> WorkerProfile:
    profile = profile_for_token(token)
    if profile is None:
        raise NotFoundError(_("Deze link is niet (meer) geldig."))
    now = now or utcnow()
    profile.reconfirm_requested_at = None
    profile.reconfirmed_at = now
    if available:
        if profile.status == "paused":
            profile.status = "active"
    elif profile.status == "active":
        profile.status = "paused"
    db.session.commit()
    return profile


# ---------------------------------------------------------------- retention jobs


def expire_postings(now: datetime | None = None) -> dict:
    """Close open postings past their end date, or not updated for RETENTION_POSTING_DAYS."""
    now = now or utcnow()
    stale = now - timedelta(days=_setting("RETENTION_POSTING_DAYS"))
    listings = db.session.execute(
        sa.update(StaffListing)
        .where(StaffListing.status == "open",
               sa.or_(StaffListing.available_until < now.date(), StaffListing.updated_at < stale))
        .values(status="closed", updated_at=now).execution_options(synchronize_session=False)
    ).rowcount or 0
    shortages = db.session.execute(
        sa.update(Shortage)
        .where(Shortage.status == "open", Shortage.updated_at < stale)
        .values(status="closed", updated_at=now).execution_options(synchronize_session=False)
    ).rowcount or 0
    db.session.commit()
    return {"listings_closed": listings, "shortages_closed": shortages}


def ask_still_available(now: datetime | None = None) -> dict:
    """Every RECONFIRM_EVERY_DAYS an active worker is asked "still available?"; no answer within
    RECONFIRM_ANSWER_DAYS: paused."""
    now = now or utcnow()
    paused = db.session.execute(
        sa.update(WorkerProfile)
        .where(WorkerProfile.status == "active", WorkerProfile.reconfirm_requested_at.is_not(None),
               WorkerProfile.reconfirm_requested_at <= now - timedelta(days=_setting("RECONFIRM_ANSWER_DAYS")))
        .values(status="paused").execution_options(synchronize_session=False)
    ).rowcount or 0
    due_before = now - timedelta(days=_setting("RECONFIRM_EVERY_DAYS"))
    clock = sa.func.coalesce(WorkerProfile.reconfirmed_at, WorkerProfile.consent_at, WorkerProfile.created_at)
    due = db.session.scalars(
        sa.select(WorkerProfile).join(User, User.id == WorkerProfile.user_id)
        .where(WorkerProfile.status == "active", WorkerProfile.reconfirm_requested_at.is_(None),
               WorkerProfile.consent_at.is_not(None), User.active.is_(True), clock <= due_before)
        .order_by(WorkerProfile.id)
    ).all()
    asked = 0
    for profile in due:
        profile.reconfirm_requested_at = now
        user = profile.user
        url = notifications.external_url("workers.still_available", token=still_available_token(profile))
        data = {"name": user.name, "url": url, "days": _setting("RECONFIRM_ANSWER_DAYS")}
        key = f"reconfirm:{profile.id}:{now.date().isoformat()}"
        if outbox.queue_email(user.email, notifications.recipient_locale(user), "reconfirm", data, key) is not None:
            asked += 1
    db.session.commit()
    return {"asked": asked, "paused": paused}


def delete_withdrawn(now: datetime | None = None) -> dict:
    """Profiles withdrawn WITHDRAWN_DELETE_DAYS ago: the person is erased."""
    now = now or utcnow()
    before = now - timedelta(days=_setting("WITHDRAWN_DELETE_DAYS"))
    when = sa.func.coalesce(WorkerProfile.withdrawn_at, WorkerProfile.updated_at)
    users = db.session.scalars(
        sa.select(User).join(WorkerProfile, WorkerProfile.user_id == User.id)
        .where(WorkerProfile.status == "withdrawn", when <= before).order_by(User.id)
    ).all()
    for user in users:
        erase_user(user, reason="withdrawn", commit=False)
    db.session.commit()
    return {"erased": len(users)}


def _last_activity(user: User) -> datetime:
    profile = user.worker_profile
    moments = [user.created_at, user.last_login_at, profile.reconfirmed_at if profile is not None else None]
    return max(m for m in moments if m is not None)


def inactive_accounts(now: datetime | None = None) -> dict:
    """Worker and employer accounts without activity for INACTIVE_ACCOUNT_DAYS are warned; still
    inactive INACTIVE_DELETE_AFTER_DAYS later: erased. The reserve pool is kept for a next crisis."""
    now = now or utcnow()
    inactive_before = now - timedelta(days=_setting("INACTIVE_ACCOUNT_DAYS"))
    delete_before = now - timedelta(days=_setting("INACTIVE_DELETE_AFTER_DAYS"))
    candidates = db.session.scalars(
        sa.select(User).outerjoin(WorkerProfile, WorkerProfile.user_id == User.id)
        .where(User.active.is_(True), User.role.in_(("worker", "employer")),
               sa.or_(WorkerProfile.id.is_(None), WorkerProfile.reserve_pool.is_(False)),
               sa.or_(User.warned_inactive_at.is_not(None),
                      sa.func.coalesce(User.last_login_at, User.created_at) <= inactive_before))
        .order_by(User.id)
    ).all()
    warned = erased = reset = 0
    for user in candidates:
        last = _last_activity(user)
        if user.warned_inactive_at is not None and last > user.warned_inactive_at:
            user.warned_inactive_at = None  # came back after the warning
            reset += 1
        elif user.warned_inactive_at is not None:
            if user.warned_inactive_at <= delete_before:
                erase_user(user, reason="inactive", commit=False)
                erased += 1
        elif last <= inactive_before:
            user.warned_inactive_at = now
            data = {"name": user.name, "login_url": notifications.external_url("accounts.login"),
                    "days": _setting("INACTIVE_DELETE_AFTER_DAYS")}
            outbox.queue_email(user.email, notifications.recipient_locale(user), "inactive_warning", data,
                               f"inactive:{user.id}:{now.date().isoformat()}")
            warned += 1
    db.session.commit()
    return {"warned": warned, "erased": erased, "reset": reset}


# ---------------------------------------------------------------- crisis over


@dataclass
class CrisisOverReport:
    workers_erased: int = 0
    employers_erased: int = 0
    organisations: int = 0
    postings_closed: int = 0
    reserve_pool_kept: int = 0
    emails_removed: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def crisis_preview() -> dict:
    """What "crisis over" would do, for the confirmation page."""
    workers = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == "worker", User.email.not_like(f"erased-%@{ERASED_DOMAIN}")))
    reserve = db.session.scalar(sa.select(sa.func.count()).select_from(WorkerProfile).where(
        WorkerProfile.reserve_pool.is_(True)))
    employers = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == "employer", User.email.not_like(f"erased-%@{ERASED_DOMAIN}")))
    return {"workers": workers, "reserve_pool": reserve, "employers": employers}


def crisis_over(acting_user: User, confirmed: bool) -> CrisisOverReport:
    """Remove all personal data except the reserve pool (paused, kept for a next crisis) and the
    platform's own coordinators and admins. One transaction, with an audit entry and a summary."""
    if acting_user is None or acting_user.role != "admin":
        raise NotAllowedError(_("Alleen beheerders kunnen de crisis beëindigen."))
    if not confirmed:
        raise DomainError(_("Vink aan dat je alle persoonsgegevens wilt verwijderen."), field="confirm")
    report = CrisisOverReport()
    try:
        for organisation in db.session.scalars(sa.select(Organisation).order_by(Organisation.id)).all():
            erased = _erase_organisation_rows(organisation, None)
            report.organisations += 1
            report.employers_erased += erased.members
            report.postings_closed += erased.postings_closed
        workers = db.session.scalars(
            sa.select(User).outerjoin(WorkerProfile, WorkerProfile.user_id == User.id)
            .where(User.role == "worker").order_by(User.id)
        ).all()
        for user in workers:
            profile = user.worker_profile
            if profile is not None and profile.reserve_pool and profile.consent_at is not None:
                db.session.execute(sa.delete(Match).where(Match.worker_id == profile.id))
                profile.status = "paused"
                report.reserve_pool_kept += 1
            elif not is_erased(user):
                _erase_user_rows(user, placeholder_email())
                report.workers_erased += 1
        db.session.execute(sa.delete(Match))  # listings' matches: the postings are closed
        # Emails already sent or given up on: their content is no longer needed.
        report.emails_removed = db.session.execute(
            sa.delete(OutgoingEmail).where(OutgoingEmail.status.in_(("sent", "failed", "suppressed", CANCELLED)))
        ).rowcount or 0
        db.session.execute(sa.delete(EmailSuppression))
        db.session.flush()
        audit.record(acting_user, "privacy.crisis_over", acting_user, **report.as_dict())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report
