"""Accounts: registration, login, password set/reset, colleague invitations, roles.

Every function that changes something commits once; a failure raises a DomainError whose
`field` names the form field it belongs to, and leaves nothing half-written.
"""
import hashlib
import re
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from .. import reference
from ..errors import DomainError, NotAllowedError, NotFoundError, ValidationError
from ..extensions import db
from ..models import Organisation, Sector, User
from ..models.organisation import SIDES
from . import outbox

MIN_PASSWORD_LENGTH = 12
PASSWORD_TOKEN_MAX_AGE = 14 * 24 * 3600  # seconds: a reset or activation link lives 14 days
INVITATION_MAX_AGE = 14 * 24 * 3600
_PASSWORD_SALT = "nlwerktdoor.password"
_INVITATION_SALT = "nlwerktdoor.colleague-invitation"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KVK_RE = re.compile(r"^[0-9]{8}$")


class DuplicateEmailError(ValidationError):
    pass


class ExistingOrganisationError(ValidationError):
    pass


class InvalidTokenError(DomainError):
    pass


# ---------------------------------------------------------------- checks


def normalise_email(email: str | None) -> str:
    """Emails are stored trimmed and lower-case, so 'Anna@X.nl ' and 'anna@x.nl' are one account."""
    return (email or "").strip().lower()


def _checked_email(email: str | None) -> str:
    email = normalise_email(email)
    if not _EMAIL_RE.match(email) or len(email) > 254:
        raise ValidationError(_("Vul een geldig e-mailadres in."), field="email")
    return email


def _checked_password(password: str | None) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _("Kies een wachtwoord van minstens %(n)s tekens.", n=MIN_PASSWORD_LENGTH), field="password"
        )
    return password


def normalise_kvk(kvk: str | None) -> str:
    """A KvK number is exactly 8 digits; spaces people type ('1234 5678') are ignored."""
    cleaned = "".join((kvk or "").split())
    if not _KVK_RE.match(cleaned):
        raise ValidationError(_("Een KvK-nummer bestaat uit precies 8 cijfers, bijvoorbeeld 12345678."), field="kvk_number")
    return cleaned


def _checked_name(name: str | None, field: str = "name") -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("Vul een naam in."), field=field)
    return name[:200]


def _checked_locale(locale: str | None) -> str:
    return locale if locale in ("nl", "en") else "nl"


def _email_taken(email: str) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == email)) > 0


def _duplicate_email_error() -> DuplicateEmailError:
    # Issue 6 replaces this with a non-enumerating flow (same answer whether or not the address exists,
    # with an email to the existing owner). For now a clear form error is the friendlier choice.
    return DuplicateEmailError(
        _("Er bestaat al een account met dit e-mailadres. Log in, of vraag een nieuw wachtwoord aan."), field="email"
    )


def _commit_new_account() -> None:
    """Commit; a concurrent registration with the same email or KvK number loses cleanly."""
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        if "kvk" in str(error.orig).lower():
            raise ExistingOrganisationError(_existing_organisation_message(), field="kvk_number") from error
        raise _duplicate_email_error() from error


def _existing_organisation_message() -> str:
    return _(
        "Deze organisatie staat al op nlwerktdoor. Vraag een collega om je uit te nodigen via de "
        "organisatiepagina; met de link in die e-mail meld je je aan als medewerker van jullie organisatie."
    )


# ---------------------------------------------------------------- registration


def register_worker(name: str, email: str, password: str, locale: str = "nl") -> User:
    """A worker account; the opt-in profile (with consent) is made afterwards on the profile page."""
    email = _checked_email(email)
    name = _checked_name(name)
    _checked_password(password)
    if _email_taken(email):
        raise _duplicate_email_error()
    user = User(email=email, name=name, role="worker", locale=_checked_locale(locale),
                password_hash=generate_password_hash(password))
    db.session.add(user)
    _commit_new_account()
    return user


