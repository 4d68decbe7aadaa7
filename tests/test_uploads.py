"""Large CSV uploads: queued by the web request, imported by the upload job, followed on a status page.

IMPORT_INLINE_ROWS is set to a few rows here, so small files exercise the background path."""
import io
import json
import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from nlwerktdoor import jobs
from nlwerktdoor.extensions import db
from nlwerktdoor.models import CsvUpload, JobRun, Shortage
from nlwerktdoor.models.database import utcnow
from nlwerktdoor.services import privacy, uploads
from tests.factories import PASSWORD, make_employer, make_user
from tests.test_growing import csrf_from

HEADER = ("external_ref,employer_kvk,employer_name,contact_email,sector,title,occupation,required_skills,nice_skills,"
          "positions,postcode,max_distance_km,start_date,hours_per_week,certificates,training_offered,open_hiring\n")


def good_row(i: int, contact: str = "") -> str:
    return f"t-{i},,,{contact},,Zorghulp {i},zorghulp,,,2,3511,25,2026-12-01,24,VOG,ja,nee\n"


def csv_of(rows: int, contact: str = "") -> str:
    return HEADER + "".join(good_row(i, contact) for i in range(1, rows + 1))


@pytest.fixture
def background(app):
    """Files above 3 data rows go to the background; progress is written every 2 rows."""
    app.config.update(IMPORT_INLINE_ROWS=3, IMPORT_PROGRESS_EVERY_ROWS=2, IMPORT_PROGRESS_EVERY_SECONDS=3600)
    return app


@pytest.fixture
def employer(app):
    return make_employer(side="growing")


def upload(client, content: str):
    token = csrf_from(client, "/tekorten/upload")
    return client.post("/tekorten/upload", data={"csrf_token": token, "file": (io.BytesIO(content.encode()), "t.csv")},
                       content_type="multipart/form-data")


def queued_upload(client, content: str) -> CsvUpload:
    response = upload(client, content)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    found = re.fullmatch(r".*/tekorten/upload/(\d+)", response.headers["Location"])
    assert found, response.headers["Location"]
    return db.session.get(CsvUpload, int(found.group(1)))


def shortages_of(organisation_id: int) -> list[Shortage]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Shortage).where(Shortage.organisation_id == organisation_id)))


def upload_ids() -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(sa.select(CsvUpload.id)))


def record_progress(monkeypatch, upload_id: int) -> list[tuple]:
    """What another connection (the status page) sees after every progress write."""
    seen = []
    original = uploads._ProgressWriter.write

    def write(self, done, total):
        original(self, done, total)
        if not db.session().in_transaction():  # in-memory SQLite: one shared connection
            with db.engine.connect() as connection:
                seen.append(tuple(connection.execute(
                    sa.select(CsvUpload.status, CsvUpload.stage, CsvUpload.rows_done, CsvUpload.rows_total)
                    .where(CsvUpload.id == upload_id)).one()))

    monkeypatch.setattr(uploads._ProgressWriter, "write", write)
    return seen


# ---------------------------------------------------------------- inline or background


def test_a_small_file_is_still_imported_in_the_request(background, employer, login_as, client):
    login_as(employer)
    response = upload(client, csv_of(3))
    assert response.status_code == 302 and response.headers["Location"].endswith("/tekorten/mijn")
    assert len(shortages_of(employer.organisation_id)) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CsvUpload)) == 0


