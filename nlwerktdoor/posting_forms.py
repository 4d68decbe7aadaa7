"""Form pieces used by both employer sides (shrinking and growing), which never import each other."""
from flask import abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms.validators import ValidationError

from .auth import own_or_404
from .errors import DomainError, NotAllowedError, NotFoundError
from .extensions import db
from .models import CsvUpload
from .services import imports, uploads


def max_upload_mb() -> int:
    return int(current_app.config.get("IMPORT_MAX_UPLOAD_MB", 20))


def _not_too_large(form, field) -> None:
    """IMPORT_MAX_UPLOAD_MB, read per request (a setting, so a class-level FileSize will not do)."""
    data = field.data
    if data is None or not hasattr(data, "stream"):
        return
    stream = data.stream
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    if size > max_upload_mb() * 1024 * 1024:
        raise ValidationError(_("Het bestand is groter dan %(mb)s MB. Splits het in kleinere bestanden.",
                                mb=max_upload_mb()))


class CsvUploadForm(FlaskForm):
    file = FileField(
        _l("CSV-bestand"),
        validators=[
            FileRequired(_l("Kies een CSV-bestand.")),
            FileAllowed(["csv"], _l("Alleen .csv-bestanden, bijvoorbeeld opgeslagen vanuit Excel als 'CSV (puntkomma-gescheiden)'.")),
            _not_too_large,
        ],
    )


def apply_domain_error(form, error: DomainError) -> None:
    """Show a service's refusal on the form field it names, or above the form; 'not found' and
    'not allowed' become the HTTP answers a URL-guessing visitor would get anyway."""
    if isinstance(error, NotFoundError):
        abort(404)
    if isinstance(error, NotAllowedError):
        abort(403)
    if error.field and error.field in form:
        form[error.field].errors = [*form[error.field].errors, error.message]
    else:
        form.form_errors.append(error.message)


def read_upload(form: CsvUploadForm) -> bytes:
    form.file.data.stream.seek(0)
    return form.file.data.read()


def upload_page(kind: str, template: str, columns):
    """The CSV upload view of both sides, for the user's own organisation. A small file is imported
    here: on any bad row every error is shown and nothing imported; on success back to the index.
    A large one (more than IMPORT_INLINE_ROWS rows) is queued for the upload job, and the user is
    sent to its status page (services/uploads.py)."""
    form = CsvUploadForm()
    report = None
    if form.validate_on_submit():
        data = read_upload(form)
        if uploads.goes_to_background(data):
            upload = uploads.queue_upload(kind, data, current_user, locale=str(get_locale() or "nl"))
            return redirect(url_for(".upload_status", upload_id=upload.id))
        try:
            report = imports.import_csv(kind, data, organisation=current_user.organisation)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            if report.ok:
                flash(_("Import gelukt: %(created)s nieuw, %(updated)s bijgewerkt.",
                        created=report.created, updated=report.updated), "success")
                if matched := matched_at_once_text(report):
                    flash(matched, "info")
                return redirect(url_for(".index"))
    return render_template(template, form=form, report=report, columns=columns, max_upload_mb=max_upload_mb(),
                           recent=uploads.recent_uploads(current_user.organisation_id, kind))


def matched_at_once_text(report) -> str | None:
    """How many of the shortages an import wrote already show their candidates (the rest: the next run);
    None for other kinds, or when it wrote none."""
    written = report.created + report.updated
    if report.kind != "shortages" or not written:
        return None
    if report.matched_at_once >= written:
        return _("Bij elk tekort staan de kandidaten al klaar.")
    return _("Bij %(done)s van de %(written)s tekorten staan de kandidaten al klaar; de andere krijgen ze bij "
             "de volgende matchronde (binnen %(minutes)s minuten).", done=report.matched_at_once, written=written,
             minutes=current_app.config.get("MATCH_INTERVAL_MINUTES", 15))


def own_upload(kind: str, upload_id: int) -> CsvUpload:
    """An upload of the user's own organisation on this side; anyone else's is reported as missing."""
    upload = own_or_404(db.session.get(CsvUpload, upload_id), current_user.organisation_id)
    if upload.kind != kind:
        abort(404)
    return upload


def progress_text(upload: CsvUpload) -> str:
    """'x van y rijen', with the stage: the same words on the page and in the JSON its script polls."""
    if upload.status == "queued":
        return _("In de wachtrij: 0 van %(total)s rijen.", total=upload.rows_total)
    if upload.status == "running" and upload.stage == "saving":
        return _("Opslaan: %(done)s van %(total)s rijen.", done=upload.rows_done, total=upload.rows_total)
    if upload.status == "running":
        return _("Controleren: %(done)s van %(total)s rijen.", done=upload.rows_done, total=upload.rows_total)
    return _("Klaar: %(done)s van %(total)s rijen.", done=upload.rows_done, total=upload.rows_total)


def upload_status_page(kind: str, template: str, upload_id: int):
    """A queued upload's progress, then the result the synchronous upload shows."""
    upload = own_upload(kind, upload_id)
    report = uploads.report_of(upload)
    matched_text = matched_at_once_text(report) if report and report.ok else None
    return render_template(template, upload=upload, report=report, progress_text=progress_text(upload),
                           matched_text=matched_text)


def upload_progress(kind: str, upload_id: int):
    """The JSON the status page's script polls (js/upload-status.js)."""
    upload = own_upload(kind, upload_id)
    return jsonify({**uploads.progress_of(upload), "text": progress_text(upload)})
