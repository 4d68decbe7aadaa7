"""Language choice: Dutch first, English second (user setting, then ?lang=, then the browser)."""
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, g, has_app_context, has_request_context, request, session
from flask_babel import force_locale, get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup, escape

from .extensions import babel


def select_locale() -> str:
    languages = ("nl", "en")
    if not has_request_context():
        # Commands and jobs: Dutch unless a caller forces the recipient's language (force_locale).
        return "nl"
    chosen = request.args.get("lang")
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or "nl"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    # Templates translate through the catalog of the current language, looked up once per language
    # and request instead of on every string: Flask-Babel's own lookup took ~8 us a string, and a
    # page of search results has some fifty.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: (_FIXED.get() or _catalog()).ugettext(s),
        ngettext=lambda s, p, n: (_FIXED.get() or _catalog()).ungettext(s, p, n),
        pgettext=lambda c, s: (_FIXED.get() or _catalog()).upgettext(c, s),
        npgettext=lambda c, s, p, n: (_FIXED.get() or _catalog()).unpgettext(c, s, p, n),
        newstyle=True,
    )
    # `_()` straight to the catalog: Jinja's alias looks `gettext` up and calls it through the
    # template context twice (~4 us a string); the same newstyle rules in one call, with the catalog
    # looked up once per render (a page asks for some seventy strings).
    app.jinja_env.globals["_"] = _template_gettext
    app.context_processor(lambda: {_RENDER_CATALOG: _FIXED.get() or _catalog()})


# The name under which a render's template context holds its catalog.
_RENDER_CATALOG = "_nlwerktdoor_catalog"


@pass_context
def _template_gettext(context, string: str, **variables) -> str:
    """`_("...", name=value)` in a template, as Jinja's newstyle gettext does it: the translation is
    always a format string, and in an HTML template it is markup whose variables are escaped. The
    catalog is the render's (a macro imported without context looks it up itself)."""
    catalog = context.get(_RENDER_CATALOG) or _FIXED.get() or _catalog()
    translated = catalog.ugettext(string)
    if not context.eval_ctx.autoescape:
        return translated % variables
    # What Markup's own % does (escape every argument that is not a number), without its helper
    # object per argument: a page of search results formats some forty strings.
    return Markup(translated % {name: value if isinstance(value, (int, float)) else escape(value)
                                for name, value in variables.items()})


# The catalog fixed for a stretch of rendering (catalog_fixed), else None: the current one.
_FIXED: ContextVar = ContextVar("nlwerktdoor_fixed_catalog", default=None)


@contextmanager
def catalog_fixed(locale: str) -> Iterator[None]:
    """Render in `locale` (flask_babel.force_locale) with its catalog looked up once. An email's
    templates ask for a hundred strings or so, and finding the current catalog for each (the
    locale, then the catalog kept on `g`) was a tenth of the outbox sender's CPU per email."""
    with force_locale(locale):
        token = _FIXED.set(get_translations())
        try:
            yield
        finally:
            _FIXED.reset(token)


def _catalog():
    """flask_babel.get_translations(), kept on `g` with the locale it is for. force_locale (an email
    in its recipient's language) makes get_locale() another object, so the catalog is looked up again."""
    if not has_app_context():
        return get_translations()
    locale = get_locale()
    kept = g.get("_catalog")
    if kept is None or kept[0] is not locale:
        kept = g._catalog = (locale, get_translations())
    return kept[1]
