"""Language choice: Dutch first, English second (user setting, then ?lang=, then the browser)."""
from flask import Flask, has_request_context, request, session
from flask_login import current_user

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
