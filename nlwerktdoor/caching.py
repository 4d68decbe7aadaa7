"""Short-lived copies of what every visitor asks for (Flask-Caching; config: CACHE_TYPE).

- `remembered`: a value (counts, figures, choices) computed at most once per `seconds`;
- `anonymous_page`: the rendered public search for anonymous visitors, kept PUBLIC_PAGE_SECONDS.
  Rendering a page of twenty shortages costs more than every query behind it. Kept per language
  and per exact query; never for a logged-in user (their page carries a menu and a CSRF token of
  their own) or while a flash message waits. Security headers are added to every response
  afterwards, cached or not (security.py).

A cache that fails (Redis down) is logged and passed by: the value is computed afresh.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

from flask import current_app, request, session
from flask_babel import get_locale
from flask_login import current_user

from .extensions import cache

log = logging.getLogger(__name__)
T = TypeVar("T")


def remembered(key: str, seconds: int, compute: Callable[[], T]) -> T:
    """`compute()`, or its result of at most `seconds` ago (0 or less: always computed)."""
    if seconds <= 0:
        return compute()
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 — a broken cache must not break the page
        log.exception("cache: could not read %s", key)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, timeout=seconds)
        except Exception:  # noqa: BLE001
            log.exception("cache: could not keep %s", key)
    return value


def public_seconds() -> int:
    """PUBLIC_COUNTS_SECONDS: how long public counts and choices are kept."""
    return int(current_app.config.get("PUBLIC_COUNTS_SECONDS") or 0)


def anonymous_page(name: str, render: Callable[[], str]) -> str:
    """The page `render()` makes, from the cache when an anonymous visitor asked the same just now."""
    if current_user.is_authenticated or session.get("_flashes"):
        return render()
    query = urlencode(sorted(request.args.items(multi=True)))
    key = f"page:{name}:{get_locale()}:{hashlib.sha256(query.encode()).hexdigest()[:32]}"
    return remembered(key, int(current_app.config.get("PUBLIC_PAGE_SECONDS") or 0), render)
