"""Register, verify the address, log in (with an optional second factor) and out, passwords,
account security, and the employer's organisation page."""
import time
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from ..auth import role_required
from ..errors import DomainError, NotAllowedError
from ..extensions import limiter
from ..forms import sector_choices
from ..models.user import SECOND_FACTOR_ROLES
from ..services import accounts, organisations
from ..services.sectors import all_sectors
from . import bp
from .forms import (
    ChangePasswordForm,
    ColleagueRegistrationForm,
    DisableSecondFactorForm,
    EmployerRegistrationForm,
    EnableSecondFactorForm,
    ForgotPasswordForm,
    InviteColleagueForm,
    LoginForm,
    SecondFactorForm,
    SetPasswordForm,
    WorkerRegistrationForm,
)

# Session keys. None of them means "logged in": that is Flask-Login's user id alone.
_PENDING_LOGIN = "login_pending"  # password given, second factor still to come
_PENDING_TOTP_SECRET = "totp_pending_secret"  # second factor being set up, not yet confirmed
_CHECK_EMAIL = "check_email_address"  # the address a registration just sent a link to
SECOND_FACTOR_WINDOW = 300  # seconds between the password and the code

# What a logged-in person whose address is not verified yet may open: what anonymous visitors see,
# and what it takes to verify, log out or reset the password. Everything else sends them to
# accounts.check_email.
UNVERIFIED_ALLOWED_BLUEPRINTS = frozenset({"public", "health"})
UNVERIFIED_ALLOWED_ENDPOINTS = frozenset({
    "static",
    "growing.public_list",
    "growing.public_detail",
    "accounts.check_email",
    "accounts.resend_verification",
    "accounts.verify_email",
    "accounts.login",
    "accounts.second_factor",
    "accounts.logout",
    "accounts.forgot_password",
    "accounts.set_password",
})


def _locale() -> str:
    return str(get_locale() or "nl")


def apply_error(form, error: DomainError) -> None:
    """Show a service's error at the field it names, or above the form."""
    target = getattr(form, error.field, None) if error.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, error.message]
    else:
        form.form_errors.append(error.message)


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site: '/x?y' yes; '//evil', 'http://…', 'javascript:…', backslashes no."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def home_for(user) -> str:
    """Where each role starts."""
    if user.role == "worker":
        return url_for("workers.profile")
    if user.role == "employer":
        if user.organisation is not None and user.organisation.side == "shrinking":
            return url_for("shrinking.index")
        return url_for("growing.index")
    return url_for("admin.index")


