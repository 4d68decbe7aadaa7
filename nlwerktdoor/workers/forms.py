"""Forms of the worker pages: the opt-in profile (with consent) and the invitation's account fields."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    RadioField,
    StringField,
    TelField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..forms import (
    CertificatesField,
    MultiCheckboxField,
    OccupationField,
    PostcodeField,
    SkillListField,
)
from ..services.workers import (
    MAX_DISTANCE_KM,
    MAX_HOURS_PER_WEEK,
    MIN_PASSWORD_LENGTH,
    ProfileData,
)

LANGUAGE_NAMES = {
    "nl": _l("Nederlands"),
    "en": _l("Engels"),
    "de": _l("Duits"),
    "fr": _l("Frans"),
    "es": _l("Spaans"),
    "pl": _l("Pools"),
    "tr": _l("Turks"),
    "ar": _l("Arabisch"),
    "pt": _l("Portugees"),
    "uk": _l("Oekraïens"),
}

CONSENT_REQUIRED = _l(
    "Zonder jouw toestemming kunnen we je profiel niet opslaan. Vink het vakje aan om mee te doen; "
    "wil je stoppen, gebruik dan 'Afmelden'."
)


class LocalDateField(DateField):
    """A date input (YYYY-MM-DD from the browser) that also accepts 31-12-2026 and says so in Dutch."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=["%Y-%m-%d", "%d-%m-%Y"], **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(str(_l("Vul een geldige datum in, bijvoorbeeld 01-12-2026."))) from error


class ProfileForm(FlaskForm):
    occupation = OccupationField(
        _l("Je beroep (nu of het laatst)"), validators=[InputRequired(_l("Kies je beroep uit de lijst."))]
    )
    skills = SkillListField(_l("Je vaardigheden"))
    postcode = PostcodeField(
        _l("Je postcode"), validators=[InputRequired(_l("Vul je postcode in, bijvoorbeeld 1011 of 1011 AB."))]
    )
    max_distance_km = IntegerField(
        _l("Hoe ver wil je reizen? (km)"),
        default=25,
        validators=[
            InputRequired(_l("Vul in hoe ver je wilt reizen.")),
            NumberRange(1, MAX_DISTANCE_KM, _l("Kies een afstand tussen 1 en %(max)s km.", max=MAX_DISTANCE_KM)),
        ],
    )
    desired_sectors = MultiCheckboxField(_l("In welke sectoren wil je werken?"), choices=[])
    hours_per_week = IntegerField(
        _l("Uren per week"),
        default=36,
        validators=[
            InputRequired(_l("Vul in hoeveel uur per week je wilt werken.")),
            NumberRange(1, MAX_HOURS_PER_WEEK, _l("Kies tussen 1 en %(max)s uur.", max=MAX_HOURS_PER_WEEK)),
        ],
    )
    available_from = LocalDateField(
        _l("Beschikbaar vanaf"), validators=[InputRequired(_l("Vul een datum in, bijvoorbeeld 01-12-2026."))]
    )
    certificates = CertificatesField(_l("Certificaten en rijbewijzen"))
    languages = MultiCheckboxField(
        _l("Talen die je spreekt"), choices=[(code, name) for code, name in LANGUAGE_NAMES.items()], default=["nl"]
    )
    phone = TelField(_l("Telefoonnummer (niet verplicht)"), validators=[Optional(), Length(max=40)])
    consent = BooleanField(
        _l("Ja, ik geef toestemming zoals hierboven beschreven."), validators=[InputRequired(CONSENT_REQUIRED)]
    )
    reserve_pool = BooleanField(_l("Bewaar mijn profiel voor een volgende crisis"))

    def __init__(self, *args, sectors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.languages.choices = [(code, str(name)) for code, name in LANGUAGE_NAMES.items()]
        self.desired_sectors.choices = list(sectors)

    def to_data(self) -> ProfileData:
        return ProfileData(
            occupation_id=self.occupation.data,
            skills=list(self.skills.data or []),
            postcode=self.postcode.data,
            max_distance_km=self.max_distance_km.data,
            desired_sectors=list(self.desired_sectors.data or []),
            hours_per_week=self.hours_per_week.data,
            available_from=self.available_from.data,
            certificates=list(self.certificates.data or []),
            languages=list(self.languages.data or []),
            phone=self.phone.data,
            reserve_pool=bool(self.reserve_pool.data),
        )


class InvitationForm(ProfileForm):
    """The profile form plus a new account (the email is the invited address, shown read-only)."""

    name = StringField(_l("Je naam"), validators=[InputRequired(_l("Vul je naam in.")), Length(max=200)])
    password = PasswordField(
        _l("Kies een wachtwoord"),
        validators=[
            InputRequired(_l("Kies een wachtwoord.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=_l("Kies een wachtwoord van minstens %(n)s tekens.", n=MIN_PASSWORD_LENGTH),
            ),
        ],
    )


class InvitationProfileForm(ProfileForm):
    """The invitation form for someone who is already logged in as a worker: no account fields."""


class ReconsentForm(FlaskForm):
    """A new consent text: the worker says yes again (or withdraws on the profile page)."""

    consent = BooleanField(
        _l("Ja, ik geef toestemming zoals hierboven beschreven."), validators=[InputRequired(CONSENT_REQUIRED)]
    )


class StillAvailableForm(FlaskForm):
    answer = RadioField(
        _l("Ben je nog beschikbaar voor ander werk?"),
        choices=[("yes", _l("Ja, ik ben nog beschikbaar")), ("no", _l("Nee, pauzeer mijn profiel"))],
        validators=[InputRequired(_l("Kies ja of nee."))],
    )
