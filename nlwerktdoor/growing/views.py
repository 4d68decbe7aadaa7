from flask_login import login_required

from . import bp


@bp.get("/mijn")
@login_required
def index():
    return "growing"


@bp.get("/")
def public_list():
    return "public list"
