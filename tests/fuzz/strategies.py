"""Hypothesis strategies: hostile text, values for each kind of form field, and whole CSV files."""
import csv
import io

from hypothesis import strategies as st

from nlwerktdoor import reference
from nlwerktdoor.services.imports import COLUMNS

# Text a browser can send (no lone surrogates: they cannot be encoded, so no client sends them).
_CHARS = st.characters(blacklist_categories=("Cs",))

HOSTILE = (
    "", " ", "\t", "\r\n", "\n\n\n", "0", "-1", "1e309", "NaN", "null", "None", "true", "[]", "{}",
    "=1+1", "=HYPERLINK(\"http://evil.example\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3",
    "'", '"', "\"\"\"", "' OR 1=1 --", "%s%s%n", "{{ 7*7 }}", "<script>alert(1)</script>", "&amp;",
    "\x00", "a\x00b", "\x1b[31m", "\x7f", "\u202e", "\ufeff", "\u200b", "😀" * 3, "ﬁ", "İ", "ß",
    "x" * 300, "9" * 40, "é" * 5000, "a,b;c\td|e", "../../etc/passwd", "\\\\server\\share",
    "//evil.example", "http://evil.example/", "javascript:alert(1)",
)


def hostile_text(max_size: int = 60):
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(_CHARS, max_size=max_size),
        st.builds(lambda a, b: a * b, st.sampled_from(["a", "é", "😀", "=", ";", "\n", " "]),
                  st.integers(1, 20_000)),
    )


