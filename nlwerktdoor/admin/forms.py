"""Forms for coordinators and admins."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired

from .. import reference


def trend_choices():
    return [("growing", _l("groeit (tekorten)")), ("shrinking", _l("krimpt (minder werk)")), ("neutral", _l("neutraal"))]


class SectorTrendForm(FlaskForm):
    trend = SelectField(_l("Trend"), choices=trend_choices(), validators=[DataRequired()])


def region_choices():
    regions = sorted(reference.regions().values(), key=lambda r: r.name)
    return [("", _l("Landelijk"))] + [(r.code, r.name) for r in regions]


class CoordinatorForm(FlaskForm):
    email = EmailField(_l("E-mailadres van het account"), validators=[DataRequired(_l("Vul een e-mailadres in."))])
    region = SelectField(_l("Arbeidsmarktregio"), choices=region_choices, validate_choice=False)  # the service checks it
