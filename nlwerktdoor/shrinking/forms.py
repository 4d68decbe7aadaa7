"""Forms of the shrinking side: a staff listing, and inviting staff to opt in."""
import re

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..forms import CertificatesField, OccupationField, PostcodeField, SkillListField
from ..services.listings import ListingInput

TRANSFER_CHOICES = [
    ("secondment", _l("detachering")),
    ("permanent", _l("vaste overstap")),
    ("either", _l("beide")),
]


class ListingForm(FlaskForm):
    occupation = OccupationField(_l("Beroep"), validators=[InputRequired(_l("Kies een beroep."))])
    skills = SkillListField(_l("Vaardigheden"))
    count = IntegerField(
        _l("Aantal mensen"), default=1,
        validators=[InputRequired(_l("Vul een aantal in.")), NumberRange(1, 10000, _l("Vul een aantal van 1 tot 10.000 in."))],
    )
    postcode = PostcodeField(_l("Postcode van de standplaats"), validators=[DataRequired(_l("Vul een postcode in."))])
    max_distance_km = IntegerField(
        _l("Maximale reisafstand (km)"), default=25,
        validators=[InputRequired(_l("Vul een afstand in.")), NumberRange(1, 250, _l("Vul een afstand van 1 tot 250 km in."))],
    )
    available_from = DateField(_l("Beschikbaar vanaf"), validators=[DataRequired(_l("Vul een datum in."))])
    available_until = DateField(_l("Beschikbaar tot en met"), validators=[Optional()])
    hours_per_week = IntegerField(
        _l("Uren per week"), default=36,
        validators=[InputRequired(_l("Vul een aantal uren in.")), NumberRange(1, 60, _l("Vul een aantal uren van 1 tot 60 in."))],
    )
    transfer_type = SelectField(_l("Soort overstap"), choices=TRANSFER_CHOICES, default="either")
    certificates = CertificatesField(_l("Certificaten die deze mensen hebben"))
    notes = TextAreaField(_l("Toelichting"), validators=[Optional(), Length(max=5000)])
    contact_email = EmailField(
        _l("E-mailadres voor berichten over dit aanbod"),
        validators=[DataRequired(_l("Vul een e-mailadres in.")), Length(max=254)],
    )
    sector = SelectField(_l("Sector"), choices=[])

    def __init__(self, *args, sector_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.sector.choices = list(sector_choices)

    def validate_available_until(self, field):
        if field.data and self.available_from.data and field.data < self.available_from.data:
            raise ValidationError(_l("De einddatum ligt vóór de begindatum."))

    @staticmethod
    def data_from(listing) -> dict:
        """Initial form values from an existing listing (field names differ from the columns)."""
        return dict(
            occupation=listing.occupation_id, skills=list(listing.skills or []), count=listing.count,
            postcode=listing.pc4, max_distance_km=listing.max_distance_km, available_from=listing.available_from,
            available_until=listing.available_until, hours_per_week=listing.hours_per_week,
            transfer_type=listing.transfer_type, certificates=list(listing.certificates or []), notes=listing.notes,
            contact_email=listing.contact_email, sector=listing.sector_code,
        )

    def to_input(self) -> ListingInput:
        return ListingInput(
            occupation_id=self.occupation.data, skills=self.skills.data or [], count=self.count.data,
            pc4=self.postcode.data, max_distance_km=self.max_distance_km.data,
            available_from=self.available_from.data, available_until=self.available_until.data,
            hours_per_week=self.hours_per_week.data, transfer_type=self.transfer_type.data,
            certificates=self.certificates.data or [], notes=self.notes.data or "",
            contact_email=self.contact_email.data, sector_code=self.sector.data,
        )


_SEPARATORS = re.compile(r"[\s,;]+")


class InviteForm(FlaskForm):
    emails = TextAreaField(
        _l("E-mailadressen, één per regel"),
        validators=[DataRequired(_l("Vul minstens één e-mailadres in.")), Length(max=50000)],
    )

    def validate_emails(self, field):
        bad = []
        for address in self.addresses():
            try:
                validate_email(address, check_deliverability=False)
            except EmailNotValidError:
                bad.append(address)
        if bad:
            raise ValidationError(_l("Geen geldig e-mailadres: %(list)s", list=", ".join(bad[:10])))

    def addresses(self) -> list[str]:
        """The addresses typed or pasted (one per line; commas and semicolons from a spreadsheet work too)."""
        return [part for part in _SEPARATORS.split(self.emails.data or "") if part]
