"""Generated data shaped like the Netherlands, for benchmarks at national size (issue 4, item 1).

Candidates (workers and staff listings) come from the shrinking sectors, shortages from the
growing ones, spread over the PC4 areas with cities dense and the countryside thin. The same seed
(and `today`) gives the same rows, row for row. `GeneratedData` decides everything lazily, one
row at a time, so 2.4 million candidates never sit in memory at once; `write_csv` writes the
DESIGN.md CSV formats (what `flask --app nlwerktdoor import …` reads) and `load_database` writes
straight into the tables: COPY on PostgreSQL, executemany elsewhere.

Where people live: the PC4 reference data has no population, so each PC4 is weighted by how many
other PC4 centroids lie within 3 km, to the power 0.75. PC4 areas are small where many people live,
so this is a density measure; the exponent puts about 14% of the rows in Amsterdam, Rotterdam,
The Hague and Utrecht, their share of the Dutch population.

Everything generated is fictional: organisations say "(fictief)" and have KvK numbers starting with
7 (shrinking side) or 8 (growing side); people have @example.org addresses. The demo uses 9.
"""
from __future__ import annotations

import csv
import math
import random
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Callable, Iterable, Iterator

import sqlalchemy as sa

from .. import reference
from . import imports
from .bulk import chunks, copy_rows
from .demo import FIRST_NAMES, LAST_NAMES, OCCUPATIONS, OTHER_LANGUAGES, SHORTAGE_CERTIFICATES, WORKER_CERTIFICATES

# Candidates come from the shrinking sectors in roughly the proportions of 2020 (as the demo).
CANDIDATE_SECTOR_WEIGHTS = {"hospitality": 35, "retail": 20, "aviation": 15, "events": 10, "culture": 10, "travel": 10}
# Shortages in the growing sectors, care first (CBS vacancies, end of 2019, roughly).
SHORTAGE_SECTOR_WEIGHTS = {"care": 40, "logistics": 20, "food-retail": 15, "government": 13, "education": 12}
# Certificates a shortage of this sector asks for when its occupation has no rule in the demo's table.
SECTOR_SHORTAGE_CERTIFICATES = {
    "care": (("VOG", 0.5),),
    "education": (("VOG", 0.8),),
    "logistics": (("rijbewijs-B", 0.3), ("heftruck", 0.2), ("VCA", 0.1)),
    "food-retail": (("HACCP", 0.2),),
    "government": (("VOG", 0.2),),
}
# Travel radius in km with its weight: most people look within 10-25 km, few further than 40.
CANDIDATE_RADII = ((5, 5), (10, 20), (15, 20), (20, 20), (25, 15), (30, 10), (40, 5), (50, 5))
SHORTAGE_RADII = ((10, 10), (15, 15), (20, 20), (25, 25), (30, 15), (40, 10), (50, 5))
LISTING_COUNTS = (1, 1, 1, 2, 2, 3, 4, 5, 8, 10, 20)
SHORTAGE_POSITIONS = (1, 1, 1, 2, 2, 3, 4, 5, 8)
TITLE_SUFFIXES = ("gezocht", "(m/v/x)", "— direct beginnen", "voor ons team")
# The curated occupation of a sector is drawn this many times as often as an ESCO sibling (same ISCO group).
CURATED_WEIGHT = 4
# Share of a side's postings at the organisation's own address; the rest anywhere in the country.
AT_HOME_SHARE = 0.5
POSTINGS_PER_ORGANISATION = 50
MAX_ORGANISATIONS = 99_999  # per side: five digits of the KvK number
NEIGHBOUR_RADIUS_KM = 3.0
DENSITY_EXPONENT = 0.75
EMAIL_DOMAIN = "example.org"
POSTED_WITHIN_MINUTES = 60 * 24 * 60  # postings were created over the last 60 days (lists sort by age)

_COLUMNS = imports.COLUMNS  # the DESIGN.md formats, as the importer reads them


# ---------------------------------------------------------------- where people live


