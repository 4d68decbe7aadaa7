"""Bulk import of shortages, staff listings and workers from CSV (DESIGN.md, "CSV").

The whole file is checked before anything is written: every bad cell becomes a RowError with the
row number a spreadsheet shows (header = row 1), and a file with any error imports nothing. A
good file is written in one transaction. Re-importing updates rows by `external_ref` instead of
duplicating them. Look-ups use the cached reference index and a few bulk queries, never one
query per row, so a 100,000-row file imports in seconds rather than hours.
"""
from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import reference
from ..extensions import db
from ..models import Organisation, Shortage, StaffListing, User, WorkerProfile
from . import sectors as sector_service
from .bulk import chunks

log = logging.getLogger(__name__)

KINDS = ("shortages", "listings", "workers")

COLUMNS = {
    "shortages": (
        "external_ref", "employer_kvk", "employer_name", "contact_email", "sector", "title", "occupation",
        "required_skills", "nice_skills", "positions", "postcode", "max_distance_km", "start_date",
        "hours_per_week", "certificates", "training_offered", "open_hiring",
    ),
    "listings": (
        "external_ref", "employer_kvk", "employer_name", "contact_email", "sector", "occupation", "skills", "count",
        "postcode", "max_distance_km", "available_from", "available_until", "hours_per_week", "transfer_type",
        "certificates",
    ),
    "workers": (
        "external_ref", "email", "name", "occupation", "skills", "postcode", "max_distance_km", "available_from",
        "hours_per_week", "desired_sectors", "certificates", "languages", "consent",
    ),
}

# Columns the header must have. The others may be left out: their empty value has a sensible meaning
# (no certificates, the occupation's essential skills, 25 km, 36 hours, available now…).
_REQUIRED_COLUMNS = {
    "shortages": ("external_ref", "contact_email", "title", "occupation", "postcode", "start_date"),
    "listings": ("external_ref", "contact_email", "occupation", "postcode", "available_from"),
    "workers": ("external_ref", "email", "name", "occupation", "postcode", "consent"),
}
# Only an operator import names the employer; a web upload is for the uploader's own organisation.
_OPERATOR_COLUMNS = ("employer_kvk", "employer_name", "sector")

CONSENT_VERSION = "csv-import"
DEFAULT_MAX_DISTANCE_KM = 25
DEFAULT_HOURS_PER_WEEK = 36
MAX_DISTANCE_RANGE = (1, 250)
HOURS_RANGE = (1, 60)
MAX_REF_LENGTH = 100
_CHUNK = 500  # ids or emails per IN (...) query, well below every database's parameter limit

_TRUE = {"ja", "j", "yes", "y", "1", "true", "waar", "x"}
_FALSE = {"nee", "n", "no", "0", "false", "onwaar"}
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
# Dutch Excel turns dates into 01-03-2026 when it saves a CSV; we read that too.
_DUTCH_DATE_RE = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")
_INT_RE = re.compile(r"^[+]?(\d+)(?:[.,]0+)?$")
_KVK_RE = re.compile(r"^\d{8}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
_TRANSFER_TYPES = {
    "secondment": "secondment", "detachering": "secondment", "detacheren": "secondment",
    "permanent": "permanent", "vast": "permanent", "overname": "permanent",
    "either": "either", "beide": "either", "allebei": "either", "": "either",
}


@dataclass(frozen=True, order=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ImportReport:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    # "utf-8", or "windows-1252" when an old Excel export was read as such.
    encoding: str = "utf-8"
    # Shortages: of those created or changed, how many got their candidates at once (the rest: next run).
    matched_at_once: int = 0

    @property
    def rows_with_errors(self) -> int:
        return len({error.row for error in self.errors})

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int, int], None]


