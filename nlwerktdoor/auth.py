"""Access rules shared by the blueprints: who may open which page."""
from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def role_required(*roles: str):
    """Logged in, with one of these roles; anonymous visitors are sent to log in, others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def employer_required(side: str):
    """An employer member whose organisation works on this side ('shrinking' or 'growing')."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            organisation = current_user.organisation if current_user.role == "employer" else None
            if organisation is None or organisation.side != side:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def own_or_404(obj, organisation_id: int | None):
    """Another organisation's object is reported as missing, so ids cannot be probed."""
    if obj is None or organisation_id is None or getattr(obj, "organisation_id", None) != organisation_id:
        abort(404)
    return obj
