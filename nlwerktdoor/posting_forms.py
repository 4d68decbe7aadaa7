"""Form pieces used by both employer sides (shrinking and growing), which never import each other."""
from flask import abort
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize

from .errors import DomainError, NotAllowedError, NotFoundError

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