def import_csv(kind: str, data: bytes | str, *, organisation: Organisation | None = None,
               progress: Progress | None = None) -> ImportReport:
    """Check the whole file, then write all of it in one transaction or nothing at all.

    `organisation` given = an employer's web upload: every row belongs to that organisation.
    None = an operator import (CLI): organisations are found by KvK number, and created verified.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    if has_request_context():
        return _Importer(kind, organisation, progress).run(data)
    # The command line has no request to choose a language from; operators read Dutch.
    with force_locale("nl"):
        return _Importer(kind, organisation, progress).run(data)


# ---------------------------------------------------------------- reading the file


class _FileError(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors


def _decode(data: bytes | str) -> tuple[str, str]:
    text, encoding = _decode_text(data)
    if "\x00" in text:
        # A NUL is never text (PostgreSQL refuses it too): the file is binary or saved as UTF-16 without a BOM.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise _FileError([RowError(line, "", _(
            "Dit bestand bevat een onleesbaar teken (NUL) op regel %(line)s. "
            "Sla het op als 'CSV UTF-8 (door komma's gescheiden)' en probeer het opnieuw.", line=line))])
    return text, encoding


def _decode_text(data: bytes | str) -> tuple[str, str]:
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        bad = utf8_error.start
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _FileError([RowError(1, "", _(
            "Dit bestand is opgeslagen als UTF-16 (Excel: 'Unicode-tekst'). "
            "Sla het op als 'CSV UTF-8 (door komma's gescheiden)' en probeer het opnieuw."))])
    # Older Excel versions save "CSV" in Windows-1252. Every byte that is not UTF-8 is then a letter
    # such as é or ë; we accept the file when it decodes cleanly and holds no control characters.
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        return text, "windows-1252"
    line = data[:bad].count(b"\n") + 1
    raise _FileError([RowError(line, "", _(
        "Dit bestand is geen UTF-8-tekst (onleesbaar teken op positie %(position)s). "
        "Sla het op als 'CSV UTF-8 (door komma's gescheiden)' en probeer het opnieuw.",
        position=bad + 1 - (data.rfind(b"\n", 0, bad) + 1)))])


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().removeprefix("\ufeff").strip().casefold())


def _read_rows(text: str, kind: str, operator: bool) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """The header's column positions and the non-empty data rows, each with its spreadsheet row number."""
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), None)
    if header_line is None:
        raise _FileError([RowError(1, "", _("Het bestand is leeg."))])
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    if header_line.count("\t") > max(header_line.count(";"), header_line.count(",")):
        delimiter = "\t"

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, record in enumerate(reader, start=1):
            if not any(cell.strip() for cell in record):
                continue  # an empty line (or a row of empty cells) still takes a row number
            if header is None:
                header, header_row = record, number
            else:
                rows.append((number, record))
    except csv.Error as error:
        raise _FileError([RowError(reader.line_num, "", _(
            "Deze regel kunnen we niet lezen (%(reason)s). Controleer de aanhalingstekens.", reason=str(error)))])
    if header is None:  # only quotes or separators: no cell with text, so no header either
        raise _FileError([RowError(1, "", _("Het bestand is leeg."))])

    positions: dict[str, int] = {}
    for index, name in enumerate(header or []):
        positions.setdefault(_normalise_header(name), index)
    required = _REQUIRED_COLUMNS[kind] + (_OPERATOR_COLUMNS if operator and kind != "workers" else ())
    missing = [name for name in COLUMNS[kind] if name in required and name not in positions]
    if missing:
        raise _FileError([
            RowError(header_row, name, _(
                'De kolom "%(column)s" ontbreekt in de kopregel. Verwachte kolommen: %(columns)s.',
                column=name, columns=", ".join(COLUMNS[kind])))
            for name in missing
        ])
    return positions, rows


# ---------------------------------------------------------------- the importer


