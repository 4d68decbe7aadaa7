"""The database models, one module per aggregate."""
from .audit import AuditEntry
from .job import JobRun, SchedulerHeartbeat
from .listing import StaffListing
from .match import CandidateIndexBuild, Match, MatchRun
from .organisation import Organisation
from .outbox import EmailSuppression, OutgoingEmail
from .sector import Sector
from .shortage import Shortage
from .upload import CsvUpload
from .user import User
from .worker import Invitation, WorkerProfile

__all__ = [
    "AuditEntry",
    "CandidateIndexBuild",
    "CsvUpload",
    "EmailSuppression",
    "Invitation",
    "JobRun",
    "Match",
    "MatchRun",
    "Organisation",
    "OutgoingEmail",
    "SchedulerHeartbeat",
    "Sector",
    "Shortage",
    "StaffListing",
    "User",
    "WorkerProfile",
]
