"""Worker use cases: the opt-in profile with explicit consent, pause / resume / withdraw, own matches.

Invariants: a profile is only ever `active` with a recorded consent (when, which text version);
withdrawing clears that consent, so coming back needs a fresh yes. Each use case commits once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from .. import reference
from ..errors import DomainError, NotAllowedError, NotFoundError
from ..extensions import db
from ..models import Invitation, Match, Sector, Shortage, User, WorkerProfile
from ..models.database import utcnow
from . import accounts

MIN_PASSWORD_LENGTH = accounts.MIN_PASSWORD_LENGTH  # one password policy for every way in
MAX_DISTANCE_KM = 200
MAX_HOURS_PER_WEEK = 60
# Language codes a worker can tick; "nl" and "en" first (DESIGN.md: languages).
LANGUAGES = ("nl", "en", "de", "fr", "es", "pl", "tr", "ar", "pt", "uk")
_PHONE_RE = re.compile(r"^\+?[0-9 ()\-]{6,20}$")


@dataclass
class ProfileData:
    """The plain values of a profile form (or an invitation's prefill)."""

    occupation_id: str | None
    postcode: str | None
    available_from: date | None
    skills: list[str] = field(default_factory=list)
    max_distance_km: int | None = 25
    desired_sectors: list[str] = field(default_factory=list)
    hours_per_week: int | None = 36
    certificates: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: ["nl"])
    phone: str | None = None
    reserve_pool: bool = False  # "bewaar mijn profiel voor een volgende crisis"


@dataclass
class NewAccount:
    """A worker account made on the invitation page: the email is the invited address."""

    name: str
    password: str


def _now() -> datetime:
    return datetime.now(timezone.utc)


def consent_version() -> str:
    return current_app.config["CONSENT_VERSION"]


def profile_of(user: User) -> WorkerProfile | None:
    return db.session.scalar(sa.select(WorkerProfile).where(WorkerProfile.user_id == user.id))


def _require_worker(user: User) -> None:
    if user is None or user.role != "worker":
        raise NotAllowedError(_("Alleen werkenden hebben een profiel."))


def _validated(data: ProfileData) -> dict:
    """Check every value and return the columns to store; raise DomainError(field=...) on the first bad one."""
    occupation = reference.occupations().get(data.occupation_id or "")
    if occupation is None:
        raise DomainError(_("Kies een beroep uit de lijst."), field="occupation")
    pc4 = reference.parse_postcode(data.postcode)
    if pc4 is None:
        raise DomainError(_("Vul een geldige Nederlandse postcode in, bijvoorbeeld 1011 of 1011 AB."), field="postcode")
    if data.max_distance_km is None or not 1 <= data.max_distance_km <= MAX_DISTANCE_KM:
        raise DomainError(
            _("Vul een reisafstand in tussen 1 en %(max)s km.", max=MAX_DISTANCE_KM), field="max_distance_km"
        )
    if data.hours_per_week is None or not 1 <= data.hours_per_week <= MAX_HOURS_PER_WEEK:
        raise DomainError(
            _("Vul een aantal uren per week in tussen 1 en %(max)s.", max=MAX_HOURS_PER_WEEK), field="hours_per_week"
        )
    if data.available_from is None:
        raise DomainError(_("Vul in vanaf wanneer je beschikbaar bent."), field="available_from")

    known_skills = reference.skills()
    unknown = [s for s in data.skills if s not in known_skills]
    if unknown:
        raise DomainError(_("Onbekende vaardigheid: %(names)s", names=", ".join(unknown)), field="skills")
    # No skills chosen (e.g. without JavaScript): start from the occupation's essential skills.
    skills = list(dict.fromkeys(data.skills)) or list(occupation.essential_skills)

    sector_codes = set(db.session.scalars(sa.select(Sector.code)))
    if any(code not in sector_codes for code in data.desired_sectors):
        raise DomainError(_("Kies sectoren uit de lijst."), field="desired_sectors")
    certificates = []
    for text in data.certificates:
        code = reference.parse_certificate(text)
        if code is None:
            raise DomainError(_("Onbekend certificaat: %(code)s", code=text), field="certificates")
        certificates.append(code)
    if any(code not in LANGUAGES for code in data.languages):
        raise DomainError(_("Kies talen uit de lijst."), field="languages")
    phone = (data.phone or "").strip() or None
    if phone is not None and not _PHONE_RE.match(phone):
        raise DomainError(_("Vul een geldig telefoonnummer in, bijvoorbeeld 06 12345678."), field="phone")

    return dict(
        occupation_id=occupation.id,
        skills=skills,
        pc4=pc4,
        max_distance_km=data.max_distance_km,
        desired_sectors=list(dict.fromkeys(data.desired_sectors)),
        hours_per_week=data.hours_per_week,
        available_from=data.available_from,
        certificates=list(dict.fromkeys(certificates)),
        languages=list(dict.fromkeys(data.languages)),
        phone=phone,
    )


