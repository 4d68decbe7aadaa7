"""Accounts: registration with email verification, login (with an optional second factor),
sessions, password hashing/set/reset/change, colleague invitations, roles.

Every function that changes something commits once; a failure raises a DomainError whose
`field` names the form field it belongs to, and leaves nothing half-written.

Passwords are hashed with argon2id (settings ARGON2_*); older werkzeug hashes still verify and are
replaced by an argon2id hash at the next successful login. Every login session carries the user's
`session_token` (User.get_id); a new token ends every session of that person at once.
"""
import csv
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from .. import reference
from ..errors import DomainError, NotAllowedError, NotFoundError, ValidationError
from ..extensions import db
from ..models import Organisation, Sector, User
from ..models.organisation import SIDES
from ..models.user import SECOND_FACTOR_ROLES, new_session_token
from . import audit, outbox

MIN_PASSWORD_LENGTH = 12
PASSWORD_TOKEN_MAX_AGE = 14 * 24 * 3600  # seconds: a reset or activation link lives 14 days
INVITATION_MAX_AGE = 14 * 24 * 3600
VERIFICATION_MAX_AGE = 7 * 24 * 3600  # an email verification link lives 7 days
_PASSWORD_SALT = "nlwerktdoor.password"
_INVITATION_SALT = "nlwerktdoor.colleague-invitation"
_VERIFICATION_SALT = "nlwerktdoor.verify-email"
_COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common_passwords.csv"
# Digits, punctuation and spaces around a word: "Wachtwoord2024!" is "wachtwoord" with decoration.
_DECORATION_RE = re.compile(r"^[\d\W_]+|[\d\W_]+$")
TOTP_ISSUER = "nlwerktdoor"
BACKUP_CODE_COUNT = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to type from paper
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


def checked_password(password: str | None, field: str = "password") -> str:
    """The password if it meets the policy (length, not a common password); else a ValidationError on `field`."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _("Kies een wachtwoord van minstens %(n)s tekens.", n=MIN_PASSWORD_LENGTH), field=field
        )
    if is_common_password(password):
        raise ValidationError(
            _("Dit wachtwoord is te makkelijk te raden: het staat (bijna) zo in een lijst van veelgebruikte "
              "wachtwoorden. Kies iets anders, bijvoorbeeld een zin van een paar woorden."),
            field=field,
        )
    return password


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-case (nlwerktdoor/data/SOURCES.md)."""
    with open(_COMMON_PASSWORDS_FILE, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows, None)  # header
        return frozenset(row[0] for row in rows if row)


def is_common_password(password: str | None) -> bool:
    """On the list, case-insensitively — also with digits or punctuation around it ("Welkom2024!!") —
    or built from fewer than four different characters ("121212121212")."""
    lowered = (password or "").strip().lower()
    if len(set(lowered)) < 4:
        return True
    listed = common_passwords()
    base = _DECORATION_RE.sub("", lowered)
    return lowered in listed or (bool(base) and base in listed)


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
    # Only where the address is already known to the asker (an invitation, the command line);
    # self-registration answers the same either way (see _save_registration).
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


def register_worker(name: str, email: str, password: str, locale: str = "nl", now: datetime | None = None) -> User | None:
    """A worker account, unverified: a link to verify the address is queued. The opt-in profile (with
    consent) is made after verification, on the profile page.

    None when the address already has an account: nothing is made, and the owner gets an email
    instead. The caller shows the same "check your email" answer in both cases."""
    email = _checked_email(email)
    name = _checked_name(name)
    checked_password(password)
    password_hash = hash_password(password)  # before the lookup: both answers take the same time
    if _email_taken(email):
        return _registration_for_taken_address(email, now)
    user = User(email=email, name=name, role="worker", locale=_checked_locale(locale), password_hash=password_hash)
    return _save_registration(user, now)


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
    now: datetime | None = None,
) -> User | None:
    """An employer member who creates a new, unverified organisation; the member's address is
    unverified too, and a verification link is queued. None when the address already has an account
    (see register_worker).

    Joining an existing organisation goes only through a colleague's invitation
    (register_colleague): a KvK number is public, so knowing it proves nothing. The KvK number is
    checked before the address, so its error cannot tell whether an address has an account.
    """
    email = _checked_email(email)
    name = _checked_name(name)
    checked_password(password)
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
    if db.session.scalar(sa.select(Organisation.id).where(Organisation.kvk_number == kvk_number)) is not None:
        raise ExistingOrganisationError(_existing_organisation_message(), field="kvk_number")
    password_hash = hash_password(password)
    if _email_taken(email):
        return _registration_for_taken_address(email, now)
    organisation = Organisation(name=organisation_name, kvk_number=kvk_number, sector_code=sector.code, side=side)
    user = User(email=email, name=name, role="employer", locale=_checked_locale(locale),
                password_hash=password_hash, organisation=organisation)
    db.session.add(organisation)
    return _save_registration(user, now)


