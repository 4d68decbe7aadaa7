"""Fuzzing (issue 6, item 10): every form and the CSV importer take hostile input without a 500,
without a partial write, and with a message saying what is wrong.

The forms are found by crawling every page of the URL map as each kind of user (tests/fuzz/forms.py),
so a new form is fuzzed without touching this file; a POST route whose form no page shows is fuzzed
with random fields as random users. This suite runs a few hundred derandomized examples;
`.venv/bin/python bench/fuzz.py --examples 10000` runs the big random run (bench/README.md).
"""
import pytest

from tests.conftest import app_with_database
from tests.fuzz.harness import Harness
from tests.fuzz.runner import run

FORM_EXAMPLES = 300
IMPORT_EXAMPLES = 150

# Forms a user reaches by clicking: these must be found on a page (not only fuzzed blind).
FORMS_ON_PAGES = {
    "accounts.login", "accounts.register", "accounts.forgot_password", "accounts.set_password",
    "accounts.change_password", "accounts.organisation", "accounts.logout",
    "shrinking.create", "shrinking.edit", "shrinking.upload", "shrinking.invite", "shrinking.close",
    "growing.create", "growing.edit", "growing.upload", "growing.act",
    "workers.profile", "workers.accept_invitation", "workers.pause", "workers.withdraw",
    "matches.answer", "growing.public_list", "admin.users", "admin.sector_trend", "admin.verify", "admin.mail_retry", "admin.mail_lift",
}


@pytest.fixture(scope="module")
def harness(_schema):
    with app_with_database() as app:
        yield Harness(app)


def test_every_post_route_is_fuzzed(harness):
    post_routes = {rule.endpoint for rule in harness.app.url_map.iter_rules() if "POST" in rule.methods}
    fuzzed = {target.endpoint for target in harness.targets}
    assert post_routes <= fuzzed, f"POST routes not fuzzed (a URL parameter without a value in " \
        f"tests/access_world.py?): {sorted(post_routes - fuzzed)}"
    found = {target.endpoint for target in harness.targets if target.discovered}
    assert FORMS_ON_PAGES <= found, f"forms no longer found on any page: {sorted(FORMS_ON_PAGES - found)}"
    registrations = {target.key for target in harness.targets if target.endpoint == "accounts.register"}
    assert len(registrations) == 3, registrations  # worker, employer, colleague


def test_pages_searched_for_forms_do_not_fail(harness):
    assert not harness.crawl_errors, "\n".join(harness.crawl_errors)


def test_forms_survive_hostile_input(harness):
    summary = run(harness, FORM_EXAMPLES, derandomize=True, importer=False)
    print(summary.text(show=0))
    assert summary.tried >= len(harness.targets)
    assert summary.failed == 0, summary.text()


def test_csv_importer_survives_hostile_files(harness):
    summary = run(harness, IMPORT_EXAMPLES, derandomize=True, forms=False)
    print(summary.text(show=0))
    assert summary.tried >= IMPORT_EXAMPLES * 0.9
    assert summary.failed == 0, summary.text()


# ---------------------------------------------------------------- what the fuzzing found, pinned down


@pytest.mark.parametrize("data", [b'"', b'";;;"\n', b"\x00", b"external_ref,email\nR1,a\x00b@example.org\n"])
def test_importer_reports_unreadable_files_at_row_one_or_later(app, data):
    from nlwerktdoor.services.imports import import_csv

    report = import_csv("workers", data)
    assert report.errors and all(error.row >= 1 and error.message for error in report.errors), report.errors
    assert report.created == report.updated == 0


def test_nul_characters_never_reach_the_database(app, client):
    """PostgreSQL refuses NUL in text: a NUL in any field used to be a 500 there (admin users, login…)."""
    from tests.access_world import csrf_token

    response = client.post("/account/inloggen", data={"email": "a\x00b@example.org", "password": "x\x00",
                                                      "csrf_token": csrf_token(app, client)})
    assert response.status_code == 200
    assert "E-mailadres of wachtwoord klopt niet." in response.get_data(as_text=True)
    assert client.get("/tekorten/?postcode=10%0011").status_code == 200


def test_turning_off_a_second_factor_that_is_off_says_so(app, client, login_as):
    from tests.access_world import csrf_token
    from tests.factories import make_employer

    login_as(make_employer())
    response = client.post("/account/tweestaps/uitzetten", data={"csrf_token": csrf_token(app, client)},
                           follow_redirects=True)
    assert "Tweestapsverificatie staat al uit." in response.get_data(as_text=True)
