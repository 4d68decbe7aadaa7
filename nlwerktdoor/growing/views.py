"""Growing side: shortages, CSV upload, candidates per shortage, and the public list of open shortages."""
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import employer_required, own_or_404
from ..errors import DomainError
from ..extensions import db
from ..caching import anonymous_page
from ..models import Shortage
from ..posting_forms import apply_domain_error, upload_page, upload_progress, upload_status_page
from ..services import sectors, shortages
from . import bp
from .forms import PublicFilterForm, ShortageForm

growing_employer = employer_required("growing")


def _own_shortage(shortage_id: int) -> Shortage:
    return own_or_404(db.session.get(Shortage, shortage_id), current_user.organisation_id)


@bp.get("/mijn")
@growing_employer
def index():
    return render_template(
        "growing/index.html", organisation=current_user.organisation,
        rows=shortages.organisation_shortages(current_user.organisation_id, request.args.get("pagina", 1, type=int)),
    )


@bp.route("/nieuw", methods=["GET", "POST"])
@growing_employer
def create():
    form = ShortageForm(data={"contact_email": current_user.email})
    if form.validate_on_submit():
        try:
            shortage = shortages.create_shortage(form.to_input(), current_user)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(_("De vacature is opgeslagen."), "success")
            return redirect(url_for(".detail", shortage_id=shortage.id))
    return render_template("growing/form.html", form=form, shortage=None)


@bp.route("/<int:shortage_id>/bewerken", methods=["GET", "POST"])
@growing_employer
def edit(shortage_id: int):
    shortage = _own_shortage(shortage_id)
    form = ShortageForm(data=ShortageForm.data_from(shortage))
    if form.validate_on_submit():
        try:
            shortages.update_shortage(shortage.id, form.to_input(), current_user)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(_("De wijzigingen zijn opgeslagen."), "success")
            return redirect(url_for(".detail", shortage_id=shortage.id))
    return render_template("growing/form.html", form=form, shortage=shortage)


# Button-only actions: (service function, message after success).
_ACTIONS = {
    "vervuld": (shortages.mark_filled, lambda: _("De vacature is als vervuld gemarkeerd.")),
    "sluiten": (shortages.close_shortage, lambda: _("De vacature is gesloten: er worden geen nieuwe kandidaten meer voorgesteld.")),
    "heropenen": (shortages.reopen_shortage, lambda: _("De vacature staat weer open.")),
}


@bp.post("/<int:shortage_id>/<any(vervuld, sluiten, heropenen):action>")
@growing_employer
def act(shortage_id: int, action: str):
    service, message = _ACTIONS[action]
    service(_own_shortage(shortage_id).id, current_user)
    flash(message(), "success")
    return redirect(url_for(".detail", shortage_id=shortage_id))


@bp.get("/<int:shortage_id>")
@growing_employer
def detail(shortage_id: int):
    shortage = _own_shortage(shortage_id)
    return render_template(
        "growing/detail.html", shortage=shortage, candidates=shortages.shortage_candidates(shortage),
        organisation=current_user.organisation,
    )


@bp.route("/upload", methods=["GET", "POST"])
@growing_employer
def upload():
    return upload_page("shortages", "growing/upload.html", shortages.CSV_COLUMNS)


@bp.get("/upload/<int:upload_id>")
@growing_employer
def upload_status(upload_id: int):
    return upload_status_page("shortages", "growing/upload_status.html", upload_id)


@bp.get("/upload/<int:upload_id>/voortgang.json")
@growing_employer
def upload_progress_json(upload_id: int):
    return upload_progress("shortages", upload_id)


@bp.get("/upload/voorbeeld.csv")
@growing_employer
def example_csv():
    body = shortages.example_csv(current_user.organisation, current_user.email)
    return Response(
        body, mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="tekorten-voorbeeld.csv"'},
    )


# ---------------------------------------------------------------- public pages (no login)


@bp.get("/")
def public_list():
    return anonymous_page("public-list", _render_public_list)


def _render_public_list() -> str:
    locale = str(get_locale() or "nl")
    form = PublicFilterForm(formdata=request.args, sector_choices=sectors.public_sector_choices(locale))
    form.validate()  # errors are shown next to the filters; a bad filter is simply not applied
    sector = form.sector.data if not form.sector.errors else None
    pc4 = form.postcode.data if form.postcode.data and not form.postcode.errors else None
    radius = form.radius.data if not form.radius.errors else 25
    results = shortages.public_shortages(
        sector_code=sector or None, pc4=pc4, radius_km=radius, page=request.args.get("pagina", 1, type=int)
    )
    return render_template("growing/public_list.html", form=form, results=results, pc4=pc4)


@bp.get("/vacature/<int:shortage_id>")
def public_detail(shortage_id: int):
    shortage = shortages.public_shortage(shortage_id)
    if shortage is None:
        abort(404)
    return render_template("growing/public_detail.html", shortage=shortage)
