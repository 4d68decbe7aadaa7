"""End to end against a real SMTP server: import → match run → mail send → yes + yes → contact details.

Everything goes through the command line and the web pages a person would use; the only shortcut
is that links are followed from the emails as the SMTP server received them.
"""
import email
import re
from datetime import date, timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller

from tests.factories import free_port

SHORTAGE_TITLE_CARE = "Zorghulp thuiszorg Amsterdam"
SHORTAGE_TITLE_WAREHOUSE = "Magazijnmedewerker Groningen"
CARE_CONTACT = "planning@zorgamstel.example"
WAREHOUSE_CONTACT = "werving@dcnoord.example"
WORKER = "anna.devries@example.org"
LISTING_CONTACT = "hr@luchtvaartdiensten.example"
NEW_PASSWORD = "een lang en sterk wachtwoord 2026"


class Collector:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"



@pytest.fixture
def smtp_server(app):
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(
        MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port,
        MAIL_USE_TLS=False, MAIL_USERNAME=None, MAIL_PASSWORD=None,
    )
    yield handler
    controller.stop()


def csv_files(tmp_path):
    start = date.today() + timedelta(days=14)
    available = date.today() + timedelta(days=7)
    shortages = tmp_path / "tekorten.csv"
    # Semicolons, as a Dutch spreadsheet writes them, and a BOM.
    shortages.write_text(
        "external_ref;employer_kvk;employer_name;contact_email;sector;title;occupation;required_skills;nice_skills;"
        "positions;postcode;max_distance_km;start_date;hours_per_week;certificates;training_offered;open_hiring\n"
        f"ZORG-1;12345678;Zorggroep Amstel;{CARE_CONTACT};care;{SHORTAGE_TITLE_CARE};healthcare assistant;;;"
        f"2;1011 AB;25;{start};32;;ja;nee\n"
        f"LOG-1;87654321;Distributiecentrum Noord;{WAREHOUSE_CONTACT};logistics;{SHORTAGE_TITLE_WAREHOUSE};"
        f"warehouse worker;;;2;9711;25;{start};38;;ja;nee\n",
        encoding="utf-8-sig",
    )
    workers = tmp_path / "werkenden.csv"
    workers.write_text(
        "external_ref,email,name,occupation,skills,postcode,max_distance_km,available_from,hours_per_week,"
        "desired_sectors,certificates,languages,consent\n"
        f"W-1,{WORKER},Anna de Vries,healthcare assistant,,1012,20,{available},32,care,,nl|en,ja\n",
        encoding="utf-8",
    )
    listings = tmp_path / "aanbod.csv"
    listings.write_text(
        "external_ref,employer_kvk,employer_name,contact_email,sector,occupation,skills,count,postcode,"
        "max_distance_km,available_from,available_until,hours_per_week,transfer_type,certificates\n"
        f"L-1,11223344,Luchtvaart Diensten BV,{LISTING_CONTACT},aviation,warehouse worker,,3,9712,30,"
        f"{available},,36,either,\n",
        encoding="utf-8",
    )
    return shortages, workers, listings


def invoke(cli_runner, *args):
    result = cli_runner.invoke(args=list(args))
    assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
    return result.output


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def by_recipient(messages) -> dict[str, list]:
    grouped = {}
    for rcpts, message in messages:
        for rcpt in rcpts:
            grouped.setdefault(rcpt, []).append(message)
    return grouped


def link(text: str, pattern: str) -> str:
    found = re.search(r"https?://[^\s/]+(" + pattern + r")", text)
    assert found, f"no link {pattern!r} in:\n{text}"
    return found.group(1)


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:800]
    return found.group(1)