@dataclass(frozen=True)
class Geography:
    """Every PC4 (except the special 9999) with cumulative weights for weighted draws."""

    pc4s: tuple[str, ...]
    weights: tuple[float, ...]
    cumulative: tuple[float, ...]

    def draw(self, rng: random.Random) -> str:
        return self.pc4s[bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


@lru_cache(maxsize=1)
def geography() -> Geography:
    places = [p for pc4, p in sorted(reference.places().items()) if pc4 != "9999"]
    # Grid cells at least NEIGHBOUR_RADIUS_KM wide everywhere in the country (cos 53.5° > 0.55),
    # so a PC4's neighbours all lie in its own cell or the eight around it.
    lat_step = NEIGHBOUR_RADIUS_KM / 111.0
    lon_step = lat_step / 0.55

    def cell(place) -> tuple[int, int]:
        return math.floor(place.lat / lat_step), math.floor(place.lon / lon_step)

    grid: dict[tuple[int, int], list] = {}
    for place in places:
        grid.setdefault(cell(place), []).append(place)
    weights = []
    for place in places:
        i, j = cell(place)
        neighbours = sum(
            1
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
            for other in grid.get((i + di, j + dj), ())
            if reference.distance_km(place.lat, place.lon, other.lat, other.lon) <= NEIGHBOUR_RADIUS_KM
        )
        weights.append(neighbours**DENSITY_EXPONENT)  # counts itself, so never 0
    return Geography(tuple(p.pc4 for p in places), tuple(weights), tuple(accumulate(weights)))


# ---------------------------------------------------------------- occupations per sector


@dataclass(frozen=True)
class _Job:
    occupation: reference.Occupation
    label: str  # the demo's English label when curated ("" for a sibling): certificate rules key on it


@lru_cache(maxsize=1)
def occupation_pools() -> dict[str, tuple[tuple[_Job, ...], tuple[float, ...]]]:
    """Per sector: the demo's curated occupations, and their ESCO siblings (same ISCO unit group),
    as (jobs, cumulative weights). Siblings add variety: a shop assistant's sector also has the
    specialised sellers, a cook's the chefs."""
    occupations = reference.occupations()
    by_isco: dict[str, list[reference.Occupation]] = {}
    for occupation in sorted(occupations.values(), key=lambda o: o.id):
        if len(occupation.essential_skills) >= 3:
            by_isco.setdefault(occupation.isco_group, []).append(occupation)
    pools = {}
    for sector, labels in OCCUPATIONS.items():
        jobs, weights, seen = [], [], set()
        for label in labels:
            occupation = occupations[reference.resolve_occupation(label)]
            if occupation.id not in seen:
                seen.add(occupation.id)
                jobs.append(_Job(occupation, label))
                weights.append(CURATED_WEIGHT)
        for label in labels:
            for sibling in by_isco.get(occupations[reference.resolve_occupation(label)].isco_group, ()):
                if sibling.id not in seen:
                    seen.add(sibling.id)
                    jobs.append(_Job(sibling, ""))
                    weights.append(1)
        pools[sector] = (tuple(jobs), tuple(accumulate(weights)))
    return pools


def _draw_job(rng: random.Random, sector: str) -> _Job:
    jobs, cumulative = occupation_pools()[sector]
    return jobs[bisect_right(cumulative, rng.random() * cumulative[-1])]


def _weighted(rng: random.Random, pairs: Iterable[tuple]):
    """One value of (value, weight) pairs, drawn by weight."""
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


def _some(rng: random.Random, items: tuple[str, ...], max_drop: int) -> list[str]:
    """The items minus up to max_drop of them (never below 6): people rarely tick every box."""
    items = list(items)
    if len(items) > 6 and max_drop:
        for index in sorted(rng.sample(range(len(items)), rng.randint(0, max_drop)), reverse=True):
            del items[index]
    return items


def _certificates(rng: random.Random, chances) -> list[str]:
    return [code for code, chance in chances if rng.random() < chance]


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class GeneratedData:
    """What to generate; each kind is produced on demand, row by row, the same rows every time.

    Candidates are split into workers and staff listings by `listing_share`. Every kind draws from
    its own random stream (seed and kind), so asking for more shortages never changes the workers.
    """

    candidates: int
    shortages: int
    seed: int = 2020
    today: date = field(default_factory=date.today)
    listing_share: float = 0.2

    @property
    def n_listings(self) -> int:
        return round(self.candidates * self.listing_share)

    @property
    def n_workers(self) -> int:
        return self.candidates - self.n_listings

    def _rng(self, kind: str) -> random.Random:
        return random.Random(f"nlwerktdoor-generator:{self.seed}:{kind}")

    def ref(self, kind: str, number: int) -> str:
        return f"gen{self.seed}-{kind[0]}{number:07d}"

    # -- organisations

    def organisations(self, side: str) -> list[dict]:
        """The employers of one side: about one per POSTINGS_PER_ORGANISATION postings, every sector at least one."""
        postings = self.n_listings if side == "shrinking" else self.shortages
        if postings == 0:
            return []
        weights = CANDIDATE_SECTOR_WEIGHTS if side == "shrinking" else SHORTAGE_SECTOR_WEIGHTS
        count = min(MAX_ORGANISATIONS, max(len(weights), -(-postings // POSTINGS_PER_ORGANISATION)))
        rng = self._rng(f"organisations:{side}")
        geo = geography()
        sectors = list(weights)
        result = []
        for number in range(count):
            sector = sectors[number] if number < len(sectors) else _weighted(rng, weights.items())
            # Side, seed and number: another seed in the same database gets other organisations.
            kvk = f"{7 if side == 'shrinking' else 8}{self.seed % 100:02d}{number:05d}"
            result.append(dict(
                kvk=kvk, name=f"{sector.capitalize()} {kvk[1:]} (fictief)", sector=sector, side=side,
                home_pc4=geo.draw(rng), contact_email=f"hr.{kvk}@{EMAIL_DOMAIN}",
            ))
        return result

    def _by_sector(self, side: str) -> dict[str, list[dict]]:
        grouped: dict[str, list[dict]] = {}
        for organisation in self.organisations(side):
            grouped.setdefault(organisation["sector"], []).append(organisation)
        return grouped

    # -- candidates

    def workers(self) -> Iterator[dict]:
        rng = self._rng("workers")
        geo = geography()
        growing = list(SHORTAGE_SECTOR_WEIGHTS)
        for number in range(1, self.n_workers + 1):
            sector = _weighted(rng, CANDIDATE_SECTOR_WEIGHTS.items())
            job = _draw_job(rng, sector)
            skills = _some(rng, job.occupation.essential_skills, 3)
            optional = job.occupation.optional_skills
            if optional and rng.random() < 0.4:
                skills += [s for s in rng.sample(optional, min(2, len(optional))) if s not in skills]
            languages = ["nl"] + (["en"] if rng.random() < 0.6 else [])
            if rng.random() < 0.2:
                languages.append(rng.choice(OTHER_LANGUAGES))
            yield dict(
                external_ref=self.ref("workers", number),
                email=f"{self.ref('workers', number)}@{EMAIL_DOMAIN}",
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                sector=sector, occupation=job.occupation.id, skills=skills, pc4=geo.draw(rng),
                max_distance_km=_weighted(rng, CANDIDATE_RADII),
                available_from=self.today + timedelta(days=rng.randint(0, 28)),
                hours_per_week=rng.choice((16, 20, 24, 28, 32, 36, 40)),
                # 40% name the growing sectors they want (rule 4); the rest take any.
                desired_sectors=sorted(rng.sample(growing, rng.randint(1, 2))) if rng.random() < 0.4 else [],
                certificates=_certificates(rng, WORKER_CERTIFICATES[sector]),
                languages=languages,
            )

    def listings(self) -> Iterator[dict]:
        rng = self._rng("listings")
        geo = geography()
        owners = self._by_sector("shrinking")
        for number in range(1, self.n_listings + 1):
            sector = _weighted(rng, CANDIDATE_SECTOR_WEIGHTS.items())
            org = rng.choice(owners[sector])
            job = _draw_job(rng, sector)
            yield dict(
                external_ref=self.ref("listings", number), kvk=org["kvk"], employer_name=org["name"],
                contact_email=org["contact_email"], sector=sector, occupation=job.occupation.id,
                skills=_some(rng, job.occupation.essential_skills, 2), count=rng.choice(LISTING_COUNTS),
                pc4=org["home_pc4"] if rng.random() < AT_HOME_SHARE else geo.draw(rng),
                max_distance_km=_weighted(rng, CANDIDATE_RADII),
                available_from=self.today + timedelta(days=rng.randint(0, 21)),
                available_until=self.today + timedelta(days=rng.randint(90, 240)) if rng.random() < 0.5 else None,
                hours_per_week=rng.choice((24, 28, 32, 36, 38, 40)),
                transfer_type=rng.choice(("secondment", "permanent", "either")),
                certificates=_certificates(rng, WORKER_CERTIFICATES[sector]),
                posted_minutes_ago=rng.randrange(POSTED_WITHIN_MINUTES),
            )

    # -- shortages

    def shortage_rows(self) -> Iterator[dict]:
        rng = self._rng("shortages")
        geo = geography()
        owners = self._by_sector("growing")
        for number in range(1, self.shortages + 1):
            sector = _weighted(rng, SHORTAGE_SECTOR_WEIGHTS.items())
            org = rng.choice(owners[sector])
            job = _draw_job(rng, sector)
            occupation = job.occupation
            optional = occupation.optional_skills
            nice = [optional[i] for i in sorted(rng.sample(range(len(optional)), min(3, len(optional))))]
            training = rng.random() < 0.3
            rules = SHORTAGE_CERTIFICATES.get(job.label) or SECTOR_SHORTAGE_CERTIFICATES.get(sector, ())
            noun = occupation.label_nl[:1].upper() + occupation.label_nl[1:]
            suffix = "— zij-instromers welkom" if training else rng.choice(TITLE_SUFFIXES)
            yield dict(
                external_ref=self.ref("shortages", number), kvk=org["kvk"], employer_name=org["name"],
                contact_email=org["contact_email"], sector=sector, title=f"{noun} {suffix}"[:200],
                occupation=occupation.id, required_skills=_some(rng, occupation.essential_skills, 2),
                nice_skills=nice, positions=rng.choice(SHORTAGE_POSITIONS),
                pc4=org["home_pc4"] if rng.random() < AT_HOME_SHARE else geo.draw(rng),
                max_distance_km=_weighted(rng, SHORTAGE_RADII),
                start_date=self.today + timedelta(days=rng.randint(7, 42)),
                hours_per_week=rng.choice((16, 24, 32, 36)),
                certificates=_certificates(rng, rules),
                training_offered=training, open_hiring=rng.random() < 0.15,
                posted_minutes_ago=rng.randrange(POSTED_WITHIN_MINUTES),
            )


# ---------------------------------------------------------------- CSV


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, (list, tuple)):
        return "|".join(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_rows(data: GeneratedData, kind: str) -> Iterator[list[str]]:
    """The rows of one import file (DESIGN.md "CSV"), header first."""
    columns = _COLUMNS[kind]
    yield list(columns)
    rename = {"employer_kvk": "kvk", "occupation": "occupation", "postcode": "pc4"}
    if kind == "workers":
        for row in data.workers():
            row["consent"] = True
            yield [_cell(row.get(rename.get(c, c))) for c in columns]
        return
    source = data.shortage_rows() if kind == "shortages" else data.listings()
    for row in source:
        yield [_cell(row.get(rename.get(c, c))) for c in columns]


def write_csv(data: GeneratedData, directory: str | Path) -> dict[str, Path]:
    """shortages.csv, listings.csv and workers.csv in `directory` (only the kinds with rows)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, count in (("shortages", data.shortages), ("listings", data.n_listings), ("workers", data.n_workers)):
        if not count:
            continue
        path = directory / f"{kind}.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(csv_rows(data, kind))
        written[kind] = path
    return written


# ---------------------------------------------------------------- straight into the database


@dataclass
class LoadReport:
    organisations: int = 0
    workers: int = 0
    listings: int = 0
    shortages: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"loaded {self.organisations} organisations, {self.workers} workers, {self.listings} staff listings, "
                f"{self.shortages} shortages in {self.seconds:.1f} s")


_CHUNK = 20_000


class _Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany (SQLAlchemy core) elsewhere."""

    def __init__(self):
        from ..extensions import db

        self.db = db
        self.postgres = db.session.get_bind().dialect.name == "postgresql"

    def write(self, table, rows: list[dict]) -> None:
        if not rows:
            return
        if not self.postgres:
            self.db.session.execute(table.insert(), rows)
            return
        copy_rows(table, rows)


def _posted(row: dict, now: datetime) -> dict:
    created = now - timedelta(minutes=row["posted_minutes_ago"])
    return dict(created_at=created, updated_at=created)


def load_database(data: GeneratedData, progress: Callable[[str, int], None] | None = None) -> LoadReport:
    """Write the generated rows into the app's database and commit (needs an app context).

    Like an operator's import: organisations verified, workers with an account without password
    and the import's consent, all live. Meant for a bench database: the rows must not be there yet
    (organisations already there, by KvK number, are reused).
    """
    from ..extensions import db
    from ..models import Organisation, Shortage, StaffListing, User, WorkerProfile
    from . import sectors as sector_service
    from .imports import CONSENT_VERSION

    started = time.perf_counter()
    progress = progress or (lambda kind, done: None)
    report = LoadReport()
    writer = _Writer()
    now = datetime.now(timezone.utc)
    sector_service.ensure_default_sectors()

    org_ids: dict[str, int] = {}
    for side in ("shrinking", "growing"):
        organisations = data.organisations(side)
        kvks = [o["kvk"] for o in organisations]
        for chunk in chunks(kvks, 500):
            org_ids.update(db.session.execute(
                sa.select(Organisation.kvk_number, Organisation.id).where(Organisation.kvk_number.in_(chunk))).all())
        missing = [o for o in organisations if o["kvk"] not in org_ids]
        for chunk in chunks(missing, 1000):
            result = db.session.execute(
                sa.insert(Organisation).returning(Organisation.kvk_number, Organisation.id, sort_by_parameter_order=True),
                [dict(name=o["name"], kvk_number=o["kvk"], sector_code=o["sector"], side=side, created_at=now,
                      verified_at=now) for o in chunk])
            org_ids.update(result.all())
        report.organisations += len(missing)

    # Workers: accounts with explicit ids, so each profile can point at its account without a round trip.
    next_user_id = (db.session.scalar(sa.select(sa.func.max(User.id))) or 0) + 1
    for chunk in chunks(data.workers(), _CHUNK):
        users, profiles = [], []
        for row in chunk:
            users.append(dict(id=next_user_id, email=row["email"], name=row["name"], role="worker", locale="nl",
                              active=True, created_at=now))
            profiles.append(dict(
                user_id=next_user_id, external_ref=row["external_ref"], occupation_id=row["occupation"],
                skills=row["skills"], pc4=row["pc4"], max_distance_km=row["max_distance_km"],
                desired_sectors=row["desired_sectors"], hours_per_week=row["hours_per_week"],
                available_from=row["available_from"], certificates=row["certificates"], languages=row["languages"],
                consent_at=now, consent_version=CONSENT_VERSION, status="active", reserve_pool=False,
                created_at=now, updated_at=now))
            next_user_id += 1
        writer.write(User.__table__, users)
        writer.write(WorkerProfile.__table__, profiles)
        report.workers += len(chunk)
        progress("workers", report.workers)
    if writer.postgres and report.workers:
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))"))

    for chunk in chunks(data.listings(), _CHUNK):
        writer.write(StaffListing.__table__, [dict(
            organisation_id=org_ids[row["kvk"]], external_ref=row["external_ref"], sector_code=row["sector"],
            occupation_id=row["occupation"], skills=row["skills"], count=row["count"], pc4=row["pc4"],
            max_distance_km=row["max_distance_km"], available_from=row["available_from"],
            available_until=row["available_until"], hours_per_week=row["hours_per_week"],
            transfer_type=row["transfer_type"], certificates=row["certificates"], notes="",
            contact_email=row["contact_email"], status="open", **_posted(row, now),
        ) for row in chunk])
        report.listings += len(chunk)
        progress("listings", report.listings)

    for chunk in chunks(data.shortage_rows(), _CHUNK):
        writer.write(Shortage.__table__, [dict(
            organisation_id=org_ids[row["kvk"]], external_ref=row["external_ref"], source="own",
            sector_code=row["sector"], title=row["title"], description="", occupation_id=row["occupation"],
            required_skills=row["required_skills"], nice_skills=row["nice_skills"], positions=row["positions"],
            filled_positions=0, pc4=row["pc4"], max_distance_km=row["max_distance_km"],
            start_date=row["start_date"], hours_per_week=row["hours_per_week"], certificates=row["certificates"],
            training_offered=row["training_offered"], open_hiring=row["open_hiring"],
            contact_email=row["contact_email"], status="open", **_posted(row, now),
        ) for row in chunk])
        report.shortages += len(chunk)
        progress("shortages", report.shortages)

    db.session.commit()
    if writer.postgres:
        for table in ("users", "worker_profiles", "staff_listings", "shortages", "organisations"):
            db.session.execute(sa.text(f"ANALYZE {table}"))
        db.session.commit()
    report.seconds = time.perf_counter() - started
    return report
