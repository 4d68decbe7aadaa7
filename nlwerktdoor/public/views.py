"""Public pages and the picker API (reference data only: no personal data is served here)."""
from flask import abort, jsonify, render_template, request
from flask_babel import get_locale

from .. import reference
from ..services import stats
from . import bp


def _locale() -> str:
    lang = request.args.get("lang")
    return lang if lang in ("nl", "en") else str(get_locale() or "nl")


@bp.get("/")
def home():
    return render_template("public/home.html", figures=stats.public_figures())


@bp.get("/bronnen")
def sources():
    return render_template("public/sources.html")


@bp.get("/api/occupations")
def api_occupations():
    locale = _locale()
    results = reference.search_occupations(request.args.get("q", "")[:100], locale)
    return jsonify(results=[{"id": o.id, "label": o.label(locale)} for o in results])


@bp.get("/api/occupations/<occupation_id>/skills")
def api_occupation_skills(occupation_id: str):
    occupation = reference.occupations().get(occupation_id)
    if occupation is None:
        abort(404)
    locale = _locale()
    return jsonify(
        occupation={"id": occupation.id, "label": occupation.label(locale)},
        essential=[{"id": s, "label": reference.skill_label(s, locale)} for s in occupation.essential_skills],
    )


@bp.get("/api/skills")
def api_skills():
    locale = _locale()
    results = reference.search_skills(request.args.get("q", "")[:100], locale)
    return jsonify(results=[{"id": s.id, "label": s.label(locale)} for s in results])
