"""Forms of the growing side: a shortage, and the filters of the public list."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import CertificatesField, MessagesOncePerProcess, OccupationField, PostcodeField, SkillListField
from ..services.shortages import ShortageInput


class ShortageForm(FlaskForm):
    title = StringField(_l("Titel"), validators=[DataRequired(_l("Geef de vacature een titel.")), Length(max=200)])
    description = TextAreaField(_l("Omschrijving"), validators=[Optional(), Length(max=5000)])
    occupation = OccupationField(_l("Beroep"), validators=[InputRequired(_l("Kies een beroep."))])
    required_skills = SkillListField(_l("Vereiste vaardigheden"))
    nice_skills = SkillListField(_l("Mooi meegenomen"))
    positions = IntegerField(
        _l("Aantal plaatsen"), default=1,
        validators=[InputRequired(_l("Vul een aantal in.")), NumberRange(1, 1000, _l("Vul een aantal plaatsen van 1 tot 1.000 in."))],
    )
    postcode = PostcodeField(_l("Postcode van de werkplek"), validators=[DataRequired(_l("Vul een postcode in."))])
    max_distance_km = IntegerField(
        _l("Maximale reisafstand voor kandidaten (km)"), default=25,
        validators=[InputRequired(_l("Vul een afstand in.")), NumberRange(1, 250, _l("Vul een afstand van 1 tot 250 km in."))],
    )
    start_date = DateField(_l("Startdatum"), validators=[DataRequired(_l("Vul een startdatum in."))])
    hours_per_week = IntegerField(
        _l("Uren per week"), default=36,
        validators=[InputRequired(_l("Vul een aantal uren in.")), NumberRange(1, 60, _l("Vul een aantal uren van 1 tot 60 in."))],
    )
    certificates = CertificatesField(_l("Vereiste certificaten"))
    training_offered = BooleanField(_l("We leiden op: zij-instromers welkom"))
    open_hiring = BooleanField(_l("Open hiring: geen selectie, de eerste geschikte kandidaat die ja zegt krijgt de plek"))
    contact_email = EmailField(
        _l("E-mailadres voor berichten over deze vacature"),
        validators=[DataRequired(_l("Vul een e-mailadres in.")), Length(max=254)],
    )

    @staticmethod
    def data_from(shortage) -> dict:
        """Initial form values from an existing shortage (field names differ from the columns)."""
        return dict(
            title=shortage.title, description=shortage.description, occupation=shortage.occupation_id,
            required_skills=list(shortage.required_skills or []), nice_skills=list(shortage.nice_skills or []),
            positions=shortage.positions, postcode=shortage.pc4, max_distance_km=shortage.max_distance_km,
            start_date=shortage.start_date, hours_per_week=shortage.hours_per_week,
            certificates=list(shortage.certificates or []), training_offered=shortage.training_offered,
            open_hiring=shortage.open_hiring, contact_email=shortage.contact_email,
        )

    def to_input(self) -> ShortageInput:
        return ShortageInput(
            title=self.title.data, description=self.description.data or "", occupation_id=self.occupation.data,
            required_skills=self.required_skills.data or [], nice_skills=self.nice_skills.data or [],
            positions=self.positions.data, pc4=self.postcode.data, max_distance_km=self.max_distance_km.data,
            start_date=self.start_date.data, hours_per_week=self.hours_per_week.data,
            certificates=self.certificates.data or [], training_offered=self.training_offered.data,
            open_hiring=self.open_hiring.data, contact_email=self.contact_email.data,
        )


RADIUS_CHOICES = [(5, "5 km"), (10, "10 km"), (25, "25 km"), (50, "50 km"), (100, "100 km")]


class PublicFilterForm(FlaskForm):
    """The filters of the public list, read from the query string (a GET form: no CSRF token needed)."""

    class Meta(MessagesOncePerProcess):
        csrf = False

    sector = SelectField(_l("Sector"), choices=[], validators=[Optional()])
    postcode = PostcodeField(_l("Postcode"), validators=[Optional()])
    radius = SelectField(_l("Straal"), choices=RADIUS_CHOICES, coerce=int, default=25, validators=[Optional()])

    def __init__(self, *args, sector_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.sector.choices = [("", _l("Alle sectoren")), *sector_choices]