def test_a_large_upload_is_queued_imported_by_the_job_and_the_page_shows_progress_and_result(
        background, employer, login_as, client, monkeypatch):
    login_as(employer)
    queued = queued_upload(client, csv_of(6))
    assert (queued.status, queued.rows_done, queued.rows_total, queued.kind) == ("queued", 0, 6, "shortages")
    assert shortages_of(employer.organisation_id) == []  # nothing imported by the request
    page = client.get(f"/tekorten/upload/{queued.id}").get_data(as_text=True)
    assert "<progress" in page and "0 van 6 rijen" in page and "js/upload-status.js" in page
    assert 'http-equiv="refresh"' in page  # without JavaScript the page refreshes itself
    state = client.get(f"/tekorten/upload/{queued.id}/voortgang.json").get_json()
    assert state["status"] == "queued" and state["finished"] is False and "0 van 6 rijen" in state["text"]

    seen = record_progress(monkeypatch, queued.id)
    jobs.import_uploads_job(client.application)

    assert [row[2] for row in seen] == [2, 4, 6]  # progress moved while the import ran
    assert all(row[0] == "running" and row[1] == "checking" and row[3] == 6 for row in seen)
    assert len(shortages_of(employer.organisation_id)) == 6
    db.session.expire_all()
    done = db.session.get(CsvUpload, queued.id)
    assert done.status == "done" and done.content is None  # the file is gone once processed
    assert done.report["created"] == 6 and done.report["errors"] == []
    assert done.rows_done == done.rows_total
    state = client.get(f"/tekorten/upload/{queued.id}/voortgang.json").get_json()
    assert state["finished"] is True and state["status"] == "done"
    page = client.get(f"/tekorten/upload/{queued.id}").get_data(as_text=True)
    assert "Import gelukt: 6 nieuw, 0 bijgewerkt." in page and "/tekorten/mijn" in page
    assert "<progress" not in page and "http-equiv" not in page
    # The upload page lists it.
    assert f"/tekorten/upload/{queued.id}" in client.get("/tekorten/upload").get_data(as_text=True)
    assert db.session.scalar(sa.select(JobRun.status).where(JobRun.job_id == "import_uploads")) == "done"


def test_a_broken_large_file_imports_nothing_and_reports_every_bad_row_without_personal_data(
        background, employer, login_as, client):
    someone = make_user(role="worker", email="anna.werker@example.org", name="Anna Werker")
    rows = [good_row(1), good_row(2),
            "t-3,,,,,Kok,kok,onbekende skill,,1,1011,25,2026-12-01,24,,ja,nee\n",
            "t-4,,,,,Kok,kok,,,1,abcd,25,2026-12-01,24,,ja,nee\n",
            good_row(5, contact=someone.email),
            good_row(6, contact="Jan Jansen"),
            good_row(7)]
    login_as(employer)
    queued = queued_upload(client, HEADER + "".join(rows))
    jobs.import_uploads_job(client.application)

    assert shortages_of(employer.organisation_id) == []
    db.session.expire_all()
    done = db.session.get(CsvUpload, queued.id)
    assert done.status == "done" and done.content is None
    where = {(e["row"], e["column"]) for e in done.report["errors"]}
    assert {(4, "required_skills"), (5, "postcode"), (6, "contact_email"), (7, "contact_email")} <= where
    stored = json.dumps(done.report, ensure_ascii=False)
    assert someone.email not in stored and "@" not in stored and "Jan Jansen" not in stored
    page = client.get(f"/tekorten/upload/{queued.id}").get_data(as_text=True)
    assert "Er is niets geïmporteerd" in page
    shown = re.findall(r"<tr><td>(\d+)</td><td>([a-z_]+)</td>", page)
    assert ("4", "required_skills") in shown and ("5", "postcode") in shown and ("6", "contact_email") in shown
    assert someone.email not in page


def test_the_report_is_in_the_language_of_the_page_it_was_uploaded_from(background, employer, login_as, client):
    employer.locale = "en"
    db.session.commit()
    login_as(employer)
    queued = queued_upload(client, csv_of(3) + "t-9,,,,,Kok,kok,,,1,abcd,25,2026-12-01,24,,ja,nee\n")
    assert queued.locale == "en"
    jobs.import_uploads_job(client.application)
    db.session.expire_all()
    [error] = db.session.get(CsvUpload, queued.id).report["errors"]
    assert error["row"] == 5 and error["column"] == "postcode"
    assert error["message"].startswith('Unknown postcode "abcd"')


# ---------------------------------------------------------------- who may see it


def log_in(client, user):
    page = client.get("/account/inloggen").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/account/inloggen", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code in (302, 303)


