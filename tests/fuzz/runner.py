"""Run the fuzz checks for a number of examples, counting inputs tried and inputs that broke a property.

Used by tests/test_fuzz.py (few examples, derandomized) and bench/fuzz.py (many, random). Failures are
collected rather than raised, so one run reports every broken form with the input that broke it.
"""
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nlwerktdoor.extensions import db
from nlwerktdoor.services.imports import KINDS
from tests.factories import PASSWORD

from .harness import CRAWL_ROLES, IMPORT_OWNERS, KNOWN_EMAILS, Harness
from .strategies import as_shown, csv_file, extra_fields, field_value, good_value

# Share of the examples that go to the importer (called directly); the rest go to the forms.
IMPORT_SHARE = 0.3


@dataclass
class Summary:
    tried: int = 0
    failed: int = 0
    failures: list = field(default_factory=list)  # (problem, input) pairs, in the order found
    per_target: dict = field(default_factory=dict)  # name -> [tried, failed, accepted]
    seconds: float = 0.0

    def record(self, name: str, problems: list[str], example, accepted: bool = False) -> None:
        self.tried += 1
        counts = self.per_target.setdefault(name, [0, 0, 0])
        counts[0] += 1
        counts[2] += accepted
        if problems:
            self.failed += 1
            counts[1] += 1
            self.failures.extend((problem, example) for problem in problems)

    def text(self, show: int = 10) -> str:
        lines = [f"fuzz: {self.tried} inputs tried, {self.failed} failed ({self.seconds:.1f} s)"]
        lines.append("   tried failed accepted  form (accepted = the input passed and was acted on)")
        for name, (tried, failed, accepted) in sorted(self.per_target.items()):
            lines.append(f"  {tried:6d} {failed:6d} {accepted:8d}  {name}")
        for problem, example in self.failures[:show]:
            lines.append(f"FAIL {problem}\n     input: {_short(example)}")
        return "\n".join(lines)


def _short(example, limit: int = 600) -> str:
    text = repr(example)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def form_data(target):
    """A strategy for one form's body: its own fields (each possibly left out) plus, sometimes, stray fields.
    Half of the bodies start from what the page filled in and change one or two fields."""
    fields = [f for f in target.fields if f.name != "csrf_token"]
    own = st.fixed_dictionaries({f.name: field_value(f, known_emails=KNOWN_EMAILS, password=PASSWORD)
                                 for f in fields})
    if fields:
        shown = {f.name: as_shown(f) for f in fields if f.kind != "file"}
        good = st.fixed_dictionaries({f.name: good_value(f, PASSWORD) for f in fields})
        changed = st.lists(st.sampled_from([f.name for f in fields]), max_size=2)
        own = st.one_of(
            own,
            st.builds(lambda drawn, names: {**shown, **{n: drawn[n] for n in names}}, own, changed),
            st.builds(lambda base, drawn, names: {**base, **{n: drawn[n] for n in names}}, good, own, changed),
        )
    if {"password", "confirm"} <= {f.name for f in fields}:  # a repeated password is mostly repeated right
        own = st.builds(lambda body, same: {**body, "confirm": body.get("password")} if same else body,
                        own, st.booleans())
    return st.builds(lambda a, b: {**b, **a}, own, st.one_of(st.just({}), extra_fields()))


def _settings(examples: int, derandomize: bool):
    return settings(
        max_examples=max(1, examples), deadline=None, database=None, derandomize=derandomize,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )


def run(harness: Harness, examples: int, *, derandomize: bool = False, seed: int | None = None,
        forms: bool = True, importer: bool = True, progress=None) -> Summary:
    summary = Summary()
    started = time.monotonic()
    harness.reset()  # the same start whatever ran before (on PostgreSQL other tests empty the tables)
    targets = harness.targets if forms else []
    import_examples = int(examples * IMPORT_SHARE) if (importer and forms) else (examples if importer else 0)
    per_target = max(1, (examples - import_examples) // max(1, len(targets))) if targets else 0

    for target in targets:
        if target.discovered:
            strategy = st.tuples(st.just(target.role), form_data(target))
        else:  # no page shows this route's form: random fields, as any user
            strategy = st.tuples(st.sampled_from(CRAWL_ROLES), extra_fields())

        _run(_form_test(harness, summary, target, strategy, _settings(per_target, derandomize)), seed)
        if progress:
            progress(summary)

    if import_examples:
        per_kind = max(1, import_examples // len(KINDS))
        for kind in KINDS:
            owners = ("operator",) if kind == "workers" else IMPORT_OWNERS

            _run(_import_test(harness, summary, kind, owners, _settings(per_kind, derandomize)), seed)
            if progress:
                progress(summary)
    summary.seconds = time.monotonic() - started
    db.session.rollback()  # no transaction left open (on PostgreSQL it would block other tests' TRUNCATE)
    return summary


def _form_test(harness, summary, target, strategy, config):
    @config
    @given(strategy)
    def one_form(example):
        role, data = example
        problems = harness.send(target, data, role=role)
        summary.record(target.key, problems, example, accepted=harness.last_accepted)

    return one_form


def _import_test(harness, summary, kind, owners, config):
    case = st.sampled_from(owners).flatmap(lambda owner: st.tuples(
        st.just(owner), csv_file(kind, KNOWN_EMAILS, operator=owner == "operator")))

    @config
    @given(case)
    def one_file(example):
        owner, data = example
        problems = harness.import_file(kind, harness.substitute_bytes(data), owner)
        summary.record(f"import {kind}", problems, (owner, data), accepted=harness.last_accepted)

    return one_file


def _run(test, seed: int | None) -> None:
    if seed is not None:
        from hypothesis import seed as hypothesis_seed

        test = hypothesis_seed(seed)(test)
    test()
