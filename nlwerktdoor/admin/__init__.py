"""Blueprint: admin."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

# One module per area, so the outbox and the job pages do not share a file with the rest.
from . import audit_views, jobs_views, mail_views, views  # noqa: E402,F401
