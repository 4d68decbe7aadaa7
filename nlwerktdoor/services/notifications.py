"""What a matching run tells people: one digest per recipient per run, never one email per match.

The growing side sees candidates pseudonymously (occupation, skills, region, distance,
availability): no name, email, phone or exact postcode leaves the platform before a mutual yes.
Everything queued here is plain JSON (ids and strings); labels are rendered in the recipient's
language when the email is composed.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import load_only, selectinload

from .. import reference
from ..extensions import db
from ..models import Match, MatchRun, Shortage, StaffListing, User, WorkerProfile
from . import accounts, outbox
# The one normalisation of an address: users_by_email finds accounts by it, as they are stored.
from .accounts import normalise_email
from .bulk import chunks

_DIGEST_ITEMS_PER_BATCH = 2000  # matches in the digests built and queued together (a few MB of JSON)
# Postings' summaries kept for reuse (digest_item) before they are let go: a national run's digests
# name about 1.3 million postings, and at most a few hundred bytes each that would add up to a gigabyte.
_SUMMARIES_KEPT = 100_000


def queue_run_digests(run: MatchRun, new_matches: list[Match]) -> int:
    """Queue one digest per recipient for this run's new matches; returns how many were queued (no commit)."""
    per_recipient: dict[str, list[tuple[str, Match]]] = defaultdict(list)
    loaded = _load_sides(new_matches)  # noqa: F841 — held: the session keeps loaded objects only while referenced
    for match in new_matches:
        per_recipient[normalise_email(match.shortage.contact_email)].append(("growing", match))
        candidate_email = candidate_contact_email(match)
        if candidate_email:
            per_recipient[normalise_email(candidate_email)].append(("candidate", match))
    per_recipient.pop("", None)
    users = users_by_email(per_recipient)
    queued = 0
    emails: list[tuple] = []
    items_in_batch = 0
    login_url = external_url("accounts.login")
    # A posting's summary, per language, is made once: a shortage is in the digests of its
    # employer and of each candidate it was matched to, a listing in its own and each employer's.
    summaries: dict[tuple, dict] = {}
    for recipient in sorted(per_recipient):
        user = users.get(recipient)
        locale = recipient_locale(user)
        items = per_recipient.pop(recipient)
        items.sort(key=lambda item: (-item[1].score, item[1].id))
        data = {
            "recipient_name": user.name if user is not None else "",
            "run_id": run.id,
            "matches": [digest_item(side, match, locale, summaries) for side, match in items],
            "set_password_url": set_password_url(user),
            "login_url": login_url,
        }
        emails.append((recipient, locale, "digest", data, f"digest:{run.id}:{recipient}"))
        items_in_batch += len(items)
        # Queued in batches of about _DIGEST_ITEMS_PER_BATCH matches: a national run's digests, all
        # at once, would hold gigabytes of JSON (an employer's digest alone can list hundreds).
        if items_in_batch >= _DIGEST_ITEMS_PER_BATCH:
            queued += sum(email is not None for email in outbox.queue_emails(emails, objects=False))
            emails, items_in_batch = [], 0
            if len(summaries) > _SUMMARIES_KEPT:
                summaries.clear()
    if emails:
        queued += sum(email is not None for email in outbox.queue_emails(emails, objects=False))
    return queued


