"""CSV import: good files import, every bad cell is reported with row and column, and a bad file imports nothing."""
import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from nlwerktdoor import reference
from nlwerktdoor.models import Organisation, Shortage, StaffListing, User, WorkerProfile
from nlwerktdoor.services.imports import CONSENT_VERSION, import_csv

from tests.factories import make_employer, make_organisation, make_shortage, make_user, make_worker

DATA = Path(__file__).parent / "data"
GOOD = {"shortages": "good_shortages.csv", "listings": "good_listings.csv", "workers": "good_workers.csv"}
MODELS = {"shortages": Shortage, "listings": StaffListing, "workers": WorkerProfile}


def good_text(kind: str) -> str:
    return (DATA / GOOD[kind]).read_text(encoding="utf-8")


def edit(text: str, changes: dict[tuple[int, str], str]) -> str:
    """Change cells of a comma-separated text, addressed as (spreadsheet row, column name)."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    for (row, column), value in changes.items():
        rows[row - 1][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def drop_column(text: str, column: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    index = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([row[:index] + row[index + 1:] for row in rows])
    return out.getvalue()


def counts(db) -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Organisation, User, Shortage, StaffListing, WorkerProfile)
    }


def only(db, model, **where):
    return db.session.scalars(sa.select(model).filter_by(**where)).one()


# ---------------------------------------------------------------- good files


@pytest.mark.parametrize("kind", ["shortages", "listings", "workers"])
def test_good_file_imports_every_row(db, kind):
    report = import_csv(kind, (DATA / GOOD[kind]).read_bytes())

    assert report.ok, report.errors
    assert (report.created, report.updated) == (5, 0)
    assert counts(db)[MODELS[kind].__name__] == 5


def test_shortages_file_creates_verified_growing_organisations_and_contacts(db):
    import_csv("shortages", good_text("shortages"))

    linde = only(db, Organisation, kvk_number="90000011")
    assert (linde.name, linde.side, linde.sector_code, linde.is_verified) == ("Zorggroep De Linde", "growing", "care", True)
    assert counts(db)["Organisation"] == 3
    contact = only(db, User, email="planning@zorggroep-delinde.example")
    assert (contact.role, contact.organisation_id, contact.password_hash) == ("employer", linde.id, None)

    first = only(db, Shortage, external_ref="ZDL-2026-001")
    healthcare_assistant = reference.resolve_occupation("healthcare assistant")
    assert first.occupation_id == healthcare_assistant
    # An empty skills cell means the occupation's essential skills.
    assert first.required_skills == list(reference.occupations()[healthcare_assistant].essential_skills)
    assert first.nice_skills == [reference.resolve_skill("communicate verbal instructions")]
    assert (first.pc4, first.positions, first.hours_per_week, first.certificates) == ("1011", 3, 24, ["VOG"])
    assert (first.training_offered, first.open_hiring, first.contact_email) == (
        True, False, "planning@zorggroep-delinde.example")

    warehouse = only(db, Shortage, external_ref="TVB-017")
    assert warehouse.occupation_id == reference.resolve_occupation("warehouse worker")  # given as ESCO URI
    assert warehouse.required_skills == [
        reference.resolve_skill("operate warehouse record systems"), reference.resolve_skill("operate warehouse materials")]
    assert only(db, Shortage, external_ref="TVB-018").certificates == ["rijbewijs-C", "code95"]


def test_listings_file_creates_shrinking_organisations(db):
    import_csv("listings", good_text("listings"))

    airline = only(db, Organisation, kvk_number="90000021")
    assert (airline.side, airline.sector_code, airline.is_verified) == ("shrinking", "aviation", True)
    cabin = only(db, StaffListing, external_ref="WVA-CABIN-01")
    assert (cabin.count, cabin.pc4, cabin.transfer_type, cabin.certificates) == (12, "1118", "secondment", ["BHV"])
    assert cabin.available_until.isoformat() == "2027-06-30"
    assert only(db, StaffListing, external_ref="GCW-KEUKEN").sector_code == "hospitality"  # "horeca" by name


def test_workers_file_creates_accounts_with_consent(db):
    import_csv("workers", good_text("workers"))

    profile = only(db, WorkerProfile, external_ref="W-0004")
    assert (profile.user.name, profile.user.email, profile.user.role) == ("Jansen, Pieter", "pieter.jansen@mail.example", "worker")
    assert (profile.user.password_hash, profile.user.locale) == (None, "nl")
    assert profile.has_consent and profile.consent_version == CONSENT_VERSION
    assert profile.status == "active"
    assert profile.desired_sectors == ["logistics", "government"]
    assert profile.languages == ["nl", "de"]
    assert profile.certificates == ["rijbewijs-B"]


@pytest.mark.parametrize("variant", ["comma", "semicolon", "bom", "windows-1252"])
def test_delimiters_and_encodings(db, variant):
    text = good_text("shortages")
    data = {
        "comma": text.encode("utf-8"),
        "semicolon": (DATA / "good_shortages_semicolon.csv").read_bytes(),
        "bom": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "windows-1252": text.replace("Versmarkt Noord", "Versmarkt Noord Café").encode("cp1252"),
    }[variant]

    report = import_csv("shortages", data)

    assert report.ok, report.errors
    assert report.created == 5
    assert only(db, Shortage, external_ref="ZDL-2026-002").start_date.isoformat() == "2026-12-15"
    assert only(db, Shortage, external_ref="ZDL-2026-001").title == "Zorghulp thuiszorg, avonddienst"
    if variant == "windows-1252":
        assert report.encoding == "windows-1252"
        assert only(db, Organisation, kvk_number="90000013").name == "Versmarkt Noord Café"


def test_headers_are_trimmed_and_case_insensitive_and_extra_columns_ignored(db):
    rows = list(csv.reader(io.StringIO(good_text("workers"))))
    rows[0] = [f" {name.upper()} " for name in rows[0]]
    rows = [row + ["genegeerd"] for row in rows]
    rows[0][-1] = "opmerking"
    out = io.StringIO()
    csv.writer(out).writerows(rows)

    report = import_csv("workers", out.getvalue())

    assert report.ok, report.errors
    assert report.created == 5


def test_same_kvk_with_two_names_uses_the_first(db):
    text = edit(good_text("shortages"), {(3, "employer_name"): "De Linde Zorg"})

    assert import_csv("shortages", text).ok
    assert only(db, Organisation, kvk_number="90000011").name == "Zorggroep De Linde"


# ---------------------------------------------------------------- bad rows


BAD_CELLS = [
    ("shortages", "postcode", "12AB", 'Onbekende postcode "12AB"'),
    ("shortages", "postcode", "0000", 'Onbekende postcode "0000"'),
    ("shortages", "required_skills", "toveren met toverstaf", 'Onbekende vaardigheid "toveren met toverstaf"'),
    ("shortages", "occupation", "tovenaar", 'Onbekend beroep "tovenaar"'),
    ("shortages", "certificates", "VOG|vliegbrevet", 'Onbekend certificaat "vliegbrevet"'),
    ("shortages", "start_date", "2026-02-30", 'Ongeldige datum "2026-02-30"'),
    ("shortages", "start_date", "volgende week", 'Ongeldige datum "volgende week"'),
    ("shortages", "training_offered", "misschien", 'Ongeldige waarde "misschien"'),
    ("shortages", "employer_kvk", "1234567", 'Ongeldig KvK-nummer "1234567"'),
    ("shortages", "employer_kvk", "KVK90000011", 'Ongeldig KvK-nummer "KVK90000011"'),
    ("shortages", "contact_email", "planning(at)delinde", 'Ongeldig e-mailadres "planning(at)delinde"'),
    ("shortages", "positions", "0", 'Ongeldig getal "0"'),
    ("shortages", "max_distance_km", "500", 'Ongeldig getal "500"'),
    ("shortages", "sector", "ruimtevaart", 'Onbekende sector "ruimtevaart"'),
    ("shortages", "title", "", "Vul title in"),
    ("listings", "postcode", "Amsterdam", 'Onbekende postcode "Amsterdam"'),
    ("listings", "skills", "juggle", 'Onbekende vaardigheid "juggle"'),
    ("listings", "available_from", "2026/12/01", 'Ongeldige datum "2026/12/01"'),
    ("listings", "count", "veel", 'Ongeldig getal "veel"'),
    ("listings", "transfer_type", "misschien", 'Onbekende soort overstap "misschien"'),
    ("listings", "certificates", "rijbewijs-Z", 'Onbekend certificaat "rijbewijs-Z"'),
    ("workers", "consent", "nee", "Geen toestemming"),
    ("workers", "consent", "", "Geen toestemming"),
    ("workers", "consent", "wellicht", 'Ongeldige waarde "wellicht"'),
    ("workers", "email", "lotte.bakker", 'Ongeldig e-mailadres "lotte.bakker"'),
    ("workers", "occupation", "astronaut op Mars", 'Onbekend beroep "astronaut op Mars"'),
    ("workers", "postcode", "99999", 'Onbekende postcode "99999"'),
    ("workers", "desired_sectors", "care|maanbouw", 'Onbekende sector "maanbouw"'),
    ("workers", "languages", "nederlands!", 'Onbekende taalcode "nederlands!"'),
    ("workers", "external_ref", "", "Vul een external_ref in"),
]


@pytest.mark.parametrize("kind, column, value, message", BAD_CELLS)
def test_a_bad_cell_names_row_and_column_and_imports_nothing(db, kind, column, value, message):
    before = counts(db)
    text = edit(good_text(kind), {(3, column): value})

    report = import_csv(kind, text)

    assert [(e.row, e.column) for e in report.errors] == [(3, column)]
    assert message in report.errors[0].message
    assert report.rows_with_errors == 1 and not report.ok
    assert (report.created, report.updated) == (0, 0)
    assert counts(db) == before


@pytest.mark.parametrize("kind", ["shortages", "listings", "workers"])
def test_duplicate_external_ref_in_the_file(db, kind):
    text = good_text(kind)
    first_ref = list(csv.reader(io.StringIO(text)))[1][0]

    report = import_csv(kind, edit(text, {(5, "external_ref"): first_ref}))

    assert [(e.row, e.column) for e in report.errors] == [(5, "external_ref")]
    assert f'"{first_ref}"' in report.errors[0].message and "rij 2" in report.errors[0].message
    assert counts(db)[MODELS[kind].__name__] == 0


@pytest.mark.parametrize("kind, column", [
    ("shortages", "postcode"), ("shortages", "employer_kvk"), ("shortages", "contact_email"),
    ("listings", "occupation"), ("workers", "consent"), ("workers", "email"),
])
def test_missing_column_is_named(db, kind, column):
    report = import_csv(kind, drop_column(good_text(kind), column))

    assert [(e.row, e.column) for e in report.errors] == [(1, column)]
    assert f'"{column}" ontbreekt' in report.errors[0].message
    assert counts(db)[MODELS[kind].__name__] == 0


def test_optional_columns_may_be_left_out(db):
    text = good_text("shortages")
    for column in ("nice_skills", "certificates", "open_hiring", "hours_per_week", "max_distance_km"):
        text = drop_column(text, column)

    report = import_csv("shortages", text)

    assert report.ok, report.errors
    shortage = only(db, Shortage, external_ref="VMN-8")
    assert (shortage.certificates, shortage.hours_per_week, shortage.max_distance_km) == ([], 36, 25)


def test_every_bad_row_is_reported_in_row_order(db):
    text = edit(good_text("shortages"), {
        (6, "postcode"): "12AB",
        (2, "occupation"): "tovenaar",
        (4, "start_date"): "gisteren",
        (4, "certificates"): "VOG|zwemdiploma",
    })

    report = import_csv("shortages", text)

    assert [(e.row, e.column) for e in report.errors] == [
        (2, "occupation"), (4, "start_date"), (4, "certificates"), (6, "postcode")]  # left to right, as in the file
    assert report.rows_with_errors == 3
    assert counts(db)["Shortage"] == 0 and counts(db)["Organisation"] == 0


def test_row_numbers_count_empty_lines_like_a_spreadsheet(db):
    lines = good_text("workers").splitlines()
    text = "\n".join(lines[:2] + ["", ",,,,,,,,,,,,"] + lines[2:]) + "\n"
    text = text.replace("9712", "97AB")  # W-0003: after W-0001, two empty lines and W-0002, on row 6

    report = import_csv("workers", text)

    assert [(e.row, e.column) for e in report.errors] == [(6, "postcode")]


@pytest.mark.parametrize("data, message", [
    (b"", "leeg"),
    (b"external_ref,email,name,occupation,postcode,consent\n", "alleen een kopregel"),
    (b"\xff\xfee\x00x\x00", "UTF-16"),
    ("external_ref,email\n".encode() + bytes([0x81, 0x8d, 0x8f]) + b",x\n", "geen UTF-8"),
])
def test_unreadable_files_give_one_clear_error(db, data, message):
    report = import_csv("workers", data)

    assert len(report.errors) == 1
    assert message in report.errors[0].message


# ---------------------------------------------------------------- organisations, contacts, accounts


def test_contact_email_of_another_organisation_is_rejected(db):
    make_user_in(make_organisation(side="growing"), "planning@zorggroep-delinde.example")

    report = import_csv("shortages", good_text("shortages"))

    assert [(e.row, e.column) for e in report.errors] == [(2, "contact_email"), (3, "contact_email")]
    assert "planning@zorggroep-delinde.example" in report.errors[0].message
    assert counts(db)["Shortage"] == 0


def test_contact_email_of_a_worker_is_rejected(db):
    make_worker(user=None).user.email = "hr@vanberkel-transport.example"
    db.session.commit()

    report = import_csv("shortages", good_text("shortages"))

    assert {(e.row, e.column) for e in report.errors} == {(4, "contact_email"), (5, "contact_email")}


def test_one_contact_for_two_employers_is_rejected(db):
    text = edit(good_text("shortages"), {(6, "contact_email"): "hr@vanberkel-transport.example"})

    report = import_csv("shortages", text)

    assert [(e.row, e.column) for e in report.errors] == [(6, "contact_email")]


def test_existing_organisation_and_its_member_as_contact(db):
    org = make_organisation(side="growing", verified=False, name="Zorggroep De Linde (bestaand)")
    member = make_user_in(org, "planning@zorggroep-delinde.example")
    text = good_text("shortages").replace("90000011", org.kvk_number)

    report = import_csv("shortages", text)

    assert report.ok, report.errors
    shortage = only(db, Shortage, external_ref="ZDL-2026-001")
    assert shortage.organisation_id == org.id and shortage.contact_email == member.email
    assert org.name == "Zorggroep De Linde (bestaand)" and not org.is_verified  # an import does not rename or verify


def make_user_in(org, email):
    return make_user(role="employer", organisation=org, email=email)


def test_existing_organisation_on_the_other_side_is_rejected(db):
    org = make_organisation(side="shrinking")
    text = good_text("shortages").replace("90000013", org.kvk_number)

    report = import_csv("shortages", text)

    assert [(e.row, e.column) for e in report.errors] == [(6, "employer_kvk")]


def test_worker_email_of_another_account_is_rejected(db):
    make_worker(user=None, external_ref="W-9999").user.email = "lotte.bakker@mail.example"
    db.session.commit()
    make_user_in(make_organisation(side="growing"), "anouk.smit@mail.example")

    report = import_csv("workers", good_text("workers"))

    assert [(e.row, e.column) for e in report.errors] == [(4, "email"), (6, "email")]
    assert "W-9999" in report.errors[0].message


def test_duplicate_worker_email_in_the_file(db):
    text = edit(good_text("workers"), {(4, "email"): "SANNE.DEVRIES@mail.example"})

    report = import_csv("workers", text)

    assert [(e.row, e.column) for e in report.errors] == [(4, "email")]


# ---------------------------------------------------------------- re-import


@pytest.mark.parametrize("kind, column, value, attribute, expected", [
    ("shortages", "positions", "7", "positions", 7),
    ("shortages", "required_skills", "order supplies", "required_skills", [reference.resolve_skill("order supplies")]),
    ("listings", "postcode", "3511", "pc4", "3511"),
    ("workers", "hours_per_week", "12", "hours_per_week", 12),
])
def test_reimport_updates_instead_of_duplicating(db, kind, column, value, attribute, expected):
    model = MODELS[kind]
    assert import_csv(kind, good_text(kind)).created == 5
    before = counts(db)
    ref = list(csv.reader(io.StringIO(good_text(kind))))[2][0]

    report = import_csv(kind, edit(good_text(kind), {(3, column): value}))

    assert report.ok, report.errors
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)
    assert counts(db) == before
    db.session.expire_all()
    assert getattr(only(db, model, external_ref=ref), attribute) == expected


def test_reimport_of_workers_keeps_their_own_pause_and_updates_name(db):
    import_csv("workers", good_text("workers"))
    profile = only(db, WorkerProfile, external_ref="W-0002")
    profile.status = "paused"
    db.session.commit()

    report = import_csv("workers", good_text("workers").replace("Mohamed El Amrani", "Mohamed el Amrani"))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)
    db.session.expire_all()
    profile = only(db, WorkerProfile, external_ref="W-0002")
    assert profile.status == "paused"
    assert profile.user.name == "Mohamed el Amrani"


# ---------------------------------------------------------------- web upload


def test_web_upload_rejects_another_organisations_kvk(db):
    employer = make_employer(side="growing", verified=False)
    org = employer.organisation
    text = "\n".join([
        "external_ref,employer_kvk,contact_email,title,occupation,postcode,start_date",
        f"EIGEN-1,{org.kvk_number},,Zorghulp,healthcare assistant,1011,2026-12-01",
        "EIGEN-2,,,Zorghulp nacht,zorghulp,3511,2026-12-01",
        "VREEMD-1,90000099,,Zorghulp,healthcare assistant,1011,2026-12-01",
    ])

    report = import_csv("shortages", text, organisation=org)

    assert [(e.row, e.column) for e in report.errors] == [(4, "employer_kvk")]
    assert "90000099" in report.errors[0].message
    assert counts(db)["Shortage"] == 0


def test_web_upload_creates_rows_for_that_organisation(db):
    employer = make_employer(side="growing", verified=False)
    org = employer.organisation
    text = "\n".join([
        "external_ref,employer_kvk,contact_email,title,occupation,postcode,start_date",
        f"EIGEN-1,{org.kvk_number},,Zorghulp,healthcare assistant,1011,2026-12-01",
        "EIGEN-2,,,Zorghulp nacht,zorghulp,3511,2026-12-01",
    ])

    report = import_csv("shortages", text, organisation=org)

    assert report.ok, report.errors
    shortages = db.session.scalars(sa.select(Shortage).order_by(Shortage.external_ref)).all()
    assert [(s.organisation_id, s.sector_code, s.contact_email) for s in shortages] == [
        (org.id, org.sector_code, employer.email)] * 2
    assert not org.is_verified
    assert counts(db)["Organisation"] == 1


def test_web_upload_does_not_touch_another_organisations_rows_with_the_same_ref(db):
    other = make_organisation(side="growing")
    theirs = make_shortage(other, external_ref="EIGEN-1", title="Niet van u")
    employer = make_employer(side="growing")
    text = "external_ref,contact_email,title,occupation,postcode,start_date\nEIGEN-1,,Zorghulp,zorghulp,1011,2026-12-01\n"

    report = import_csv("shortages", text, organisation=employer.organisation)

    assert (report.created, report.updated) == (1, 0)
    db.session.expire_all()
    assert db.session.get(Shortage, theirs.id).title == "Niet van u"


# ---------------------------------------------------------------- progress and the command line


def test_progress_is_reported(db):
    calls = []

    import_csv("listings", good_text("listings"), progress=lambda done, total: calls.append((done, total)))

    assert (5, 5) in calls and calls[0] == (1, 5)


def test_cli_import_of_a_good_file(db, cli_runner):
    result = cli_runner.invoke(args=["import", "shortages", str(DATA / "good_shortages.csv")])

    assert result.exit_code == 0, result.output
    assert "5 nieuw, 0 bijgewerkt" in result.output
    assert "kandidaten direct gezocht voor 5 van 5 tekorten" in result.output

    again = cli_runner.invoke(args=["import", "shortages", str(DATA / "good_shortages_semicolon.csv")])
    assert again.exit_code == 0, again.output
    assert "0 nieuw, 0 bijgewerkt, 5 ongewijzigd" in again.output and "kandidaten" not in again.output
    assert counts(db)["Shortage"] == 5


def test_cli_import_of_a_bad_file(db, cli_runner, tmp_path):
    path = tmp_path / "tekorten.csv"
    path.write_text(edit(good_text("shortages"), {(3, "postcode"): "12AB", (5, "certificates"): "duikbrevet"}))

    result = cli_runner.invoke(args=["import", "shortages", str(path)])

    assert result.exit_code == 1
    assert 'rij 3, kolom postcode: Onbekende postcode "12AB"' in result.output
    assert 'rij 5, kolom certificates: Onbekend certificaat "duikbrevet"' in result.output
    assert "niets geïmporteerd" in result.output
    assert counts(db)["Shortage"] == 0 and counts(db)["Organisation"] == 0
