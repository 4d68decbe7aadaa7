"""How well one skill covers another, from the ESCO skill hierarchy.

People who switch sector rarely hold a required skill by id, but often one next to it in the
hierarchy: "assist passengers" and "accompany people" are both in S3.4.2 (accompanying and
welcoming people). So a required skill is covered

- fully (1.0) by the same skill id;
- partly by a candidate skill in the same level-3 group (S3.4.2), less in the same level-2 group
  (S3.4); a skill whose nearest group is a level-2 group ("S4.2.0") relates at level 2 at best;
- transversal skills (ESCO "T" pillar or the transversal collection) transfer across sectors: a
  transversal required skill is also partly covered by a transversal skill of the candidate in
  the same level-1 group (S1 communication, S3 assisting and caring, ...);
- knowledge (group = ISCED-F detailed field such as "0421" law) relates only to knowledge of the
  same field, weakly; knowledge never covers a competence nor the other way round. Catch-all
  fields (xx88 interdisciplinary, xx99 not elsewhere classified) and languages ("L...") relate
  by id only.

Specificity: a group credit is scaled by 1 / (1 + links / specificity_scale), where links counts
the essential occupation-skill links into the group: a group that hundreds of occupations reach
("complying with health and safety procedures") says less about fit than a narrow one ("serving
food and drinks"). Required skills are weighed by 1 / (1 + n_occupations / weight_scale): the core
of a profession ("perform take off and landing", 8 occupations) counts far more than what every
job asks ("have computer literacy", 240). Knowledge counts `knowledge_weight` of a competence:
facts of a field are what training teaches first, and domain knowledge of the old sector (air
transport law) must not carry a flight attendant into the cockpit.

Besides (see MatchSettings): a related credit shrinks when the covering skill is far more common
than the required one, one candidate skill covers at most a few required skills with diminishing
credit, related credits below a floor count as missing, knowledge counts only as far as the
competences are covered, and related skills count less for each ISCO skill level the new
occupation sits above the old one (isco_skill_level).

Measured on ESCO essential skills with the defaults (see tests/test_matching_engine.py and
bench/engine_quality.py):
flight attendant -> healthcare assistant, waiter -> home care aide and shop assistant ->
warehouse order picker pass; software developer -> healthcare assistant, flight attendant ->
airline transport pilot and waiter -> lawyer do not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .types import MatchSettings, SkillInfo

_LEVEL3 = 0
_LEVEL2 = 1
_KNOWLEDGE = 2
_TRANSVERSAL1 = 3  # level-1 group, counts only between two transversal skills

# An exact match is 1.0; a related skill never reaches it, however the credits are tuned.
MAX_RELATED_CREDIT = 0.9


@dataclass(frozen=True)
class _Node:
    groups: tuple[tuple[int, str], ...]  # (level, group key), nearest first
    transversal: bool
    knowledge: bool
    n_occupations: int
    entry: tuple[bool, str] = (False, "")  # (transversal, id): how a profile lists the skill in its groups

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for _level, key in self.groups)


def _group_keys(code: str) -> tuple[tuple[int, str], ...]:
    code = (code or "").strip()
    if not code:
        return ()
    if code[0] in "ST":
        parts = code.split(".")
        prefix = parts[0]
        levels = []
        for part in parts[1:]:
            if part in ("", "0"):
                break
            prefix = f"{prefix}.{part}"
            levels.append(prefix)
        if code[0] == "T":
            # Transversal codes stop at two levels ("T3.2"): the nearest group is the finest one.
            return ((_LEVEL3, levels[0]), (_TRANSVERSAL1, parts[0])) if levels else ((_TRANSVERSAL1, parts[0]),)
        keys = []
        if len(levels) >= 2:
            keys.append((_LEVEL3, levels[1]))
        if levels:
            keys.append((_LEVEL2, levels[0]))
        keys.append((_TRANSVERSAL1, parts[0]))
        return tuple(keys)
    if code.isdigit() and len(code) == 4 and code[2:] not in ("88", "99", "00"):
        return ((_KNOWLEDGE, "K" + code),)
    return ()  # languages and anything unknown: by id only


def _is_transversal(info: SkillInfo) -> bool:
    return "T" in info.pillars or "transversal" in info.collections


class _Profile:
    """A candidate's skills arranged by group, with a memo of what each required skill may get."""

    __slots__ = ("skills", "by_group", "memo", "tables")

    def __init__(self, skills: frozenset[str], index: "SkillIndex", tables: "_Tables"):
        self.skills = skills
        self.tables = tables
        # group key -> the candidate's skills in it, as (is transversal, id), sorted by id
        by_group: dict[str, list[tuple[bool, str]]] = {}
        group_keys = index._group_keys
        for skill_id in sorted(skills):
            keys = group_keys.get(skill_id)
            if keys is None:
                continue
            entry = index._nodes[skill_id].entry
            for key in keys:
                members = by_group.get(key)
                if members is None:
                    by_group[key] = [entry]
                else:
                    members.append(entry)
        self.by_group = by_group
        self.memo: dict[str, tuple[tuple[float, str], ...]] = {}


