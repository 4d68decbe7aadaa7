"""Form pieces used by both employer sides (shrinking and growing), which never import each other."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize

from .errors import DomainError, NotAllowedError, NotFoundError
from .services import imports

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class CsvUploadForm(FlaskForm):
    file = FileField(
        _l("CSV-bestand"),
        validators=[
            FileRequired(_l("Kies een CSV-bestand.")),
            FileAllowed(["csv"], _l("Alleen .csv-bestanden, bijvoorbeeld opgeslagen vanuit Excel als 'CSV (puntkomma-gescheiden)'.")),
            FileSize(max_size=MAX_UPLOAD_BYTES, message=_l("Het bestand is groter dan 5 MB. Splits het in kleinere bestanden.")),
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
    """The CSV upload view of both sides: import for the user's own organisation; on any bad row show
    every error and import nothing; on success go back to the blueprint's index."""
    form = CsvUploadForm()
    report = None
    if form.validate_on_submit():
        try:
            report = imports.import_csv(kind, read_upload(form), organisation=current_user.organisation)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            if report.ok:
                flash(_("Import gelukt: %(created)s nieuw, %(updated)s bijgewerkt.",
                        created=report.created, updated=report.updated), "success")
                return redirect(url_for(".index"))
    return render_template(template, form=form, report=report, columns=columns)
