"""Security headers on every page, and templates that the Content-Security-Policy does not break.

Every GET route of the URL map is requested as a role that may see it (the role comes from the
authorization matrix's table), so a new page is checked as soon as it has an entry there.
"""
import re
from pathlib import Path

import pytest
from flask import url_for

import nlwerktdoor
from nlwerktdoor import security
from tests.access_world import csrf_token, enter, fill
from tests.factories import make_user
from tests.test_authorization_matrix import ALLOWED, SENDS_TO_LOGIN, routes, rule_for

TEMPLATES = Path(nlwerktdoor.__file__).parent / "templates"
STATIC = Path(nlwerktdoor.__file__).parent / "static"
# Who opens the page: the first role in this order that the matrix allows.
VIEWERS = ("anonymous", "worker_a", "shrinking_a", "growing", "admin")

EVERY_RESPONSE = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": security.CONTENT_SECURITY_POLICY,
    "Permissions-Policy": security.PERMISSIONS_POLICY,
}


def csp_directives(value: str) -> dict:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in value.split(";")) if part}


def test_csp_allows_no_inline_script_or_style_and_no_framing():
    csp = csp_directives(security.CONTENT_SECURITY_POLICY)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]  # pickers.js fetches /api/... on this site
    assert csp["img-src"] == ["'self'", "data:"]
    assert not any("unsafe" in source for sources in csp.values() for source in sources)


def _viewer(endpoint: str) -> str | None:
    rule = rule_for(endpoint, "GET")
    if rule in SENDS_TO_LOGIN:
        return "anonymous"  # everyone is sent to log in; the redirect must carry the headers too
    allowed = ALLOWED[rule] if rule else set()
    return next((role for role in VIEWERS if role in allowed), None)


def _get_pages(app):
    return [(endpoint, rule) for endpoint, method, rule in routes(app) if method == "GET"]


def test_every_get_page_has_a_viewer(app):
    without = [endpoint for endpoint, _rule in _get_pages(app) if _viewer(endpoint) is None]
    assert not without, f"No role may open these pages (check EXPECTED in the matrix test): {without}"


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_page_has_the_security_headers(app, client, login_as, viewer):
    _world, values = enter(login_as, viewer)
    pages = [(e, r) for e, r in _get_pages(app) if _viewer(e) == viewer]
    wrong = []
    for endpoint, rule in pages:
        url = url_for(endpoint, **fill(endpoint, rule.arguments, values))
        response = client.get(url)
        if response.status_code >= 400 and endpoint != "health.readyz":
            wrong.append(f"{url}: status {response.status_code}")
        for name, value in EVERY_RESPONSE.items():
            if response.headers.get(name) != value:
                wrong.append(f"{url}: {name} = {response.headers.get(name)!r}")
        if "Strict-Transport-Security" in response.headers:
            wrong.append(f"{url}: HSTS over plain http")
        cache = response.headers.get("Cache-Control", "")
        if viewer != "anonymous" and "no-store" not in cache:
            wrong.append(f"{url}: a logged-in page without Cache-Control: no-store ({cache!r})")
        if response.mimetype == "text/html":
            wrong += [f"{url}: {problem}" for problem in inline_code(response.get_data(as_text=True))]
    assert pages, f"{viewer} opened no page"
    assert not wrong, "\n".join(wrong)


def test_error_pages_and_static_files_have_the_headers(client):
    for response in (client.get("/bestaat-niet"), client.get("/static/js/pickers.js")):
        for name, value in EVERY_RESPONSE.items():
            assert response.headers.get(name) == value, (response.request.path, name)
    assert client.get("/bestaat-niet").status_code == 404


def test_public_pages_of_anonymous_visitors_may_be_cached(client):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


def test_pages_are_no_store_once_logged_in_and_not_after_logout(app, client, login_as):
    login_as(make_user(role="worker"))
    assert client.get("/").headers["Cache-Control"] == "no-store"
    client.post(url_for("accounts.logout"), data={"csrf_token": csrf_token(app, client)})
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


@pytest.mark.parametrize("how", ["direct", "proxy"])
def test_hsts_only_over_https(app, client, how):
    if how == "direct":
        plain, secure = client.get("/"), client.get("/", base_url="https://nlwerktdoor.test")
    else:
        # Behind a TLS-terminating proxy the app sees http; PREFERRED_URL_SCHEME says the site is https.
        plain = client.get("/")
        app.config["PREFERRED_URL_SCHEME"] = "https"
        secure = client.get("/")
    assert "Strict-Transport-Security" not in plain.headers
    hsts = secure.headers["Strict-Transport-Security"]
    assert re.fullmatch(r"max-age=(\d+)", hsts) and int(hsts.split("=")[1]) >= 180 * 24 * 3600


def test_a_forged_forwarded_proto_does_not_switch_hsts_on(client):
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_can_include_subdomains(app, client):
    app.config["HSTS_INCLUDE_SUBDOMAINS"] = True
    response = client.get("/", base_url="https://nlwerktdoor.test")
    assert response.headers["Strict-Transport-Security"].endswith("; includeSubDomains")


# ---------------------------------------------------------------- templates the CSP does not break

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def inline_code(html: str) -> list[str]:
    """What a CSP without 'unsafe-inline' would block (or what would need it)."""
    checks = {
        "inline <script> without src": INLINE_SCRIPT,
        "inline event handler (on...=)": EVENT_HANDLER,
        "style= attribute": STYLE_ATTRIBUTE,
        "<style> element": STYLE_ELEMENT,
        "javascript: URL": JAVASCRIPT_URL,
    }
    return [f"{label}: {match.group(0)[:80]!r}"
            for label, pattern in checks.items() for match in pattern.finditer(html)]


def browser_templates():
    """Every template rendered for a browser; email templates go to mail clients, not through the CSP."""
    return sorted(p for p in TEMPLATES.rglob("*.html") if "email" not in p.relative_to(TEMPLATES).parts)


def test_there_are_browser_templates_to_check():
    assert len(browser_templates()) > 20


@pytest.mark.parametrize("path", browser_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_has_no_inline_script_handler_or_style(path):
    assert inline_code(path.read_text(encoding="utf-8")) == []


def test_the_checker_finds_what_the_csp_would_block():
    bad = ('<script>alert(1)</script><button onclick="x()">x</button><p style="color:red">'
           '<style>p{}</style><a href="javascript:void(0)">')
    assert len(inline_code(bad)) == 5
    assert inline_code('<script src="/static/js/pickers.js" defer></script><p class="note">') == []


def test_scripts_add_no_inline_code():
    """The static JavaScript must not create what the CSP blocks (inline handlers, style attributes, eval)."""
    for path in STATIC.rglob("*.js"):
        source = path.read_text(encoding="utf-8")
        for pattern in (r"\beval\s*\(", r"new\s+Function\s*\(", r"setAttribute\(\s*['\"](style|on[a-z]+)['\"]",
                        r"\.innerHTML\s*=", r"\bon[a-z]+\s*=\s*['\"]"):
            assert not re.search(pattern, source), f"{path.name}: {pattern}"
