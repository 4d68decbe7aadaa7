"""Large CSV uploads: stored by the web request, imported by a job, followed on a status page.

Invariants (docs/csv.md, "Large files"):
- Files of at most IMPORT_INLINE_ROWS data rows never come here: the request imports them itself.
- One upload is processed by one job: `claim_next` takes it with a compare-and-set
  (UPDATE … WHERE status = 'queued'), and every later write names the claim's token. A 'running'
  upload whose lease ran out (its job died) is queued again, at most IMPORT_MAX_ATTEMPTS times in all.
- The import is services.imports.import_csv: every row checked first, nothing written unless every
  row is clean, one transaction. Running a file again after a crash is harmless: rows are found by
  external_ref, so the second run finds them unchanged.
- Progress (rows done of total) is written now and then in its own short transaction on another
  connection, so the status page sees it while the import's transaction is still open. On SQLite
  the import's transaction holds the only write lock: progress waits for the next stage or the end.
- Once processed, the file is deleted; the report keeps row numbers, columns and messages, with
  email addresses (and values quoted from personal columns) taken out. Uploads and their reports
  are deleted IMPORT_KEEP_DAYS after they were made.
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from ..extensions import db
from ..models import CsvUpload, Organisation, User
from ..models.database import utcnow
from . import imports

log = logging.getLogger("nlwerktdoor.uploads")

# Columns whose cell values are about a person: a message quoting such a value loses the quote.
_PERSONAL_COLUMNS = {"contact_email", "email", "name"}
_QUOTED = re.compile(r'"[^"]*"')
_EMAIL_LIKE = re.compile(r"""[^\s"'<>(),;]*@[^\s"'<>(),;]*""")


def _setting(name: str):
    return current_app.config[name]


# ---------------------------------------------------------------- the web request


def count_data_rows(data: bytes) -> int:
    """Non-empty lines after the header: what decides inline or background, and the first 'total'.

    A quoted cell with a line break counts twice; that only moves the threshold a little."""
    lines = sum(1 for line in data.splitlines() if line.strip())
    return max(lines - 1, 0)


def goes_to_background(data: bytes) -> bool:
    return count_data_rows(data) > int(_setting("IMPORT_INLINE_ROWS"))


def queue_upload(kind: str, data: bytes, user: User, locale: str = "nl") -> CsvUpload:
    """Store a large file for the upload job; the caller shows the upload's status page."""
    if kind not in ("shortages", "listings"):
        raise ValueError(f"web uploads are shortages or listings, not {kind!r}")
    upload = CsvUpload(organisation_id=user.organisation_id, user_id=user.id, kind=kind, content=data,
                       locale=locale if locale in ("nl", "en") else "nl", status="queued",
                       rows_total=count_data_rows(data), rows_done=0)
    db.session.add(upload)
    db.session.commit()
    log.info("upload %s queued: %s, %s rows", upload.id, kind, upload.rows_total,
             extra={"event": "upload_queued", "upload": upload.id, "rows": upload.rows_total})
    return upload


def recent_uploads(organisation_id: int, kind: str, limit: int = 5) -> list[CsvUpload]:
    return list(db.session.scalars(
        sa.select(CsvUpload).where(CsvUpload.organisation_id == organisation_id, CsvUpload.kind == kind)
        .order_by(CsvUpload.id.desc()).limit(limit)))


def report_of(upload: CsvUpload) -> imports.ImportReport | None:
    """The stored report in the shape the synchronous upload shows (None: not processed, or failed)."""
    if not upload.report or "errors" not in upload.report:
        return None
    stored = upload.report
    return imports.ImportReport(
        kind=upload.kind, created=stored.get("created", 0), updated=stored.get("updated", 0),
        unchanged=stored.get("unchanged", 0), matched_at_once=stored.get("matched_at_once", 0),
        encoding=stored.get("encoding", "utf-8"),
        errors=[imports.RowError(e["row"], e["column"], e["message"]) for e in stored["errors"]])


def progress_of(upload: CsvUpload) -> dict:
    """What the status page's script polls."""
    return {"status": upload.status, "stage": upload.stage, "rows_done": upload.rows_done,
            "rows_total": upload.rows_total, "finished": upload.finished}


# ---------------------------------------------------------------- the report without personal data


def _without_personal_data(error: imports.RowError) -> dict:
    message = error.message
    if error.column in _PERSONAL_COLUMNS:
        message = _QUOTED.sub('"…"', message)
    placeholder = _("(e-mailadres)")

    def replace(found: re.Match) -> str:
        text = found.group(0)
        trailing = text[len(text.rstrip(".:!?")):]
        return placeholder + trailing

    return {"row": error.row, "column": error.column, "message": _EMAIL_LIKE.sub(replace, message)}


def stored_report(report: imports.ImportReport) -> dict:
    return {"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
            "matched_at_once": report.matched_at_once,
            "encoding": report.encoding, "errors": [_without_personal_data(e) for e in report.errors]}


# ---------------------------------------------------------------- the job


@dataclass(frozen=True)
class Claim:
    upload_id: int
    token: str


def _lease() -> timedelta:
    return timedelta(seconds=int(_setting("IMPORT_CLAIM_LEASE_SECONDS")))


def _abandoned(now: datetime):
    return sa.and_(CsvUpload.status == "running", CsvUpload.claimed_until < now)


def _expired(now: datetime):
    return sa.and_(CsvUpload.status.in_(("done", "failed")),
                   CsvUpload.created_at < now - timedelta(days=int(_setting("IMPORT_KEEP_DAYS"))))


def has_work(now: datetime | None = None) -> bool:
    """Anything queued, abandoned by a dead job, or due for deletion? (The job asks first, so the
    frequent idle runs leave no history.)"""
    now = now or utcnow()
    found = db.session.scalar(sa.select(CsvUpload.id).where(
        sa.or_(CsvUpload.status == "queued", _abandoned(now), _expired(now))).limit(1))
    db.session.rollback()
    return found is not None


def take_back_abandoned(now: datetime | None = None) -> int:
    """'running' uploads whose lease ran out: queued again, or 'failed' after IMPORT_MAX_ATTEMPTS claims."""
    now = now or utcnow()
    max_attempts = int(_setting("IMPORT_MAX_ATTEMPTS"))
    given_up = db.session.execute(
        sa.update(CsvUpload).where(_abandoned(now), CsvUpload.attempts >= max_attempts)
        .values(status="failed", content=None, claim_token=None, claimed_until=None, finished_at=now,
                report={"failure": "abandoned"})
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    queued = db.session.execute(
        sa.update(CsvUpload).where(_abandoned(now))
        .values(status="queued", claim_token=None, claimed_until=None, stage=None, rows_done=0)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    db.session.commit()
    if given_up or queued:
        log.warning("uploads: taking back %s upload(s) whose job stopped, giving up on %s", queued, given_up,
                    extra={"event": "upload_taken_back", "queued": queued, "failed": given_up})
    return queued + given_up


def take(upload_id: int, token: str, now: datetime | None = None) -> bool:
    """The compare-and-set: this upload becomes ours only if it is still queued. Commits."""
    now = now or utcnow()
    taken = db.session.execute(
        sa.update(CsvUpload).where(CsvUpload.id == upload_id, CsvUpload.status == "queued")
        .values(status="running", claim_token=token, claimed_until=now + _lease(), attempts=CsvUpload.attempts + 1,
                started_at=now, progress_at=now, stage="checking", rows_done=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return taken == 1


def claim_next(now: datetime | None = None) -> Claim | None:
    """The oldest queued upload, claimed for this process; None when there is none left to take."""
    now = now or utcnow()
    take_back_abandoned(now)
    for _attempt in range(5):  # another job may take the one we saw; then try the next
        upload_id = db.session.scalar(
            sa.select(CsvUpload.id).where(CsvUpload.status == "queued").order_by(CsvUpload.id).limit(1))
        if upload_id is None:
            db.session.rollback()
            return None
        token = uuid.uuid4().hex
        if take(upload_id, token, now):
            return Claim(upload_id, token)
    return None


class _ProgressWriter:
    """import_csv's progress callback: checking (every row) then saving (every chunk), written to the
    upload row every IMPORT_PROGRESS_EVERY_ROWS rows or IMPORT_PROGRESS_EVERY_SECONDS, whichever
    comes first, and at the end of each stage. Writing renews the claim's lease."""

    def __init__(self, claim: Claim):
        self.claim = claim
        self.every_rows = max(1, int(_setting("IMPORT_PROGRESS_EVERY_ROWS")))
        self.every_seconds = float(_setting("IMPORT_PROGRESS_EVERY_SECONDS"))
        self.stage = "checking"
        self.checked_all = False
        self.written_rows = 0
        self.written_at = time.monotonic()
        self.lost = False  # the claim was taken back: stop writing

    def __call__(self, done: int, total: int) -> None:
        if self.checked_all and self.stage == "checking":
            self.stage, self.written_rows = "saving", 0  # every row was checked: now the writes
        if self.stage == "checking" and done >= total:
            self.checked_all = True
        due = (done >= total or done - self.written_rows >= self.every_rows
               or time.monotonic() - self.written_at >= self.every_seconds)
        if due:
            self.write(done, total)

    def write(self, done: int, total: int) -> None:
        if self.lost:
            return
        if db.engine.dialect.name == "sqlite" and db.session().in_transaction():
            return  # the import's transaction holds SQLite's one write lock (and, in memory, its connection)
        now = utcnow()
        with db.engine.begin() as connection:
            updated = connection.execute(
                sa.update(CsvUpload.__table__)
                .where(CsvUpload.__table__.c.id == self.claim.upload_id,
                       CsvUpload.__table__.c.claim_token == self.claim.token,
                       CsvUpload.__table__.c.status == "running")
                .values(stage=self.stage, rows_done=done, rows_total=total, progress_at=now,
                        claimed_until=now + _lease())
            ).rowcount
        self.written_rows, self.written_at = done, time.monotonic()
        if updated != 1:
            self.lost = True
            log.warning("upload %s: claim taken back while importing", self.claim.upload_id)


def process(claim: Claim) -> str:
    """Import a claimed upload and record the outcome; returns the new status ('' if the claim was lost)."""
    upload = db.session.get(CsvUpload, claim.upload_id)
    if upload is None or upload.claim_token != claim.token:
        db.session.rollback()
        return ""
    content, kind, locale = upload.content or b"", upload.kind, upload.locale or "nl"
    organisation = db.session.get(Organisation, upload.organisation_id)
    # End the read transaction before the import starts, so progress can be written (see _ProgressWriter).
    db.session.commit()
    progress = _ProgressWriter(claim)
    started = time.perf_counter()
    try:
        report = _import_in_locale(kind, content, organisation, progress, locale)
    except Exception:  # noqa: BLE001  recorded on the upload; the job goes on with the next one
        db.session.rollback()
        log.exception("upload %s: import failed", claim.upload_id)
        return _finish(claim, "failed", {"failure": "error"}, progress)
    with force_locale(locale):
        stored = stored_report(report)
    status = _finish(claim, "done", stored, progress)
    log.info("upload %s %s in %.1f s: %s new, %s updated, %s unchanged, %s errors", claim.upload_id, status,
             time.perf_counter() - started, report.created, report.updated, report.unchanged, len(report.errors),
             extra={"event": "upload_done", "upload": claim.upload_id, "new": report.created,
                    "updated": report.updated, "errors": len(report.errors)})
    return status


def _import_in_locale(kind: str, content: bytes, organisation: Organisation, progress: Callable,
                      locale: str) -> imports.ImportReport:
    """Messages in the language of the page the file was uploaded from. import_csv speaks Dutch outside
    a request, so give it one (no client, no handlers run) with that language forced."""
    with current_app.test_request_context(), force_locale(locale):
        return imports.import_csv(kind, content, organisation=organisation, progress=progress)


def _finish(claim: Claim, status: str, report: dict, progress: _ProgressWriter) -> str:
    now = utcnow()
    values = {"status": status, "report": report, "content": None, "claim_token": None, "claimed_until": None,
              "finished_at": now, "progress_at": now}
    if status == "done" and not report.get("errors"):
        values.update(stage="saving", rows_done=CsvUpload.rows_total)  # saved: the bar is full
    finished = db.session.execute(
        sa.update(CsvUpload).where(CsvUpload.id == claim.upload_id, CsvUpload.claim_token == claim.token)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if finished != 1:
        log.warning("upload %s: claim was taken back before it finished; outcome %s not recorded",
                    claim.upload_id, status)
        return ""
    return status


def delete_old(now: datetime | None = None) -> int:
    """Uploads (and their reports) older than IMPORT_KEEP_DAYS that are not being worked on."""
    now = now or utcnow()
    deleted = db.session.execute(
        sa.delete(CsvUpload).where(_expired(now)).execution_options(synchronize_session=False)
    ).rowcount or 0
    db.session.commit()
    return deleted


def process_queue(stop: Callable[[], bool] = lambda: False) -> dict:
    """The job's work: one upload at a time until none is queued (or a stop is requested)."""
    counts = {"done": 0, "failed": 0, "deleted": delete_old()}
    while not stop():
        claim = claim_next()
        if claim is None:
            break
        status = process(claim)
        if status:
            counts[status] += 1
    return counts
