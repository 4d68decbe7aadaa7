"""Register, log in and out, set a password, and the employer's organisation page."""
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..auth import role_required
from ..errors import DomainError, NotAllowedError
from ..extensions import limiter
from ..forms import sector_choices
from ..services import accounts, organisations
from ..services.sectors import all_sectors
from . import bp
from .forms import (
    ColleagueRegistrationForm,
    EmployerRegistrationForm,
    ForgotPasswordForm,
    InviteColleagueForm,
    LoginForm,
    SetPasswordForm,
    WorkerRegistrationForm,
)

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


# ---------------------------------------------------------------- login / logout


@bp.route("/inloggen", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            target = form.next.data
            return redirect(target if is_safe_next(target) else home_for(user))
        # One message for an unknown address, a wrong password and an account without a password.
        form.form_errors.append(_("E-mailadres of wachtwoord klopt niet."))
    return render_template("accounts/login.html", form=form)


@bp.post("/uitloggen")
def logout():
    logout_user()
    flash(_("Je bent uitgelogd."), "info")
    return redirect(url_for("public.home"))


# ---------------------------------------------------------------- registration


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


def _register_worker():
    form = WorkerRegistrationForm()
    if request.method == "GET":
        form.locale.data = _locale()
    if form.validate_on_submit():
        try:
            user = accounts.register_worker(form.name.data, form.email.data, form.password.data, form.locale.data)
        except DomainError as error:
            apply_error(form, error)
        else:
            login_user(user)
            flash(_("Welkom! Vul nu je profiel in en geef aan of je wilt worden voorgesteld aan werkgevers."), "info")
            return redirect(url_for("workers.profile"))
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
            user = accounts.register_employer(
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
            login_user(user)
            flash(
                _("Je organisatie is aangemeld. Je kunt meteen beginnen; na verificatie door een regiocoördinator "
                  "worden jullie gegevens ook gekoppeld en openbaar getoond."),
                "info",
            )
            return redirect(home_for(user))
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
            login_user(user)
            flash(_("Je wachtwoord is ingesteld."), "info")
            return redirect(home_for(user))
    return render_template("accounts/set_password.html", form=form, user=user)


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

