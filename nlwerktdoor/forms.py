"""Form fields shared by the blueprints: postcode, occupation, skills, certificates, sectors."""
from functools import lru_cache

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, PasswordField, SelectMultipleField, StringField, widgets
from wtforms.i18n import get_translations as wtforms_translations
from wtforms.validators import InputRequired, ValidationError

from . import reference
from .templating import occupation_label, skill_label


class MessagesOncePerProcess:
    """A form's `Meta`: WTForms' own messages ("Not a valid choice") in the user's language, loaded
    once per process and language. Flask-WTF loads them from disk for every form it builds; for the
    public search's filters, on the busiest page, that was most of the form's cost."""

    def get_translations(self, form):
        return _wtforms_messages(str(get_locale() or "nl"))


@lru_cache(maxsize=None)
def _wtforms_messages(locale: str):
    return wtforms_translations([locale])


class PostcodeField(StringField):
    """Accepts '1011', '1011 AB' or '1011ab'; `data` becomes the PC4 ('1011')."""

    def pre_validate(self, form):
        if self.raw_data and self.raw_data[0].strip():
            pc4 = reference.parse_postcode(self.raw_data[0])
            if pc4 is None:
                raise ValidationError(_l("Vul een geldige Nederlandse postcode in, bijvoorbeeld 1011 of 1011 AB."))
            self.data = pc4


class OccupationField(StringField):
    """Text input with autocomplete (static/js/pickers.js); accepts an ESCO label, id or URI.
    `data` is the ESCO occupation id."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return occupation_label(self.data) if self.data else ""

    def process_formdata(self, valuelist):
        self.raw_data = valuelist
        text = valuelist[0].strip() if valuelist else ""
        self.data = reference.resolve_occupation(text) if text else None
        if text and self.data is None:
            self.process_errors.append(_l("Dit beroep kennen we niet. Kies een beroep uit de lijst."))

    def __call__(self, **kwargs):
        kwargs.setdefault("data-occupation-picker", "1")
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(**kwargs)


class SkillListWidget:
    """Checked checkboxes for the chosen skills, plus a search box that pickers.js uses to add more."""

    def __call__(self, field, **kwargs):
        items = []
        for skill_id in field.data or []:
            items.append(
                f'<li><label><input type="checkbox" name="{escape(field.name)}" value="{escape(skill_id)}" checked> '
                f"{escape(skill_label(skill_id))}</label></li>"
            )
        search_label = escape(_l("Vaardigheid toevoegen"))
        return Markup(
            f'<div class="skill-picker" data-skill-picker="{escape(field.name)}" id="{escape(field.id)}">'
            f'<ul class="skill-list">{"".join(items)}</ul>'
            f'<label class="skill-search">{search_label} '
            # Without JavaScript a typed label is posted under the field's own name and resolved on submit.
            f'<input type="text" name="{escape(field.name)}" data-skill-search autocomplete="off" '
            f'placeholder="{escape(_l("zoek een vaardigheid"))}"></label></div>'
        )


class SkillListField(Field):
    """A list of ESCO skill ids; the form posts ids (checkboxes) or labels (typed, without JS)."""

    widget = SkillListWidget()

    def process_formdata(self, valuelist):
        resolved, unknown = [], []
        for value in valuelist:
            for part in value.split("|"):
                if not part.strip():
                    continue
                skill_id = reference.resolve_skill(part)
                (resolved.append(skill_id) if skill_id else unknown.append(part.strip()))
        self.data = list(dict.fromkeys(resolved))
        if unknown:
            self.process_errors.append(_l("Onbekende vaardigheid: %(names)s", names=", ".join(unknown)))

    def _value(self):
        return "|".join(self.data or [])


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def certificate_choices():
    return [(code, code) for code in reference.CERTIFICATES]


class CertificatesField(MultiCheckboxField):
    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, choices=certificate_choices(), **kwargs)


def sector_choices(sectors, locale: str = "nl", trend: str | None = None):
    """(code, name) pairs for a select, optionally only the sectors with this trend."""
    return [(s.code, s.name(locale)) for s in sectors if trend is None or s.trend == trend]


class EraseForm(FlaskForm):
    """Erasing personal data (a worker's own, or an organisation's): a confirmation and the password."""

    confirm = BooleanField(
        _l("Ja, wis al mijn gegevens. Dit kan niet ongedaan worden gemaakt."),
        validators=[InputRequired(_l("Vink aan dat je al je gegevens wilt laten wissen."))],
    )
    password = PasswordField(_l("Je wachtwoord"), validators=[InputRequired(_l("Vul je wachtwoord in."))])
