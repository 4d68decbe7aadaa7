"""Reference data shipped in `data/` (postcodes, regions, ESCO), indexed once per process.

Nothing here touches Flask or the database: a request never parses a CSV, it asks this index,
which is built on first use and then cached for the life of the process.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
import csv
import gzip
import io
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"
# Mean Earth radius (IUGG), as the matching engine uses it.
EARTH_RADIUS_KM = 6371.0088

CERTIFICATES = ("VOG", "BIG", "rijbewijs-B", "rijbewijs-C", "rijbewijs-CE", "code95", "heftruck", "HACCP", "BHV", "VCA")
_CERT_BY_FOLDED = {c.casefold(): c for c in CERTIFICATES}

ESCO_SKILL_URI = "http://data.europa.eu/esco/skill/"
ESCO_OCCUPATION_URI = "http://data.europa.eu/esco/occupation/"

_POSTCODE_RE = re.compile(r"^\s*([1-9][0-9]{3})\s*(?:[A-Za-z]{2})?\s*$")


@dataclass(frozen=True)
class Place:
    pc4: str
    lat: float
    lon: float
    place: str
    municipality_code: str
    municipality: str
    region_code: str
    region: str


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    provinces: tuple[str, ...]


@dataclass(frozen=True)
class Skill:
    id: str
    label_en: str
    label_nl: str
    skill_type: str  # "knowledge" or "skill/competence"
    pillars: tuple[str, ...]  # subset of S, K, T, L
    group_code: str  # nearest ESCO skill group above, e.g. "S4.8.1"
    group_label_en: str
    group_label_nl: str
    collections: tuple[str, ...]
    n_occupations_essential: int
    n_occupations_optional: int

    def label(self, locale: str = "nl") -> str:
        return (self.label_nl or self.label_en) if locale == "nl" else self.label_en

    def group_label(self, locale: str = "nl") -> str:
        return (self.group_label_nl or self.group_label_en) if locale == "nl" else self.group_label_en

    @property
    def is_transversal(self) -> bool:
        return "T" in self.pillars or "transversal" in self.collections


@dataclass(frozen=True)
class Occupation:
    id: str
    esco_code: str
    isco_group: str
    label_en: str
    label_nl: str
    alt_labels_en: tuple[str, ...]
    alt_labels_nl: tuple[str, ...]
    essential_skills: tuple[str, ...] = field(default=())
    optional_skills: tuple[str, ...] = field(default=())

    def label(self, locale: str = "nl") -> str:
        return (self.label_nl or self.label_en) if locale == "nl" else self.label_en


def _open_csv(name: str):
    path = DATA_DIR / name
    if name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


# ---------------------------------------------------------------- postcodes and regions


@lru_cache(maxsize=1)
def places() -> dict[str, Place]:
    with _open_csv("pc4.csv") as f:
        return {
            row["pc4"]: Place(
                pc4=row["pc4"],
                lat=float(row["latitude"]),
                lon=float(row["longitude"]),
                place=row["plaatsnamen"].split("|")[0],
                municipality_code=row["gemeente_code"],
                municipality=row["gemeente_naam"],
                region_code=row["arbeidsmarktregio_code"],
                region=row["arbeidsmarktregio_naam"],
            )
            for row in csv.DictReader(f)
        }


@lru_cache(maxsize=1)
def regions() -> dict[str, Region]:
    with _open_csv("arbeidsmarktregios.csv") as f:
        return {
            row["arbeidsmarktregio_code"]: Region(
                row["arbeidsmarktregio_code"], row["arbeidsmarktregio_naam"], tuple(row["provincies"].split("|"))
            )
            for row in csv.DictReader(f)
        }


def parse_postcode(text: str | None) -> str | None:
    """'1011', '1011 AB', '1011ab' -> '1011' if that PC4 exists; anything else -> None."""
    match = _POSTCODE_RE.match(text or "")
    if not match:
        return None
    pc4 = match.group(1)
    return pc4 if pc4 in places() else None


def place(pc4: str) -> Place | None:
    return places().get(pc4)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


@lru_cache(maxsize=1024)
def places_within(pc4: str, radius_km: float) -> dict[str, float]:
    """Every PC4 whose centroid lies within `radius_km` of this one's, with its distance in km,
    nearest first (equal distances by PC4). Cached per (pc4, radius) as searches repeat."""
    near = nearest_places(pc4, radius_km)
    codes = place_codes()
    return {codes[i]: km for i, km in zip(near.positions.tolist(), near.km.tolist())}


# ceil(d) less a micrometre: a last-bit difference between a distance here and the engine's never
# makes a radius of whole km look too short.
_REACH_SLACK_KM = 1e-9


def whole_km_to_reach(km: float) -> int:
    """The least radius in whole km that reaches a place `km` away (radii are whole km); the engine
    applies the exact rule afterwards. The read of instant candidates and the candidate index share it."""
    return math.ceil(km - _REACH_SLACK_KM)


@dataclass(frozen=True)
class NearestPlaces:
    """The PC4 areas within a radius, nearest first (equal distances by PC4), as arrays: their
    positions in `place_codes()` and their distances in km. Arrays, so that a caller that needs a
    figure over all of them (the public search: how many shortages in the radius) never builds a
    Python object per area: at 50 km that is some 1,500 areas, and the dict of `places_within` cost
    more than the search's query."""

    positions: np.ndarray  # int32, into place_codes()
    km: np.ndarray  # float64


