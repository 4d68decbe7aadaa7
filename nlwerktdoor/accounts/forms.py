"""Forms for registration, login, passwords and colleague invitations."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, Optional

from ..services.accounts import MIN_PASSWORD_LENGTH


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _email_field(label=None):
    return EmailField(
        label or _l("E-mailadres"),
        filters=[_strip],
        validators=[DataRequired(_l("Vul je e-mailadres in.")), Email(_l("Vul een geldig e-mailadres in.")), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )


def _new_password_fields():
    password = PasswordField(
        _l("Wachtwoord"),
        validators=[
            DataRequired(_l("Kies een wachtwoord.")),
            Length(min=MIN_PASSWORD_LENGTH, max=200,
                   message=_l("Kies een wachtwoord van minstens %(n)s tekens.", n=MIN_PASSWORD_LENGTH)),
        ],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH},
    )
    confirm = PasswordField(
        _l("Herhaal het wachtwoord"),
        validators=[DataRequired(_l("Herhaal het wachtwoord.")),
                    EqualTo("password", _l("De twee wachtwoorden zijn niet gelijk."))],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


def _name_field(label=None):
    return StringField(
        label or _l("Naam"), validators=[DataRequired(_l("Vul je naam in.")), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )


def _locale_field():
    return RadioField(
        _l("Taal voor e-mails en de website"), choices=[("nl", "Nederlands"), ("en", "English")], default="nl",
        validators=[InputRequired(_l("Kies een taal."))],
    )


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mailadres"), filters=[_strip], validators=[DataRequired(_l("Vul je e-mailadres in."))],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Wachtwoord"), validators=[DataRequired(_l("Vul je wachtwoord in."))],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class WorkerRegistrationForm(FlaskForm):
    name = _name_field()
    email = _email_field()
    password, confirm = _new_password_fields()
    locale = _locale_field()


SIDE_CHOICES = [
    ("shrinking", _l("We hebben minder werk en bieden personeel aan")),
    ("growing", _l("We komen mensen tekort")),
]


class EmployerRegistrationForm(FlaskForm):
    name = _name_field(_l("Je naam"))
    email = _email_field(_l("Je zakelijke e-mailadres"))
    password, confirm = _new_password_fields()
    organisation_name = StringField(
        _l("Naam van de organisatie"),
        validators=[DataRequired(_l("Vul de naam van je organisatie in.")), Length(max=200)],
        render_kw={"autocomplete": "organization"},
    )
    kvk_number = StringField(
        _l("KvK-nummer"), validators=[DataRequired(_l("Vul het KvK-nummer in (8 cijfers)."))],
        render_kw={"inputmode": "numeric", "maxlength": 10, "pattern": r"[0-9 ]{8,10}"},
    )
    sector = SelectField(_l("Sector"), validators=[DataRequired(_l("Kies een sector."))])
    # Empty = take it from the sector's trend (the service decides).
    side = RadioField(_l("Jullie situatie"), choices=SIDE_CHOICES, validators=[Optional()])
    locale = _locale_field()


class ColleagueRegistrationForm(FlaskForm):
    name = _name_field(_l("Je naam"))
    password, confirm = _new_password_fields()
    locale = _locale_field()


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class SetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()


class InviteColleagueForm(FlaskForm):
    email = _email_field(_l("E-mailadres van je collega"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Huidig wachtwoord"), validators=[DataRequired(_l("Vul je huidige wachtwoord in."))],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields()


def _code_field(label=None):
    return StringField(
        label or _l("Code"),
        filters=[_strip],
        validators=[DataRequired(_l("Vul de code in.")), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"},
    )


class SecondFactorForm(FlaskForm):
    code = _code_field(_l("Code uit je app (6 cijfers) of een reservecode"))


class EnableSecondFactorForm(FlaskForm):
    code = _code_field(_l("Code uit je app (6 cijfers)"))


class DisableSecondFactorForm(FlaskForm):
    password = PasswordField(_l("Wachtwoord"), validators=[DataRequired(_l("Vul je wachtwoord in."))],
                             render_kw={"autocomplete": "current-password"})
    code = _code_field(_l("Code uit je app (6 cijfers) of een reservecode"))
