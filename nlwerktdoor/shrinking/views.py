from flask_login import login_required

from . import bp


@bp.get("/")
@login_required
def index():
    return "shrinking"