def place_codes() -> tuple[str, ...]:
    """Every PC4 code, in the order NearestPlaces.positions refer to (by latitude)."""
    return _places_by_latitude().codes


@lru_cache(maxsize=2048)  # ~6 kB each on average (10-50 km): some 12 MB per process
def nearest_places(pc4: str, radius_km: float) -> NearestPlaces:
    """The PC4 areas whose centroid lies within `radius_km` of this one's (see NearestPlaces). It
    looks only at the centroids in the latitude band of the radius (a bisection), all at once."""
    origin = places().get(pc4)
    if origin is None:
        return NearestPlaces(np.zeros(0, np.int32), np.zeros(0))
    band = _places_by_latitude()
    # One degree of latitude is ~111.2 km: 111.0 makes the band a little wider, never narrower.
    dlat = radius_km / 111.0
    lo, hi = bisect_left(band.latitudes, origin.lat - dlat), bisect_right(band.latitudes, origin.lat + dlat)
    # The haversine of distance_km, on arrays (a search with a 50 km radius looks at ~1,500 centroids).
    phi1, lambda1 = math.radians(origin.lat), math.radians(origin.lon)
    phi2 = band.phi[lo:hi]
    a = np.sin((phi2 - phi1) / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin((band.lam[lo:hi] - lambda1) / 2) ** 2
    distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    inside = np.flatnonzero(distance <= radius_km)
    inside = inside[np.lexsort((band.code_rank[lo:hi][inside], distance[inside]))]
    near = NearestPlaces((inside + lo).astype(np.int32), distance[inside])
    near.positions.flags.writeable = near.km.flags.writeable = False  # shared by every caller (cached)
    return near


@dataclass(frozen=True)
class _LatitudeBand:
    latitudes: list[float]  # ascending
    codes: tuple[str, ...]  # their PC4 codes, in that order
    phi: np.ndarray  # their latitude and longitude in radians
    lam: np.ndarray
    code_rank: np.ndarray  # the PC4's rank among all PC4s: ties in distance break on it


@lru_cache(maxsize=1)
def _places_by_latitude() -> _LatitudeBand:
    ordered = sorted(places().values(), key=lambda p: (p.lat, p.pc4))
    rank = {code: n for n, code in enumerate(sorted(places()))}
    return _LatitudeBand(
        latitudes=[p.lat for p in ordered], codes=tuple(p.pc4 for p in ordered),
        phi=np.radians([p.lat for p in ordered]), lam=np.radians([p.lon for p in ordered]),
        code_rank=np.array([rank[p.pc4] for p in ordered], np.int64),
    )


# ---------------------------------------------------------------- certificates


def parse_certificate(text: str) -> str | None:
    return _CERT_BY_FOLDED.get(text.strip().casefold())


# ---------------------------------------------------------------- ESCO


@lru_cache(maxsize=1)
def skills() -> dict[str, Skill]:
    with _open_csv("esco/skills.csv.gz") as f:
        return {
            row["skill_id"]: Skill(
                id=row["skill_id"],
                label_en=row["label_en"],
                label_nl=row["label_nl"],
                skill_type=row["skill_type"],
                pillars=tuple(p for p in row["hierarchy_pillars"].split("|") if p),
                group_code=row["skill_group_code"],
                group_label_en=row["skill_group_label_en"],
                group_label_nl=row["skill_group_label_nl"],
                collections=tuple(c for c in row["collections"].split("|") if c),
                n_occupations_essential=int(row["n_occupations_essential"] or 0),
                n_occupations_optional=int(row["n_occupations_optional"] or 0),
            )
            for row in csv.DictReader(f)
        }


@lru_cache(maxsize=1)
def occupations() -> dict[str, Occupation]:
    essential: dict[str, list[str]] = {}
    optional: dict[str, list[str]] = {}
    known_skills = skills()
    with _open_csv("esco/occupation_skills.csv.gz") as f:
        for row in csv.DictReader(f):
            if row["skill_id"] not in known_skills:
                continue
            target = essential if row["relation_type"] == "essential" else optional
            target.setdefault(row["occupation_id"], []).append(row["skill_id"])
    with _open_csv("esco/occupations.csv.gz") as f:
        result = {}
        for row in csv.DictReader(f):
            occ_id = row["occupation_id"]
            ess = tuple(dict.fromkeys(essential.get(occ_id, ())))
            result[occ_id] = Occupation(
                id=occ_id,
                esco_code=row["esco_code"],
                isco_group=row["isco_group"],
                label_en=row["label_en"],
                label_nl=row["label_nl"],
                alt_labels_en=tuple(a for a in row["alt_labels_en"].split("|") if a),
                alt_labels_nl=tuple(a for a in row["alt_labels_nl"].split("|") if a),
                essential_skills=ess,
                optional_skills=tuple(s for s in dict.fromkeys(optional.get(occ_id, ())) if s not in ess),
            )
        return result


@lru_cache(maxsize=1)
def _skill_lookup() -> dict[str, str]:
    """Folded id, URI, English or Dutch label -> skill id."""
    lookup: dict[str, str] = {}
    for skill in skills().values():
        for key in (skill.label_en, skill.label_nl):
            if key:
                lookup.setdefault(_fold(key), skill.id)
    for skill in skills().values():
        lookup[skill.id] = skill.id
        lookup[ESCO_SKILL_URI + skill.id] = skill.id
    return lookup


@lru_cache(maxsize=1)
def _occupation_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    occs = occupations().values()
    # Preferred labels win over alternative labels when both could match.
    for occ in occs:
        for alt in occ.alt_labels_en + occ.alt_labels_nl:
            lookup.setdefault(_fold(alt), occ.id)
    for occ in occs:
        for key in (occ.label_en, occ.label_nl):
            if key:
                lookup[_fold(key)] = occ.id
    for occ in occs:
        lookup[occ.id] = occ.id
        lookup[ESCO_OCCUPATION_URI + occ.id] = occ.id
    return lookup


def resolve_skill(text: str) -> str | None:
    """An ESCO skill id, URI, or Dutch/English preferred label (case-insensitive) -> skill id."""
    text = text.strip()
    return _skill_lookup().get(text) or _skill_lookup().get(_fold(text))


def resolve_occupation(text: str) -> str | None:
    text = text.strip()
    return _occupation_lookup().get(text) or _occupation_lookup().get(_fold(text))


def search_occupations(query: str, locale: str = "nl", limit: int = 15) -> list[Occupation]:
    """Occupations whose Dutch or English labels contain every word of the query; preferred-label
    prefix hits first."""
    words = _fold(query).split()
    if not words:
        return []
    scored = []
    for occ in occupations().values():
        preferred = _fold(occ.label(locale))
        haystack = " ".join([_fold(occ.label_nl), _fold(occ.label_en), *map(_fold, occ.alt_labels_nl), *map(_fold, occ.alt_labels_en)])
        if all(w in haystack for w in words):
            rank = 0 if preferred.startswith(words[0]) else 1 if all(w in preferred for w in words) else 2
            scored.append((rank, len(preferred), preferred, occ))
    scored.sort(key=lambda t: t[:3])
    return [t[3] for t in scored[:limit]]


def search_skills(query: str, locale: str = "nl", limit: int = 15) -> list[Skill]:
    words = _fold(query).split()
    if not words:
        return []
    scored = []
    for skill in skills().values():
        preferred = _fold(skill.label(locale))
        haystack = _fold(skill.label_en) + " " + _fold(skill.label_nl)
        if all(w in haystack for w in words):
            rank = 0 if preferred.startswith(words[0]) else 1
            scored.append((rank, -skill.n_occupations_essential, preferred, skill))
    scored.sort(key=lambda t: t[:3])
    return [t[3] for t in scored[:limit]]


def occupation_label(occupation_id: str, locale: str = "nl") -> str:
    occ = occupations().get(occupation_id)
    return occ.label(locale) if occ else occupation_id


def skill_label(skill_id: str, locale: str = "nl") -> str:
    skill = skills().get(skill_id)
    return skill.label(locale) if skill else skill_id
