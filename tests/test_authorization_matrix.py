"""The authorization matrix: every route of the URL map × every role has an expected outcome.

EXPECTED is the one table: endpoint (or "endpoint METHOD" where the methods differ) -> who may.
A route without an entry fails `test_every_route_has_an_expected_outcome`, naming it. Each role's
expectations are derived from the rule (see `expected_outcome`): allowed -> 2xx or a redirect that
is not the login page; refused -> 403 (wrong role or side) or 404 (someone else's object);
anonymous on a protected route -> redirect to the login page. Every refused POST is checked to
leave every row of every table unchanged.

The object in each URL belongs to worker A / employer A (tests/access_world.py); every role asks for it.
"""
import pytest
from flask import url_for

from tests.access_world import ROLES, changed_tables, csrf_token, enter, fill, fingerprint, is_login_redirect

# Rules:
#   public                 everyone, logged in or not
#   token                  everyone holding the link (the token in the URL is the capability)
#   token, then login      everyone holding the link; having used it, they are sent to log in
#   second login step      the code step of a login: without a first step, everyone is sent to log in
#   login                  any logged-in user
#   worker                 workers (their own profile: the URL carries no id)
#   employer               employer members of any organisation
#   employer:shrinking     employers of a shrinking-side organisation (verified or not)
#   employer:growing       employers of a growing-side organisation (verified or not)
#   owner:listing          the shrinking employer whose organisation owns the listing; other shrinking -> 404
#   owner:shortage         the growing employer whose organisation owns the shortage; other growing -> 404
#   owner:listing-upload   the shrinking employer whose organisation made the CSV upload; other shrinking -> 404
#   owner:shortage-upload  the growing employer whose organisation made the CSV upload; other growing -> 404
#   party:match            the two sides of the match (worker A, the shortage's employer); other logged-in -> 404
#   employer|coordinator|admin   the roles that may use a second factor
#   coordinator|admin      coordinators (any region) and admins
#   admin                  admins only
EXPECTED = {
    # public pages and the picker API (reference data only)
    "public.home": "public",
    "public.sources": "public",
    "public.api_occupations": "public",
    "public.api_occupation_skills": "public",
    "public.api_skills": "public",
    "growing.public_list": "public",
    "growing.public_detail": "public",
    # accounts
    "accounts.login": "public",
    "accounts.logout": "public",
    "accounts.register": "public",
    "accounts.forgot_password": "public",
    "accounts.set_password": "token",
    "accounts.organisation": "employer",
    "accounts.check_email": "public",
    "accounts.verify_email": "token, then login",
    "accounts.resend_verification": "login",
    "accounts.second_factor": "second login step",
    "accounts.security": "login",
    "accounts.change_password": "login",
    "accounts.enable_second_factor": "employer|coordinator|admin",
    "accounts.disable_second_factor": "login",
    # workers
    "workers.profile": "worker",
    "workers.pause": "worker",
    "workers.resume": "worker",
    "workers.withdraw": "worker",
    "workers.matches": "worker",
    "workers.accept_invitation": "token",
    # privacy (services/privacy.py): a new consent text, export, erasure, "still available?"
    "workers.reconsent": "worker",
    "workers.export": "worker",
    "workers.erase": "worker",
    "workers.still_available": "token",
    "accounts.erase_organisation": "employer",
    "admin.crisis_over": "admin",
    "admin.erase_organisation": "admin",
    # shrinking side
    "shrinking.index": "employer:shrinking",
    "shrinking.create": "employer:shrinking",
    "shrinking.upload": "employer:shrinking",
    "shrinking.example_csv": "employer:shrinking",
    "shrinking.upload_status": "owner:listing-upload",
    "shrinking.upload_progress_json": "owner:listing-upload",
    "shrinking.detail": "owner:listing",
    "shrinking.edit": "owner:listing",
    "shrinking.close": "owner:listing",
    "shrinking.reopen": "owner:listing",
    "shrinking.invite": "owner:listing",
    # growing side
    "growing.index": "employer:growing",
    "growing.create": "employer:growing",
    "growing.upload": "employer:growing",
    "growing.example_csv": "employer:growing",
    "growing.upload_status": "owner:shortage-upload",
    "growing.upload_progress_json": "owner:shortage-upload",
    "growing.detail": "owner:shortage",
    "growing.edit": "owner:shortage",
    "growing.act": "owner:shortage",
    # matches
    "matches.detail": "party:match",
    "matches.answer": "party:match",
    # coordinators and admins
    "admin.index": "coordinator|admin",
    "admin.verify": "coordinator|admin",
    "admin.sector_list": "admin",
    "admin.sector_trend": "admin",
    "admin.users": "admin",
    "admin.audit_log": "admin",
    "admin.job_runs": "admin",
    "admin.mail_overview": "admin",
    "admin.mail_retry": "admin",
    "admin.mail_lift": "admin",
    # probes for the process manager and the proxy
    "health.healthz": "public",
    "health.readyz": "public",
}

