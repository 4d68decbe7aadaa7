"""Blueprint: workers."""
from flask import Blueprint

bp = Blueprint("workers", __name__)

from . import views  # noqa: E402,F401
