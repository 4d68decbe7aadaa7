"""Time the occupation-to-occupation transfer table: one row (what a worker's page needs) and the
whole table (every ESCO occupation against every growing-sector target).

    .venv/bin/python bench/transfer_timing.py
"""

import time

from sqlalchemy.exc import OperationalError

from nlwerktdoor import create_app, reference
from nlwerktdoor.matching.transfer import TransferTable
from nlwerktdoor.services.matching import (
    match_settings,
    occupation_skill_level,
    skill_index_from_reference,
)
from nlwerktdoor.services.suggestions import growing_targets


def main() -> None:
    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        occupations = {occ.id: occ.essential_skills for occ in reference.occupations().values()}
        index = skill_index_from_reference()
        print(f"reference data and skill index: {time.perf_counter() - started:.2f} s")
        try:
            targets = growing_targets()  # needs the database for the shortages' occupations
        except OperationalError as error:  # no database yet: the curated list alone
            print(f"(no database: {type(error).__name__}; curated targets only)")
            from nlwerktdoor.services.suggestions import curated_growing_occupations

            targets = curated_growing_occupations()
        levels = {occ_id: occupation_skill_level(occ_id) for occ_id in occupations}
        table = TransferTable(occupations, targets, index, match_settings(), levels)
        flight_attendant = reference.resolve_occupation("flight attendant")

        started = time.perf_counter()
        nearest = table.nearest(flight_attendant, 5)
        one_row = time.perf_counter() - started
        print(f"one row ({len(table.targets)} targets) + top 5 explained: {one_row * 1000:.1f} ms")
        for t in nearest:
            print(
                f"  {reference.occupation_label(t.occupation_id, 'en'):45} coverage {t.coverage:.2f} score {t.score:.3f}"
            )

        started = time.perf_counter()
        table.build()
        full = time.perf_counter() - started
        pairs = len(occupations) * len(table.targets)
        print(
            f"full table: {len(occupations)} occupations x {len(table.targets)} targets = {pairs} pairs "
            f"in {full:.2f} s ({full / pairs * 1e6:.1f} us per pair)"
        )

        started = time.perf_counter()
        for occ in list(occupations)[:500]:
            table.nearest(occ, 5)
        print(f"500 x nearest(k=5) on the built table: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
