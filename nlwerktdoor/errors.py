"""Domain errors and the friendly HTTP error pages."""
from flask import Flask, render_template
from flask_babel import gettext as _


class DomainError(Exception):
    """Base of every error a service raises on purpose; `field` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowedError(DomainError):
    """The acting user may not do this (maps to 403/404 in views)."""


class NotFoundError(DomainError):
    pass


class ValidationError(DomainError):
    pass


def init_app(app: Flask) -> None:
    titles = {
        400: lambda: _("Ongeldig verzoek"),
        403: lambda: _("Geen toegang"),
        404: lambda: _("Niet gevonden"),
        405: lambda: _("Niet toegestaan"),
        413: lambda: _("Bestand te groot"),
        429: lambda: _("Te veel pogingen"),
        500: lambda: _("Er ging iets mis"),
    }

    def handler(error):
        code = getattr(error, "code", 500) or 500
        title = titles.get(code, titles[500])()
        return render_template("errors/error.html", code=code, title=title), code

    for code in titles:
        app.register_error_handler(code, handler)
