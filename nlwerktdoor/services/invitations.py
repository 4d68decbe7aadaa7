"""Invitations: a shrinking-side employer invites members of staff to opt in for a listing.

The invitation email is written to the outbox in the same transaction as the invitation, so a
failed request sends nothing and a sent email always has its invitation. Inviting the same
address again for the same listing sends the same link again instead of failing.
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.exc import IntegrityError
from flask_babel import gettext as _

from ..errors import ValidationError
from ..extensions import db
from ..models import Invitation, OutgoingEmail, StaffListing
from ..models.database import utcnow
from . import postings

MAX_PER_REQUEST = 200


def create_invitation(listing_id: int, email: str, acting_user) -> Invitation:
    """Invite one address to opt in for this listing of the acting user's organisation."""
    return create_invitations(listing_id, [email], acting_user)[0]


def create_invitations(listing_id: int, emails: list[str], acting_user) -> list[Invitation]:
    """Invite several addresses at once, all or nothing: one email per distinct address, one commit."""
    listing = postings.load_own(StaffListing, listing_id, acting_user, "shrinking")
    if listing.status != "open":
        raise ValidationError(_("Deze lijst is gesloten. Heropen hem eerst om mensen uit te nodigen."), field="emails")
    addresses = list(dict.fromkeys(postings.check_email(e, field="emails") for e in emails))
    if not addresses:
        raise ValidationError(_("Vul minstens één e-mailadres in."), field="emails")
    if len(addresses) > MAX_PER_REQUEST:
        raise ValidationError(_("Nodig hoogstens %(n)s mensen tegelijk uit.", n=MAX_PER_REQUEST), field="emails")
    invitations = [_invite(listing, address, acting_user) for address in addresses]
    try:
        db.session.commit()
    except IntegrityError as error:  # the same address invited twice at the same moment
        db.session.rollback()
        raise ValidationError(_("Er ging iets mis bij het uitnodigen. Probeer het opnieuw."), field="emails") from error
    return invitations


def _invite(listing: StaffListing, email: str, acting_user) -> Invitation:
    from . import outbox  # the mail helper's module; imported here to keep this module importable on its own

    invitation = db.session.scalar(
        sa.select(Invitation).where(Invitation.listing_id == listing.id, Invitation.email == email)
    )
    if invitation is None:
        invitation = Invitation(
            listing_id=listing.id, email=email, token=secrets.token_urlsafe(32), invited_by_id=acting_user.id
        )
        db.session.add(invitation)
        db.session.flush()
    elif invitation.accepted_at is not None:
        return invitation  # already opted in: a second link would lead nowhere
    # The n-th sending of this invitation; the outbox refuses a key it already has.
    sent_before = db.session.scalar(
        sa.select(sa.func.count(OutgoingEmail.id)).where(OutgoingEmail.idempotency_key.like(f"invitation:{invitation.id}:%"))
    )
    data = {
        "organisation": listing.organisation.name,
        "occupation_id": listing.occupation_id,
        "inviter": acting_user.name or acting_user.email,
        "link": url_for("workers.accept_invitation", token=invitation.token, _external=True),
    }
    outbox.queue_email(email, "nl", "invitation", data, f"invitation:{invitation.id}:{sent_before + 1}")
    return invitation


def find_open_invitation(token: str) -> Invitation | None:
    """The invitation behind a link, if it was not used yet and its listing is still open."""
    if not token or len(token) > 64:
        return None
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.token == token))
    if invitation is None or invitation.accepted_at is not None or invitation.listing.status != "open":
        return None
    return invitation


def profile_defaults(invitation: Invitation) -> dict:
    """Values to pre-fill a worker profile from the listing the person was invited for."""
    listing = invitation.listing
    return {
        "occupation_id": listing.occupation_id,
        "skills": list(listing.skills or []),
        "pc4": listing.pc4,
        "max_distance_km": listing.max_distance_km,
        "hours_per_week": listing.hours_per_week,
        "available_from": listing.available_from,
        "certificates": list(listing.certificates or []),
        "email": invitation.email,
    }


def mark_accepted(invitation: Invitation, profile) -> None:
    """Link the new profile to the listing and use up the invitation. No commit: the caller's use case commits."""
    invitation.accepted_at = utcnow()
    profile.listing_id = invitation.listing_id
