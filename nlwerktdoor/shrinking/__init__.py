"""Blueprint: shrinking."""
from flask import Blueprint

bp = Blueprint("shrinking", __name__)

from . import views  # noqa: E402,F401
