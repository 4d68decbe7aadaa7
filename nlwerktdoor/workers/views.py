"""Worker pages: the opt-in profile with consent, pause / resume / withdraw, own matches, invitations."""
import json

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..auth import role_required
from ..errors import DomainError, NotFoundError
from ..forms import EraseForm
from ..services import invitations, privacy
from ..services import workers as service
from ..services.sectors import all_sectors
from ..services.suggestions import suggestions_for
from . import bp
from .forms import (
    InvitationForm,
    InvitationProfileForm,
    ProfileForm,
    ReconsentForm,
    StillAvailableForm,
)

_TREND_ORDER = {"growing": 0, "neutral": 1, "shrinking": 2}


def _sector_choices() -> list[tuple[str, str]]:
    """Growing sectors first: that is where the work is now."""
    sectors = sorted(all_sectors(), key=lambda s: (_TREND_ORDER.get(s.trend, 1), s.name_nl))
    locale = current_locale()
    return [
        (s.code, s.name(locale) + (" · " + _("zoekt nu mensen") if s.trend == "growing" else "")) for s in sectors
    ]


def current_locale() -> str:
    return str(get_locale() or "nl")


def _initial(data: service.ProfileData | None, profile=None, phone=None) -> dict:
    if data is None and profile is not None:
        data = service.ProfileData(
            occupation_id=profile.occupation_id,
            skills=list(profile.skills or []),
            postcode=profile.pc4,
            max_distance_km=profile.max_distance_km,
            desired_sectors=list(profile.desired_sectors or []),
            hours_per_week=profile.hours_per_week,
            available_from=profile.available_from,
            certificates=list(profile.certificates or []),
            languages=list(profile.languages or []),
        )
    if data is None:
        return {"languages": ["nl"], "phone": phone}
    return {
        "occupation": data.occupation_id,
        "skills": data.skills,
        "postcode": data.postcode,
        "max_distance_km": data.max_distance_km,
        "desired_sectors": data.desired_sectors,
        "hours_per_week": data.hours_per_week,
        "available_from": data.available_from,
        "certificates": data.certificates,
        "languages": data.languages or ["nl"],
        "phone": phone,
        "consent": bool(profile is not None and profile.has_consent),
        "reserve_pool": bool(profile is not None and profile.reserve_pool),
    }


def _show_error(form, error: DomainError) -> None:
    """Put a service's error on the form field it names, else flash it."""
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def _page_context() -> dict:
    return {"consent_version": current_app.config["CONSENT_VERSION"]}


@bp.route("/profiel", methods=["GET", "POST"])
@role_required("worker")
def profile():
    profile = service.profile_of(current_user)
    form = ProfileForm(data=_initial(None, profile, current_user.phone), sectors=_sector_choices())
    if form.validate_on_submit():
        try:
            service.save_profile(current_user, form.to_data(), consent_given=form.consent.data)
        except DomainError as error:
            _show_error(form, error)
        else:
            flash(_("Je profiel is opgeslagen. We zoeken regelmatig naar passend werk en mailen je als er iets is."))
            return redirect(url_for(".profile"))
    return render_template("workers/profile.html", form=form, profile=profile, **_page_context())


def _status_action(action, message: str):
    try:
        action(current_user)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(message)
    return redirect(url_for(".profile"))


@bp.post("/profiel/pauzeren")
@role_required("worker")
def pause():
    return _status_action(service.pause, _("Je profiel is gepauzeerd. We zoeken geen matches tot je hervat."))


@bp.post("/profiel/hervatten")
@role_required("worker")
def resume():
    return _status_action(service.resume, _("Je profiel is weer actief. We zoeken weer matches voor je."))


@bp.post("/profiel/afmelden")
@role_required("worker")
def withdraw():
    return _status_action(
        service.withdraw,
        _("Je bent afgemeld en je toestemming is ingetrokken. We zoeken geen matches meer voor je."),
    )


SUGGEST_BELOW_MATCHES = 3


@bp.get("/matches")
@role_required("worker")
def matches():
    profile = service.profile_of(current_user)
    found = service.matches_for(current_user)
    # Few or no matches: show where people with the same skills also fit (adjacent occupations).
    few = profile is not None and len(found) < SUGGEST_BELOW_MATCHES
    return render_template(
        "workers/matches.html", matches=found, profile=profile, suggestions=suggestions_for(profile) if few else []
    )


