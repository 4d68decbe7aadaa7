"""Jinja helpers: reference-data labels in the user's language, dates, navigation."""
from datetime import date, datetime

from flask import Flask
from flask_babel import get_locale
from jinja2 import pass_context

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


def format_date(value, locale: str | None = None) -> str:
    if value is None:
        return ""
    locale = locale or _locale()
    if isinstance(value, datetime):
        return value.strftime("%d-%m-%Y %H:%M") if locale == "nl" else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d-%m-%Y") if locale == "nl" else value.isoformat()
    return str(value)


# In templates, the language is looked up once per render (a context processor puts it in the
# render's context): get_locale() costs ~2 us, and a page of matches asks for it for every skill
# and date. A macro imported without context looks it up itself.
_RENDER_LOCALE = "_nlwerktdoor_locale"


def _render_locale(context) -> str:
    return context.get(_RENDER_LOCALE) or _locale()


@pass_context
def _current_locale(context) -> str:
    return _render_locale(context)


@pass_context
def _occupation_filter(context, occupation_id: str) -> str:
    return reference.occupation_label(occupation_id, _render_locale(context))


@pass_context
def _skill_filter(context, skill_id: str) -> str:
    return reference.skill_label(skill_id, _render_locale(context))


@pass_context
def _sector_filter(context, sector) -> str:
    return "" if sector is None else sector.name(_render_locale(context))


@pass_context
def _date_filter(context, value) -> str:
    return format_date(value, _render_locale(context))


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        occupation=_occupation_filter,
        skill=_skill_filter,
        place=place_label,
        region=region_label,
        sector=_sector_filter,
        date=_date_filter,
    )
    app.jinja_env.globals.update(current_locale=_current_locale, certificates=reference.CERTIFICATES)
    app.context_processor(lambda: {_RENDER_LOCALE: _locale()})