class _Importer:
    def __init__(self, kind: str, organisation: Organisation | None, progress: Progress | None):
        self.kind = kind
        self.organisation = organisation
        self.progress = progress or (lambda done, total: None)
        self.report = ImportReport(kind)
        self._sector_cache: dict[str, str | None] = {}
        self._email_cache: dict[str, str | None] = {}
        self.written: list[tuple[int, str]] = []  # postings created or changed: (organisation id, external_ref)
        self.now = datetime.now(timezone.utc)
        self.today = self.now.date()

    # -- the run

    def run(self, data: bytes | str) -> ImportReport:
        try:
            text, self.report.encoding = _decode(data)
            self.positions, rows = _read_rows(text, self.kind, operator=self.organisation is None)
        except _FileError as error:
            self.report.errors = sorted(error.errors)
            return self.report
        if not rows:
            self.report.errors = [RowError(1, "", _("Het bestand bevat alleen een kopregel en geen gegevens."))]
            return self.report

        parsed = self._parse_rows(rows)
        plan = self._check_workers(parsed) if self.kind == "workers" else self._check_postings(parsed)
        if self.report.errors:
            order = {name: index for index, name in enumerate(COLUMNS[self.kind])}
            self.report.errors.sort(key=lambda e: (e.row, order.get(e.column, -1), e.message))
            return self.report
        try:
            if self.kind == "workers":
                self._write_workers(plan)
            else:
                self._write_postings(plan)
            db.session.commit()
        except Exception:
            db.session.rollback()
            self.report.created = self.report.updated = self.report.unchanged = 0
            raise
        if self.kind == "shortages":
            from .shortages import candidates_now_for_import

            try:
                self.report.matched_at_once = candidates_now_for_import(self._written_shortages())
            except Exception:  # noqa: BLE001 — the file is imported; the next run finds the candidates
                db.session.rollback()
                log.exception("import: instant candidates for the imported shortages failed")
        return self.report

    def _written_shortages(self) -> list[int]:
        """Ids of the shortages this import created or changed, in the file's order."""
        by_key, refs_of = {}, {}
        for org_id, ref in self.written:
            refs_of.setdefault(org_id, []).append(ref)
        for org_id, refs in refs_of.items():
            for row in _in_chunks(refs, lambda chunk: db.session.execute(
                    sa.select(Shortage.id, Shortage.external_ref)
                    .where(Shortage.organisation_id == org_id, Shortage.external_ref.in_(chunk)))):
                by_key[(org_id, row.external_ref)] = row.id
        db.session.rollback()  # end the read: instant candidates take their own lock and commit
        return [by_key[key] for key in self.written if key in by_key]

    def error(self, row: int, column: str, message: str) -> None:
        self.report.errors.append(RowError(row, column, message))

    def _parse_rows(self, rows: list[tuple[int, list[str]]]) -> list[dict]:
        total = len(rows)
        parse = {"shortages": self._parse_shortage, "listings": self._parse_listing, "workers": self._parse_worker}[self.kind]
        parsed = []
        seen_refs: dict[str, int] = {}
        for done, (number, record) in enumerate(rows, start=1):
            cells = _Cells(number, record, self.positions, self)
            values = parse(cells)
            ref = values.get("external_ref")
            if ref:
                if ref in seen_refs:
                    self.error(number, "external_ref", _(
                        'external_ref "%(ref)s" staat ook al in rij %(row)s; elke rij heeft een eigen external_ref.',
                        ref=ref, row=seen_refs[ref]))
                else:
                    seen_refs[ref] = number
            values["_row"] = number
            values["_failed"] = cells.failed
            parsed.append(values)
            self.progress(done, total)
        return parsed

    # -- parsing one row (no database)

    def _parse_common(self, c: _Cells) -> dict:
        values = {"external_ref": c.ref()}
        occupation = c.occupation()
        values["occupation_id"] = occupation
        values["pc4"] = c.postcode()
        values["max_distance_km"] = c.integer("max_distance_km", MAX_DISTANCE_RANGE, DEFAULT_MAX_DISTANCE_KM)
        values["hours_per_week"] = c.integer("hours_per_week", HOURS_RANGE, DEFAULT_HOURS_PER_WEEK)
        values["certificates"] = c.certificates()
        return values

    def _parse_posting(self, c: _Cells) -> dict:
        values = self._parse_common(c)
        values["kvk"] = c.kvk()
        values["employer_name"] = c.text("employer_name", 200)
        values["contact_email"] = c.email("contact_email", required=self.organisation is None)
        values["sector_code"] = c.sector("sector")
        return values

    def _parse_shortage(self, c: _Cells) -> dict:
        values = self._parse_posting(c)
        values["title"] = c.text("title", 200, required=True)
        values["required_skills"] = c.skills("required_skills", default_for=values["occupation_id"])
        values["nice_skills"] = c.skills("nice_skills")
        values["positions"] = c.integer("positions", (1, 10_000), 1)
        values["start_date"] = c.date("start_date", default=self.today)
        values["training_offered"] = c.boolean("training_offered", default=False)
        values["open_hiring"] = c.boolean("open_hiring", default=False)
        return values

    def _parse_listing(self, c: _Cells) -> dict:
        values = self._parse_posting(c)
        values["skills"] = c.skills("skills", default_for=values["occupation_id"])
        values["count"] = c.integer("count", (1, 100_000), 1)
        values["available_from"] = c.date("available_from", default=self.today)
        values["available_until"] = c.date("available_until", default=None)
        if values["available_from"] and values["available_until"] and values["available_until"] < values["available_from"]:
            c.fail("available_until", _(
                "available_until (%(until)s) ligt vóór available_from (%(start)s).",
                until=values["available_until"].isoformat(), start=values["available_from"].isoformat()))
        values["transfer_type"] = c.transfer_type()
        return values

    def _parse_worker(self, c: _Cells) -> dict:
        values = self._parse_common(c)
        values["email"] = c.email("email", required=True)
        values["name"] = c.text("name", 200, required=True)
        values["skills"] = c.skills("skills", default_for=values["occupation_id"])
        values["available_from"] = c.date("available_from", default=self.today)
        values["desired_sectors"] = c.sector_list("desired_sectors")
        values["languages"] = c.languages()
        consent = c.boolean("consent", default=False)
        if consent is False:
            c.fail("consent", _(
                'Geen toestemming: deze persoon importeren we alleen met "ja" in de kolom consent '
                "(niemand wordt gekoppeld zonder dat zelf te hebben gezegd)."))
        return values

    # -- cached look-ups shared by the cells

    def resolve_sector(self, text: str) -> str | None:
        key = text.strip().casefold()
        if key not in self._sector_cache:
            sector = sector_service.resolve_sector(text)
            self._sector_cache[key] = sector.code if sector else None
        return self._sector_cache[key]

    def normalise_email(self, text: str) -> str | None:
        if text not in self._email_cache:
            try:
                # In tests, addresses at the app's own .test domain are fine.
                result = validate_email(text, check_deliverability=False, test_environment=current_app.testing)
                self._email_cache[text] = result.normalized.lower()
            except EmailNotValidError:
                self._email_cache[text] = None
        return self._email_cache[text]

    # -- shortages and listings: organisations and contacts

    def _check_postings(self, parsed: list[dict]) -> dict:
        org = self.organisation
        side = "growing" if self.kind == "shortages" else "shrinking"
        if org is not None and org.side != side:
            self.error(1, "", _(
                "Uw organisatie %(does)s; dit bestand hoort bij de andere kant van de uitwisseling.",
                does=_("zoekt mensen") if org.side == "growing" else _("biedt personeel aan")))
        orgs_by_kvk: dict[str, Organisation] = {}
        new_orgs: dict[str, dict] = {}  # kvk -> name, sector, first row

        if org is None:
            kvks = {values["kvk"] for values in parsed if values.get("kvk")}
            orgs_by_kvk = {o.kvk_number: o for o in _in_chunks(
                kvks, lambda chunk: db.session.scalars(sa.select(Organisation).where(Organisation.kvk_number.in_(chunk))))}

        for values in parsed:
            row, kvk = values["_row"], values.get("kvk")
            if org is not None:
                if kvk and kvk != org.kvk_number:
                    self.error(row, "employer_kvk", _(
                        "KvK-nummer %(kvk)s is niet dat van uw organisatie (%(own)s). "
                        "U kunt alleen gegevens van uw eigen organisatie uploaden; laat de kolom leeg of vul %(own)s in.",
                        kvk=kvk, own=org.kvk_number))
                values["_org"] = org
            elif kvk:
                existing = orgs_by_kvk.get(kvk)
                if existing is not None:
                    if existing.side != side:
                        self.error(row, "employer_kvk", _(
                            "%(name)s (KvK %(kvk)s) staat bij ons aan de andere kant van de uitwisseling; "
                            "%(what)s horen bij een organisatie die %(does)s.",
                            name=existing.name, kvk=kvk,
                            what=_("tekorten") if side == "growing" else _("aanbiedingen van personeel"),
                            does=_("mensen zoekt") if side == "growing" else _("personeel aanbiedt")))
                    values["_org"] = existing
                else:
                    # The same KvK under several names: the first name wins (a typo is not worth rejecting a file).
                    new = new_orgs.setdefault(kvk, {"name": "", "sector_code": None, "row": row})
                    if not new["name"] and values.get("employer_name"):
                        new["name"] = values["employer_name"]
                    if not new["sector_code"] and values.get("sector_code"):
                        new["sector_code"] = values["sector_code"]
                    values["_new_kvk"] = kvk
            elif "employer_kvk" not in values["_failed"]:
                self.error(row, "employer_kvk", _("Vul het KvK-nummer van de werkgever in (8 cijfers)."))

        for values in parsed:
            kvk = values.get("_new_kvk")
            if kvk is not None:
                new = new_orgs[kvk]
                if not new["name"]:
                    self.error(values["_row"], "employer_name", _(
                        "KvK-nummer %(kvk)s kennen we nog niet: vul de naam van de werkgever in.", kvk=kvk))
                if not new["sector_code"] and not values.get("sector_code") and "sector" not in values["_failed"]:
                    self.error(values["_row"], "sector", _(
                        "KvK-nummer %(kvk)s kennen we nog niet: vul de sector van de werkgever in.", kvk=kvk))

        # A posting needs a sector: the row's, else its organisation's.
        for values in parsed:
            if values.get("sector_code") is None and "sector" not in values["_failed"]:
                known = values.get("_org")
                if known is not None:
                    values["sector_code"] = known.sector_code
                elif values.get("_new_kvk"):
                    values["sector_code"] = new_orgs[values["_new_kvk"]]["sector_code"]

        self._check_contacts(parsed)
        return {"parsed": parsed, "new_orgs": new_orgs, "side": side}

    def _check_contacts(self, parsed: list[dict]) -> None:
        """A contact is a member of the posting's organisation, or becomes one; never someone else's account."""
        org = self.organisation
        if org is not None:
            # An empty contact_email on a web upload: the organisation's first member receives the emails.
            fallback = db.session.scalar(
                sa.select(User.email).where(User.organisation_id == org.id, User.role == "employer").order_by(User.id).limit(1))
            for values in parsed:
                if values.get("contact_email") is None and "contact_email" not in values["_failed"]:
                    if fallback:
                        values["contact_email"] = fallback
                    else:
                        self.error(values["_row"], "contact_email", _("Vul het e-mailadres van de contactpersoon in."))

        emails = {values["contact_email"] for values in parsed if values.get("contact_email")}
        users = {u.email: u for u in _in_chunks(
            emails, lambda chunk: db.session.scalars(sa.select(User).where(User.email.in_(chunk))))}
        first_org_of_email: dict[str, tuple[str, int]] = {}
        for values in parsed:
            email = values.get("contact_email")
            if not email:
                continue
            row = values["_row"]
            posting_org = values.get("_org")
            user = users.get(email)
            if user is not None:
                if user.role != "employer" or posting_org is None or user.organisation_id != posting_org.id:
                    self.error(row, "contact_email", _(
                        "%(email)s hoort bij een ander account (van een andere organisatie of een werkende) "
                        "en kan daarom geen contactpersoon van deze werkgever zijn. Gebruik een ander e-mailadres.",
                        email=email))
                continue
            # A new contact becomes a member of one organisation: the same address for two employers cannot be.
            org_key = posting_org.kvk_number if posting_org is not None else values.get("_new_kvk")
            if org_key is None:
                continue
            first = first_org_of_email.setdefault(email, (org_key, row))
            if first[0] != org_key:
                self.error(row, "contact_email", _(
                    "%(email)s is in rij %(row)s al contactpersoon van een andere werkgever (KvK %(kvk)s); "
                    "één persoon kan contactpersoon van één werkgever zijn.",
                    email=email, row=first[1], kvk=first[0]))

    def _write_postings(self, plan: dict) -> None:
        model = Shortage if self.kind == "shortages" else StaffListing
        fields = _POSTING_FIELDS[self.kind]
        parsed = plan["parsed"]

        new_orgs = {}
        for kvk, new in plan["new_orgs"].items():
            new_orgs[kvk] = Organisation(
                name=new["name"], kvk_number=kvk, sector_code=new["sector_code"], side=plan["side"], verified_at=self.now)
            db.session.add(new_orgs[kvk])
        db.session.flush()
        for values in parsed:
            if values.get("_new_kvk"):
                values["_org"] = new_orgs[values["_new_kvk"]]

        # Contacts without an account get one without a password: the link in their first email sets it.
        emails = {values["contact_email"] for values in parsed}
        existing_emails = set(_in_chunks(emails, lambda chunk: db.session.scalars(
            sa.select(User.email).where(User.email.in_(chunk)))))
        for values in parsed:
            email = values["contact_email"]
            if email not in existing_emails:
                existing_emails.add(email)
                db.session.add(User(email=email, name="", role="employer", password_hash=None, locale="nl",
                                    organisation_id=values["_org"].id))

        org_ids = {values["_org"].id for values in parsed}
        columns = [model.id, model.organisation_id, model.external_ref] + [getattr(model, name) for name in fields]
        existing = {
            (row.organisation_id, row.external_ref): row
            for row in _in_chunks(org_ids, lambda chunk: db.session.execute(
                sa.select(*columns).where(model.organisation_id.in_(chunk), model.external_ref.is_not(None))))
        }

        inserts, updates = [], []
        for values in parsed:
            org = values["_org"]
            row_values = {name: values[name] for name in fields}
            current = existing.get((org.id, values["external_ref"]))
            if current is None:
                inserts.append({"organisation_id": org.id, "external_ref": values["external_ref"], **row_values})
            elif any(getattr(current, name) != value for name, value in row_values.items()):
                updates.append({"id": current.id, "updated_at": self.now, **row_values})
            else:
                self.report.unchanged += 1
                continue
            self.written.append((org.id, values["external_ref"]))
        self._bulk_write(model, inserts, updates)

    # -- workers

    def _check_workers(self, parsed: list[dict]) -> dict:
        seen_emails: dict[str, int] = {}
        for values in parsed:
            email = values.get("email")
            if email:
                if email in seen_emails:
                    self.error(values["_row"], "email", _(
                        "%(email)s staat ook al in rij %(row)s; één persoon staat één keer in het bestand.",
                        email=email, row=seen_emails[email]))
                else:
                    seen_emails[email] = values["_row"]

        refs = {values["external_ref"] for values in parsed if values.get("external_ref")}
        profiles = {
            row.external_ref: row for row in _in_chunks(refs, lambda chunk: db.session.execute(
                sa.select(WorkerProfile.id, WorkerProfile.external_ref, WorkerProfile.user_id)
                .where(WorkerProfile.external_ref.in_(chunk))))
        }
        users = {
            row.email.lower(): row for row in _in_chunks(set(seen_emails), lambda chunk: db.session.execute(
                sa.select(User.id, User.email, User.role, WorkerProfile.id.label("profile_id"),
                          WorkerProfile.external_ref)
                .outerjoin(WorkerProfile, WorkerProfile.user_id == User.id)
                .where(User.email.in_(chunk))))
        }
        for values in parsed:
            ref, email, row = values.get("external_ref"), values.get("email"), values["_row"]
            if not ref or not email:
                continue
            profile, user = profiles.get(ref), users.get(email)
            values["_profile"], values["_user"] = profile, user
            if profile is not None:
                if user is not None and user.id != profile.user_id:
                    self.error(row, "email", _(
                        "%(email)s hoort bij een ander account dan dat van external_ref %(ref)s.", email=email, ref=ref))
            elif user is not None:
                if user.role != "worker":
                    self.error(row, "email", _(
                        "%(email)s hoort bij een account van een werkgever of medewerker van het platform, "
                        "niet bij een werkende.", email=email))
                elif user.profile_id is not None:
                    self.error(row, "email", _(
                        "%(email)s hoort al bij een andere werkende (%(which)s).", email=email,
                        which=(_("external_ref %(ref)s", ref=user.external_ref) if user.external_ref
                               else _("aangemeld via de website"))))
        return {"parsed": parsed}

    def _write_workers(self, plan: dict) -> None:
        parsed = plan["parsed"]
        profile_ids = [values["_profile"].id for values in parsed if values["_profile"] is not None]
        current_profiles = {
            row.id: row for row in _in_chunks(profile_ids, lambda chunk: db.session.execute(
                sa.select(WorkerProfile.id, WorkerProfile.user_id, User.email, User.name,
                          *[getattr(WorkerProfile, name) for name in _WORKER_FIELDS])
                .join(User, User.id == WorkerProfile.user_id).where(WorkerProfile.id.in_(chunk))))
        }

        new_users = [values for values in parsed if values["_profile"] is None and values["_user"] is None]
        user_ids: dict[str, int] = {}
        for chunk in chunks(new_users, 1000):
            result = db.session.execute(
                sa.insert(User).returning(User.id, User.email, sort_by_parameter_order=True),
                [{"email": v["email"], "name": v["name"], "role": "worker", "password_hash": None, "locale": "nl",
                  "created_at": self.now} for v in chunk])
            user_ids.update({row.email: row.id for row in result})

        profile_inserts, profile_updates, user_updates = [], [], []
        for values in parsed:
            row_values = {name: values[name] for name in _WORKER_FIELDS}
            if values["_profile"] is None:
                user_id = values["_user"].id if values["_user"] is not None else user_ids[values["email"]]
                profile_inserts.append({
                    "user_id": user_id, "external_ref": values["external_ref"], "consent_at": self.now,
                    "consent_version": CONSENT_VERSION, "status": "active", **row_values})
                continue
            # An update never touches consent or status: a worker who paused or withdrew on the website
            # stays paused or withdrawn, whatever an operator's spreadsheet says.
            current = current_profiles[values["_profile"].id]
            user_changed = current.email.lower() != values["email"] or current.name != values["name"]
            profile_changed = any(getattr(current, name) != value for name, value in row_values.items())
            if user_changed:
                user_updates.append({"id": current.user_id, "email": values["email"], "name": values["name"]})
            if profile_changed:
                profile_updates.append({"id": current.id, "updated_at": self.now, **row_values})
            elif user_changed:
                profile_updates.append({"id": current.id, "updated_at": self.now})
            else:
                self.report.unchanged += 1
        if user_updates:
            db.session.execute(sa.update(User), user_updates)
        self._bulk_write(WorkerProfile, profile_inserts, profile_updates)

    # -- writing

    def _bulk_write(self, model, inserts: list[dict], updates: list[dict]) -> None:
        total = len(inserts) + len(updates)
        done = 0
        for chunk in chunks(inserts, 1000):
            db.session.execute(sa.insert(model), chunk)
            done += len(chunk)
            self.progress(done, total)
        for chunk in chunks(updates, 1000):
            db.session.execute(sa.update(model), chunk)
            done += len(chunk)
            self.progress(done, total)
        self.report.created += len(inserts)
        self.report.updated += len(updates)


