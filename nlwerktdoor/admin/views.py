"""Coordinators and admins: verify organisations, regional figures, sector trends, users."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import InputRequired

from .. import reference
from ..auth import role_required
from ..errors import DomainError, NotAllowedError, NotFoundError
from ..extensions import db
from ..models import Organisation
from ..services import accounts, organisations, privacy, sectors
from ..templating import sector_label
from . import bp
from .forms import CoordinatorForm, SectorTrendForm


def _apply_error(form, error: DomainError) -> None:
    target = getattr(form, error.field, None) if error.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, error.message]
    else:
        form.form_errors.append(error.message)


@bp.get("/")
@role_required("coordinator", "admin")
def index():
    own_region = current_user.region_code if current_user.role == "coordinator" else None
    return render_template(
        "admin/index.html",
        awaiting=organisations.awaiting_verification(),
        figures=organisations.region_figures(first_region=own_region),
    )


@bp.post("/organisaties/<int:org_id>/verifieren")
@role_required("coordinator", "admin")
def verify(org_id: int):
    try:
        organisation = organisations.verify(org_id, current_user)
    except NotFoundError:
        abort(404)
    except NotAllowedError:
        abort(403)
    flash(_("%(name)s is geverifieerd.", name=organisation.name), "info")
    return redirect(url_for("admin.index"))


@bp.get("/sectoren")
@role_required("admin")
def sector_list():
    rows = [(sector, SectorTrendForm(formdata=None, trend=sector.trend)) for sector in sectors.all_sectors()]
    return render_template("admin/sectors.html", rows=rows)


@bp.post("/sectoren/<code>")
@role_required("admin")
def sector_trend(code: str):
    form = SectorTrendForm()
    if not form.validate_on_submit():
        flash(_("Kies een geldige trend."), "error")
        return redirect(url_for("admin.sector_list"))
    try:
        sector = sectors.set_trend(code, form.trend.data, current_user)
    except DomainError:
        abort(404)
    flash(_("De trend van %(name)s is bijgewerkt.", name=sector_label(sector)), "info")
    return redirect(url_for("admin.sector_list"))


@bp.route("/gebruikers", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = CoordinatorForm()
    if form.validate_on_submit():
        try:
            user = accounts.make_coordinator(form.email.data, form.region.data or None, current_user)
        except DomainError as error:
            _apply_error(form, error)
        else:
            flash(_("%(email)s is nu coördinator.", email=user.email), "info")
            return redirect(url_for("admin.users"))
    query = request.args.get("q", "")[:100]
    return render_template(
        "admin/users.html", form=form, users=accounts.list_users(query), query=query,
        regions=reference.regions(),
    )


# ---------------------------------------------------------------- privacy (services/privacy.py)


class _ConfirmForm(FlaskForm):
    confirm = BooleanField(_l("Ja, ik weet wat ik doe. Dit kan niet ongedaan worden gemaakt."),
                           validators=[InputRequired(_l("Vink het vakje aan om te bevestigen."))])


@bp.route("/crisis-voorbij", methods=["GET", "POST"])
@role_required("admin")
def crisis_over():
    """Two steps: this page shows what will go (and what stays); the confirmed POST does it."""
    form = _ConfirmForm()
    if form.validate_on_submit():
        try:
            report = privacy.crisis_over(current_user, form.confirm.data)
        except DomainError as error:
            _apply_error(form, error)
        else:
            return render_template("admin/crisis_over_done.html", report=report)
    return render_template("admin/crisis_over.html", form=form, preview=privacy.crisis_preview())


@bp.route("/organisaties/<int:org_id>/gegevens-wissen", methods=["GET", "POST"])
@role_required("admin")
def erase_organisation(org_id: int):
    organisation = db.session.get(Organisation, org_id)
    if organisation is None:
        abort(404)
    form = _ConfirmForm()
    if form.validate_on_submit():
        try:
            report = privacy.erase_organisation(org_id, current_user, form.confirm.data)
        except NotFoundError:
            abort(404)
        except DomainError as error:
            _apply_error(form, error)
        else:
            flash(_("De persoonsgegevens van %(name)s zijn gewist: %(members)s accounts, %(postings)s plaatsingen gesloten.",
                    name=organisation.name, members=report.members, postings=report.postings_closed), "info")
            return redirect(url_for("admin.index"))
    return render_template("admin/erase_organisation.html", form=form, organisation=organisation)
