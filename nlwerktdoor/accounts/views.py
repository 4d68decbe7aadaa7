from flask import render_template_string

from . import bp


@bp.route("/inloggen", methods=["GET", "POST"])
def login():
    return "login"


@bp.post("/uitloggen")
def logout():
    return "logout"


@bp.get("/aanmelden")
def register():
    return "register"


@bp.get("/organisatie")
def organisation():
    return render_template_string("org")
