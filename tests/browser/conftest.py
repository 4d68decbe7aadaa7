"""A live server on loopback (the test's own app, in a thread) and Debian's Chromium driven by Playwright."""
import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import ON_POSTGRES, app_with_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def app(_schema, tmp_path):
    """On SQLite, a database file rather than memory: the live server's thread and the test's thread
    then each have their own connection, as a real server and a second process would."""
    with app_with_database(None if ON_POSTGRES else f"sqlite:///{tmp_path / 'browser.sqlite'}") as app:
        yield app


@pytest.fixture
def live_server(app):
    """Serve the test's app (same database, same app object) on a free loopback port."""
    app.config.update(SERVER_NAME=None, WTF_CSRF_SSL_STRICT=False)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing on CI: `make test` installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    """A phone-sized page: job seekers fill their profile on a phone."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-NL", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
