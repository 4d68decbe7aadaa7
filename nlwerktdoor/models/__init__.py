"""The database models, one module per aggregate."""
from .listing import StaffListing
from .match import Match, MatchRun
from .organisation import Organisation
from .outbox import OutgoingEmail
from .sector import Sector
from .shortage import Shortage
from .user import User
from .worker import Invitation, WorkerProfile

__all__ = [
    "Invitation",
    "Match",
    "MatchRun",
    "Organisation",
    "OutgoingEmail",
    "Sector",
    "Shortage",
    "StaffListing",
    "User",
    "WorkerProfile",
]
