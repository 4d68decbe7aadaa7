"""`export matches`: the DESIGN.md columns, refs instead of personal data, best score first per shortage."""
import csv
import io

from nlwerktdoor import reference
from nlwerktdoor.models import Match
from nlwerktdoor.services.exports import MATCH_COLUMNS
from tests.factories import make_listing, make_organisation, make_shortage, make_worker

HEADER = ("shortage_ref,candidate_type,candidate_ref,score,distance_km,matched_skills,related_skills,"
          "missing_skills,growing_status,candidate_status,outcome")


def skill(label_en: str) -> str:
    skill_id = reference.resolve_skill(label_en)
    assert skill_id, label_en
    return skill_id


def test_export_matches_via_the_cli(db, cli_runner):
    growing = make_organisation(side="growing")
    shrinking = make_organisation(side="shrinking")
    shortage = make_shortage(growing, external_ref="ZDL-2026-001")
    worker = make_worker(external_ref="W-0001")
    listing = make_listing(shrinking)  # made on the website: no external_ref
    db.session.add_all([
        Match(shortage=shortage, listing=listing, score=0.41234, distance_km=12.345, explanation={}),
        Match(
            shortage=shortage, worker=worker, score=0.87654, distance_km=3.04, growing_status="yes",
            candidate_status="yes", outcome="introduced",
            explanation={
                "matched": [skill("provide first aid"), skill("communicate verbal instructions")],
                "related": [[skill("contribute to continuity of health care"), skill("comply with food safety and hygiene")]],
                "missing": [skill("educate on the prevention of illness")],
            },
        ),
    ])
    db.session.commit()

    result = cli_runner.invoke(args=["export", "matches"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == HEADER
    assert tuple(lines[0].split(",")) == MATCH_COLUMNS
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 2
    best, other = rows  # best score first
    assert best == {
        "shortage_ref": "ZDL-2026-001",
        "candidate_type": "worker",
        "candidate_ref": "W-0001",
        "score": "0.877",
        "distance_km": "3.0",
        "matched_skills": "provide first aid|communicate verbal instructions",
        "related_skills": "contribute to continuity of health care <- comply with food safety and hygiene",
        "missing_skills": "educate on the prevention of illness",
        "growing_status": "yes",
        "candidate_status": "yes",
        "outcome": "introduced",
    }
    assert (other["candidate_type"], other["candidate_ref"], other["score"], other["distance_km"]) == (
        "listing", f"listing-{listing.id}", "0.412", "12.3")
    assert (other["matched_skills"], other["growing_status"], other["outcome"]) == ("", "pending", "")
    # No personal data: the worker's name and email are not in the export.
    assert worker.user.email not in result.output and worker.user.name not in result.output


def test_export_without_matches_is_just_the_header(db, cli_runner):
    result = cli_runner.invoke(args=["export", "matches"])

    assert result.exit_code == 0
    assert result.output == HEADER + "\n"


def test_shortage_without_ref_gets_its_id(db, cli_runner):
    shortage = make_shortage(make_organisation(side="growing"))
    worker = make_worker()
    db.session.add(Match(shortage=shortage, worker=worker, score=0.5, distance_km=1.0, explanation={}))
    db.session.commit()

    rows = list(csv.DictReader(io.StringIO(cli_runner.invoke(args=["export", "matches"]).output)))

    assert (rows[0]["shortage_ref"], rows[0]["candidate_ref"]) == (f"shortage-{shortage.id}", f"worker-{worker.id}")