def test_only_the_uploading_organisation_sees_the_status_page(background, employer, login_as, client, app):
    login_as(employer)
    queued = queued_upload(client, csv_of(5))
    assert client.get(f"/tekorten/upload/{queued.id}").status_code == 200
    assert client.get(f"/tekorten/upload/{queued.id}/voortgang.json").status_code == 200

    other_client = app.test_client()
    log_in(other_client, make_employer(side="growing"))
    assert other_client.get(f"/tekorten/upload/{queued.id}").status_code == 404
    assert other_client.get(f"/tekorten/upload/{queued.id}/voortgang.json").status_code == 404
    assert other_client.get("/tekorten/upload/987654").status_code == 404
    assert f"/tekorten/upload/{queued.id}" not in other_client.get("/tekorten/upload").get_data(as_text=True)
    anonymous = app.test_client().get(f"/tekorten/upload/{queued.id}")
    assert anonymous.status_code == 302 and "/account/inloggen" in anonymous.headers["Location"]


def test_an_upload_is_not_found_under_the_other_sides_urls(app, client, login_as):
    shrinking = make_employer(side="shrinking")
    shortages_upload = CsvUpload(organisation_id=shrinking.organisation_id, user_id=shrinking.id, kind="shortages",
                               status="done", report={"created": 1, "updated": 0, "unchanged": 0, "errors": []})
    db.session.add(shortages_upload)
    db.session.commit()
    login_as(shrinking)
    # Its own organisation, but not a listings upload: the shrinking side does not know it.
    assert client.get(f"/aanbod/upload/{shortages_upload.id}").status_code == 404
    assert client.get(f"/tekorten/upload/{shortages_upload.id}").status_code == 403  # not a growing employer


# ---------------------------------------------------------------- the job's claims


def test_two_jobs_never_process_one_upload(background, employer, login_as, client):
    login_as(employer)
    first = queued_upload(client, csv_of(4))
    second = queued_upload(client, csv_of(5).replace("t-", "u-"))

    # Two schedulers saw the same queued upload; the compare-and-set lets one of them have it.
    assert uploads.take(first.id, "scheduler-a") is True
    assert uploads.take(first.id, "scheduler-b") is False
    # The next claim skips the upload that is taken and gets the other one; then there is none left.
    claim = uploads.claim_next()
    assert claim.upload_id == second.id
    assert uploads.claim_next() is None
    # A job holding a claim that is not (or no longer) its own imports nothing.
    assert uploads.process(uploads.Claim(first.id, "scheduler-b")) == ""
    assert shortages_of(employer.organisation_id) == []
    assert uploads.process(uploads.Claim(first.id, "scheduler-a")) == "done"
    assert uploads.process(claim) == "done"
    assert uploads.process(claim) == ""  # a second run of the same claim does nothing
    assert len(shortages_of(employer.organisation_id)) == 9
    db.session.expire_all()
    assert [u.attempts for u in db.session.scalars(sa.select(CsvUpload).order_by(CsvUpload.id))] == [1, 1]


def test_the_job_runs_twice_and_imports_once(background, employer, login_as, client):
    login_as(employer)
    queued_upload(client, csv_of(4))
    jobs.import_uploads_job(client.application)
    jobs.import_uploads_job(client.application)
    assert len(shortages_of(employer.organisation_id)) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CsvUpload).where(CsvUpload.attempts == 1)) == 1


def test_a_finished_upload_is_logged_with_its_counts(background, employer, login_as, client):
    """One log line per upload at INFO (production's level), with its counts as fields. (A field
    named "created" clashed with the log record's own and failed every upload's last step.)"""
    login_as(employer)
    queued = queued_upload(client, csv_of(4))
    # A handler on the module's own logger: the app's logging setup may stop records on their way up.
    records, handler = [], logging.Handler()
    handler.emit = records.append
    logger = uploads.log
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        jobs.import_uploads_job(client.application)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    done = [r for r in records if getattr(r, "event", None) == "upload_done"]
    assert len(done) == 1 and done[0].upload == queued.id and (done[0].new, done[0].errors) == (4, 0)
    db.session.expire_all()
    assert db.session.get(CsvUpload, queued.id).status == "done"


