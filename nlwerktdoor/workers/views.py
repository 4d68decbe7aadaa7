from flask_login import login_required

from . import bp


@bp.get("/profiel")
@login_required
def profile():
    return "profile"


@bp.get("/matches")
@login_required
def matches():
    return "matches"
