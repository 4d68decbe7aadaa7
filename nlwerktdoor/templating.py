"""Jinja helpers: reference-data labels in the user's language, dates, navigation."""
from datetime import date, datetime

from flask import Flask
from flask_babel import get_locale

from . import reference


def _locale() -> str:
    return str(get_locale() or "nl")


def occupation_label(occupation_id: str) -> str:
    return reference.occupation_label(occupation_id, _locale())


def skill_label(skill_id: str) -> str:
    return reference.skill_label(skill_id, _locale())


def place_label(pc4: str) -> str:
    place = reference.place(pc4)
    return f"{pc4} {place.place}" if place else pc4


def region_label(pc4: str) -> str:
    place = reference.place(pc4)
    return place.region if place else ""


def sector_label(sector) -> str:
    if sector is None:
        return ""
    return sector.name(_locale())


def format_date(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d-%m-%Y %H:%M") if _locale() == "nl" else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d-%m-%Y") if _locale() == "nl" else value.isoformat()
    return str(value)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        occupation=occupation_label,
        skill=skill_label,
        place=place_label,
        region=region_label,
        sector=sector_label,
        date=format_date,
    )
    app.jinja_env.globals.update(current_locale=_locale, certificates=reference.CERTIFICATES)
