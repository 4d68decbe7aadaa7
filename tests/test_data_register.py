"""docs/privacy.md's data register is checked against the models, so it cannot drift.

Every column of the tables about people must be in the register or in NOT_PERSONAL below; the
personal columns of other tables are listed in PERSONAL_ELSEWHERE; every register line must name a
column that exists and say why, who sees it and how long it is kept."""
import re
from pathlib import Path

from nlwerktdoor.extensions import db

REGISTER = Path(__file__).resolve().parents[1] / "docs" / "privacy.md"
# Tables that describe a person: each new column must be classified (register or NOT_PERSONAL).
PERSON_TABLES = ("users", "worker_profiles", "outgoing_emails", "invitations", "audit_entries")
NOT_PERSONAL = {
    "users.id",
    "worker_profiles.id",
    "outgoing_emails.id", "outgoing_emails.template", "outgoing_emails.status", "outgoing_emails.attempts",
    "outgoing_emails.next_attempt_at", "outgoing_emails.message_id", "outgoing_emails.claimed_by",
    "invitations.id", "invitations.listing_id",
    "audit_entries.id", "audit_entries.action", "audit_entries.object_type",
}
# Personal data in tables that are not about a person as a whole.
PERSONAL_ELSEWHERE = {
    "email_suppressions.address", "email_suppressions.last_error", "email_suppressions.lifted_by_id",
    "shortages.contact_email", "staff_listings.contact_email",
    "matches.worker_id", "matches.candidate_status", "matches.candidate_answered_at",
    "organisations.verified_by_id",
    "csv_uploads.content", "csv_uploads.user_id", "csv_uploads.report",
}
ROW = re.compile(r"^\|\s*`([a-z_]+\.[a-z_0-9]+)`\s*\|(.*)\|\s*$")


def register() -> dict[str, list[str]]:
    lines = {}
    for line in REGISTER.read_text(encoding="utf-8").splitlines():
        found = ROW.match(line)
        if found:
            assert found.group(1) not in lines, f"{found.group(1)} is in the register twice"
            lines[found.group(1)] = [cell.strip() for cell in found.group(2).split("|")]
    return lines


def columns() -> set[str]:
    return {f"{table.name}.{column.name}" for table in db.metadata.sorted_tables for column in table.columns}


def test_every_column_of_a_person_table_is_classified(app):
    entries = register()
    unclassified = sorted(
        name for name in columns()
        if name.split(".")[0] in PERSON_TABLES and name not in entries and name not in NOT_PERSONAL
    )
    assert not unclassified, (
        "New columns in a table about people: add a line to the data register in docs/privacy.md "
        f"(why, who sees it, how long) or to NOT_PERSONAL in this test: {unclassified}"
    )


def test_personal_columns_elsewhere_are_in_the_register(app):
    missing = sorted(PERSONAL_ELSEWHERE - set(register()))
    assert not missing, f"Personal columns missing from docs/privacy.md: {missing}"


def test_the_register_names_only_real_columns_and_says_why_who_and_how_long(app):
    entries = register()
    assert len(entries) > 40
    stale = sorted(set(entries) - columns())
    assert not stale, f"docs/privacy.md names columns that do not exist: {stale}"
    incomplete = sorted(name for name, cells in entries.items() if len(cells) != 3 or not all(cells))
    assert not incomplete, f"Register lines need: why | who sees | kept — {incomplete}"
    overlap = sorted(set(entries) & NOT_PERSONAL)
    assert not overlap, f"Both in the register and NOT_PERSONAL: {overlap}"


def test_the_lists_in_this_test_name_real_columns(app):
    unknown = sorted((NOT_PERSONAL | PERSONAL_ELSEWHERE) - columns())
    assert not unknown, unknown