class _Tables:
    """What `options` reads per settings, worked out once per skill: the groups through which a
    required skill can be covered (links), and each skill's commonness (the generic factor)."""

    __slots__ = ("links", "commonness", "floor")

    def __init__(self, settings: MatchSettings):
        self.links: dict[str, tuple[tuple[str, float, bool], ...]] = {}
        self.commonness: dict[str, float] = {}
        # Credits below min_related_credit never count (rules.assign) when neither a level step nor
        # a reuse can raise them: `options` leaves them out, so that shorter lists are shared out.
        self.floor = settings.min_related_credit if settings.credits_never_rise else 0.0


@dataclass(frozen=True)
class Asked:
    """A shortage's required skills as the score reads them, worked out once per skill list."""

    skills: tuple[str, ...]  # without repeats, in the order given
    members: frozenset[str]  # the same, as a set
    weights: tuple[float, ...]
    knowledge: tuple[bool, ...]
    total: float


class SkillIndex:
    """Immutable after build(); safe to share between runs and threads."""

    def __init__(self, nodes: dict[str, _Node], specificity: dict[str, float], weight_scale: float):
        self._nodes = nodes
        self._specificity = specificity
        self._weight_scale = weight_scale
        self._profiles: dict[tuple[frozenset[str], MatchSettings], _Profile] = {}
        self._asked: dict[tuple[tuple[str, ...], MatchSettings], Asked] = {}
        self._tables: dict[MatchSettings, _Tables] = {}
        self._group_keys = {skill_id: node.keys for skill_id, node in nodes.items()}  # read by every new profile
        self._members: dict[str, list[tuple[bool, str]]] | None = None  # group key -> its skills (coverers)

    @classmethod
    def build(
        cls, infos: Iterable[SkillInfo], specificity_scale: float = 1000.0, weight_scale: float = 10.0
    ) -> "SkillIndex":
        infos = list(infos)
        links: dict[str, int] = {}
        keyed = []
        for info in infos:
            keys = _group_keys(info.group_code)
            keyed.append((info, keys))
            for level, key in keys:
                if level != _TRANSVERSAL1:
                    links[key] = links.get(key, 0) + max(info.n_occupations, 0)
        specificity = {key: 1.0 / (1.0 + n / specificity_scale) for key, n in links.items()}
        nodes = {
            info.id: _Node(
                groups=keys,
                transversal=_is_transversal(info),
                knowledge=(info.group_code or "")[:1].isdigit(),  # ISCED fields: knowledge
                n_occupations=max(info.n_occupations, 0),
                entry=(_is_transversal(info), info.id),
            )
            for info, keys in keyed
        }
        return cls(nodes, specificity, weight_scale)

    def __len__(self) -> int:
        return len(self._nodes)

    def forget(self) -> None:
        """Drop what scoring kept per candidate and per shortage (profiles with their memos, asked
        skills): after a big run, that memory is better used by what comes next."""
        self._profiles.clear()
        self._asked.clear()

    def __contains__(self, skill_id: object) -> bool:
        return skill_id in self._nodes

    def weight(self, skill_id: str, settings: MatchSettings) -> float:
        """How much a required skill counts towards coverage (unknown skills: 1)."""
        node = self._nodes.get(skill_id)
        if node is None:
            return 1.0
        weight = 1.0 / (1.0 + node.n_occupations / self._weight_scale)
        return weight * settings.knowledge_weight if node.knowledge else weight

    def asked(self, required: tuple[str, ...], settings: MatchSettings) -> Asked:
        """The required skills of a shortage with their weights (kept: many candidates meet one shortage)."""
        key = (required, settings)
        asked = self._asked.get(key)
        if asked is None:
            if len(self._asked) > 100_000:  # bounded, as the profiles are
                self._asked.clear()
            skills = tuple(dict.fromkeys(required))
            weights = tuple(self.weight(skill, settings) for skill in skills)
            asked = self._asked[key] = Asked(skills, frozenset(skills), weights, tuple(self.is_knowledge(s) for s in skills),
                                           sum(weights))
        return asked

    def profile(self, skills: frozenset[str], settings: MatchSettings) -> _Profile:
        key = (skills, settings)
        profile = self._profiles.get(key)
        if profile is None:
            if len(self._profiles) > 10_000:  # bounded: a long-lived process sees many people
                self._profiles.clear()
            tables = self._tables.get(settings)
            if tables is None:
                tables = self._tables[settings] = _Tables(settings)
            profile = self._profiles[key] = _Profile(skills, self, tables)
        return profile

    def options(self, required: str, profile: _Profile, settings: MatchSettings) -> tuple[tuple[float, str], ...]:
        """Every candidate skill that covers the required one, as (credit, skill), best first
        (on equal credit the smallest id, so explanations are stable). The same id gives 1.0.
        Without the credits that can never count in a match (below min_related_credit, _Tables)."""
        hit = profile.memo.get(required)
        if hit is not None:
            return hit
        result = profile.memo[required] = self._options(required, profile, settings, profile.tables.floor)
        return result

    def _options(self, required: str, profile: _Profile, settings: MatchSettings,
                 floor: float) -> tuple[tuple[float, str], ...]:
        if required in profile.skills:
            return ((1.0, required),)
        best: dict[str, float] = {}
        tables = profile.tables
        links = tables.links.get(required)
        if links is None:
            links = tables.links[required] = self.links(required, settings)
        if links:
            commonness = tables.commonness
            common_required = commonness.get(required) or commonness.setdefault(
                required, self.commonness(required, settings))
            for key, credit, transversal_only in links:
                if credit < floor:
                    continue  # nothing through this group can count (a level-1 group, by default)
                members = profile.by_group.get(key)
                if not members:
                    continue
                for transversal, by in members:
                    if transversal_only and not transversal:
                        continue
                    common_by = commonness.get(by) or commonness.setdefault(by, self.commonness(by, settings))
                    # The generic factor (see commonness).
                    value = credit * min(1.0, common_required / common_by)
                    if value > best.get(by, 0.0):
                        best[by] = value
        # Best first, then by id: sorted on (-credit, id) as plain tuples (no key function: this
        # line runs for every required skill a new candidate meets).
        ranked = sorted([(-c, by) for by, c in best.items() if c > 0 and c >= floor])
        return tuple([(-c, by) for c, by in ranked])

    def cover(self, required: str, profile: _Profile, settings: MatchSettings) -> tuple[float, str | None]:
        """(credit in [0, 1], the candidate skill that gives it; None when not covered), judged
        alone: also a credit below min_related_credit, which a match counts as missing."""
        found = self._options(required, profile, settings, 0.0)
        return found[0] if found else (0.0, None)

    # -- the same relatedness, as parts for bounding many pairs at once (bounds.py) -------------

    def commonness(self, skill_id: str, settings: MatchSettings) -> float:
        """1 + n_occupations / generic_scale (1 when the scale is off). A related credit is scaled by
        the generic factor min(1, commonness(required) / commonness(covering skill)): below 1 when
        the covering skill is far more common than the required one, since a skill that a hundred
        occupations hold says little about a skill that three hold."""
        scale = settings.generic_scale
        if scale <= 0:
            return 1.0
        node = self._nodes.get(skill_id)
        return 1.0 + (node.n_occupations if node else 0) / scale

    def links(self, required: str, settings: MatchSettings) -> tuple[tuple[str, float, bool], ...]:
        """The groups through which a candidate's skill may cover `required`, each with the credit
        it gives before the generic factor, and whether only a transversal skill counts there (a
        level-1 group): what `options` reads, group by group."""
        node = self._nodes.get(required)
        if node is None:
            return ()
        base = {
            _LEVEL3: settings.credit_level3,
            _LEVEL2: settings.credit_level2,
            _KNOWLEDGE: settings.credit_knowledge,
            _TRANSVERSAL1: settings.credit_transversal,
        }
        found = []
        for level, key in node.groups:
            if level == _TRANSVERSAL1:
                if node.transversal:
                    found.append((key, min(base[level], MAX_RELATED_CREDIT), True))
            else:
                found.append((key, min(base[level] * self._specificity[key], MAX_RELATED_CREDIT), False))
        return tuple(found)

    def coverers(self, required: str, settings: MatchSettings) -> dict[str, float]:
        """Every other skill that can cover `required`, with the credit `options` would give it
        (group credit times the generic factor), leaving out credits below `min_related_credit`
        when they can never count (see _Tables.floor): the same relatedness seen from the required
        skill's side, for bounding a shortage's candidates before they are read (bounds.skill_gains)."""
        members = self._members
        if members is None:
            members = {}
            for skill_id, node in self._nodes.items():
                for key in node.keys:
                    members.setdefault(key, []).append(node.entry)
            self._members = members
        floor = settings.min_related_credit if settings.credits_never_rise else 0.0
        common_required = self.commonness(required, settings)
        found: dict[str, float] = {}
        for key, credit, transversal_only in self.links(required, settings):
            if credit < floor:
                continue
            for transversal, by in members.get(key, ()):
                if by == required or (transversal_only and not transversal):
                    continue
                value = credit * min(1.0, common_required / self.commonness(by, settings))
                if value > 0 and value >= floor and value > found.get(by, 0.0):
                    found[by] = value
        return found

    def holds(self, skill_id: str) -> tuple[str, ...]:
        """The groups in which a candidate's skill can cover others (a level-1 group only for a
        transversal skill, as `options` has it)."""
        node = self._nodes.get(skill_id)
        if node is None:
            return ()
        return tuple(key for level, key in node.groups if level != _TRANSVERSAL1 or node.transversal)

    def family(self, skill_id: str) -> str | None:
        """The widest group through which the skill relates to others, level-1 transversal links
        aside (a level-2 group, a transversal "T3.2" or a knowledge field); None when it relates by
        id only. Two skills related other than through a level-1 group are in the same family, so
        the reuse limit can be bounded family by family (bounds.py)."""
        node = self._nodes.get(skill_id)
        if node is None:
            return None
        keys = [key for level, key in node.groups if level != _TRANSVERSAL1]
        return keys[-1] if keys else None

    def is_knowledge(self, skill_id: str) -> bool:
        node = self._nodes.get(skill_id)
        return bool(node and node.knowledge)


# ISCO-08 skill level of each major group (ILO, ISCO-08 vol. 1, table 1): professionals need a
# university degree (4), technicians and associate professionals post-secondary education (3),
# clerks, service, sales, craft and machine work secondary education (2), elementary work (1).
# Managers span levels 3 and 4: 3, the milder one. Armed forces span all levels: unknown (0).
_ISCO_SKILL_LEVEL = {"1": 3, "2": 4, "3": 3, "4": 2, "5": 2, "6": 2, "7": 2, "8": 2, "9": 1}


def isco_skill_level(isco_group: str | None) -> int:
    """The skill level (1-4) an ISCO group code ("5111", "2611") asks for; 0 when unknown."""
    code = (isco_group or "").strip()
    return _ISCO_SKILL_LEVEL.get(code[:1], 0)
