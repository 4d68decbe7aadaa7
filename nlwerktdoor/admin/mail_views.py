"""Admin pages for the outbox: counts per status, failed and suppressed mail, retry, lift a suppression."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField

from ..auth import role_required
from ..errors import DomainError, NotAllowedError, NotFoundError
from ..services import outbox
from . import bp

STATUS_LABELS = {
    "pending": _l("wacht"),
    "sending": _l("wordt verstuurd"),
    "sent": _l("verstuurd"),
    "failed": _l("mislukt"),
    "suppressed": _l("tegengehouden"),
}


class LiftSuppressionForm(FlaskForm):
    # Kept here rather than in forms.py: only this page uses it.
    resend = BooleanField(_l("Tegengehouden e-mails aan dit adres opnieuw versturen"), default=True)


@bp.get("/mail")
@role_required("admin")
def mail_overview():
    status = request.args.get("status", "")
    status = status if status in STATUS_LABELS else ""
    recipient = request.args.get("ontvanger", "")[:254]
    template = request.args.get("soort", "")[:60]
    return render_template(
        "admin/mail.html",
        counts=outbox.status_counts(),
        emails=outbox.find_emails(status or None, recipient, template),
        suppressions=outbox.list_suppressions(),
        templates=outbox.email_templates(),
        filters={"status": status, "ontvanger": recipient, "soort": template},
        labels=STATUS_LABELS,
        lift_form=LiftSuppressionForm(formdata=None),
    )


@bp.post("/mail/<int:email_id>/opnieuw")
@role_required("admin")
def mail_retry(email_id: int):
    try:
        email = outbox.retry_email(email_id, current_user)
    except (NotFoundError, NotAllowedError):
        abort(404)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("De e-mail aan %(recipient)s staat weer in de wachtrij.", recipient=email.recipient), "info")
    return redirect(url_for("admin.mail_overview"))


@bp.post("/mail/blokkades/<int:suppression_id>/opheffen")
@role_required("admin")
def mail_lift(suppression_id: int):
    form = LiftSuppressionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        suppression, requeued = outbox.lift_suppression(suppression_id, current_user, resend_held=form.resend.data)
    except (NotFoundError, NotAllowedError):
        abort(404)
    flash(
        _("De blokkade van %(address)s is opgeheven; %(count)s e-mail(s) staan weer in de wachtrij.",
          address=suppression.address, count=requeued),
        "info",
    )
    return redirect(url_for("admin.mail_overview"))