def register_employer(
    name: str,
    email: str,
    password: str,
    *,
    organisation_name: str,
    kvk_number: str,
    sector_code: str,
    side: str | None,
    locale: str = "nl",
) -> User:
    """An employer member who creates a new, unverified organisation.

    Joining an existing organisation goes only through a colleague's invitation
    (register_colleague): a KvK number is public, so knowing it proves nothing.
    """
    email = _checked_email(email)
    name = _checked_name(name)
    _checked_password(password)
    organisation_name = _checked_name(organisation_name, field="organisation_name")
    kvk_number = normalise_kvk(kvk_number)
    sector = db.session.get(Sector, sector_code or "")
    if sector is None:
        raise ValidationError(_("Kies een sector."), field="sector")
    if side not in SIDES:
        side = sector.trend if sector.trend in SIDES else None
    if side is None:
        raise ValidationError(
            _("Kies of jullie minder werk hebben (personeel aanbieden) of mensen tekortkomen."), field="side"
        )
    if _email_taken(email):
        raise _duplicate_email_error()
    if db.session.scalar(sa.select(Organisation.id).where(Organisation.kvk_number == kvk_number)) is not None:
        raise ExistingOrganisationError(_existing_organisation_message(), field="kvk_number")
    organisation = Organisation(name=organisation_name, kvk_number=kvk_number, sector_code=sector.code, side=side)
    user = User(email=email, name=name, role="employer", locale=_checked_locale(locale),
                password_hash=generate_password_hash(password), organisation=organisation)
    db.session.add_all([organisation, user])
    _commit_new_account()
    return user


def register_colleague(token: str, name: str, password: str, locale: str = "nl") -> User:
    """Join the organisation named in a colleague invitation, with the invited email address."""
    organisation, email = invitation_for_token(token)
    name = _checked_name(name)
    _checked_password(password)
    if _email_taken(email):
        raise _duplicate_email_error()
    user = User(email=email, name=name, role="employer", locale=_checked_locale(locale),
                password_hash=generate_password_hash(password), organisation=organisation)
    db.session.add(user)
    _commit_new_account()
    return user


# ---------------------------------------------------------------- login

_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = generate_password_hash("not-a-real-password-just-for-timing")
    return _DUMMY_HASH