_POSTING_FIELDS = {
    "shortages": (
        "sector_code", "title", "occupation_id", "required_skills", "nice_skills", "positions", "pc4",
        "max_distance_km", "start_date", "hours_per_week", "certificates", "training_offered", "open_hiring",
        "contact_email",
    ),
    "listings": (
        "sector_code", "occupation_id", "skills", "count", "pc4", "max_distance_km", "available_from",
        "available_until", "hours_per_week", "transfer_type", "certificates", "contact_email",
    ),
}
_WORKER_FIELDS = (
    "occupation_id", "skills", "pc4", "max_distance_km", "desired_sectors", "hours_per_week", "available_from",
    "certificates", "languages",
)


# ---------------------------------------------------------------- one row's cells


class _Cells:
    """The cells of one row; each reader returns the parsed value, or None after recording an error."""

    def __init__(self, row: int, record: list[str], positions: dict[str, int], importer: _Importer):
        self.row = row
        self.record = record
        self.positions = positions
        self.importer = importer
        self.failed: set[str] = set()

    def raw(self, column: str) -> str:
        index = self.positions.get(column)
        if index is None or index >= len(self.record):
            return ""
        return self.record[index].strip()

    def fail(self, column: str, message: str) -> None:
        self.failed.add(column)
        self.importer.error(self.row, column, message)

    def values(self, column: str) -> list[str]:
        return list(dict.fromkeys(part.strip() for part in self.raw(column).split("|") if part.strip()))

    # readers

    def ref(self) -> str | None:
        ref = self.raw("external_ref")
        if not ref:
            self.fail("external_ref", _("Vul een external_ref in: uw eigen kenmerk van deze rij, uniek in het bestand."))
            return None
        if len(ref) > MAX_REF_LENGTH:
            self.fail("external_ref", _("external_ref is te lang (hoogstens %(max)s tekens).", max=MAX_REF_LENGTH))
            return None
        return ref

    def text(self, column: str, max_length: int, required: bool = False) -> str | None:
        value = " ".join(self.raw(column).split())
        if not value:
            if required:
                self.fail(column, _("Vul %(column)s in.", column=column))
            return None
        if len(value) > max_length:
            self.fail(column, _("%(column)s is te lang (hoogstens %(max)s tekens).", column=column, max=max_length))
            return None
        return value

    def occupation(self) -> str | None:
        text = self.raw("occupation")
        if not text:
            self.fail("occupation", _("Vul een beroep in (ESCO-naam in het Nederlands of Engels, of de ESCO-code)."))
            return None
        occupation_id = reference.resolve_occupation(text)
        if occupation_id is None:
            self.fail("occupation", _(
                'Onbekend beroep "%(value)s": gebruik de ESCO-naam in het Nederlands of Engels, of de ESCO-code.',
                value=text))
        return occupation_id

    def skills(self, column: str, default_for: str | None = None) -> list[str] | None:
        parts = self.values(column)
        if not parts:
            if default_for is not None:
                return list(reference.occupations()[default_for].essential_skills)
            return [] if column == "nice_skills" or "occupation" not in self.failed else None
        resolved, unknown = [], []
        for part in parts:
            skill_id = reference.resolve_skill(part)
            (resolved.append(skill_id) if skill_id else unknown.append(part))
        if unknown:
            self.fail(column, _(
                "Onbekende vaardigheid %(values)s: gebruik de ESCO-naam in het Nederlands of Engels, of de ESCO-code; "
                "scheid meerdere met |.", values=", ".join(f'"{u}"' for u in unknown)))
            return None
        return list(dict.fromkeys(resolved))

    def postcode(self) -> str | None:
        text = self.raw("postcode")
        pc4 = reference.parse_postcode(text)
        if pc4 is None:
            if text:
                self.fail("postcode", _(
                    'Onbekende postcode "%(value)s": gebruik 4 cijfers, bijvoorbeeld 1011 of 1011 AB.', value=text))
            else:
                self.fail("postcode", _("Vul een postcode in, bijvoorbeeld 1011 of 1011 AB."))
        return pc4

    def integer(self, column: str, bounds: tuple[int, int], default: int) -> int | None:
        text = self.raw(column)
        if not text:
            return default
        match = _INT_RE.match(text.replace(" ", ""))
        value = int(match.group(1)) if match else None
        low, high = bounds
        if value is None or not low <= value <= high:
            self.fail(column, _(
                'Ongeldig getal "%(value)s" in %(column)s: vul een heel getal van %(low)s tot en met %(high)s in.',
                value=text, column=column, low=low, high=high))
            return None
        return value

    def date(self, column: str, default: date | None) -> date | None:
        text = self.raw(column)
        if not text:
            return default
        value = None
        iso, dutch = _ISO_DATE_RE.match(text), _DUTCH_DATE_RE.match(text)
        try:
            if iso:
                value = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
            elif dutch:
                value = date(int(dutch.group(3)), int(dutch.group(2)), int(dutch.group(1)))
        except ValueError:
            value = None
        if value is None:
            self.fail(column, _(
                'Ongeldige datum "%(value)s": gebruik JJJJ-MM-DD, bijvoorbeeld 2026-03-01.', value=text))
        return value

    def boolean(self, column: str, default: bool) -> bool | None:
        text = self.raw(column)
        if not text:
            return default
        folded = text.casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        self.fail(column, _('Ongeldige waarde "%(value)s": vul ja of nee in.', value=text))
        return None

    def kvk(self) -> str | None:
        text = self.raw("employer_kvk")
        if not text:
            return None
        compact = re.sub(r"[\s.]", "", text)
        if _KVK_RE.match(compact):
            return compact
        hint = ""
        if compact.isdigit() and len(compact) == 7:
            hint = " " + _("Let op: Excel laat soms de voorloopnul weg; zet de kolom op 'Tekst'.")
        self.fail("employer_kvk", _(
            'Ongeldig KvK-nummer "%(value)s": een KvK-nummer heeft precies 8 cijfers.', value=text) + hint)
        return None

    def email(self, column: str, required: bool) -> str | None:
        text = self.raw(column)
        if not text:
            if required:
                self.fail(column, _("Vul een e-mailadres in."))
            return None
        email = self.importer.normalise_email(text)
        if email is None:
            self.fail(column, _('Ongeldig e-mailadres "%(value)s".', value=text))
        return email

    def sector(self, column: str) -> str | None:
        text = self.raw(column)
        if not text:
            return None
        code = self.importer.resolve_sector(text)
        if code is None:
            self.fail(column, _(
                'Onbekende sector "%(value)s": gebruik een code of naam uit de sectorlijst, bijvoorbeeld care of zorg en welzijn.',
                value=text))
        return code

    def sector_list(self, column: str) -> list[str] | None:
        codes, unknown = [], []
        for part in self.values(column):
            code = self.importer.resolve_sector(part)
            (codes.append(code) if code else unknown.append(part))
        if unknown:
            self.fail(column, _(
                "Onbekende sector %(values)s: gebruik codes of namen uit de sectorlijst, gescheiden door |.",
                values=", ".join(f'"{u}"' for u in unknown)))
            return None
        return list(dict.fromkeys(codes))

    def certificates(self) -> list[str] | None:
        codes, unknown = [], []
        for part in self.values("certificates"):
            code = reference.parse_certificate(part)
            (codes.append(code) if code else unknown.append(part))
        if unknown:
            self.fail("certificates", _(
                "Onbekend certificaat %(values)s. Bekende codes: %(known)s.",
                values=", ".join(f'"{u}"' for u in unknown), known=", ".join(reference.CERTIFICATES)))
            return None
        return list(dict.fromkeys(codes))

    def languages(self) -> list[str] | None:
        codes, bad = [], []
        for part in self.values("languages"):
            code = part.casefold()
            (codes.append(code) if _LANGUAGE_RE.match(code) else bad.append(part))
        if bad:
            self.fail("languages", _(
                "Onbekende taalcode %(values)s: gebruik korte codes zoals nl of en, gescheiden door |.",
                values=", ".join(f'"{b}"' for b in bad)))
            return None
        return list(dict.fromkeys(codes))

    def transfer_type(self) -> str | None:
        text = self.raw("transfer_type")
        value = _TRANSFER_TYPES.get(text.casefold())
        if value is None:
            self.fail("transfer_type", _(
                'Onbekende soort overstap "%(value)s": vul secondment, permanent of either in.', value=text))
        return value


# ---------------------------------------------------------------- helpers


def _in_chunks(keys: Iterable, query: Callable[[list], Iterable]) -> list:
    """Run `query` for each slice of `keys` (one IN list per slice) and gather the results."""
    keys = sorted(keys)
    results: list = []
    for chunk in chunks(keys, _CHUNK):
        results.extend(query(chunk))
    return results
