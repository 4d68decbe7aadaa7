"""Find every form: crawl each GET page of the URL map as each kind of user and read its <form>s.

A form is identified by (endpoint, its field names, the query keys of its action), so the same form on
many pages is fuzzed once, as the first user who saw it. URL values that are objects of the world
(ids, tokens) are kept as references, so they follow a rebuilt world.
"""
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

from werkzeug.exceptions import HTTPException


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text, email, password, date, number, hidden, textarea, select, radio, checkbox, file, submit
    options: tuple = ()
    multiple: bool = False
    value: tuple = ()  # what the page filled in: an input's value, the checked boxes, the selected options


@dataclass
class FormTarget:
    endpoint: str
    role: str
    args: dict  # URL parameter -> ("ref", key of the world's URL values) or ("value", literal)
    query: dict  # the same for the action's query string
    fields: list = field(default_factory=list)
    discovered: bool = True  # False: a POST route whose form no page shows (fuzzed with random fields)
    method: str = "POST"  # GET: a search or filter form, its fields sent in the query string

    @property
    def key(self) -> str:
        query = "&".join(f"{k}={v[1] if v[0] == 'value' else '<' + str(v[1][1]) + '>'}" for k, v in self.query.items())
        return f"{self.method} {self.endpoint}{'?' + query if query else ''} as {self.role}"


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {"method": a.get("method", "get").lower(), "action": a.get("action", ""), "fields": {}}
            self.forms.append(self._form)
            return
        if tag == "option" and self._select is not None:
            self._select["options"] += (a.get("value", ""),)
            if "selected" in a:
                self._select["value"] += (a.get("value", ""),)
            return
        if self._form is None or not (name := a.get("name")):
            return
        fields = self._form["fields"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            kind = {"tel": "text", "search": "text", "url": "text"}.get(kind, kind)
            if kind in ("radio", "checkbox", "submit"):
                old = fields.get(name)
                options = (old["options"] if old else ()) + ((a.get("value", "on"),) if "value" in a or kind != "submit" else ())
                multiple = kind == "checkbox" and bool(old)
                checked = (old["value"] if old else ()) + ((a.get("value", "on"),) if "checked" in a else ())
                fields[name] = {"kind": kind, "options": options, "multiple": multiple, "value": checked}
            else:
                fields.setdefault(name, {"kind": kind, "options": (), "multiple": False,
                                         "value": (a["value"],) if a.get("value") else ()})
        elif tag == "button":
            old = fields.get(name)
            fields[name] = {"kind": "submit", "options": (old["options"] if old else ()) + (a.get("value", ""),),
                            "multiple": False, "value": ()}
        elif tag == "textarea":
            fields.setdefault(name, {"kind": "textarea", "options": (), "multiple": False, "value": ()})
            self._textarea = fields[name]
        elif tag == "select":
            self._select = fields.setdefault(name, {"kind": "select", "options": (), "multiple": "multiple" in a,
                                                    "value": ()})

    def handle_data(self, data):
        if self._textarea is not None and data.strip():
            self._textarea["value"] += (data,)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def parse_forms(html: str) -> list[dict]:
    parser = _FormParser()
    parser.feed(html)
    return [f for f in parser.forms if f["method"] in ("get", "post")]


def _as_reference(endpoint: str, name: str, value, values: dict):
    """A reference to the world's value for this parameter when the page used it, else the literal value."""
    for key in ((endpoint, name), (None, name)):
        if key in values and str(values[key]) == str(value):
            return ("ref", key)
    for key, known in values.items():
        if isinstance(known, str) and len(known) > 20 and known == value:  # a token under another name
            return ("ref", key)
    return ("value", value)


def to_target(app, page_url: str, form: dict, role: str, values: dict) -> FormTarget | None:
    parts = urlsplit(form["action"] or page_url)
    method = form["method"].upper()
    try:
        endpoint, view_args = app.url_map.bind(app.config["SERVER_NAME"] or "localhost").match(parts.path, method)
    except HTTPException:
        return None
    fields = [Field(name, f["kind"], tuple(dict.fromkeys(f["options"])), f["multiple"], tuple(f["value"]))
              for name, f in form["fields"].items()]
    return FormTarget(
        endpoint=endpoint, role=role,
        args={k: _as_reference(endpoint, k, v, values) for k, v in view_args.items()},
        query={k: _as_reference(endpoint, k, v, values) for k, v in parse_qsl(parts.query)},
        fields=fields, method=method,
    )
