"""Shrinking side: staff listings, CSV upload, matches per listing and invitations to opt in."""
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import get_locale, ngettext
from flask_login import current_user

from ..auth import employer_required, own_or_404
from ..errors import DomainError
from ..extensions import db
from ..forms import sector_choices
from ..models import StaffListing
from ..posting_forms import apply_domain_error, upload_page, upload_progress, upload_status_page
from ..services import invitations, listings, sectors
from . import bp
from .forms import TRANSFER_CHOICES, InviteForm, ListingForm

shrinking_employer = employer_required("shrinking")


def _own_listing(listing_id: int) -> StaffListing:
    return own_or_404(db.session.get(StaffListing, listing_id), current_user.organisation_id)


def _listing_form(**kwargs) -> ListingForm:
    return ListingForm(sector_choices=sector_choices(sectors.all_sectors(), str(get_locale() or "nl")), **kwargs)


@bp.get("/")
@shrinking_employer
def index():
    return render_template(
        "shrinking/index.html", organisation=current_user.organisation,
        rows=listings.organisation_listings(current_user.organisation_id, request.args.get("pagina", 1, type=int)),
        transfer_labels=dict(TRANSFER_CHOICES),
    )


@bp.route("/nieuw", methods=["GET", "POST"])
@shrinking_employer
def create():
    form = _listing_form(data={"contact_email": current_user.email, "sector": current_user.organisation.sector_code})
    if form.validate_on_submit():
        try:
            listing = listings.create_listing(form.to_input(), current_user)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(_("Het aanbod is opgeslagen."), "success")
            return redirect(url_for(".detail", listing_id=listing.id))
    return render_template("shrinking/form.html", form=form, listing=None)


@bp.route("/<int:listing_id>/bewerken", methods=["GET", "POST"])
@shrinking_employer
def edit(listing_id: int):
    listing = _own_listing(listing_id)
    form = _listing_form(data=ListingForm.data_from(listing))
    if form.validate_on_submit():
        try:
            listings.update_listing(listing.id, form.to_input(), current_user)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(_("De wijzigingen zijn opgeslagen."), "success")
            return redirect(url_for(".detail", listing_id=listing.id))
    return render_template("shrinking/form.html", form=form, listing=listing)


@bp.post("/<int:listing_id>/sluiten")
@shrinking_employer
def close(listing_id: int):
    listings.close_listing(_own_listing(listing_id).id, current_user)
    flash(_("Het aanbod is gesloten: er worden geen nieuwe matches meer voor gezocht."), "success")
    return redirect(url_for(".detail", listing_id=listing_id))


@bp.post("/<int:listing_id>/heropenen")
@shrinking_employer
def reopen(listing_id: int):
    listings.reopen_listing(_own_listing(listing_id).id, current_user)
    flash(_("Het aanbod staat weer open."), "success")
    return redirect(url_for(".detail", listing_id=listing_id))


def _render_detail(listing: StaffListing, invite_form: InviteForm, status: int = 200):
    return render_template(
        "shrinking/detail.html", listing=listing, matches=listings.listing_matches(listing), invite_form=invite_form,
        transfer_labels=dict(TRANSFER_CHOICES), organisation=current_user.organisation,
    ), status


@bp.get("/<int:listing_id>")
@shrinking_employer
def detail(listing_id: int):
    return _render_detail(_own_listing(listing_id), InviteForm())


@bp.post("/<int:listing_id>/uitnodigen")
@shrinking_employer
def invite(listing_id: int):
    listing = _own_listing(listing_id)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            sent = invitations.create_invitations(listing.id, form.addresses(), current_user)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            waiting = sum(1 for invitation in sent if invitation.accepted_at is None)
            flash(ngettext("%(num)s uitnodiging verstuurd.", "%(num)s uitnodigingen verstuurd.", waiting), "success")
            if waiting < len(sent):
                flash(_("%(n)s van deze mensen hadden zich al aangemeld; zij krijgen geen nieuwe e-mail.",
                        n=len(sent) - waiting), "info")
            return redirect(url_for(".detail", listing_id=listing.id))
    return _render_detail(listing, form)


@bp.route("/upload", methods=["GET", "POST"])
@shrinking_employer
def upload():
    return upload_page("listings", "shrinking/upload.html", listings.CSV_COLUMNS)


@bp.get("/upload/<int:upload_id>")
@shrinking_employer
def upload_status(upload_id: int):
    return upload_status_page("listings", "shrinking/upload_status.html", upload_id)


@bp.get("/upload/<int:upload_id>/voortgang.json")
@shrinking_employer
def upload_progress_json(upload_id: int):
    return upload_progress("listings", upload_id)


@bp.get("/upload/voorbeeld.csv")
@shrinking_employer
def example_csv():
    body = listings.example_csv(current_user.organisation, current_user.email)
    return Response(
        body, mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="aanbod-voorbeeld.csv"'},
    )
