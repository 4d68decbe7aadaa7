"""Blueprint: growing."""
from flask import Blueprint

bp = Blueprint("growing", __name__)

from . import views  # noqa: E402,F401
