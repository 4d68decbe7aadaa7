"""Relatedness on realistic sector switches: coverage of the new occupation's essential skills by
the old occupation's, with the default settings.

    .venv/bin/python bench/engine_quality.py          # the table
    .venv/bin/python bench/engine_quality.py -v       # and every related pair, to judge by eye

"plausible" rows are crisis-time switches that happened (cabin crew into hospitals, hospitality
into home care and supermarkets, retail into distribution centres, travel and hotel staff into
call centres); "implausible" rows need years of education or share only a sector's domain
knowledge. A plausible row should pass (at least with training), an implausible one must not.
"""
from __future__ import annotations

import sys
from collections import Counter
from datetime import date

from nlwerktdoor import reference
from nlwerktdoor.matching import CandidateIn, MatchSettings, ShortageIn, evaluate, isco_skill_level
from nlwerktdoor.services.matching import skill_index_from_reference

PLAUSIBLE = [
    ("flight attendant", "healthcare assistant"),
    ("flight attendant", "nurse assistant"),
    ("waiter/waitress", "home care aide"),
    ("waiter/waitress", "warehouse order picker"),
    ("shop assistant", "warehouse order picker"),
    ("shop assistant", "shelf filler"),
    ("hospitality establishment receptionist", "call centre agent"),
    ("travel agent", "call centre agent"),
    ("travel agent", "customer service representative"),
    ("cook", "kitchen assistant"),
    ("cook", "food service worker"),
    ("cocktail bartender", "shelf filler"),
    ("taxi driver", "cargo vehicle driver"),
    ("taxi driver", "patient transport services driver"),
    ("airport baggage handler", "warehouse worker"),
    ("event electrician", "building electrician"),
    ("tourist guide", "call centre agent"),
    ("hotel porter", "hospital porter"),
    ("flight attendant", "care home worker"),
]
IMPLAUSIBLE = [
    ("software developer", "healthcare assistant"),
    ("flight attendant", "airline transport pilot"),
    ("flight attendant", "air traffic controller"),
    ("waiter/waitress", "lawyer"),
    ("shop assistant", "pharmacist"),
    ("cook", "specialist nurse"),
    ("hospitality establishment receptionist", "dental practitioner"),
    ("taxi driver", "secondary school teacher"),
    ("waiter/waitress", "psychologist"),
    ("tourist guide", "physiotherapist"),
    ("cocktail bartender", "chemist"),
    ("airport baggage handler", "architect"),
    ("stage technician", "emergency ambulance driver"),
]
DAY = date(2026, 12, 1)


def occupation(label):
    occupation_id = reference.resolve_occupation(label)
    if not occupation_id:
        raise SystemExit(f"unknown occupation {label!r}")
    return reference.occupations()[occupation_id]


def row(old, new, settings, index):
    old, new = occupation(old), occupation(new)
    candidate = CandidateIn("worker:1", 52.0, 5.0, 50, frozenset(old.essential_skills), frozenset(), frozenset(), DAY,
                            skill_level=isco_skill_level(old.isco_group))
    shortage = ShortageIn(1, "x", 52.0, 5.0, 50, tuple(new.essential_skills), (), frozenset(), DAY,
                          skill_level=isco_skill_level(new.isco_group))
    anyone = MatchSettings(**{**settings.__dict__, "min_coverage": 0.0, "min_coverage_with_training": 0.0})
    proposal = evaluate(candidate, shortage, index, anyone)
    e = proposal.explanation
    uses = Counter(by for _r, by in e.related)
    verdict = "pass" if e.coverage >= settings.min_coverage else (
        "training" if e.coverage >= settings.min_coverage_with_training else "no")
    return proposal, verdict, (max(uses.values()) if uses else 0)


def table(settings=None, verbose=False):
    settings = settings or MatchSettings()
    index = skill_index_from_reference()
    skills = reference.skills()
    good = bad = 0
    print(f"{'old -> new':62} {'cov':>5} {'score':>6} {'=':>3} {'~':>3} {'-':>3} {'reuse':>5}  verdict")
    for label, pairs in (("plausible", PLAUSIBLE), ("implausible", IMPLAUSIBLE)):
        print(f"-- {label}")
        for old, new in pairs:
            proposal, verdict, reuse = row(old, new, settings, index)
            e = proposal.explanation
            ok = (verdict != "no") if label == "plausible" else (verdict == "no")
            good += ok
            bad += not ok
            print(f"{old + ' -> ' + new:62} {e.coverage:5.2f} {proposal.score:6.3f} {len(e.matched):3} "
                  f"{len(e.related):3} {len(e.missing):3} {reuse:5}  {verdict}{'' if ok else '  <-- wrong'}")
            if verbose:
                for required, by in e.related:
                    print(f"      {skills[required].label_en} <- {skills[by].label_en}")
    print(f"right: {good}/{good + bad}")


if __name__ == "__main__":
    table(verbose="-v" in sys.argv)