def test_an_idle_job_claims_no_slot(app):
    jobs.import_uploads_job(app)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobRun)) == 0
    spec = jobs.SPECS["import_uploads"]
    app.config.update(IMPORT_INTERVAL_SECONDS=7)
    assert jobs.interval_of("import_uploads", app.config) == timedelta(seconds=7) and spec.max_instances == 1


def test_a_stale_running_upload_is_taken_back(background, employer, login_as, client, app):
    app.config.update(IMPORT_CLAIM_LEASE_SECONDS=60, IMPORT_MAX_ATTEMPTS=2)
    login_as(employer)
    queued = queued_upload(client, csv_of(4))
    start = utcnow()
    crashed = uploads.claim_next(now=start)  # ... and its process dies without a word
    assert crashed.upload_id == queued.id
    assert uploads.claim_next(now=start + timedelta(seconds=59)) is None  # still within its lease
    retaken = uploads.claim_next(now=start + timedelta(seconds=61))
    assert retaken.upload_id == queued.id and retaken.token != crashed.token
    assert uploads.process(crashed) == ""  # the dead job's claim no longer counts
    assert shortages_of(employer.organisation_id) == []
    # The second claim dies too: after IMPORT_MAX_ATTEMPTS claims the upload is given up, its file deleted.
    assert uploads.claim_next(now=start + timedelta(seconds=200)) is None
    db.session.expire_all()
    given_up = db.session.get(CsvUpload, queued.id)
    assert (given_up.status, given_up.content, given_up.attempts) == ("failed", None, 2)
    page = client.get(f"/tekorten/upload/{queued.id}").get_data(as_text=True)
    assert "Dit bestand konden we niet verwerken" in page


def test_the_job_takes_back_an_upload_abandoned_by_a_dead_scheduler(background, employer, login_as, client):
    login_as(employer)
    queued = queued_upload(client, csv_of(4))
    assert uploads.take(queued.id, "dead-scheduler", now=utcnow() - timedelta(hours=1))
    jobs.import_uploads_job(client.application)
    db.session.expire_all()
    assert db.session.get(CsvUpload, queued.id).status == "done"
    assert len(shortages_of(employer.organisation_id)) == 4


# ---------------------------------------------------------------- privacy


def test_processed_uploads_are_deleted_after_the_keep_days(background, employer, login_as, client, app):
    login_as(employer)
    queued = queued_upload(client, csv_of(4))
    jobs.import_uploads_job(client.application)
    assert uploads.delete_old(now=utcnow() + timedelta(days=6)) == 0
    assert uploads.delete_old(now=utcnow() + timedelta(days=app.config["IMPORT_KEEP_DAYS"] + 1)) == 1
    assert upload_ids() == set()


def test_erasing_a_member_deletes_their_uploads_and_waiting_files_that_name_them(background, login_as, client):
    employer = make_employer(side="growing")
    colleague = make_user(role="employer", organisation=employer.organisation, email="cor@groei.example")
    login_as(employer)
    own = queued_upload(client, csv_of(4)).id
    queued_upload(client, csv_of(4, contact=colleague.email))
    login_as(colleague)
    queued_upload(client, csv_of(4))
    assert len(upload_ids()) == 3
    privacy.erase_user(colleague)
    assert upload_ids() == {own}  # not the colleague's own upload, nor the waiting file naming them
    privacy.erase_organisation(employer.organisation_id, employer, confirmed=True, password=PASSWORD)
    assert upload_ids() == set()


def test_a_file_above_the_size_limit_is_refused(app, employer, login_as, client):
    app.config.update(IMPORT_MAX_UPLOAD_MB=0)
    login_as(employer)
    response = upload(client, csv_of(2))
    assert response.status_code == 200
    assert "groter dan 0 MB" in response.get_data(as_text=True)
    assert shortages_of(employer.organisation_id) == []


# ---------------------------------------------------------------- candidates at once


def _carer_near_utrecht():
    from tests.factories import make_worker

    return make_worker(occupation="healthcare assistant", pc4="3512", certificates=["VOG"])


def _matched_shortages(organisation_id: int) -> set[str]:
    from nlwerktdoor.models import Match

    db.session.expire_all()
    return set(db.session.scalars(sa.select(Shortage.external_ref).join(Match, Match.shortage_id == Shortage.id)
                                  .where(Shortage.organisation_id == organisation_id)))