def register_colleague(token: str, name: str, password: str, locale: str = "nl") -> User:
    """Join the organisation named in a colleague invitation, with the invited email address.
    The invitation link reached that address, so the address counts as verified."""
    organisation, email = invitation_for_token(token)
    name = _checked_name(name)
    checked_password(password)
    if _email_taken(email):
        raise _duplicate_email_error()
    user = User(email=email, name=name, role="employer", locale=_checked_locale(locale),
                password_hash=hash_password(password), organisation=organisation,
                email_verified_at=datetime.now(timezone.utc))
    db.session.add(user)
    _commit_new_account()
    return user


def _save_registration(user: User, now: datetime | None) -> User | None:
    """Add a self-registered account and queue its verification email, in one commit. A concurrent
    registration with the same address loses quietly, like a taken address."""
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        if "kvk" in str(error.orig).lower():
            raise ExistingOrganisationError(_existing_organisation_message(), field="kvk_number") from error
        return _registration_for_taken_address(user.email, now)
    _queue_verification(user, now or datetime.now(timezone.utc))
    db.session.commit()
    return user


def _registration_for_taken_address(email: str, now: datetime | None) -> None:
    """Someone registered with an address that has an account: tell the owner (at most once an hour),
    make nothing, and let the caller answer exactly as for a new account."""
    owner = db.session.scalar(sa.select(User).where(User.email == email))
    if owner is not None and owner.is_active:
        now = now or datetime.now(timezone.utc)
        data = {
            "name": owner.name,
            "login_link": url_for("accounts.login", _external=True),
            "reset_link": url_for("accounts.forgot_password", _external=True),
        }
        outbox.queue_email(owner.email, owner.locale, "account_exists", data,
                           f"account-exists:{owner.id}:{now:%Y%m%d%H}")
        db.session.commit()


# ---------------------------------------------------------------- email verification


def make_verification_token(user: User) -> str:
    """A signed link token proving that whoever opens it reads this user's mail (bound to the address)."""
    return _serializer(_VERIFICATION_SALT).dumps({"u": user.id, "e": user.email})


def _queue_verification(user: User, now: datetime):
    data = {
        "name": user.name,
        "link": url_for("accounts.verify_email", token=make_verification_token(user), _external=True),
        "valid_days": VERIFICATION_MAX_AGE // 86400,
    }
    # The minute in the key: a double click queues one email, a later request a new one.
    return outbox.queue_email(user.email, user.locale, "verify_email", data, f"verify:{user.id}:{now:%Y%m%d%H%M}")


def resend_verification(user: User, now: datetime | None = None) -> bool:
    """Queue a new verification link for an unverified account; False when there is nothing to send."""
    if user.email_verified or not user.is_active:
        return False
    queued = _queue_verification(user, now or datetime.now(timezone.utc))
    db.session.commit()
    return queued is not None


def verify_email(token: str, now: datetime | None = None, max_age: int = VERIFICATION_MAX_AGE) -> User | None:
    """Mark the address of the token's account as verified; None for a garbled, expired or stale token
    (an address changed since). Opening the link twice is harmless."""
    user, payload = _user_and_payload(_VERIFICATION_SALT, token, max_age)
    if user is None or payload.get("e") != user.email:
        return None
    if user.email_verified_at is None:
        user.email_verified_at = now or datetime.now(timezone.utc)
        db.session.commit()
    return user


# ---------------------------------------------------------------- login

