"""Blueprint: one match, seen by either side, where each side says yes or no."""
from flask import Blueprint

bp = Blueprint("matches", __name__)

from . import views  # noqa: E402,F401