def _occupation_values():
    occupations = list(reference.occupations().values())
    picked = occupations[:: max(1, len(occupations) // 40)][:40]
    ids = [reference.resolve_occupation(x) for x in ("flight attendant", "healthcare assistant")]
    picked += [reference.occupations()[i] for i in ids if i]
    values = []
    for occupation in picked:
        values += [occupation.id, occupation.label("nl"), occupation.label("en").upper()]
    return values


def _skill_values():
    skills = []
    for occupation in list(reference.occupations().values())[:20]:
        skills += list(occupation.essential_skills)[:3]
    return skills + [reference.skill_label(s, "nl") for s in skills[:10]]


OCCUPATIONS = _occupation_values()
SKILLS = _skill_values()
POSTCODES = ("1011", "1011 AB", "1012ab", " 3511 ", "9999", "0000", "1011ABC", "10110", "AB12", "1011 A")
DATES = ("2026-12-01", "01-12-2026", "2027-01-31", "2026-02-30", "0001-01-01", "9999-12-31", "10000-01-01",
         "2026-13-01", "1-1-2026", "2026/12/01", "31-12-9999", "1970-01-01")
NUMBERS = ("1", "0", "-1", "36", "25", "250", "251", "60", "61", "1000", "10000", "100001", "1.5", "1,0",
           "1e3", "99999999999999999999999", " 7 ", "+5", "٣")
KVK = ("12345678", "1234 5678", "1234567", "123456789", "ABCDEFGH", "00000000")
SECTORS = ("care", "hospitality", "aviation", "Zorg en welzijn", "onbekend")
BOOLEANS = ("ja", "nee", "yes", "no", "1", "0", "x", "waar", "misschien")
LANGUAGES = ("nl", "en", "nl|en", "pt-br", "NL", "nederlands")
CERTIFICATES = tuple(reference.CERTIFICATES) + ("VOG|BHV", "rijbewijs", "vog")
TRANSFER = ("secondment", "permanent", "either", "detachering", "vast", "beide", "anders")


def email_values(known: tuple[str, ...] = ()):
    fresh = st.builds(lambda n: f"fuzz{n}@example.org", st.integers(0, 10**6))
    plain = st.sampled_from(("a@b", "x@example.org ", "X@Example.ORG", "no-at-sign", "@example.org",
                             "a@b@c.org", "ä@example.org", "a@" + "b" * 250 + ".org", "a b@example.org"))
    choices = [fresh, plain, hostile_text()]
    if known:
        choices.append(st.sampled_from(known))
    return st.one_of(*choices)


def _hinted(name: str):
    """Plausible values chosen by what the field's name suggests."""
    n = name.lower()
    if "postcode" in n or n == "pc4":
        return st.sampled_from(POSTCODES)
    if "occupation" in n or "beroep" in n:
        return st.sampled_from(OCCUPATIONS)
    if "skill" in n:
        return st.lists(st.sampled_from(SKILLS), max_size=4).map("|".join)
    if "kvk" in n:
        return st.sampled_from(KVK)
    if "date" in n or n.startswith("available") or "datum" in n:
        return st.sampled_from(DATES)
    if any(word in n for word in ("count", "positions", "hours", "distance", "km", "number")):
        return st.sampled_from(NUMBERS)
    if "certificate" in n:
        return st.sampled_from(CERTIFICATES)
    if "language" in n or "locale" in n:
        return st.sampled_from(LANGUAGES)
    if "sector" in n:
        return st.sampled_from(SECTORS)
    if "transfer" in n:
        return st.sampled_from(TRANSFER)
    return None


def field_value(field, *, known_emails=(), password: str = ""):
    """A value to post for one discovered field: None (left out), a str, or a list of str (repeated name)."""
    strategy = _field_value(field, known_emails, password)
    return strategy if field.kind == "file" else st.one_of(strategy, st.just(as_shown(field)))


def good_value(field, password: str = ""):
    """A value the form should accept for this field (a fresh address, a real occupation, a valid date…)."""
    kind, name = field.kind, field.name.lower()
    options = [o for o in field.options if o]
    if kind == "file":  # a file of the upload's own organisation, for either side (one of them fits)
        return st.tuples(st.builds(good_csv, st.sampled_from(("shortages", "listings")), st.integers(1, 4)),
                         st.just("fuzz.csv"))
    if kind in ("select", "radio", "submit"):
        return st.sampled_from(options) if options else st.just("")
    if kind == "checkbox":
        return st.lists(st.sampled_from(options), max_size=3, unique=True) if options else st.just([])
    if kind == "email" or "email" in name:
        return st.builds(lambda n: f"goed{n}@example.org", st.integers(0, 10**6))
    if kind == "password":
        return st.just(password)
    if kind == "date" or "date" in name or name.startswith("available"):
        return st.sampled_from(("2026-12-01", "2027-01-15"))
    if kind == "number":
        return st.sampled_from(("1", "25", "36"))
    if "postcode" in name:
        return st.sampled_from(("1011 AB", "3511", "9711ab"))
    if "occupation" in name:
        return st.sampled_from(OCCUPATIONS)
    if "skill" in name:
        return st.just("")
    if "kvk" in name:
        return st.builds(lambda n: f"{n:08d}", st.integers(20_000_000, 99_999_999))
    if "phone" in name:
        return st.just("06 12345678")
    return st.sampled_from(("Jan de Vries", "Zorgassistent", "Een korte toelichting."))


def as_shown(field):
    """What the page filled in (an edit form's current values): a valid answer, so whole forms can pass."""
    if field.multiple or field.kind == "checkbox":
        return list(field.value)
    return field.value[0] if field.value else None


def _field_value(field, known_emails, password):
    kind, name, options = field.kind, field.name, field.options
    text = hostile_text()
    if kind == "file":
        return st.tuples(csv_file(st.sampled_from(("shortages", "listings", "workers")), operator=False),
                         st.sampled_from(("data.csv", "DATA.CSV", "data.txt", "data", "", "../x.csv", "a b.csv")))
    if kind in ("select", "radio", "checkbox"):
        pick = st.sampled_from(options) if options else text
        if kind == "checkbox" or field.multiple:
            return st.one_of(st.lists(pick, max_size=4), st.lists(text, max_size=3), st.none())
        return st.one_of(pick, pick, text, st.none())
    if kind == "email":
        return st.one_of(email_values(known_emails), st.none())
    if kind == "password":
        return st.one_of(st.sampled_from((password, password + "x", "kort", "wachtwoord123", "a" * 12, "a" * 500)),
                         text, st.none())
    if kind == "date":
        return st.one_of(st.sampled_from(DATES), text, st.none())
    if kind == "number":
        return st.one_of(st.sampled_from(NUMBERS), text, st.none())
    hinted = _hinted(name)
    if kind == "submit":
        return st.one_of(st.sampled_from(options or ("",)), text, st.none())
    if hinted is not None:
        return st.one_of(hinted, hinted, text, st.none())
    if "email" in name.lower():
        return st.one_of(email_values(known_emails), st.none())
    return st.one_of(text, st.none(), st.lists(text, min_size=2, max_size=3))


def extra_fields():
    """Field names the form does not have, with hostile values (also for routes without a known form)."""
    names = st.one_of(st.sampled_from(("id", "organisation_id", "role", "user_id", "is_admin", "status", "answer",
                                       "trend", "resend", "next", "email", "code", "emails", "password", "file")),
                      st.text(_CHARS, min_size=1, max_size=20))
    return st.dictionaries(names, hostile_text(), max_size=4)


# ---------------------------------------------------------------- CSV files for the importer

def _cell(column: str, known_emails=()):
    hinted = _hinted(column)
    if column in ("email", "contact_email"):
        good = email_values(known_emails)
    elif column == "external_ref":
        good = st.one_of(st.builds(lambda n: f"R{n}", st.integers(0, 30)), st.just("x" * 101))
    elif column in ("training_offered", "open_hiring", "consent"):
        good = st.sampled_from(BOOLEANS)
    elif column in ("name", "employer_name", "title"):
        good = st.sampled_from(("Jan de Vries", "Zorg BV", "Café 't Hoekje", "Ñandú & Zn."))
    elif column == "desired_sectors":
        good = st.sampled_from(("care|hospitality", "care", "onbekend|care"))
    else:
        good = hinted if hinted is not None else hostile_text()
    return st.one_of(good, good, good, hostile_text(), st.just(""))


_GOOD_OCCUPATIONS = ("healthcare assistant", "flight attendant", "kok", "heftruckchauffeur")


def _good_row(kind: str, number: int, kvk: str, operator: bool) -> dict:
    """Every cell of one row that imports: the importer's happy path, to be spoiled a little."""
    row = {"external_ref": f"R{number}", "occupation": _GOOD_OCCUPATIONS[number % len(_GOOD_OCCUPATIONS)],
           "postcode": POSTCODES[number % 3], "max_distance_km": "25", "hours_per_week": "32", "certificates": ""}
    if kind == "workers":
        return row | {"email": f"werker{number}@example.org", "name": "Jan de Vries", "skills": "",
                      "available_from": "2026-12-01", "desired_sectors": "care", "languages": "nl|en",
                      "consent": "ja"}
    row |= {"employer_kvk": kvk if operator else "", "employer_name": "Fuzz BV" if operator else "",
            "sector": ("care" if kind == "shortages" else "aviation") if operator else "",
            "contact_email": f"contact{kvk}@example.org" if operator else ""}
    if kind == "shortages":
        return row | {"title": "Zorgassistent", "required_skills": "", "nice_skills": "", "positions": "2",
                      "start_date": "01-12-2026", "training_offered": "ja", "open_hiring": "nee"}
    return row | {"skills": "", "count": "3", "available_from": "2026-12-01", "available_until": "",
                  "transfer_type": "detachering"}


def good_csv(kind: str, rows: int, operator: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(COLUMNS[kind])
    for number in range(rows):
        writer.writerow([_good_row(kind, number, "87654321", operator)[c] for c in COLUMNS[kind]])
    return out.getvalue().encode()


@st.composite
def csv_table(draw, kind: str, known_emails=(), operator: bool | None = None):
    """(header, rows) of cells: real column names (some missing, renamed or extra) with hostile values.
    Half of the tables start from rows that import and spoil a few cells (or none)."""
    if draw(st.booleans()):
        operator = draw(st.booleans()) if operator is None else operator
        kvk = draw(st.sampled_from(("87654321", "87654322")))
        header = list(COLUMNS[kind])
        rows = [[_good_row(kind, n, kvk, operator)[c] for c in header] for n in range(draw(st.integers(1, 5)))]
        for _ in range(draw(st.sampled_from((0, 0, 1, 2)))):
            row, column = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(header) - 1))
            rows[row][column] = draw(_cell(header[column], known_emails))
        return header, rows
    columns = list(COLUMNS[kind])
    header = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=len(columns) + 2, unique=False))
    if draw(st.booleans()):
        header = columns  # every column, in order: the rows can then pass
    header = [draw(st.sampled_from((name, name.upper(), f" {name} ", name.replace("_", " "), name.replace("_", "-"))))
              if draw(st.integers(0, 9)) == 0 else name for name in header]
    if draw(st.integers(0, 5)) == 0:
        header.append(draw(hostile_text(20)))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row = []
        for name in header:
            key = name.strip().lower().replace(" ", "_").replace("-", "_")
            row.append(draw(_cell(key, known_emails)) if key in columns else draw(hostile_text(20)))
        if draw(st.integers(0, 6)) == 0:
            row = row[: draw(st.integers(0, len(row)))] + draw(st.lists(hostile_text(10), max_size=3))
        rows.append(row)
    return header, rows


