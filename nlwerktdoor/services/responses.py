"""Answering a match: each side says yes or no; contact details are exchanged only on a mutual yes.

Invariants: a 'no' is final for that pair; a mutual yes cannot be taken back; the introduction
(outcome, introduced_at, open-hiring fill, the two contact emails) happens exactly once, in the
same transaction as the answer that completed it.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from ..errors import DomainError, NotFoundError
from ..extensions import db
from ..models import Match, Shortage, User
from ..models.database import utcnow
from . import notifications, outbox

GROWING = "growing"
CANDIDATE = "candidate"


class AnswerError(DomainError):
    """An answer that is not possible any more (a 'no' given, a mutual yes, a closed shortage)."""


def side_for(user, match: Match) -> str | None:
    """Which side of this match the user answers for, or None when the match is none of their business."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    is_employer = user.role == "employer" and user.organisation_id is not None
    if is_employer and match.shortage is not None and match.shortage.organisation_id == user.organisation_id:
        return GROWING
    if match.worker_id is not None:
        return CANDIDATE if match.worker is not None and match.worker.user_id == user.id else None
    if is_employer and match.listing is not None and match.listing.organisation_id == user.organisation_id:
        return CANDIDATE
    return None


def answer(match_id: int, user: User, yes: bool) -> Match:
    """Record the user's side's answer; on the second yes introduce both sides (and on an
    open-hiring shortage fill a position). Raises NotFoundError when the user has no side."""
    # Lock the match (and below the shortage) so two simultaneous answers cannot both be "the second yes".
    match = db.session.scalar(
        sa.select(Match).where(Match.id == match_id).with_for_update().execution_options(populate_existing=True)
    )
    side = side_for(user, match) if match is not None else None
    if side is None:
        raise NotFoundError(_("Deze match bestaat niet of is niet voor jou."))
    field = "growing_status" if side == GROWING else "candidate_status"
    current = getattr(match, field)
    if current == "no":
        raise AnswerError(_("Je hebt al nee gezegd tegen deze match. Dat is definitief."))
    if match.is_mutual_yes:
        if yes:
            return match  # answering yes again changes nothing
        raise AnswerError(
            _("Jullie hebben allebei ja gezegd en de contactgegevens zijn gedeeld; nee zeggen kan nu niet meer. "
              "Laat het de andere partij zelf weten.")
        )
    if current == "yes" and yes:
        return match
    shortage = db.session.scalar(
        sa.select(Shortage).where(Shortage.id == match.shortage_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if yes and shortage.status != "open":
        raise AnswerError(_("Deze vacature staat niet meer open; ja zeggen kan niet meer."))

    now = utcnow()
    setattr(match, field, "yes" if yes else "no")
    setattr(match, f"{side}_answered_at", now)
    if match.is_mutual_yes and match.introduced_at is None:
        _introduce(match, shortage, now)
    db.session.commit()
    return match


def _introduce(match: Match, shortage: Shortage, now) -> None:
    match.introduced_at = now
    if shortage.open_hiring:
        # Open hiring: no selection, the first suitable mutual yes gets the position.
        match.outcome = "hired"
        shortage.filled_positions = (shortage.filled_positions or 0) + 1
        if shortage.filled_positions >= shortage.positions:
            shortage.status = "filled"
    else:
        match.outcome = "introduced"
    _queue_contact_emails(match, shortage)


def _queue_contact_emails(match: Match, shortage: Shortage) -> None:
    """Each side receives the OTHER side's contact details."""
    growing_email = notifications.normalise_email(shortage.contact_email)
    candidate_email = notifications.normalise_email(notifications.candidate_contact_email(match))
    users = notifications.users_by_email([growing_email, candidate_email])
    url = notifications.match_url(match.id)
    shortage_contact = shortage_contact_details(match)
    candidate_contact = candidate_contact_details(match)
    for recipient, side, other in (
        (growing_email, GROWING, candidate_contact),
        (candidate_email, CANDIDATE, shortage_contact),
    ):
        if not recipient:
            continue
        user = users.get(recipient)
        locale = notifications.recipient_locale(user)
        data = {
            "recipient_name": user.name if user is not None else "",
            "side": side,
            "url": url,
            "outcome": match.outcome,
            "shortage": notifications.shortage_summary(match, locale),
            "candidate": notifications.candidate_summary(match, locale),
            "other": other,
            "set_password_url": notifications.set_password_url(user),
        }
        outbox.queue_email(recipient, locale, "contact", data, f"contact:{match.id}:{recipient}")


def candidate_contact_details(match: Match) -> dict:
    """The candidate's contact details, shared with the growing side only after a mutual yes."""
    if match.worker_id is not None:
        user = match.worker.user
        return {"kind": "worker", "name": user.name, "email": user.email, "phone": user.phone or "", "organisation": ""}
    listing = match.listing
    return {
        "kind": "listing",
        "name": "",
        "email": listing.contact_email,
        "phone": "",
        "organisation": listing.organisation.name if listing.organisation else "",
    }


def shortage_contact_details(match: Match) -> dict:
    shortage = match.shortage
    return {
        "kind": "shortage",
        "name": "",
        "email": shortage.contact_email,
        "phone": "",
        "organisation": shortage.organisation.name if shortage.organisation else "",
    }


def other_side_contact(match: Match, side: str) -> dict | None:
    """What the viewer may know about the other side: contact details after a mutual yes, else None."""
    if not match.is_mutual_yes:
        return None
    return candidate_contact_details(match) if side == GROWING else shortage_contact_details(match)