def _load_sides(matches: list[Match]) -> list:
    """Both sides of every match into the session in a few queries: reading match.shortage,
    match.worker.user or match.listing afterwards finds them there instead of asking one by one.
    Returns what was loaded, for the caller to hold on to while it reads."""
    loaded = []
    # Only the columns a digest shows (shortage_summary, candidate_summary, candidate_contact_email):
    # a national run loads tens of thousands of each, and descriptions and skill lists add up.
    shortage_columns = load_only(Shortage.title, Shortage.organisation_id, Shortage.occupation_id, Shortage.pc4,
                                 Shortage.start_date, Shortage.hours_per_week, Shortage.positions,
                                 Shortage.training_offered, Shortage.open_hiring, Shortage.contact_email)
    worker_columns = load_only(WorkerProfile.user_id, WorkerProfile.occupation_id, WorkerProfile.pc4,
                               WorkerProfile.available_from, WorkerProfile.hours_per_week)
    listing_columns = load_only(StaffListing.occupation_id, StaffListing.pc4, StaffListing.available_from,
                                StaffListing.hours_per_week, StaffListing.count, StaffListing.transfer_type,
                                StaffListing.contact_email)
    for model, ids, options in (
        (Shortage, {m.shortage_id for m in matches}, (shortage_columns, selectinload(Shortage.organisation))),
        (WorkerProfile, {m.worker_id for m in matches if m.worker_id is not None},
         (worker_columns, selectinload(WorkerProfile.user))),
        (StaffListing, {m.listing_id for m in matches if m.listing_id is not None}, (listing_columns,)),
    ):
        for chunk in chunks(sorted(ids), 1000):
            loaded.extend(db.session.scalars(sa.select(model).where(model.id.in_(chunk)).options(*options)))
    return loaded


def digest_item(side: str, match: Match, locale: str, summaries: dict[tuple, dict] | None = None) -> dict:
    """One match as a digest shows it: the posting, the (pseudonymous) candidate and why they fit.
    `summaries`: the postings' summaries made so far, reused (by posting and language)."""
    summaries = {} if summaries is None else summaries
    explanation = match.explanation or {}
    shortage_key = ("shortage", match.shortage_id, locale)
    shortage = summaries.get(shortage_key)
    if shortage is None:
        shortage = summaries[shortage_key] = shortage_summary(match, locale)
    candidate_key = ("worker", match.worker_id, locale) if match.worker_id is not None else (
        "listing", match.listing_id, locale)
    candidate = summaries.get(candidate_key)
    if candidate is None:
        candidate = summaries[candidate_key] = candidate_summary(match, locale)
    return {
        "match_id": match.id,
        "side": side,
        "url": match_url(match.id),
        "score": round(float(match.score or 0), 2),
        "distance_km": round(float(match.distance_km or 0), 1),
        "shortage": shortage,
        "candidate": candidate,
        "matched": list(explanation.get("matched", [])),
        "related": [list(pair) for pair in explanation.get("related", [])],
        "missing": list(explanation.get("missing", [])),
        "nice_matched": list(explanation.get("nice_matched", [])),
        "training_offered": bool(explanation.get("training_offered", shortage["training_offered"])),
    }


def shortage_summary(match: Match, locale: str) -> dict:
    shortage = match.shortage
    return {
        "id": shortage.id,
        "title": shortage.title,
        "organisation": shortage.organisation.name if shortage.organisation else "",
        "occupation": shortage.occupation_id,
        "pc4": shortage.pc4,  # the workplace: public information
        "start_date": format_day(shortage.start_date, locale),
        "hours_per_week": shortage.hours_per_week,
        "positions": shortage.positions,
        "training_offered": bool(shortage.training_offered),
        "open_hiring": bool(shortage.open_hiring),
    }


def candidate_summary(match: Match, locale: str) -> dict:
    """Pseudonymous: region instead of postcode, no name or contact details. Only what an email
    shows: the skills that count are the match's own (matched, related, missing); the candidate's
    whole skill list and certificates stay on the match's page, behind a login (without them a national
    run's digests take 1.1 GB as stored instead of 1.9 GB; nothing read them)."""
    if match.worker_id is not None:
        worker = match.worker
        return {
            "type": "worker",
            "occupation": worker.occupation_id,
            "region": region_name(worker.pc4),
            "available_from": format_day(worker.available_from, locale),
            "hours_per_week": worker.hours_per_week,
        }
    listing = match.listing
    return {
        "type": "listing",
        "occupation": listing.occupation_id,
        "region": region_name(listing.pc4),
        "available_from": format_day(listing.available_from, locale),
        "hours_per_week": listing.hours_per_week,
        "count": listing.count,
        "transfer_type": listing.transfer_type,
    }


