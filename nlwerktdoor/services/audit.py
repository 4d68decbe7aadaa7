"""The audit log of coordinator, admin and system actions.

`record` only adds a row to the session: the caller commits it together with the change it
describes, so a rolled-back change leaves no entry and a committed change always has one.
"""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import AuditEntry, User
from .postings import Page

PER_PAGE = 50


def _plain(value):
    """Details are stored as JSON: dates become ISO text, anything else unknown becomes text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def record(actor: User | None, action: str, obj, **details) -> AuditEntry:
    """Add an audit entry for `action` by `actor` (None = the system) on a model instance. No commit.

    The object must have its primary key already (flush first when it is new)."""
    identity = inspect(obj).identity or tuple(
        getattr(obj, column.key) for column in inspect(type(obj)).primary_key
    )
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=obj.__tablename__,
        object_id=":".join(str(part) for part in identity),
        details=_plain(details),
    )
    db.session.add(entry)
    return entry


def entries(page: int = 1, per_page: int = PER_PAGE) -> Page[AuditEntry]:
    """Newest first; a page number past the end shows the last page."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    pages = max(1, -(-total // per_page))
    page = min(max(page or 1, 1), pages)
    items = db.session.scalars(
        sa.select(AuditEntry)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(items=list(items), page=page, per_page=per_page, total=total)