def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None — the same None for an unknown address, a wrong
    password, a deactivated account or one without a password yet, so the answer reveals nothing.

    A success upgrades an old or weaker hash to the current argon2id settings, and records
    last_login_at unless a second factor still has to be given (complete_second_factor does that)."""
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or not user.password_hash:
        verify_password(_dummy_hash(), password or "")  # same work, so timing does not tell either
        return None
    if not verify_password(user.password_hash, password or "") or not user.is_active:
        return None
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if not user.session_token:
        user.session_token = new_session_token()
    if not user.totp_enabled:
        user.last_login_at = datetime.now(timezone.utc)
    db.session.commit()
    return user


# ---------------------------------------------------------------- password hashing


@lru_cache(maxsize=4)
def _password_hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)  # argon2id


def _hasher() -> PasswordHasher:
    config = current_app.config
    return _password_hasher(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"], config["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """argon2 hashes, and the werkzeug (scrypt/pbkdf2) hashes of accounts made before argon2id."""
    if not stored:
        return False
    if stored.startswith("$argon2"):
        try:
            return _hasher().verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    try:
        return check_password_hash(stored, password)
    except (ValueError, TypeError):  # an unknown hash format never matches
        return False


def password_needs_rehash(stored: str) -> bool:
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True


_DUMMY_HASHES: dict[tuple, str] = {}


def _dummy_hash() -> str:
    hasher = _hasher()
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash("not-a-real-password-just-for-timing")
    return _DUMMY_HASHES[key]


# ---------------------------------------------------------------- sessions


def user_for_session(session_id: str | None) -> User | None:
    """The user of a login session id "<id>:<session token>" (User.get_id), if that token is still
    current and the account active. An id without a token (from before tokens existed) is refused."""
    user_id, _sep, token = (session_id or "").partition(":")
    if not re.fullmatch(r"[0-9]{1,18}", user_id) or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or not user.session_token:
        return None
    if not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def end_all_sessions(user: User) -> None:
    """Log this person out everywhere: every session cookie and remember cookie holding the old
    token is refused from now on (logout, password change or reset, second factor switched on/off)."""
    user.session_token = new_session_token()
    db.session.commit()


def change_password(user: User, current_password: str, new_password: str) -> User:
    """A logged-in user's new password; every other session ends (the caller logs this one in again)."""
    if not verify_password(user.password_hash, current_password or ""):
        raise ValidationError(_("Je huidige wachtwoord klopt niet."), field="current_password")
    checked_password(new_password)
    if new_password == current_password:
        raise ValidationError(_("Kies een ander wachtwoord dan je huidige."), field="password")
    user.password_hash = hash_password(new_password)
    user.session_token = new_session_token()
    db.session.commit()
    return user


def create_admin(email: str, name: str, password: str) -> User:
    """An administrator (command line `users create-admin`)."""
    # Called from the command line, where there is no request to choose a language from.
    with force_locale("nl" if not has_request_context() else str(get_locale() or "nl")):
        return _create_admin(email, name, password)


def _create_admin(email: str, name: str, password: str) -> User:
    email = _checked_email(email)
    checked_password(password)
    if _email_taken(email):
        raise _duplicate_email_error()
    user = User(email=email, name=_checked_name(name or "Beheerder"), role="admin",
                password_hash=hash_password(password), email_verified_at=datetime.now(timezone.utc))
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
    user, payload = _user_and_payload(_PASSWORD_SALT, token, max_age)
    if user is None or payload.get("f") != _password_fingerprint(user):
        return None
    return user


def _user_and_payload(salt: str, token: str, max_age: int) -> tuple[User | None, dict]:
    """The active user a signed {"u": id, …} token names, and the token's payload; (None, {}) otherwise."""
    try:
        payload = _serializer(salt).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None, {}
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        return None, {}
    user = db.session.get(User, payload["u"])
    if user is None or not user.is_active:
        return None, {}
    return user, payload


def set_password(token: str, password: str) -> User:
    """A password from an emailed link (reset, or the first one of an imported account). The link
    reached the address, so it counts as verified; every existing session ends."""
    user = user_for_token(token)
    if user is None:
        raise InvalidTokenError(_("Deze link is verlopen of al gebruikt. Vraag een nieuwe link aan."))
    checked_password(password)
    now = datetime.now(timezone.utc)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()
    if user.email_verified_at is None:
        user.email_verified_at = now
    if not user.totp_enabled:  # otherwise the person still logs in with the second factor
        user.last_login_at = now
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


