"""One testing app with a world of every role (tests/access_world.py); sends one fuzzed input and returns
the properties it broke as readable strings (an empty list = all held).

Properties, for a form:
- never a 5xx and never an unhandled exception;
- a refused request changes no row of any table (refused = 4xx, the form shown again with an error, or a
  redirect to a page that flashes an error);
- a refused form says why (an element with class "error", "form-errors" or "flash-error", or role="alert";
  an error page has its heading);
- a redirect stays on this site.
For the CSV importer: never an exception; a report with errors (row >= 1, a column of the format or "",
a message) and not one row written; or everything imported (created rows = rows added to the table).
"""
import io
import re
import traceback
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import url_for

from nlwerktdoor.extensions import db
from nlwerktdoor.models import Shortage, StaffListing, WorkerProfile
from nlwerktdoor.services import accounts, imports
from nlwerktdoor.services.imports import COLUMNS, RowError
from nlwerktdoor.services.sectors import ensure_default_sectors
from tests.access_world import (
    LOGIN_PATH,
    ROLES,
    build_world,
    changed_tables,
    csrf_token,
    fill,
    fingerprint,
    url_values,
)
from tests.factories import PASSWORD

from .forms import FormTarget, parse_forms, to_target

# The order in which users crawl the site; a form is fuzzed as the first of them who sees it.
CRAWL_ROLES = ("anonymous", "worker_a", "shrinking_a", "growing", "coordinator_x", "admin")
EMAIL_PLACEHOLDER = re.compile(r"<email:([a-z_]+)>")
KNOWN_EMAILS = tuple(f"<email:{role}>" for role in ROLES if role != "anonymous")
IMPORT_OWNERS = ("operator", "shrinking_a", "growing", "unverified")
_MESSAGE = re.compile(r'class="[^"]*\b(error|form-errors|flash-error)\b|role="alert"')
_MODELS = {"shortages": Shortage, "listings": StaffListing, "workers": WorkerProfile}


def shows_message(html: str) -> bool:
    return bool(_MESSAGE.search(html))


