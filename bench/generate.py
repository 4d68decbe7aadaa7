"""Generate data shaped like the Netherlands (issue 4): candidates from the shrinking sectors,
shortages from the growing ones, dense in the cities. The same seed gives the same rows.

    python bench/generate.py --candidates 20000 --shortages 5000 --csv /tmp/gen     # import files
    python bench/generate.py --candidates 2400000 --shortages 300000 \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/scale               # straight in (COPY)

--csv writes shortages.csv, listings.csv and workers.csv in the DESIGN.md formats, for
`flask --app nlwerktdoor import shortages|listings|workers FILE`. --database creates the schema
from the models when it is missing (a throwaway bench database; production uses `db upgrade`) and
loads the rows with COPY on PostgreSQL, executemany on SQLite. The logic lives in
nlwerktdoor/services/generator.py.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(database_url: str, data) -> None:
    from nlwerktdoor import create_app
    from nlwerktdoor.extensions import db
    from nlwerktdoor.services import generator

    app = create_app("development", SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="bench")
    with app.app_context():
        db.create_all()
        report = generator.load_database(data, progress=lambda kind, done: print(f"  {kind}: {done}", flush=True))
        print(report.summary(), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, required=True, help="workers plus staff listings")
    parser.add_argument("--shortages", type=int, required=True)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--listing-share", type=float, default=0.2, help="share of candidates that are staff listings")
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="YYYY-MM-DD the dates count from (default today; fix it for identical files)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--csv", metavar="DIR", help="write the three import files into DIR")
    target.add_argument("--database", metavar="URL", help="load into this database (SQLAlchemy URL)")
    args = parser.parse_args(argv)

    from nlwerktdoor.services import generator

    data = generator.GeneratedData(args.candidates, args.shortages, seed=args.seed,
                                   today=args.today or date.today(), listing_share=args.listing_share)
    print(f"{data.n_workers} workers, {data.n_listings} staff listings, {data.shortages} shortages, seed {data.seed}",
          flush=True)
    started = time.perf_counter()
    if args.csv:
        for kind, path in generator.write_csv(data, args.csv).items():
            print(f"  {kind}: {path}")
        print(f"written in {time.perf_counter() - started:.1f} s")
    else:
        load(args.database, data)


if __name__ == "__main__":
    main()