# ---------------------------------------------------------------- second factor (TOTP)


def new_totp_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits


def totp_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads (typed in, or as a QR code made on the device)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def _totp_step(secret: str, code: str | None, last_step: int | None, now: datetime) -> int | None:
    """The time step a 6-digit code belongs to (now, or one step either side for clock drift), if it
    is later than the last one used; None otherwise."""
    code = "".join((code or "").split())
    if not re.fullmatch(r"[0-9]{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue  # each code works once
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normalise_backup_code(code: str | None) -> str:
    return "".join(c for c in (code or "").lower() if c.isalnum())


def _backup_code_hash(code: str) -> str:
    return hashlib.sha256(("nlwerktdoor-backup:" + _normalise_backup_code(code)).encode()).hexdigest()


def _new_backup_codes() -> list[str]:
    codes = []
    for _i in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _j in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def enable_totp(user: User, secret: str, code: str, now: datetime | None = None) -> list[str]:
    """Switch the second factor on once a code from the app proves it was set up; returns the one-time
    backup codes (shown once, stored only as hashes). Other sessions end."""
    if user.role not in SECOND_FACTOR_ROLES:
        raise NotAllowedError(_("Tweestapsverificatie is er voor werkgevers, coördinatoren en beheerders."))
    if user.totp_enabled:
        raise ValidationError(_("Tweestapsverificatie staat al aan."))
    if not re.fullmatch(r"[A-Z2-7]{16,64}", secret or ""):
        raise ValidationError(_("Er ging iets mis met de geheime sleutel. Begin opnieuw."))
    now = now or datetime.now(timezone.utc)
    step = _totp_step(secret, code, None, now)
    if step is None:
        raise ValidationError(
            _("Deze code klopt niet. Controleer of de tijd op je telefoon goed staat en probeer de nieuwste code."),
            field="code",
        )
    codes = _new_backup_codes()
    user.totp_secret = secret
    user.totp_enabled_at = now
    user.totp_last_step = step
    user.totp_backup_codes = [_backup_code_hash(c) for c in codes]
    user.session_token = new_session_token()
    db.session.commit()
    return codes


def _use_second_factor(user: User, code: str | None, now: datetime) -> bool:
    """Check a TOTP code or an unused backup code, and use it up (no commit)."""
    if not user.totp_enabled:
        return False
    step = _totp_step(user.totp_secret, code, user.totp_last_step, now)
    if step is not None:
        user.totp_last_step = step
        return True
    hashed = _backup_code_hash(code or "")
    remaining = list(user.totp_backup_codes or [])
    for index, stored in enumerate(remaining):
        if hmac.compare_digest(stored, hashed):
            del remaining[index]
            user.totp_backup_codes = remaining
            return True
    return False


def complete_second_factor(user_id: int, session_token: str, code: str, now: datetime | None = None) -> User | None:
    """Second login step: the user who gave the right password (bound to the session token current
    at that moment) and now a right code. None for a wrong code or a stale first step."""
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or not user.session_token or user.session_token != session_token:
        return None
    now = now or datetime.now(timezone.utc)
    if not _use_second_factor(user, code, now):
        return None
    user.last_login_at = now
    db.session.commit()
    return user


def disable_totp(user: User, password: str, code: str, now: datetime | None = None) -> User:
    """Switch the second factor off: needs the password and a code (or a backup code). Other sessions end."""
    if not user.totp_enabled:
        raise ValidationError(_("Tweestapsverificatie staat niet aan."))
    if not verify_password(user.password_hash, password or ""):
        raise ValidationError(_("Je wachtwoord klopt niet."), field="password")
    if not _use_second_factor(user, code, now or datetime.now(timezone.utc)):
        raise ValidationError(_("Deze code klopt niet."), field="code")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.totp_backup_codes = None
    user.session_token = new_session_token()
    db.session.commit()
    return user


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
        # Only a current member can vouch for a colleague: an invitation dies when its sender leaves.
        inviter = db.session.get(User, payload["by"]) if isinstance(payload.get("by"), int) else None
        if inviter is None or not inviter.is_active or inviter.role != "employer" \
                or inviter.organisation_id != payload["o"]:
            organisation = None
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
    audit.record(acting_user, "user.role", user, before=user.role, after="coordinator", region=region_code)
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