def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None — the same None for an unknown address, a wrong
    password, a deactivated account or one without a password yet, so the answer reveals nothing.
    A success records last_login_at."""
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password or "")  # same work, so timing does not tell either
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.is_active:
        return None
    user.last_login_at = datetime.now(timezone.utc)
    db.session.commit()
    return user


def create_admin(email: str, name: str, password: str) -> User:
    """An administrator (command line `users create-admin`)."""
    # Called from the command line, where there is no request to choose a language from.
    with force_locale("nl" if not has_request_context() else str(get_locale() or "nl")):
        return _create_admin(email, name, password)


def _create_admin(email: str, name: str, password: str) -> User:
    email = _checked_email(email)
    _checked_password(password)
    if _email_taken(email):
        raise _duplicate_email_error()
    user = User(email=email, name=_checked_name(name or "Beheerder"), role="admin",
                password_hash=generate_password_hash(password))
    db.session.add(user)
    _commit_new_account()
    return user


# ---------------------------------------------------------------- password tokens


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _password_fingerprint(user: User) -> str:
    # Binds a token to the current password: once it changes, every earlier link is dead (single use).
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def make_password_token(user: User) -> str:
    """A signed link token to set a password: for a reset, and to activate accounts made by an import."""
    return _serializer(_PASSWORD_SALT).dumps({"u": user.id, "f": _password_fingerprint(user)})


def user_for_token(token: str, max_age: int = PASSWORD_TOKEN_MAX_AGE) -> User | None:
    """The user a password token belongs to; None when it is garbled, expired or already used."""
    try:
        payload = _serializer(_PASSWORD_SALT).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        return None
    user = db.session.get(User, payload["u"])
    if user is None or not user.is_active or payload.get("f") != _password_fingerprint(user):
        return None
    return user


def set_password(token: str, password: str) -> User:
    user = user_for_token(token)
    if user is None:
        raise InvalidTokenError(_("Deze link is verlopen of al gebruikt. Vraag een nieuwe link aan."))
    _checked_password(password)
    user.password_hash = generate_password_hash(password)
    user.last_login_at = datetime.now(timezone.utc)
    db.session.commit()
    return user


def password_link(user: User) -> str:
    return url_for("accounts.set_password", token=make_password_token(user), _external=True)


def request_password_reset(email: str, now: datetime | None = None) -> None:
    """Queue a link to set a new password when the address has an account; say nothing either way.

    The idempotency key holds the minute, so a double click queues one email, a later try a new one.
    """
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        return
    now = now or datetime.now(timezone.utc)
    data = {
        "name": user.name,
        "link": password_link(user),
        "has_password": user.has_password,
        "valid_days": PASSWORD_TOKEN_MAX_AGE // 86400,
    }
    outbox.queue_email(user.email, user.locale, "password", data, f"password:{user.id}:{now:%Y%m%d%H%M}")
    db.session.commit()


# ---------------------------------------------------------------- colleague invitations


def make_invitation_token(organisation: Organisation, email: str, inviter: User) -> str:
    return _serializer(_INVITATION_SALT).dumps({"o": organisation.id, "e": email, "by": inviter.id})


def invitation_for_token(token: str | None) -> tuple[Organisation, str]:
    """(organisation, invited email) for a colleague invitation token; InvalidTokenError otherwise."""
    try:
        payload = _serializer(_INVITATION_SALT).loads(token or "", max_age=INVITATION_MAX_AGE)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        payload = None
    organisation = None
    if isinstance(payload, dict) and isinstance(payload.get("o"), int) and isinstance(payload.get("e"), str):
        organisation = db.session.get(Organisation, payload["o"])
    if organisation is None:
        raise InvalidTokenError(
            _("Deze uitnodiging is verlopen of ongeldig. Vraag je collega om een nieuwe uitnodiging.")
        )
    return organisation, payload["e"]


def invite_colleague(email: str, acting_user: User, now: datetime | None = None):
    """Email a colleague a link to register as a member of the acting user's organisation."""
    organisation = acting_user.organisation if acting_user.role == "employer" else None
    if organisation is None:
        raise NotAllowedError(_("Alleen medewerkers van een organisatie kunnen collega's uitnodigen."))
    email = _checked_email(email)
    if _email_taken(email):
        raise DuplicateEmailError(
            _("Dit e-mailadres heeft al een account op nlwerktdoor; het kan niet aan een tweede organisatie "
              "worden gekoppeld."),
            field="email",
        )
    now = now or datetime.now(timezone.utc)
    token = make_invitation_token(organisation, email, acting_user)
    data = {
        "organisation": organisation.name,
        "inviter": acting_user.name,
        "link": url_for("accounts.register", uitnodiging=token, _external=True),
        "valid_days": INVITATION_MAX_AGE // 86400,
    }
    queued = outbox.queue_email(
        email, acting_user.locale, "colleague_invitation", data,
        f"colleague:{organisation.id}:{email}:{now:%Y%m%d%H%M}",
    )
    db.session.commit()
    return queued


# ---------------------------------------------------------------- roles


def make_coordinator(email: str, region_code: str | None, acting_user: User) -> User:
    """Admin only: make an existing account a coordinator of one region, or national (None)."""
    if acting_user.role != "admin":
        raise NotAllowedError(_("Alleen beheerders kunnen coördinatoren aanwijzen."))
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFoundError(_("Er is geen account met dit e-mailadres."), field="email")
    if user.role == "admin":
        raise ValidationError(_("Een beheerder kan geen coördinator worden gemaakt."), field="email")
    region_code = region_code or None
    if region_code is not None and region_code not in reference.regions():
        raise ValidationError(_("Kies een arbeidsmarktregio."), field="region")
    user.role = "coordinator"
    user.region_code = region_code
    user.organisation_id = None  # a coordinator acts for the region, not for an employer
    db.session.commit()
    return user


def list_users(query: str = "", limit: int = 200) -> list[User]:
    stmt = sa.select(User).order_by(User.role, User.email).limit(limit)
    query = normalise_email(query)
    if query:
        stmt = stmt.where(User.email.contains(query, autoescape=True))
    return list(db.session.scalars(stmt))
