"""Short-lived copies of what every visitor asks for (Flask-Caching; config: CACHE_TYPE).

- `remembered`: a value (counts, figures, choices) computed at most once per `seconds`;
- `anonymous_page`: the rendered public search for anonymous visitors, kept PUBLIC_PAGE_SECONDS.
  Rendering a page of twenty shortages costs more than every query behind it. Kept per language
  and per exact query; never for a logged-in user (their page carries a menu and a CSRF token of
  their own) or while a flash message waits. Security headers are added to every response
  afterwards, cached or not (security.py). Each web process also keeps the last
  PUBLIC_PAGE_LOCAL_ENTRIES pages it served, until the shared copy expires: under load every
  Redis round trip is a wait for the CPU, and a page asked again of the same process needs none.

A cache that fails (Redis down) is logged and passed by: the value is computed afresh.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

from flask import current_app, request, session
from flask_babel import get_locale
from flask_login import current_user

from .extensions import cache

log = logging.getLogger(__name__)
T = TypeVar("T")


# Values kept in this process only (`shared=False`): key -> (monotonic expiry, value).
_local: dict[str, tuple[float, object]] = {}


def remembered(key: str, seconds: int, compute: Callable[[], T], shared: bool = True,
               still_good: Callable[[T], bool] | None = None) -> T:
    """`compute()`, or its result of at most `seconds` ago (0 or less: always computed); with
    `still_good`, a shared value it rejects is computed again.

    shared: kept in the configured cache (Redis in production: one computation serves every web
    process). Not shared: kept in this process as it is — for a large value that every request
    reads (the counts per postcode area), copying it out of Redis and unpickling it each time costs
    more than computing it once per process now and then."""
    if seconds <= 0:
        return compute()
    if not shared:
        now = time.monotonic()
        hit = _local.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = compute()
        _local[key] = (now + seconds, value)
        return value
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 — a broken cache must not break the page
        log.exception("cache: could not read %s", key)
        return compute()
    if value is None or (still_good is not None and not still_good(value)):
        value = compute()
        try:
            cache.set(key, value, timeout=seconds)
        except Exception:  # noqa: BLE001
            log.exception("cache: could not keep %s", key)
    return value


def clear() -> None:
    """Forget everything kept, here and in the shared cache (tests; an admin action could use it)."""
    _local.clear()
    _pages.clear()
    cache.clear()


def public_seconds() -> int:
    """PUBLIC_COUNTS_SECONDS: how long public counts and choices are kept."""
    return int(current_app.config.get("PUBLIC_COUNTS_SECONDS") or 0)


# Pages kept in this process too: key -> (wall-clock expiry of the shared copy, page), least
# recently used first.
_pages: OrderedDict[str, tuple[float, str]] = OrderedDict()


def anonymous_page(name: str, render: Callable[[], str]) -> str:
    """The page `render()` makes, from the cache when an anonymous visitor asked the same just now."""
    seconds = int(current_app.config.get("PUBLIC_PAGE_SECONDS") or 0)
    if seconds <= 0 or current_user.is_authenticated or session.get("_flashes"):
        return render()
    query = urlencode(sorted(request.args.items(multi=True)))
    key = f"kept-page:{name}:{get_locale()}:{hashlib.sha256(query.encode()).hexdigest()[:32]}"
    now = time.time()
    kept = _pages.get(key)
    if kept is not None and kept[0] > now:
        _pages.move_to_end(key)
        return kept[1]
    # The shared copy carries its expiry, so that no process keeps a page longer than it (and a
    # copy past it, which a cache may hand out a moment late, is rendered again).
    expires, page = remembered(key, seconds, lambda: (now + seconds, render()), still_good=lambda shared: shared[0] > now)
    room = int(current_app.config.get("PUBLIC_PAGE_LOCAL_ENTRIES") or 0)
    if room > 0:
        _pages[key] = (expires, page)
        _pages.move_to_end(key)
        while len(_pages) > room:
            _pages.popitem(last=False)
    return page