def _apply_profile(user: User, data: ProfileData, consent_given: bool) -> WorkerProfile:
    """Validate and write the profile into the session, without committing."""
    _require_worker(user)
    values = _validated(data)
    if not consent_given:
        raise DomainError(
            _(
                "Zonder jouw toestemming kunnen we je profiel niet opslaan. Vink het vakje aan om mee te doen; "
                "wil je stoppen, gebruik dan 'Afmelden'."
            ),
            field="consent",
        )
    user.phone = values.pop("phone")
    profile = profile_of(user)
    if profile is None:
        profile = WorkerProfile(user=user, status="active")
        db.session.add(profile)
    for name, value in values.items():
        setattr(profile, name, value)
    version = consent_version()
    # Keep the moment of the first yes to this text; a new text version (or a re-opt-in) records a new one.
    if profile.consent_at is None or profile.consent_version != version:
        profile.consent_at = _now()
        profile.consent_version = version
    if profile.status == "withdrawn" or profile.status is None:
        profile.status = "active"
        profile.withdrawn_at = None
    profile.reserve_pool = bool(data.reserve_pool)
    return profile


def save_profile(user: User, data: ProfileData, consent_given: bool) -> WorkerProfile:
    """Create or update the worker's opt-in profile. A paused profile stays paused; a withdrawn one
    becomes active again, because saving requires a fresh consent."""
    profile = _apply_profile(user, data, consent_given)
    db.session.commit()
    return profile


def _own_profile(user: User) -> WorkerProfile:
    _require_worker(user)
    profile = profile_of(user)
    if profile is None:
        raise NotFoundError(_("Je hebt nog geen profiel."))
    return profile


def pause(user: User) -> WorkerProfile:
    """Paused: kept, but not matched until resumed. Consent stays recorded."""
    profile = _own_profile(user)
    if profile.status != "active":
        raise DomainError(_("Alleen een actief profiel kun je pauzeren."), field="status")
    profile.status = "paused"
    db.session.commit()
    return profile


def resume(user: User) -> WorkerProfile:
    """Back to active. A withdrawn profile needs a new consent: save the profile form again."""
    profile = _own_profile(user)
    if profile.status == "withdrawn" or profile.consent_at is None:
        raise DomainError(
            _("Je hebt je afgemeld. Sla je profiel opnieuw op en geef toestemming om weer mee te doen."), field="status"
        )
    if profile.status != "paused":
        raise DomainError(_("Je profiel is al actief."), field="status")
    profile.status = "active"
    profile.reconfirm_requested_at = None  # resuming answers an open "still available?" question
    profile.reconfirmed_at = _now()
    db.session.commit()
    return profile


def withdraw(user: User) -> WorkerProfile:
    """Withdrawn: not matched, the consent is cleared and unsent emails about the person are
    cancelled; coming back needs a new yes. Erased WITHDRAWN_DELETE_DAYS later (services/privacy.py)."""
    from . import privacy

    profile = _own_profile(user)
    profile.status = "withdrawn"
    profile.consent_at = None
    profile.consent_version = None
    profile.withdrawn_at = _now()
    profile.reconfirm_requested_at = None
    privacy.cancel_unsent_about(user, profile)
    db.session.commit()
    return profile


def matches_for(user: User) -> list[Match]:
    """The worker's own matches, newest first (never another worker's)."""
    profile = profile_of(user) if user is not None and user.role == "worker" else None
    if profile is None:
        return []
    return list(
        db.session.scalars(
            sa.select(Match)
            .where(Match.worker_id == profile.id)
            .options(joinedload(Match.shortage).joinedload(Shortage.organisation))
            .order_by(Match.created_at.desc(), Match.id.desc())
        )
    )


# ---------------------------------------------------------------- invitations


def account_exists(email: str) -> bool:
    return db.session.scalar(sa.select(User.id).where(User.email == email.strip().lower())) is not None


def prefill_from_invitation(invitation: Invitation) -> ProfileData:
    """The listing's facts as a starting point; the sector wish stays empty (= any sector)."""
    listing = invitation.listing
    return ProfileData(
        occupation_id=listing.occupation_id,
        skills=list(listing.skills or []),
        postcode=listing.pc4,
        max_distance_km=listing.max_distance_km,
        available_from=listing.available_from,
        hours_per_week=listing.hours_per_week,
        certificates=list(listing.certificates or []),
        desired_sectors=[],
    )


def accept_invitation(
    invitation: Invitation,
    data: ProfileData,
    consent_given: bool,
    *,
    user: User | None = None,
    account: NewAccount | None = None,
) -> WorkerProfile:
    """Opt in through an employer's invitation: make the worker account if needed (the invited email),
    save the profile linked to the listing and mark the invitation accepted — one commit, or nothing."""
    if invitation is None or invitation.accepted_at is not None:
        raise NotFoundError(_("Deze uitnodiging is niet (meer) geldig."))
    try:
        if user is None:
            if account is None:
                raise DomainError(_("Maak eerst een account aan."), field="name")
            name = (account.name or "").strip()
            if not name:
                raise DomainError(_("Vul je naam in."), field="name")
            accounts.checked_password(account.password)
            if account_exists(invitation.email):
                raise DomainError(_("Er bestaat al een account met dit e-mailadres. Log eerst in."), field="email")
            user = User(
                email=invitation.email.strip().lower(),
                name=name[:200],
                password_hash=accounts.hash_password(account.password),
                role="worker",
                # The invitation link was sent to this address: opening it proves the address.
                email_verified_at=utcnow(),
            )
            db.session.add(user)
        profile = _apply_profile(user, data, consent_given)
        profile.listing_id = invitation.listing_id
        db.session.flush()

        from . import invitations

        invitations.mark_accepted(invitation, profile)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return profile