@st.composite
def csv_file(draw, kinds, known_emails=(), operator: bool | None = None):
    """The bytes of a CSV file: plausible tables in many dialects and encodings, and plain garbage."""
    kind = draw(kinds) if not isinstance(kinds, str) else kinds
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2000))
    header, rows = draw(csv_table(kind, known_emails, operator))
    delimiter = draw(st.sampled_from((",", ";", "\t", "|", ",", ";")))
    quoting = draw(st.sampled_from((csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC)))
    terminator = draw(st.sampled_from(("\r\n", "\n", "\r")))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    text = out.getvalue()
    mangle = draw(st.integers(0, 12))
    if mangle == 0 and text:  # mixed delimiters: one line uses another separator
        lines = text.split(terminator)
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i].replace(delimiter, draw(st.sampled_from((",", ";", "\t"))))
        text = terminator.join(lines)
    elif mangle == 1:  # an unbalanced quote
        text = text[: len(text) // 2] + '"' + text[len(text) // 2:]
    elif mangle == 2:  # a very long line
        text += "x" * draw(st.integers(1000, 200_000)) + terminator
    elif mangle == 3:  # empty lines and lines of separators
        text = terminator * 3 + text + (delimiter * 5 + terminator) * 2
    encoding = draw(st.sampled_from(("utf-8", "utf-8", "utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16",
                                     "utf-16-le", "mac-roman")))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 15)) == 0 and data:  # cut off in the middle of a character or a row
        data = data[: draw(st.integers(0, len(data)))]
    return data