@bp.before_app_request
def _verified_accounts_only():
    """Until the address is verified an account can only ask for a new link (or log out)."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in UNVERIFIED_ALLOWED_ENDPOINTS or request.blueprint in UNVERIFIED_ALLOWED_BLUEPRINTS:
        return None
    if current_user.is_authenticated and not current_user.email_verified:
        return redirect(url_for("accounts.check_email"))
    return None


@bp.record_once
def _warn_about_per_process_limits(state) -> None:
    app = state.app
    if app.debug or app.testing or not app.config.get("RATELIMIT_ENABLED", True):
        return
    if str(app.config.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory"):
        app.logger.warning(
            "RATELIMIT_STORAGE_URI is memory://: login limits are counted per process, not across workers. "
            "Set it to redis://… in production."
        )


# ---------------------------------------------------------------- rate-limit keys and limits


def _setting(name: str):
    return lambda: current_app.config[name]


def _account_key() -> str:
    return "login-account:" + accounts.normalise_email(request.form.get("email"))


def _pending_login_key() -> str:
    pending = _pending_login()
    return f"login-code:{pending['u']}" if pending else "login-code:" + get_remote_address()


def _user_key() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else "anonymous:" + get_remote_address()


def _form_failed(response) -> bool:
    """A form shown again (status 200) is a failed attempt; a redirect is a success."""
    return response.status_code == 200


# ---------------------------------------------------------------- login / second factor / logout


@bp.route("/inloggen", methods=["GET", "POST"])
@limiter.limit(_setting("LOGIN_LIMIT_PER_ADDRESS"), methods=["POST"])
@limiter.limit(_setting("LOGIN_LIMIT_PER_ACCOUNT"), methods=["POST"], key_func=_account_key, deduct_when=_form_failed)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            target = form.next.data if is_safe_next(form.next.data) else ""
            if user.totp_enabled:
                # Not logged in yet: only this note, bound to the account's current session token.
                session[_PENDING_LOGIN] = {"u": user.id, "s": user.session_token, "n": target, "t": int(time.time())}
                return redirect(url_for(".second_factor"))
            return _finish_login(user, target)
        # One message for an unknown address, a wrong password and an account without a password.
        form.form_errors.append(_("E-mailadres of wachtwoord klopt niet."))
    return render_template("accounts/login.html", form=form)


def _finish_login(user, target: str = ""):
    session.pop(_PENDING_LOGIN, None)
    login_user(user)
    if not user.email_verified:
        return redirect(url_for(".check_email"))
    return redirect(target if is_safe_next(target) else home_for(user))


def _pending_login() -> dict | None:
    pending = session.get(_PENDING_LOGIN)
    if not isinstance(pending, dict) or not isinstance(pending.get("u"), int) or not isinstance(pending.get("t"), int):
        return None
    if time.time() - pending["t"] > SECOND_FACTOR_WINDOW:
        return None
    return pending


@bp.route("/inloggen/code", methods=["GET", "POST"])
@limiter.limit(_setting("SECOND_FACTOR_LIMIT"), methods=["POST"])
@limiter.limit(_setting("SECOND_FACTOR_LIMIT"), methods=["POST"], key_func=_pending_login_key, deduct_when=_form_failed)
def second_factor():
    pending = _pending_login()
    if pending is None:
        session.pop(_PENDING_LOGIN, None)
        flash(_("Log opnieuw in: de stap met de code duurde te lang of is niet begonnen."), "info")
        return redirect(url_for(".login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        user = accounts.complete_second_factor(pending["u"], str(pending.get("s") or ""), form.code.data)
        if user is not None:
            return _finish_login(user, str(pending.get("n") or ""))
        form.code.errors = [*form.code.errors, _("Deze code klopt niet. Gebruik de nieuwste code uit je app, "
                                                 "of een reservecode die je nog niet hebt gebruikt.")]
    return render_template("accounts/second_factor.html", form=form)


@bp.post("/uitloggen")
def logout():
    if current_user.is_authenticated:
        # Every session of this person ends, also on other devices and "remember me" cookies.
        accounts.end_all_sessions(current_user._get_current_object())
    logout_user()
    session.pop(_PENDING_LOGIN, None)
    flash(_("Je bent uitgelogd."), "info")
    return redirect(url_for("public.home"))


# ---------------------------------------------------------------- registration and verification


@bp.route("/aanmelden", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    token = request.args.get("uitnodiging")
    if token is not None:
        return _register_colleague(token)
    role = request.args.get("role")
    if role == "worker":
        return _register_worker()
    if role == "employer":
        return _register_employer(request.args.get("side"))
    return render_template("accounts/register_choose.html")


def _check_your_email(email: str):
    """The one answer to a registration, whether the address was new or already had an account."""
    session[_CHECK_EMAIL] = accounts.normalise_email(email)
    return redirect(url_for(".check_email"))


def _register_worker():
    form = WorkerRegistrationForm()
    if request.method == "GET":
        form.locale.data = _locale()
    if form.validate_on_submit():
        try:
            accounts.register_worker(form.name.data, form.email.data, form.password.data, form.locale.data)
        except DomainError as error:
            apply_error(form, error)
        else:
            return _check_your_email(form.email.data)
    return render_template("accounts/register_worker.html", form=form)


def _register_employer(side: str | None):
    form = EmployerRegistrationForm()
    form.sector.choices = [("", _("Kies een sector"))] + sector_choices(all_sectors(), _locale())
    if request.method == "GET":
        form.locale.data = _locale()
        if side in ("shrinking", "growing"):
            form.side.data = side
    if form.validate_on_submit():
        try:
            accounts.register_employer(
                form.name.data,
                form.email.data,
                form.password.data,
                organisation_name=form.organisation_name.data,
                kvk_number=form.kvk_number.data,
                sector_code=form.sector.data,
                side=form.side.data or None,
                locale=form.locale.data,
            )
        except DomainError as error:
            apply_error(form, error)
        else:
            return _check_your_email(form.email.data)
    return render_template("accounts/register_employer.html", form=form, side=side)


def _register_colleague(token: str):
    try:
        organisation, email = accounts.invitation_for_token(token)
    except DomainError as error:
        return render_template("accounts/token_invalid.html", message=error.message, kind="invitation"), 400
    form = ColleagueRegistrationForm()
    if request.method == "GET":
        form.locale.data = _locale()
    if form.validate_on_submit():
        try:
            user = accounts.register_colleague(token, form.name.data, form.password.data, form.locale.data)
        except DomainError as error:
            apply_error(form, error)
        else:
            login_user(user)
            flash(_("Welkom bij %(name)s op nlwerktdoor.", name=organisation.name), "info")
            return redirect(home_for(user))
    return render_template("accounts/register_colleague.html", form=form, organisation=organisation, email=email)


@bp.get("/bevestig-je-email")
def check_email():
    if current_user.is_authenticated:
        if current_user.email_verified:
            return redirect(home_for(current_user))
        return render_template("accounts/check_email.html", email=current_user.email, logged_in=True)
    return render_template("accounts/check_email.html", email=session.get(_CHECK_EMAIL), logged_in=False)


@bp.post("/bevestig-je-email/opnieuw")
@limiter.limit(_setting("VERIFICATION_RESEND_LIMIT"), key_func=_user_key)
@login_required
def resend_verification():
    accounts.resend_verification(current_user._get_current_object())
    flash(_("We hebben een nieuwe link gestuurd naar %(email)s. Kijk ook in je spam-map.", email=current_user.email),
          "info")
    return redirect(url_for(".check_email"))


@bp.get("/bevestigen/<token>")
def verify_email(token: str):
    user = accounts.verify_email(token)
    if user is None:
        message = _("Deze bevestigingslink is verlopen of klopt niet. Log in; dan kun je een nieuwe link laten sturen.")
        return render_template("accounts/token_invalid.html", message=message, kind="verify"), 400
    flash(_("Je e-mailadres is bevestigd."), "info")
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(home_for(user))
    return redirect(url_for(".login"))


# ---------------------------------------------------------------- passwords


@bp.route("/wachtwoord-vergeten", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data)
        # The same answer whether or not the address has an account.
        flash(_("Als er een account is met dit e-mailadres, hebben we een link gestuurd om een nieuw wachtwoord "
                "in te stellen. Kijk ook in je spam-map."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/wachtwoord/<token>", methods=["GET", "POST"])
def set_password(token: str):
    user = accounts.user_for_token(token)
    if user is None:
        message = _("Deze link is verlopen of al gebruikt. Vraag hieronder een nieuwe link aan.")
        return render_template("accounts/token_invalid.html", message=message, kind="password"), 400
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.set_password(token, form.password.data)
        except DomainError as error:
            apply_error(form, error)
        else:
            if user.totp_enabled:  # the link replaces the password, not the second factor
                logout_user()
                flash(_("Je wachtwoord is ingesteld. Log in met je nieuwe wachtwoord en de code uit je app."), "info")
                return redirect(url_for(".login"))
            login_user(user)
            flash(_("Je wachtwoord is ingesteld."), "info")
            return redirect(home_for(user))
    return render_template("accounts/set_password.html", form=form, user=user)


@bp.route("/wachtwoord-wijzigen", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], key_func=_user_key, deduct_when=_form_failed)
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.change_password(current_user._get_current_object(), form.current_password.data,
                                            form.password.data)
        except DomainError as error:
            apply_error(form, error)
        else:
            login_user(user)  # this session goes on with the new token; every other one has ended
            flash(_("Je wachtwoord is gewijzigd. Op andere apparaten ben je uitgelogd."), "info")
            return redirect(url_for(".security"))
    return render_template("accounts/change_password.html", form=form)


# ---------------------------------------------------------------- account security and second factor


@bp.get("/beveiliging")
@login_required
def security():
    return _security_page(DisableSecondFactorForm())


def _security_page(disable_form):
    return render_template(
        "accounts/security.html",
        can_use_second_factor=current_user.role in SECOND_FACTOR_ROLES,
        backup_codes_left=len(current_user.totp_backup_codes or []),
        disable_form=disable_form,
    )


@bp.route("/tweestaps", methods=["GET", "POST"])
@limiter.limit(_setting("SECOND_FACTOR_LIMIT"), methods=["POST"], key_func=_user_key, deduct_when=_form_failed)
@role_required(*SECOND_FACTOR_ROLES)
def enable_second_factor():
    if current_user.totp_enabled:
        flash(_("Tweestapsverificatie staat al aan."), "info")
        return redirect(url_for(".security"))
    secret = session.get(_PENDING_TOTP_SECRET)
    if not isinstance(secret, str) or not secret:
        secret = session[_PENDING_TOTP_SECRET] = accounts.new_totp_secret()
    form = EnableSecondFactorForm()
    if form.validate_on_submit():
        try:
            codes = accounts.enable_totp(current_user._get_current_object(), secret, form.code.data)
        except NotAllowedError:
            abort(403)
        except DomainError as error:
            apply_error(form, error)
        else:
            session.pop(_PENDING_TOTP_SECRET, None)
            login_user(current_user._get_current_object())  # the session token changed
            # Shown once, in this response only: the database keeps just their hashes.
            return render_template("accounts/backup_codes.html", codes=codes)
    return render_template(
        "accounts/enable_second_factor.html",
        form=form,
        secret=secret,
        secret_groups=[secret[i:i + 4] for i in range(0, len(secret), 4)],
        uri=accounts.totp_uri(current_user, secret),
    )


@bp.post("/tweestaps/uitzetten")
@limiter.limit(_setting("SECOND_FACTOR_LIMIT"), key_func=_user_key, deduct_when=_form_failed)
@login_required
def disable_second_factor():
    if not current_user.totp_enabled:
        # The security page has no form to show errors on then: say so instead of answering with silence.
        flash(_("Tweestapsverificatie staat al uit."), "info")
        return redirect(url_for(".security"))
    form = DisableSecondFactorForm()
    if form.validate_on_submit():
        try:
            user = accounts.disable_totp(current_user._get_current_object(), form.password.data, form.code.data)
        except DomainError as error:
            apply_error(form, error)
        else:
            login_user(user)
            flash(_("Tweestapsverificatie staat uit."), "info")
            return redirect(url_for(".security"))
    return _security_page(form)


# ---------------------------------------------------------------- organisation


@bp.route("/organisatie", methods=["GET", "POST"])
@role_required("employer")
def organisation():
    organisation = current_user.organisation
    if organisation is None:
        abort(404)
    form = InviteColleagueForm()
    if form.validate_on_submit():
        try:
            accounts.invite_colleague(form.email.data, current_user)
        except NotAllowedError:
            abort(403)
        except DomainError as error:
            apply_error(form, error)
        else:
            flash(_("Uitnodiging verstuurd naar %(email)s.", email=accounts.normalise_email(form.email.data)), "info")
            return redirect(url_for("accounts.organisation"))
    return render_template(
        "accounts/organisation.html",
        organisation=organisation,
        verifier=organisations.verifier(organisation),
        members=sorted(organisation.members, key=lambda m: m.name.casefold()),
        form=form,
    )


# ---------------------------------------------------------------- organisation data erasure (services/privacy.py)


@bp.route("/organisatie/gegevens-wissen", methods=["GET", "POST"])
@role_required("employer")
def erase_organisation():
    from ..errors import NotFoundError
    from ..services import privacy
    from ..forms import EraseForm

    organisation = current_user.organisation
    if organisation is None:
        abort(404)
    form = EraseForm()
    form.confirm.label.text = _("Ja, wis alle persoonsgegevens van %(name)s. Dit kan niet ongedaan worden gemaakt.",
                                name=organisation.name)
    if form.validate_on_submit():
        try:
            privacy.erase_organisation(organisation.id, current_user._get_current_object(), form.confirm.data,
                                       password=form.password.data)
        except NotFoundError:
            abort(404)
        except DomainError as error:
            apply_error(form, error)
        else:
            logout_user()
            flash(_("De persoonsgegevens van %(name)s zijn gewist.", name=organisation.name), "info")
            return redirect(url_for("public.home"))
    return render_template("accounts/erase_organisation.html", form=form, organisation=organisation)