def candidate_contact_email(match: Match) -> str | None:
    if match.worker_id is not None:
        return match.worker.user.email if match.worker and match.worker.user else None
    return match.listing.contact_email if match.listing else None


def users_by_email(emails) -> dict[str, User]:
    """The accounts of these addresses, by normalised address (those with none left out)."""
    emails = sorted({normalise_email(e) for e in emails if e})
    found = {}
    # A thousand addresses a query: a national run's digests go to hundreds of thousands of people,
    # more than one statement may carry (65,535 parameters on PostgreSQL).
    for chunk in chunks(emails, 1000):
        for user in db.session.scalars(users_with_emails(chunk)):
            found[user.email] = user
    return found


def users_with_emails(normalised: list[str]):
    """The accounts of these normalised addresses: a lookup in the unique index of User.email, as the
    addresses are stored normalised (accounts.normalise_email; login looks them up so too). Asked as
    lower(email), PostgreSQL read the whole table for each thousand addresses: 272 times for the
    272,000 recipients of a national run's digests, with 1.9 million accounts."""
    return sa.select(User).where(User.email.in_(normalised))


def recipient_locale(user: User | None) -> str:
    languages = current_app.config.get("LANGUAGES", ("nl", "en"))
    return user.locale if user is not None and user.locale in languages else "nl"


def set_password_url(user: User | None) -> str | None:
    """Accounts made by an import or invitation have no password yet: give them a way in."""
    if user is None or user.has_password or not user.active:
        return None
    return external_url("accounts.set_password", token=accounts.make_password_token(user))


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email, built without a request: SERVER_NAME when set (the
    request's Host header is never trusted for links), else the development server (DEV_SERVER)."""
    where = _link_base()
    # One adapter per app context and place: a run's digests link every match, and binding the URL
    # map anew for each link was a tenth of storing a run.
    kept = g.get("_link_adapter")
    if kept is None or kept[0] != where:
        kept = g._link_adapter = (where, current_app.url_map.bind(where[0], script_name=where[1],
                                                                  url_scheme=where[2]))
    return kept[1].build(endpoint, values, force_external=True)


def _link_base() -> tuple[str, str, str]:
    """(host, root, scheme) of the links in emails (external_url)."""
    config = current_app.config
    server_name = config.get("SERVER_NAME")
    scheme = (config.get("PREFERRED_URL_SCHEME") or "http") if server_name else "http"
    return server_name or config["DEV_SERVER"], config.get("APPLICATION_ROOT") or "/", scheme


def match_url(match_id: int) -> str:
    """external_url("matches.detail", match_id=…), from the link of one id with the id put in: a run
    links every match in its digests, and building each link through the URL map was a seventh of
    queuing them (at 100k x 20k, 4.3 of 30.5 s profiled)."""
    where = _link_base()
    kept = g.get("_match_link")
    if kept is None or kept[0] != where:
        link = external_url("matches.detail", match_id=_LINK_SENTINEL)
        before, found, after = link.partition(str(_LINK_SENTINEL))
        kept = g._match_link = (where, before, after) if found and str(_LINK_SENTINEL) not in after else (where,)
    if len(kept) == 1:  # a URL rule the id does not appear in as it is: built the slow way
        return external_url("matches.detail", match_id=match_id)
    return f"{kept[1]}{int(match_id)}{kept[2]}"


_LINK_SENTINEL = 987_654_321_012_345


def region_name(pc4: str | None) -> str:
    place = reference.place(pc4) if pc4 else None
    return place.region if place else ""


def format_day(value: date | None, locale: str) -> str:
    if value is None:
        return ""
    # Not strftime: a run formats two dates per match, and strftime is several times slower.
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}" if locale == "nl" else value.isoformat()
