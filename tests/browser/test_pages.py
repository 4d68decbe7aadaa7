"""The pages that matter, in a real Chromium: a job seeker opting in on a phone, an employer posting a
shortage with the occupation picker and saying yes to a candidate, and a large upload followed to its end."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from nlwerktdoor.extensions import db
from nlwerktdoor.models import Match, OutgoingEmail, Shortage, User
from nlwerktdoor.services.matching import run_matching
from tests.factories import PASSWORD, make_employer, make_worker

pytestmark = pytest.mark.browser


def released(value):
    """Read through the test's session, then end its transaction: on file SQLite every transaction takes
    the write lock at BEGIN, so a transaction left open here would block the live server."""
    db.session.remove()
    return value


def test_job_seeker_registers_and_opts_in_on_a_phone(live_server, phone):
    phone.goto(live_server + "/")
    phone.get_by_role("link", name="Aanmelden als werkende").click()
    phone.fill("input[name=name]", "Sanne de Vries")
    phone.fill("input[name=email]", "sanne@example.org")
    phone.fill("input[name=password]", "een lang wachtwoord 2020")
    phone.fill("input[name=confirm]", "een lang wachtwoord 2020")
    phone.locator("main button[type=submit]").click()
    phone.wait_for_url("**/account/bevestig-je-email*")

    # The verification email (from the outbox), opened as the person would from their mail app.
    db.session.remove()
    email = db.session.scalar(sa.select(OutgoingEmail).where(OutgoingEmail.recipient == "sanne@example.org",
                                                          OutgoingEmail.template == "verify_email"))
    link = email.data["link"]
    db.session.remove()  # SQLite writers take the lock at BEGIN: never hold a transaction while the server works
    phone.goto(link)
    if "/account/inloggen" in phone.url:
        phone.fill("input[name=email]", "sanne@example.org")
        phone.fill("input[name=password]", "een lang wachtwoord 2020")
        phone.locator("main button[type=submit]").click()
    phone.wait_for_url("**/werkenden/profiel")

    # The occupation picker suggests as you type and prefills that occupation's essential skills.
    phone.fill("input[name=occupation]", "stewar")
    phone.get_by_role("button", name="steward/stewardess", exact=True).click()
    phone.wait_for_selector(".skill-list input[type=checkbox]")
    prefilled = phone.locator(".skill-list input[type=checkbox]").count()
    assert prefilled >= 5
    phone.locator(".skill-list input[type=checkbox]").first.uncheck()  # skills stay editable

    phone.fill("input[name=postcode]", "1055 AB")
    phone.fill("input[name=available_from]", (date.today() + timedelta(days=7)).isoformat())

    # Without consent nothing is saved, and the page says why.
    phone.locator("main button[type=submit]").last.click()
    assert phone.locator(".error").first.is_visible()
    db.session.remove()
    assert released(db.session.scalar(sa.select(User).where(User.email == "sanne@example.org")).worker_profile) is None

    phone.check("input[name=consent]")
    if phone.locator(".skill-list input[type=checkbox]").count() == prefilled:
        phone.locator(".skill-list input[type=checkbox]").first.uncheck()
    phone.locator("main button[type=submit]").last.click()
    phone.wait_for_load_state()
    assert "opgeslagen" in phone.locator(".flash").first.inner_text().lower()

    db.session.remove()
    profile = db.session.scalar(sa.select(User).where(User.email == "sanne@example.org")).worker_profile
    assert profile.pc4 == "1055"
    assert profile.consent_at is not None and profile.status == "active"
    assert len(profile.skills) == prefilled - 1


def test_employer_posts_a_shortage_with_the_picker_and_says_yes_to_a_candidate(live_server, desktop):
    employer = make_employer(side="growing")
    worker = make_worker("flight attendant", pc4="1012", available_from=date.today())
    employer_email, worker_id = employer.email, worker.id
    db.session.remove()

    desktop.goto(live_server + "/account/inloggen")
    desktop.fill("input[name=email]", employer_email)
    desktop.fill("input[name=password]", PASSWORD)
    desktop.locator("main button[type=submit]").click()
    desktop.wait_for_url("**/tekorten/mijn")

    desktop.goto(live_server + "/tekorten/nieuw")
    desktop.fill("input[name=title]", "Zorgassistent voor verpleeghuis")
    desktop.fill("input[name=occupation]", "zorgassistent")
    desktop.locator(".suggestions button").first.click()
    desktop.wait_for_selector("#required_skills .skill-list input[type=checkbox]")
    assert desktop.locator("#required_skills .skill-list input[type=checkbox]").count() >= 5
    desktop.fill("input[name=postcode]", "1011")
    desktop.fill("input[name=start_date]", (date.today() + timedelta(days=14)).isoformat())
    desktop.check("input[name=training_offered]")
    desktop.get_by_role("button", name="Opslaan").click()
    desktop.wait_for_load_state()

    db.session.remove()
    shortage = db.session.scalar(sa.select(Shortage).where(Shortage.title == "Zorgassistent voor verpleeghuis"))
    assert shortage is not None and len(shortage.required_skills) >= 5

    # The scheduler's run, in-process; then the employer sees the candidate, pseudonymously, and says yes.
    run_matching()
    match = db.session.scalar(sa.select(Match).where(Match.shortage_id == shortage.id, Match.worker_id == worker_id))
    assert match is not None, "a flight attendant 1 km away should be offered to a care shortage with training"
    match_id = match.id
    worker_name = match.worker.user.name
    db.session.remove()

    desktop.goto(f"{live_server}/tekorten/{shortage.id}")
    page_text = desktop.locator("main").inner_text()
    assert worker_name not in page_text
    desktop.goto(f"{live_server}/matches/{match_id}")
    assert worker_name not in desktop.locator("main").inner_text()
    desktop.get_by_role("button", name="Ja, graag kennismaken").click()
    desktop.wait_for_load_state()

    db.session.remove()
    assert db.session.get(Match, match_id).growing_status == "yes"


def test_a_large_upload_shows_its_progress_and_then_its_result(app, live_server, desktop, tmp_path):
    """An HR employee uploads a file too large to import in the request: the status page follows the
    job (the script polls, then reloads) and ends with the same result a small upload shows."""
    from nlwerktdoor.services import uploads
    from tests.test_uploads import csv_of

    app.config.update(IMPORT_INLINE_ROWS=3)
    employer = make_employer(side="growing")
    employer_email, organisation_id = employer.email, employer.organisation_id
    db.session.remove()
    upload_file = tmp_path / "tekorten.csv"
    upload_file.write_text(csv_of(8))

    desktop.goto(live_server + "/account/inloggen")
    desktop.fill("input[name=email]", employer_email)
    desktop.fill("input[name=password]", PASSWORD)
    desktop.locator("main button[type=submit]").click()
    desktop.wait_for_url("**/tekorten/mijn")
    desktop.goto(live_server + "/tekorten/upload")
    desktop.set_input_files("input[type=file]", str(upload_file))
    desktop.get_by_role("button", name="Uploaden").click()
    desktop.wait_for_url("**/tekorten/upload/*")
    assert desktop.locator("progress").count() == 1
    assert "0 van 8 rijen" in desktop.locator("main").inner_text()

    # The scheduler's job, in-process; the page notices by itself (no reload from the test).
    assert released(uploads.process_queue())["done"] == 1
    desktop.wait_for_selector("text=Import gelukt: 8 nieuw, 0 bijgewerkt.", timeout=15_000)
    assert desktop.locator("progress").count() == 0
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Shortage).where(
        Shortage.organisation_id == organisation_id))
    assert released(count) == 8