def test_shortages_uploaded_in_the_request_show_their_candidates_at_once(background, employer, login_as, client):
    """Issue 4, instant candidates "web, CSV or API": the shortages a file creates or changes are
    matched before the page comes back, as one posted on the form; unchanged rows are not."""
    _carer_near_utrecht()
    login_as(employer)
    response = upload(client, csv_of(2))
    assert response.status_code == 302
    assert _matched_shortages(employer.organisation_id) == {"t-1", "t-2"}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bij elk tekort staan de kandidaten al klaar." in page

    again = upload(client, csv_of(2))  # the same file: nothing written, so nothing to match
    assert again.status_code == 302
    assert "kandidaten al klaar" not in client.get(again.headers["Location"]).get_data(as_text=True)


def test_an_upload_matches_at_once_only_for_as_long_as_its_budget(background, employer, login_as, client, app):
    _carer_near_utrecht()
    app.config["IMPORT_MATCH_SECONDS"] = 0
    login_as(employer)
    response = upload(client, csv_of(2))
    assert _matched_shortages(employer.organisation_id) == set()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bij 0 van de 2 tekorten staan de kandidaten al klaar" in page and "binnen 15 minuten" in page
    app.config["MATCH_ON_POST"] = False
    app.config["IMPORT_MATCH_SECONDS"] = 60
    upload(client, csv_of(3))  # one new row, nothing matched at once with MATCH_ON_POST off
    assert _matched_shortages(employer.organisation_id) == set()


def test_a_large_upload_matches_its_shortages_in_the_job(background, employer, login_as, client):
    _carer_near_utrecht()
    login_as(employer)
    queued = queued_upload(client, csv_of(5))
    jobs.import_uploads_job(client.application)
    # In file order; the one carer is offered to three shortages at most (MATCH_SHORTAGES_PER_CANDIDATE).
    assert _matched_shortages(employer.organisation_id) == {"t-1", "t-2", "t-3"}
    db.session.expire_all()
    assert db.session.get(CsvUpload, queued.id).report["matched_at_once"] == 5
    page = client.get(f"/tekorten/upload/{queued.id}").get_data(as_text=True)
    assert "Bij elk tekort staan de kandidaten al klaar." in page


def test_an_edited_row_of_an_operator_import_is_matched_again_in_file_order(app, db):
    """The command-line import too; in the file's order, so a budget serves the first rows first."""
    from nlwerktdoor.services import imports, shortages as shortage_service

    make_employer(side="growing")
    seen = []
    real = shortage_service.candidates_now_for_import
    text = HEADER + "".join(
        f"op-{i},81234567,Zorg Op BV,zorg{i}@example.org,care,Zorghulp {i},zorghulp,,,2,3511,25,2026-12-01,24,"
        "VOG,ja,nee\n"
        for i in (3, 1, 2))
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(shortage_service, "candidates_now_for_import", lambda ids: (seen.append(ids), real(ids))[1])
        report = imports.import_csv("shortages", text)
        assert report.ok, report.errors
        ids = {ref: id_ for id_, ref in db.session.execute(sa.select(Shortage.id, Shortage.external_ref))}
        assert seen == [[ids["op-3"], ids["op-1"], ids["op-2"]]] and report.matched_at_once == 3
        edited = text.replace("Zorghulp 1,", "Zorghulp een,")
        report = imports.import_csv("shortages", edited)
        assert (report.updated, report.unchanged, report.matched_at_once) == (1, 2, 1)
        assert seen[-1] == [ids["op-1"]]


def test_an_upload_stays_imported_when_matching_it_at_once_fails(
        background, employer, login_as, client, monkeypatch):
    from nlwerktdoor.services import matching

    def broken(shortage_id, now=None):
        raise RuntimeError("the engine is down")

    monkeypatch.setattr(matching, "match_shortage_now", broken)
    login_as(employer)
    response = upload(client, csv_of(2))
    assert response.status_code == 302 and len(shortages_of(employer.organisation_id)) == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Import gelukt: 2 nieuw" in page and "Bij 0 van de 2 tekorten" in page
