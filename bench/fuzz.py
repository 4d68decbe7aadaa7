"""The big fuzz run (issue 6, item 10): many random inputs for every form and the CSV importer.

    .venv/bin/python bench/fuzz.py --examples 10000

Prints how many inputs were tried and how many broke a property (a 5xx or exception, a write by a
refused request, a refusal without a message, an importer report that is neither all errors nor all
rows), per form, with the first failures and the input that caused them. Exit status 1 if any failed.
The checks are those of tests/test_fuzz.py (tests/fuzz/), on a fresh in-memory SQLite database, or on
PostgreSQL when TEST_DATABASE_URL names one (its tables are emptied afterwards, as by the test suite).
"""
import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlwerktdoor import create_app
from nlwerktdoor.extensions import db
from tests.conftest import ON_POSTGRES, app_with_database
from tests.fuzz.harness import Harness
from tests.fuzz.runner import run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="inputs in total (default 10000)")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run (printed at the start)")
    parser.add_argument("--show", type=int, default=10, help="failures to print in full (default 10)")
    parser.add_argument("--only", choices=("forms", "import"), help="fuzz only the forms or only the importer")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzz: {args.examples} examples, seed {seed}", flush=True)

    def progress(summary):
        print(f"  … {summary.tried} tried, {summary.failed} failed", flush=True)

    if ON_POSTGRES:  # TEST_DATABASE_URL names an empty PostgreSQL database: build the schema first
        with create_app("testing").app_context():
            db.create_all()
    with app_with_database() as app:
        harness = Harness(app)
        print(f"fuzz: {len(harness.targets)} forms and routes: "
              f"{sum(t.method == 'GET' for t in harness.targets)} search forms (GET), "
              f"{sum(t.discovered and t.method == 'POST' for t in harness.targets)} POST forms found on pages, "
              f"{sum(not t.discovered for t in harness.targets)} POST routes without a form on any page", flush=True)
        for problem in harness.crawl_errors:
            print(f"PAGE FAILED {problem}")
        summary = run(harness, args.examples, seed=seed, forms=args.only != "import",
                      importer=args.only != "forms", progress=progress)
    print(summary.text(show=args.show))
    return 1 if summary.failed or harness.crawl_errors else 0


if __name__ == "__main__":
    sys.exit(main())
