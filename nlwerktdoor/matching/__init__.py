"""The matching engine: pure functions over plain data (no Flask, no database)."""
from .allocate import allocate_under_caps, candidate_pairs, collector_paused, match, warm_up
from .rules import distance_km, evaluate
from .skills import SkillIndex, isco_skill_level
from .types import CandidateIn, Changes, Explanation, MatchSettings, Proposal, ShortageIn, SkillInfo

__all__ = [
    "allocate_under_caps",
    "CandidateIn",
    "Changes",
    "Explanation",
    "MatchSettings",
    "Proposal",
    "ShortageIn",
    "SkillIndex",
    "SkillInfo",
    "candidate_pairs",
    "collector_paused",
    "distance_km",
    "evaluate",
    "isco_skill_level",
    "match",
    "warm_up",
]
