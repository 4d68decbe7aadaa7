"""Admin page for the audit log: who verified, changed a trend or a role, and when."""
from flask import render_template, request
from flask_babel import lazy_gettext as _l

from ..auth import role_required
from ..services import audit
from . import bp

ACTION_LABELS = {
    "organisation.verify": _l("organisatie geverifieerd"),
    "sector.set_trend": _l("trend van sector gewijzigd"),
    "user.role": _l("rol van gebruiker gewijzigd"),
    "email.retry": _l("e-mail opnieuw in de wachtrij gezet"),
    "email.lift_suppression": _l("blokkade van e-mailadres opgeheven"),
}


@bp.get("/audit")
@role_required("admin")
def audit_log():
    entries = audit.entries(page=request.args.get("pagina", 1, type=int))
    return render_template("admin/audit.html", entries=entries, labels=ACTION_LABELS)
