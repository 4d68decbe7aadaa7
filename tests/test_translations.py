"""The English catalog: complete, faithful to the placeholders, compiled, and used by the app.

Dutch is the source language: every user-facing text is written in Dutch as the msgid. A new Dutch
text without an English translation fails here; `make translations` re-extracts, updates the
catalog and compiles it, after which the new msgstr entries can be filled in.
"""
import fnmatch
import html
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "nlwerktdoor" / "translations"
PO_FILE = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO_FILE = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"
HINT = "Run `make translations` and fill in the English msgstr in " + str(PO_FILE.relative_to(ROOT))

# %(name)s style (what gettext(..., name=...) uses) and {name} style, should a text ever use str.format.
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{(\w*)(?:[!:][^{}]*)?\}")


def _forms(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _placeholders(text: str | None) -> set[str]:
    return {"%(" + a + ")" if a else "{" + b + "}" for a, b in PLACEHOLDER.findall(text or "")}


@pytest.fixture(scope="module")
def english() -> Catalog:
    with PO_FILE.open("rb") as f:
        return read_po(f, locale="en")


@pytest.fixture(scope="module")
def source_messages() -> Catalog:
    """The msgids as `pybabel extract -F babel.cfg -k _l -k lazy_gettext .` finds them today."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, filename="babel.cfg")
    keywords = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None)
    catalog = Catalog(locale="en")
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        catalog.add(message, None, [(filename, lineno)], context=context)
    return catalog


def _is_translated(message) -> bool:
    return message is not None and not message.fuzzy and all(_forms(message.string))


def test_source_texts_were_found(source_messages):
    ids = {m.id for m in source_messages if m.id}
    # Guards the extraction itself: a broken babel.cfg or keyword list would make the next test vacuous.
    assert len(ids) > 500
    assert "Werk waar het nu nodig is" in ids  # a template
    assert "Vul je e-mailadres in." in ids  # a lazy_gettext (_l) form text
    assert "Niet gevonden" in ids  # a gettext (_) text in Python


def test_every_dutch_text_has_an_english_translation(source_messages, english):
    missing = [
        message.id
        for message in source_messages
        if message.id and not _is_translated(english.get(message.id, message.context))
    ]
    assert not missing, f"{len(missing)} Dutch text(s) without English translation. {HINT}:\n" + "\n".join(
        f"  {msgid!r}" for msgid in missing
    )


def test_catalog_has_no_fuzzy_or_empty_entries(english):
    bad = [m.id for m in english if m.id and not _is_translated(m)]
    assert not bad, f"Fuzzy or untranslated entries in the English catalog. {HINT}:\n" + "\n".join(
        f"  {msgid!r}" for msgid in bad
    )


def test_translations_keep_the_placeholders(english):
    wrong = []
    for message in english:
        if not message.id:
            continue
        ids, strings = _forms(message.id), _forms(message.string)
        if message.pluralizable:
            known = set().union(*(_placeholders(i) for i in ids))
            # The plural form must keep every placeholder of the Dutch plural; no form may invent one
            # (an unknown name raises KeyError when the text is formatted).
            ok = _placeholders(strings[-1]) >= _placeholders(ids[-1]) and all(
                _placeholders(s) <= known for s in strings
            )
        else:
            ok = _placeholders(strings[0]) == _placeholders(ids[0])
        if not ok:
            wrong.append(f"  {message.id!r}\n    -> {message.string!r}")
    assert not wrong, "Translations that lose or change a placeholder:\n" + "\n".join(wrong)


def test_translations_keep_html_and_surrounding_whitespace(english):
    tag = re.compile(r"<[^>]+>|&\w+;|&#\d+;")
    wrong = []
    for message in english:
        if not message.id:
            continue
        for msgid, msgstr in zip(_forms(message.id), _forms(message.string)):
            if not msgstr:
                continue
            lead_id, trail_id = msgid[: len(msgid) - len(msgid.lstrip())], msgid[len(msgid.rstrip()):]
            lead_str, trail_str = msgstr[: len(msgstr) - len(msgstr.lstrip())], msgstr[len(msgstr.rstrip()):]
            if (lead_id, trail_id) != (lead_str, trail_str) or sorted(tag.findall(msgid)) != sorted(tag.findall(msgstr)):
                wrong.append(f"  {msgid!r}\n    -> {msgstr!r}")
    assert not wrong, "Translations that change HTML or leading/trailing whitespace:\n" + "\n".join(wrong)


def test_babel_checks_pass(english):
    problems = [f"  {m.id!r}: {errors}" for m, errors in english.check()]
    assert not problems, "Babel's catalog checks failed:\n" + "\n".join(problems)


def test_compiled_catalog_is_up_to_date(english):
    assert MO_FILE.exists(), f"{MO_FILE.relative_to(ROOT)} is missing. Run `make translations`."
    with MO_FILE.open("rb") as f:
        compiled = read_mo(f)
    # read_mo gives plural ids as lists, read_po as tuples: compare both as tuples of forms.
    expected = {(_forms(m.id), m.context): _forms(m.string) for m in english if m.id and _is_translated(m)}
    actual = {(_forms(m.id), m.context): _forms(m.string) for m in compiled if m.id}
    stale = [key for key in expected.keys() ^ actual.keys()]
    stale += [key for key in expected.keys() & actual.keys() if expected[key] != actual[key]]
    assert not stale, "messages.mo does not match messages.po. Run `make translations`:\n" + "\n".join(
        sorted(f"  {ids[0] if len(ids) == 1 else ids!r}" for ids, _context in stale)
    )


def test_compiled_catalog_is_not_git_ignored():
    """The .mo file is committed (the app serves it without a build step)."""
    patterns = [
        line.strip()
        for line in (ROOT / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    relative = str(MO_FILE.relative_to(ROOT))
    ignored = [p for p in patterns if fnmatch.fnmatch(MO_FILE.name, p) or fnmatch.fnmatch(relative, p.lstrip("/"))]
    assert not ignored, f".gitignore ignores {relative}: {ignored}"


# -- through the app


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_home_page_in_english_and_back_to_dutch(client):
    english = client.get("/?lang=en")
    assert english.status_code == 200
    page = _page(english)
    assert "Work where it's needed now" in page
    assert "Werk waar het nu nodig is" not in page
    assert '<html lang="en">' in page

    # The choice sticks for the session ...
    assert "Work where it's needed now" in _page(client.get("/"))

    # ... until the visitor switches back.
    dutch = client.get("/?lang=nl")
    assert dutch.status_code == 200
    page = _page(dutch)
    assert "Werk waar het nu nodig is" in page
    assert "Work where it's needed now" not in page
    assert '<html lang="nl">' in page


def test_browser_language_picks_english(client):
    page = _page(client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert "Work where it's needed now" in page


def test_error_page_in_english(client):
    response = client.get("/bestaat-niet?lang=en")
    assert response.status_code == 404
    page = _page(response)
    assert "Not found" in page
    assert "This page doesn't exist (any more)." in page
    assert "Go to the home page" in page
    assert "Niet gevonden" not in page


def test_email_in_english_composed_while_a_dutch_page_is_served(app):
    """Templates look the catalog up once per request and language (i18n._catalog): an email in
    its recipient's language, composed during a Dutch request, must still come out in English,
    and the page after it in Dutch again."""
    from nlwerktdoor.mail import compose

    data = {"has_password": True, "name": "Sam", "link": "https://nlwerktdoor.test/x", "valid_days": 2}
    page = app.jinja_env.from_string('{{ _("Inloggen") }}')
    with app.test_request_context("/?lang=nl"):
        assert page.render() == "Inloggen"
        message = compose("password", "en", "sam@example.org", data)
        assert page.render() == "Inloggen"
        dutch = compose("password", "nl", "sam@example.org", data)
    assert message["Subject"] == "A new password for nlwerktdoor"
    assert "Hello Sam," in message.get_body(("plain",)).get_content()
    assert "Hello Sam," not in dutch.get_body(("plain",)).get_content()


def test_email_in_english(app):
    from nlwerktdoor.mail import compose

    data = {"has_password": True, "name": "Sam", "link": "https://nlwerktdoor.test/x", "valid_days": 2}
    message = compose("password", "en", "sam@example.org", data)
    assert message["Subject"] == "A new password for nlwerktdoor"
    body = message.get_body(("plain",)).get_content()
    assert "Hello Sam," in body
    assert "The link is valid for 2 days and works only once." in body
    html_body = html.unescape(message.get_body(("html",)).get_content())
    assert "Hello Sam," in html_body


def test_template_strings_follow_jinjas_newstyle_rules_with_the_renders_catalog(app):
    """`_()` in templates (i18n._template_gettext) keeps Jinja's newstyle rules: always a format
    string, variables escaped in HTML and left as they are in text. Its catalog (and the language of
    the date filter) is the one of the render, taken when the render starts, so a template rendered
    under force_locale inside a Dutch request speaks the forced language."""
    from datetime import date

    from flask import render_template_string
    from flask_babel import force_locale
    from markupsafe import Markup

    template = '{{ _("Start %(date)s", date=when) }} {{ _("Inloggen") }} {{ _("100%% klaar") }}'
    with app.test_request_context("/?lang=nl"):
        assert render_template_string(template, when="<b>") == "Start &lt;b&gt; Inloggen 100% klaar"
        assert app.jinja_env.from_string(template).render(when="<b>") == "Start &lt;b&gt; Inloggen 100% klaar"
        text = app.jinja_env.overlay(autoescape=False).from_string(template)
        assert text.render(when="<b>") == "Start <b> Inloggen 100% klaar"
        # Numbers keep their number formats; markup already safe is not escaped twice.
        formats = '{{ _("%(n)d van %(share).1f%% bij %(who)s", n=3, share=12.345, who=who) }}'
        assert render_template_string(formats, who=Markup("<i>A&amp;B</i>")) == "3 van 12.3% bij <i>A&amp;B</i>"
        assert render_template_string(formats, who="A&B") == "3 van 12.3% bij A&amp;B"
        dated = '{{ _("Inloggen") }} {{ day | date }} {{ current_locale() }}'
        with force_locale("en"):
            assert render_template_string(dated, day=date(2026, 3, 9)) == "Log in 2026-03-09 en"
        assert render_template_string(dated, day=date(2026, 3, 9)) == "Inloggen 09-03-2026 nl"