@bp.route("/uitnodiging/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """An employer's invitation: a profile form pre-filled from the staff listing.

    The link is a convenience, not an identity: whoever holds it may opt in, but a new account is
    always made for the invited address, and an existing account must log in first."""
    invitation = invitations.find_open_invitation(token)
    if invitation is None:
        return render_template("workers/invitation_invalid.html"), 404
    this_page = url_for(".accept_invitation", token=token)

    if current_user.is_authenticated and current_user.role != "worker":
        return render_template("workers/invitation_other_role.html", invitation=invitation)
    if not current_user.is_authenticated and service.account_exists(invitation.email):
        return render_template(
            "workers/invitation_login.html",
            invitation=invitation,
            login_url=url_for("accounts.login", next=this_page),
        )

    logged_in = current_user.is_authenticated
    form_class = InvitationProfileForm if logged_in else InvitationForm
    prefill = _initial(service.prefill_from_invitation(invitation), phone=current_user.phone if logged_in else None)
    form = form_class(data=prefill, sectors=_sector_choices())
    if form.validate_on_submit():
        try:
            if logged_in:
                profile = service.accept_invitation(
                    invitation, form.to_data(), form.consent.data, user=current_user._get_current_object()
                )
            else:
                account = service.NewAccount(name=form.name.data, password=form.password.data)
                profile = service.accept_invitation(invitation, form.to_data(), form.consent.data, account=account)
        except DomainError as error:
            _show_error(form, error)
        else:
            if not logged_in:
                login_user(profile.user)
            flash(
                _("Welkom! Je profiel is opgeslagen. We zoeken regelmatig naar passend werk en mailen je als er iets is.")
            )
            return redirect(url_for(".profile"))
    return render_template(
        "workers/invitation.html", form=form, invitation=invitation, logged_in=logged_in, **_page_context()
    )


# ---------------------------------------------------------------- privacy: consent, export, erasure


# Pages a worker with consent to an older text may still open before answering the new one.
RECONSENT_EXEMPT = {"workers.reconsent", "workers.export", "workers.erase", "workers.withdraw",
                    "workers.still_available"}


@bp.before_app_request
def _ask_for_new_consent():
    """A new consent text (CONSENT_VERSION): on their next visit a worker is asked again first."""
    if request.method != "GET" or request.blueprint not in ("workers", "matches", "public"):
        return None
    if request.endpoint in RECONSENT_EXEMPT or not current_user.is_authenticated or current_user.role != "worker":
        return None
    if privacy.needs_reconsent(service.profile_of(current_user)):
        return redirect(url_for("workers.reconsent"))
    return None


@bp.route("/toestemming", methods=["GET", "POST"])
@role_required("worker")
def reconsent():
    profile = service.profile_of(current_user)
    form = ReconsentForm()
    if form.validate_on_submit():
        try:
            privacy.reconsent(current_user, form.consent.data)
        except DomainError as error:
            _show_error(form, error)
        else:
            flash(_("Dank je. We zoeken weer passend werk voor je."))
            return redirect(url_for(".profile"))
    return render_template("workers/reconsent.html", form=form, profile=profile,
                           needed=privacy.needs_reconsent(profile), **_page_context())


@bp.get("/mijn-gegevens.json")
@role_required("worker")
def export():
    body = json.dumps(privacy.export_user(current_user._get_current_object()), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="nlwerktdoor-mijn-gegevens.json"'})


@bp.route("/gegevens-wissen", methods=["GET", "POST"])
@role_required("worker")
def erase():
    form = EraseForm()
    if form.validate_on_submit():
        try:
            privacy.erase_own_account(current_user._get_current_object(), form.password.data, form.confirm.data)
        except DomainError as error:
            _show_error(form, error)
        else:
            logout_user()
            flash(_("Al je gegevens zijn gewist. Bedankt dat je meedeed."))
            return redirect(url_for("public.home"))
    return render_template("workers/erase.html", form=form)


@bp.route("/nog-beschikbaar/<token>", methods=["GET", "POST"])
def still_available(token: str):
    """The link in the "still available?" email; GET only shows the question (mail scanners open links)."""
    profile = privacy.profile_for_token(token)
    if profile is None:
        return render_template("workers/still_available_invalid.html"), 404
    form = StillAvailableForm()
    if form.validate_on_submit():
        try:
            privacy.answer_still_available(token, form.answer.data == "yes")
        except NotFoundError:
            abort(404)
        return render_template("workers/still_available_done.html", available=form.answer.data == "yes")
    return render_template("workers/still_available.html", form=form, profile=profile)
