from flask_login import login_required

from . import bp


@bp.get("/<int:match_id>")
@login_required
def detail(match_id: int):
    return "match"