# A body that passes form validation, so that a refusal is a refusal of who asks, not of a missing field
# (matches.answer checks its form before the match). Everything else posts only the CSRF token.
BODIES = {
    "matches.answer": {"answer": "yes"},
    "admin.sector_trend": {"trend": "growing"},
    "admin.verify": {},
}

ALLOWED = {
    "public": set(ROLES),
    "token": set(ROLES),
    "login": set(ROLES) - {"anonymous"},
    "worker": {"worker_a", "worker_b"},
    "employer": {"shrinking_a", "shrinking_b", "growing", "unverified"},
    "employer:shrinking": {"shrinking_a", "shrinking_b"},
    "employer:growing": {"growing", "unverified"},
    "owner:listing": {"shrinking_a"},
    "owner:shortage": {"growing"},
    "owner:listing-upload": {"shrinking_a"},
    "owner:shortage-upload": {"growing"},
    "party:match": {"worker_a", "growing"},
    "employer|coordinator|admin": {"shrinking_a", "shrinking_b", "growing", "unverified", "coordinator_x",
                                   "coordinator_y", "admin"},
    "coordinator|admin": {"coordinator_x", "coordinator_y", "admin"},
    "token, then login": set(),
    "second login step": set(),
    "admin": {"admin"},
}
# Who is told "not found" rather than "forbidden": they may use the route, but not on this object.
NOT_FOUND = {
    "owner:listing": {"shrinking_b"},
    "owner:shortage": {"unverified"},
    "owner:listing-upload": {"shrinking_b"},
    "owner:shortage-upload": {"unverified"},
    "party:match": set(ROLES) - {"anonymous", "worker_a", "growing"},
}
PUBLIC_RULES = {"public", "token"}
SENDS_TO_LOGIN = {"token, then login", "second login step"}  # for every role, that is the right answer


def routes(app):
    """(endpoint, method, rule) for every route but static files, GET before POST, logout last."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule))
    return sorted(found, key=lambda r: (r[0] == "accounts.logout", r[1] != "GET", r[0], r[1]))


def rule_for(endpoint: str, method: str) -> str | None:
    return EXPECTED.get(f"{endpoint} {method}", EXPECTED.get(endpoint))


def expected_outcome(rule: str, role: str) -> str:
    """'allowed', 'login', 403 or 404."""
    if role in ALLOWED[rule]:
        return "allowed"
    if rule in SENDS_TO_LOGIN or (role == "anonymous" and rule not in PUBLIC_RULES):
        return "login"
    return 404 if role in NOT_FOUND.get(rule, set()) else 403


def outcome_of(response) -> str | int:
    if is_login_redirect(response):
        return "login"
    if response.status_code < 400:
        return "allowed"
    return response.status_code


def test_every_route_has_an_expected_outcome(app):
    missing = sorted({f"{e} {m} {r.rule}" for e, m, r in routes(app) if rule_for(e, m) is None})
    assert not missing, "Routes without an expected outcome (add them to EXPECTED in " \
        "tests/test_authorization_matrix.py): " + ", ".join(missing)
    unknown = sorted({rule for rule in EXPECTED.values() if rule not in ALLOWED})
    assert not unknown, f"Unknown rules in EXPECTED: {unknown}"
    stale = sorted(set(EXPECTED) - {e for e, _, _ in routes(app)} - {f"{e} {m}" for e, m, _ in routes(app)})
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"


def test_matrix_size(app):
    """The size reported in the issue's closing note: routes (endpoint × method) × roles."""
    size = len(routes(app))
    print(f"authorization matrix: {size} routes × {len(ROLES)} roles = {size * len(ROLES)} cases")
    assert size >= len(EXPECTED)


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(app, client, login_as, role):
    _world, values = enter(login_as, role)
    wrong = []
    for endpoint, method, rule in routes(app):
        access = rule_for(endpoint, method)
        if access is None:
            continue  # reported by test_every_route_has_an_expected_outcome
        url = url_for(endpoint, **fill(endpoint, rule.arguments, values))
        expected = expected_outcome(access, role)
        if method == "GET":
            response = client.get(url)
        else:
            before = fingerprint() if expected != "allowed" else None
            body = {**BODIES.get(endpoint, {}), "csrf_token": csrf_token(app, client)}
            response = client.open(url, method=method, data=body)
            if before is not None and (after := fingerprint()) != before:
                wrong.append(f"{method} {url} was refused but changed {changed_tables(before, after)}")
        actual = outcome_of(response)
        if actual != expected:
            wrong.append(f"{method} {url} ({endpoint}, rule {access!r}): expected {expected}, got "
                         f"{response.status_code} {response.headers.get('Location', '')}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)
