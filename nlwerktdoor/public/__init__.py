"""Public pages: home, sources, and the JSON look-ups behind the occupation and skill pickers."""
from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402,F401
