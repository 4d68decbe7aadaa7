"""A large CSV upload waiting for, or processed by, the upload job (services/uploads.py).

The file is held only until it is processed: `content` is emptied then (it names contact persons),
the report stays, with row numbers, columns and messages (addresses taken out), until the upload
is older than IMPORT_KEEP_DAYS.
"""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .database import UTCDateTime, utcnow

# queued: waiting for the job · running: claimed by a job until `claimed_until` (the lease)
# done: processed, the report says imported or every row error · failed: could not be processed
UPLOAD_STATUSES = ("queued", "running", "done", "failed")
UPLOAD_KINDS = ("shortages", "listings")
# checking: reading and checking every row (nothing written) · saving: writing the checked rows
UPLOAD_STAGES = ("checking", "saving")


class CsvUpload(db.Model):
    __tablename__ = "csv_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(10))
    locale: Mapped[str] = mapped_column(sa.String(2), default="nl")  # the page's language: the report's too
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # None once processed
    status: Mapped[str] = mapped_column(sa.String(10), default="queued", index=True)
    stage: Mapped[str | None] = mapped_column(sa.String(10))
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_total: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict | None] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    # The job working on it ('running'): a fresh token per claim, so a job whose claim was taken back
    # can no longer write progress or an outcome.
    claim_token: Mapped[str | None] = mapped_column(sa.String(40))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued','running','done','failed')", name="ck_csv_upload_status"),
        sa.CheckConstraint("kind IN ('shortages','listings')", name="ck_csv_upload_kind"),
    )

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")
