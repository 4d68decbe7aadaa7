"""The evaluation behind `nlwerktdoor eval`: load the labelled cases and the reference data, run
the pure evaluation (matching.evaluation) with the configured engine settings."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from .. import reference
from ..matching.evaluation import (
    ALL,
    FIT,
    MISFIT,
    SPLITS,
    Case,
    Labelled,
    Report,
    Site,
    evaluate_cases,
    format_report,
    in_split,
)
from .matching import match_settings, occupation_skill_level, skill_index_from_reference
from .suggestions import curated_growing_occupations, occupation_by_label

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "bench" / "eval_cases.csv"

# Fixed before the first run and not to be tuned to the engine: one or two everyday occupations
# per growing sector, the jobs side-entrants most often took in 2020.
DISTRACTORS = (
    "healthcare assistant",
    "building cleaner",
    "warehouse order picker",
    "car and van delivery driver",
    "shelf filler",
    "primary school teaching assistant",
    "call centre agent",
)

# Where the run places candidates and shortages: city-centre postcodes, near and far apart.
SITES = ("1012", "3011", "3511", "5611", "9711", "6511")
START = date(2020, 4, 1)


class CasesError(ValueError):
    """The labelled set cannot be read (unknown occupation, bad kind, too few implausible options)."""


def load_cases(text: str) -> list[Case]:
    """Cases from CSV text: id, kind (fit|misfit), candidate, target, target_sector, implausible
    (labels separated by |), source. Occupations by English ESCO label, any ESCO label, or id."""
    cases, errors = [], []
    for row_number, row in enumerate(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))), start=2):

        def occupation(label: str, row_number: int = row_number) -> str | None:
            found = occupation_by_label(label)
            if not found:
                errors.append(f"row {row_number}: unknown occupation {label!r}")
            return found

        kind = (row.get("kind") or "").strip()
        candidate = occupation(row.get("candidate") or "")
        target = occupation(row.get("target") or "")
        labels = [x for x in (row.get("implausible") or "").split("|") if x.strip()]
        implausible = tuple(o for o in map(occupation, labels) if o)
        if kind not in (FIT, MISFIT):
            errors.append(f"row {row_number}: kind must be {FIT} or {MISFIT}, not {kind!r}")
        elif kind == FIT and len(implausible) < 3:
            errors.append(f"row {row_number}: a fit case needs at least 3 implausible occupations")
        if not (row.get("source") or "").strip():
            errors.append(f"row {row_number}: source is empty")
        if candidate and target:
            cases.append(
                Case(
                    id=(row.get("id") or f"row{row_number}").strip(),
                    kind=kind,
                    candidate=candidate,
                    target=target,
                    target_sector=(row.get("target_sector") or "other").strip(),
                    implausible=implausible,
                    source=row["source"].strip(),
                )
            )
    if errors:
        raise CasesError("\n".join(errors))
    return cases


def run_evaluation(cases_path: Path | str | None = None, split: str = ALL) -> Report:
    """Every figure of the evaluation, for the labelled set at `cases_path` (default: the repository's);
    `split` "tune" or "holdout" keeps one half of the cases (matching.evaluation.case_split)."""
    if split not in SPLITS:
        raise CasesError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    cases = in_split(load_cases(Path(cases_path or DEFAULT_CASES).read_text(encoding="utf-8")), split)
    occupations = reference.occupations()
    growing = curated_growing_occupations()
    distractors = tuple(occupation_by_label(label) for label in DISTRACTORS)
    sector_of = dict(growing)
    sector_of.update({c.target: c.target_sector for c in cases})
    sites = []
    for pc4 in SITES:
        place = reference.place(pc4)
        sites.append(Site(place.place, place.lat, place.lon))
    data = Labelled(
        cases=cases,
        skills_of={occ_id: occ.essential_skills for occ_id, occ in occupations.items()},
        sector_of=sector_of,
        distractors=distractors,
        sites=sites,
        start=START,
        level_of={occ_id: occupation_skill_level(occ_id) for occ_id in occupations},
        wide=tuple(sorted(growing)),
    )
    return evaluate_cases(data, skill_index_from_reference(), match_settings())


def report_text(report: Report, details: bool = True) -> str:
    return format_report(
        report,
        label=lambda occ_id: reference.occupation_label(occ_id, "en"),
        details=details,
    )