class Harness:
    def __init__(self, app):
        self.app = app
        self.world = None
        self.values = {}
        self.crawl_errors: list[str] = []  # GET pages that failed while looking for forms
        self.last_accepted = False  # whether the last input passed (and was acted on)
        self.reset()
        self.targets = self.discover()
        self.reset()  # crawling may have used a token or verified an address

    # ------------------------------------------------------------ the world

    def reset(self) -> None:
        """Every table emptied and the world built again (after an input that was accepted and wrote)."""
        db.session.rollback()
        tables = db.metadata.sorted_tables
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:  # SQLite: users and organisations point at each other, so no delete order fits
            db.session.execute(sa.text("PRAGMA foreign_keys=OFF"))
            for table in reversed(tables):
                db.session.execute(table.delete())
            db.session.commit()
            db.session.execute(sa.text("PRAGMA foreign_keys=ON"))
        db.session.commit()
        ensure_default_sectors()
        self.world = build_world()
        self.values = url_values(self.world)
        inviter = self.world.users["shrinking_a"]
        self.values[("accounts.register", "uitnodiging")] = accounts.make_invitation_token(
            inviter.organisation, "collega-fuzz@example.org", inviter)
        db.session.rollback()  # hold no transaction open between inputs (PostgreSQL: locks would block TRUNCATE)

    def resolve(self, reference):
        kind, value = reference
        return self.values[value] if kind == "ref" else value

    def url(self, target: FormTarget) -> str:
        with self.app.test_request_context():
            args = {k: self.resolve(v) for k, v in target.args.items()}
            query = {k: self.resolve(v) for k, v in target.query.items()}
            return url_for(target.endpoint, **args, **query)

    def substitute(self, value):
        if isinstance(value, str):
            return EMAIL_PLACEHOLDER.sub(lambda m: self.world.users[m.group(1)].email, value)
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return value

    def substitute_bytes(self, data: bytes) -> bytes:
        """The <email:role> placeholders of a CSV file (UTF-8 or single-byte; others keep them as they are)."""
        for role in KNOWN_EMAILS:
            name = role[len("<email:"):-1]
            data = data.replace(role.encode(), self.world.users[name].email.encode())
        return data

    # ------------------------------------------------------------ clients

    def client(self, role: str):
        client = self.app.test_client()
        if role != "anonymous":
            user = self.world.users[role]
            response = client.post(LOGIN_PATH, data={"email": user.email, "password": PASSWORD,
                                                     "csrf_token": csrf_token(self.app, client)})
            assert response.status_code in (302, 303), f"could not log in as {role}"
        return client

    # ------------------------------------------------------------ discovering the forms

    def discover(self) -> list[FormTarget]:
        found: dict[tuple, FormTarget] = {}
        pages = []
        for rule in self.app.url_map.iter_rules():
            if "GET" in rule.methods and rule.endpoint not in ("static", "accounts.verify_email"):
                pages.append((rule.endpoint, rule.arguments, {}))
        pages += [("accounts.register", (), {"role": "worker"}),
                  ("accounts.register", (), {"role": "employer", "side": "growing"}),
                  ("accounts.register", (), {"uitnodiging": ("ref", ("accounts.register", "uitnodiging"))})]
        for role in CRAWL_ROLES:
            client = self.client(role)
            for endpoint, arguments, query in pages:
                try:
                    args = fill(endpoint, arguments, self.values)
                except AssertionError:
                    continue  # a new URL parameter without a test value: the authorization matrix reports it
                with self.app.test_request_context():
                    page = url_for(endpoint, **args, **{k: self.resolve(v) if isinstance(v, tuple) else v
                                                        for k, v in query.items()})
                try:
                    response = client.get(page)
                except Exception as error:  # noqa: BLE001 - a broken page is reported, the crawl goes on
                    self.crawl_errors.append(f"GET {page} (as {role}): {_describe(error)}")
                    db.session.rollback()
                    continue
                if response.status_code >= 500:
                    self.crawl_errors.append(f"GET {page} (as {role}): HTTP {response.status_code}")
                if response.status_code != 200 or "html" not in response.content_type:
                    continue
                for form in parse_forms(response.get_data(as_text=True)):
                    target = to_target(self.app, page, form, role, self.values)
                    if target is None:
                        continue
                    key = (target.method, target.endpoint, frozenset(f.name for f in target.fields),
                           frozenset(target.query))
                    found.setdefault(key, target)
        targets = sorted(found.values(), key=lambda t: t.key)
        seen = {t.endpoint for t in targets if t.method == "POST"}
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.endpoint):
            if "POST" in rule.methods and rule.endpoint not in seen:
                try:
                    args = fill(rule.endpoint, rule.arguments, self.values)
                except AssertionError:
                    continue
                targets.append(FormTarget(rule.endpoint, "*", {k: ("ref", (None, k)) if (None, k) in self.values
                                                                 else ("value", v) for k, v in args.items()},
                                          {}, [], discovered=False))
                seen.add(rule.endpoint)
        return targets

    # ------------------------------------------------------------ one form input (POST, or GET for a search form)

    def send(self, target: FormTarget, data: dict, role: str | None = None) -> list[str]:
        role = role or target.role
        problems: list[str] = []
        self.last_accepted = False
        try:
            client = self.client(role)
            url = self.url(target)
            body = {}
            for name, value in data.items():
                if value is None:
                    continue
                if isinstance(value, tuple):  # a file: (bytes, filename)
                    body[name] = (io.BytesIO(value[0]), value[1])
                else:
                    body[name] = self.substitute(value)
            before = fingerprint()
            if target.method == "GET":
                response = client.get(url, query_string=body)
                after = fingerprint()
                problems += self._judge_search(response, before, after)
            else:
                body["csrf_token"] = csrf_token(self.app, client)
                response = client.post(url, data=body)
                after = fingerprint()
                problems += self._judge_post(client, response, before, after)
            if before != after:
                self.reset()
        except Exception as error:  # noqa: BLE001 - every exception is a finding
            problems.append(_describe(error))
            self.reset()
        return [f"{target.key} (as {role}): {p}" for p in problems]

    def _judge_search(self, response, before, after) -> list[str]:
        """A search or filter form: any input gives a (possibly empty) result and writes nothing."""
        self.last_accepted = response.status_code < 400
        problems = [f"HTTP {response.status_code}"] if response.status_code >= 500 else []
        if before != after:
            problems.append(f"a search changed {changed_tables(before, after)}")
        return problems

    def _judge_post(self, client, response, before, after) -> list[str]:
        status, html = response.status_code, response.get_data(as_text=True)
        wrote = before != after
        problems = []
        if status >= 500:
            problems.append(f"HTTP {status}")
            refused = True
        elif status >= 400:
            refused = True
            if "<h1" not in html:
                problems.append(f"HTTP {status} without an explanation")
        elif status in (301, 302, 303, 307, 308):
            location = response.headers.get("Location", "")
            if urlsplit(location).netloc not in ("", self.app.config.get("SERVER_NAME") or "localhost"):
                problems.append(f"redirect off the site: {location}")
            follow = client.get(location)
            if follow.status_code >= 500:
                problems.append(f"HTTP {follow.status_code} on the page redirected to ({location})")
            refused = "flash-error" in follow.get_data(as_text=True)
        else:  # the form shown again (or a result page, such as new backup codes, after a write)
            refused = shows_message(html) or not wrote
            if not shows_message(html) and not wrote:
                problems.append(f"HTTP {status}: the form came back without a message saying what is wrong")
        self.last_accepted = not refused and status < 400
        if refused and wrote:
            problems.append(f"refused (HTTP {status}) but changed {changed_tables(before, after)}")
        return problems

    # ------------------------------------------------------------ one CSV file

    def import_file(self, kind: str, data: bytes, owner: str) -> list[str]:
        organisation = None if owner == "operator" else self.world.users[owner].organisation
        model = _MODELS[kind]
        problems = []
        self.last_accepted = False
        try:
            before = fingerprint()
            rows_before = db.session.scalar(sa.select(sa.func.count()).select_from(model))
            with self.app.test_request_context():
                report = imports.import_csv(kind, data, organisation=organisation)
            after = fingerprint()
            rows_after = db.session.scalar(sa.select(sa.func.count()).select_from(model))
            if report.errors:
                if before != after:
                    problems.append(f"errors reported but changed {changed_tables(before, after)}")
                for error in report.errors:
                    if not isinstance(error, RowError) or error.row < 1 or not str(error.message).strip() \
                            or error.column not in COLUMNS[kind] + ("",):
                        problems.append(f"unclear error {error!r}")
                        break
                if report.created or report.updated:
                    problems.append(f"errors reported but created={report.created} updated={report.updated}")
            else:
                self.last_accepted = True
                if report.created + report.updated + report.unchanged < 1:
                    problems.append("no errors and nothing imported")
                if rows_after - rows_before != report.created:
                    problems.append(f"created={report.created} but {rows_after - rows_before} rows were added")
            if before != after:
                self.reset()
        except Exception as error:  # noqa: BLE001
            problems.append(_describe(error))
            self.reset()
        return [f"import {kind} as {owner}: {p}" for p in problems]


def _describe(error: Exception) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if "/nlwerktdoor/" in f.filename] or frames
    where = f"{own[-1].filename.split('/work/main/')[-1]}:{own[-1].lineno}" if own else "?"
    return f"exception {type(error).__name__}: {str(error)[:200]} (at {where})"