def activate_and_answer_yes(app, digest, match_path: str):
    """A person with an imported account: choose a password through the link, then say yes."""
    client = app.test_client()
    text = plain(digest)
    password_path = link(text, r"/account/wachtwoord/[^\s]+")
    page = client.get(password_path)
    assert page.status_code == 200, page.get_data(as_text=True)[:800]
    response = client.post(password_path, data={
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True)),
    })
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:800]

    page = client.get(match_path)
    assert page.status_code == 200, page.get_data(as_text=True)[:800]
    html = page.get_data(as_text=True)
    response = client.post(match_path, data={"answer": "yes", "csrf_token": csrf_token(html)})
    assert response.status_code in (302, 303)
    return client, html


def test_import_match_mail_answer_contact(app, db, cli_runner, smtp_server, tmp_path):
    shortages, workers, listings = csv_files(tmp_path)
    invoke(cli_runner, "import", "shortages", str(shortages))
    invoke(cli_runner, "import", "workers", str(workers))
    invoke(cli_runner, "import", "listings", str(listings))

    output = invoke(cli_runner, "match", "run")
    assert "new matches: 2" in output, output
    output = invoke(cli_runner, "mail", "send")
    assert "sent: 4, failed: 0, waiting: 0" in output, output

    # Each party received exactly one digest, naming the right posting.
    received = by_recipient(smtp_server.messages)
    assert set(received) == {CARE_CONTACT, WAREHOUSE_CONTACT, WORKER, LISTING_CONTACT}
    assert all(len(messages) == 1 for messages in received.values()), {k: len(v) for k, v in received.items()}
    digests = {recipient: messages[0] for recipient, messages in received.items()}
    for recipient, title, other_title in (
        (CARE_CONTACT, SHORTAGE_TITLE_CARE, SHORTAGE_TITLE_WAREHOUSE),
        (WORKER, SHORTAGE_TITLE_CARE, SHORTAGE_TITLE_WAREHOUSE),
        (WAREHOUSE_CONTACT, SHORTAGE_TITLE_WAREHOUSE, SHORTAGE_TITLE_CARE),
        (LISTING_CONTACT, SHORTAGE_TITLE_WAREHOUSE, SHORTAGE_TITLE_CARE),
    ):
        text = plain(digests[recipient])
        assert title in text and other_title not in text, f"{recipient}:\n{text}"
        assert digests[recipient]["Subject"].startswith("1 nieuwe match")
    # The employer sees the candidate without name or email.
    care_text = plain(digests[CARE_CONTACT])
    assert "Anna" not in care_text and WORKER not in care_text

    # A second run finds nothing new and sends nothing.
    output = invoke(cli_runner, "match", "run")
    assert "new matches: 0" in output, output
    output = invoke(cli_runner, "mail", "send")
    assert "sent: 0" in output, output
    assert len(smtp_server.messages) == 4

    # Both sides of the care match follow the links in their email and say yes.
    match_path = link(plain(digests[WORKER]), r"/matches/\d+")
    assert link(care_text, r"/matches/\d+") == match_path
    employer, employer_page = activate_and_answer_yes(app, digests[CARE_CONTACT], match_path)
    assert "Anna de Vries" not in employer_page and WORKER not in employer_page
    invoke(cli_runner, "mail", "send")
    assert len(smtp_server.messages) == 4  # one yes: nobody hears anything yet
    activate_and_answer_yes(app, digests[WORKER], match_path)

    output = invoke(cli_runner, "mail", "send")
    assert "sent: 2, failed: 0, waiting: 0" in output, output
    contact = by_recipient(smtp_server.messages[4:])
    assert set(contact) == {CARE_CONTACT, WORKER}
    to_employer = plain(contact[CARE_CONTACT][0])
    assert "Anna de Vries" in to_employer and WORKER in to_employer
    to_worker = plain(contact[WORKER][0])
    assert CARE_CONTACT in to_worker and "Zorggroep Amstel" in to_worker

    # And the employer now sees the details on the match page too.
    page = employer.get(match_path).get_data(as_text=True)
    assert "Anna de Vries" in page and WORKER in page

    # Sending again sends nothing twice.
    assert "sent: 0" in invoke(cli_runner, "mail", "send")
    assert len(smtp_server.messages) == 6
