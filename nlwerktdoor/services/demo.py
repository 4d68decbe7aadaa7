"""Demo data: a living, clearly fictional platform for a first visitor — the same data for the same seed.

`plan_demo` decides everything (pure: seed and date in, plain dicts out); `seed_demo` only writes
that plan in one transaction. Organisations say "(fictief)" in their name and have KvK numbers
starting with 9; people get @example.org addresses; the demo logins are listed in DEMO_ACCOUNTS.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import generate_password_hash

from .. import reference
from ..extensions import db
from ..models import Organisation, Sector, Shortage, StaffListing, User, WorkerProfile
from ..models.sector import DEFAULT_SECTORS

DEMO_PASSWORD = "nlwerktdoor-demo"
DEMO_ACCOUNTS = (
    ("admin@demo.nlwerktdoor.nl", "admin"),
    ("coordinator@demo.nlwerktdoor.nl", "coordinator (landelijk)"),
    ("hr@demo-krimp.nlwerktdoor.nl", "werkgever, krimp: Oranje Luchtvaart (fictief)"),
    ("hr@demo-groei.nlwerktdoor.nl", "werkgever, groei: Zorggroep De Lindeboom (fictief)"),
    ("werkende@demo.nlwerktdoor.nl", "werkende: cabinemedewerker in Amsterdam"),
)

N_LISTINGS = 50
N_SHORTAGES = 50
N_WORKERS = 200

# ESCO preferred (or alternative) English labels per sector; each must resolve (checked in plan_demo).
OCCUPATIONS = {
    "hospitality": (
        "waiter/waitress", "cook", "bartender", "hotel receptionist", "kitchen porter", "barista", "room attendant",
    ),
    "aviation": ("flight attendant", "airport baggage handler", "ground steward/ground stewardess", "aircraft groomer"),
    "events": ("event assistant", "stage technician", "light board operator"),
    "culture": ("usher", "theatre technician", "art handler"),
    "travel": ("travel agent", "travel consultant", "tourist guide"),
    "retail": ("shop assistant", "sales assistant", "cashier"),
    "care": ("healthcare assistant", "home care aide", "nursing assistant", "hospital porter"),
    "logistics": (
        "warehouse order picker", "forklift operator", "delivery driver", "car and van delivery driver", "warehouse worker",
    ),
    "food-retail": ("shelf filler", "cashier", "baker"),
    "education": ("primary school teaching assistant", "early years teaching assistant"),
    "government": ("call centre agent", "administrative assistant", "customer service representative"),
    "other": ("building cleaner",),
}

# Workers come from the shrinking sectors, in roughly the proportions of 2020.
WORKER_SECTOR_WEIGHTS = {"hospitality": 35, "retail": 20, "aviation": 15, "events": 10, "culture": 10, "travel": 10}

# (name, sector, side, home municipality); the first of each side owns a documented demo login.
ORGANISATIONS = (
    ("Oranje Luchtvaart (fictief)", "aviation", "shrinking", "Haarlemmermeer"),
    ("Polderflight Grondafhandeling (fictief)", "aviation", "shrinking", "Haarlemmermeer"),
    ("Hotel De Gouden Leeuw (fictief)", "hospitality", "shrinking", "Amsterdam"),
    ("Restaurantgroep Smaakvol (fictief)", "hospitality", "shrinking", "Rotterdam"),
    ("Grand Café Het Plein (fictief)", "hospitality", "shrinking", "Utrecht"),
    ("Strandpaviljoen De Duinen (fictief)", "hospitality", "shrinking", "'s-Gravenhage"),
    ("Festivalbureau Zomerklanken (fictief)", "events", "shrinking", "Amsterdam"),
    ("Evenementenhal Brabant (fictief)", "events", "shrinking", "'s-Hertogenbosch"),
    ("Schouwburg De Coulissen (fictief)", "culture", "shrinking", "Utrecht"),
    ("Museum Het Verleden (fictief)", "culture", "shrinking", "Leiden"),
    ("Reisbureau Verre Horizon (fictief)", "travel", "shrinking", "Rotterdam"),
    ("Reisorganisatie Zonnig Zuid (fictief)", "travel", "shrinking", "Eindhoven"),
    ("Modehuis Van der Stof (fictief)", "retail", "shrinking", "Amsterdam"),
    ("Woonwinkel Het Nest (fictief)", "retail", "shrinking", "Groningen"),
    ("Schoenenketen Stap voor Stap (fictief)", "retail", "shrinking", "Tilburg"),
    ("Zorggroep De Lindeboom (fictief)", "care", "growing", "Utrecht"),
    ("Thuiszorg Samen Thuis (fictief)", "care", "growing", "Rotterdam"),
    ("Ziekenhuis Midden (fictief)", "care", "growing", "Amersfoort"),
    ("Verpleeghuis De Waterlelie (fictief)", "care", "growing", "Groningen"),
    ("Distributiecentrum Middenland (fictief)", "logistics", "growing", "Tilburg"),
    ("Pakketdienst Snel en Zeker (fictief)", "logistics", "growing", "Amsterdam"),
    ("Transportbedrijf Over de Weg (fictief)", "logistics", "growing", "Nijmegen"),
    ("Supermarkt Versplein (fictief)", "food-retail", "growing", "'s-Gravenhage"),
    ("Buurtsuper De Hoek (fictief)", "food-retail", "growing", "Eindhoven"),
    ("Bakkerij Het Korenaar (fictief)", "food-retail", "growing", "Zwolle"),
    ("Basisschool De Regenboog (fictief)", "education", "growing", "Almere"),
    ("Scholengroep Leerrijk (fictief)", "education", "growing", "Haarlem"),
    ("Gemeente Nergenshuizen (fictief)", "government", "growing", "Arnhem"),
    ("Informatielijn Gezondheid (fictief)", "government", "growing", "'s-Gravenhage"),
    ("Schoonmaakbedrijf Glans (fictief)", "other", "growing", "Rotterdam"),
)
# Unverified, so the coordinator has something to verify; its shortage is not matched until then.
UNVERIFIED_ORGANISATION = ("Thuiszorg Zonnebloem (fictief)", "care", "growing", "Apeldoorn")

BIG_CITIES = {"Amsterdam", "Rotterdam", "'s-Gravenhage", "Utrecht"}
CITIES = {
    "Eindhoven", "Groningen", "Tilburg", "Almere", "Breda", "Nijmegen", "Apeldoorn", "Haarlem", "Arnhem",
    "Enschede", "Amersfoort", "Zaanstad", "'s-Hertogenbosch", "Haarlemmermeer", "Zwolle", "Leiden",
    "Maastricht", "Dordrecht", "Zoetermeer", "Delft", "Alkmaar", "Leeuwarden", "Amstelveen",
}
RANDSTAD_PROVINCES = {"Noord-Holland", "Zuid-Holland", "Utrecht", "Flevoland"}

FIRST_NAMES = (
    "Anna", "Daan", "Emma", "Noah", "Julia", "Sem", "Sophie", "Lucas", "Lotte", "Milan", "Fleur", "Levi",
    "Sanne", "Thijs", "Iris", "Bram", "Eva", "Jesse", "Lisa", "Ruben", "Fatima", "Mohamed", "Yasmina",
    "Ayoub", "Priya", "Kevin", "Esra", "Mehmet", "Maria", "Tomasz", "Ingrid", "Kees", "Marloes", "Joost",
    "Naima", "Rachid", "Chantal", "Dewi", "Stefan", "Nina",
)
LAST_NAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit",
    "Dijkstra", "Smits", "de Graaf", "van der Meer", "Kok", "Yilmaz", "El Amrani", "Kowalski", "Pinas",
    "Tan", "Verhoeven", "Willems", "Huisman",
)
SHORTAGE_TITLE_SUFFIXES = ("gezocht", "(m/v/x)", "— direct beginnen", "voor ons team")

# Certificates a shortage requires, per occupation label, with the chance that it does.
SHORTAGE_CERTIFICATES = {
    "delivery driver": (("rijbewijs-C", 1.0), ("code95", 0.5)),
    "car and van delivery driver": (("rijbewijs-B", 1.0),),
    "forklift operator": (("heftruck", 1.0),),
    "warehouse worker": (("heftruck", 0.3),),
    "healthcare assistant": (("VOG", 0.6),),
    "home care aide": (("VOG", 0.6),),
    "nursing assistant": (("VOG", 0.6),),
    "hospital porter": (("VOG", 0.3),),
    "primary school teaching assistant": (("VOG", 0.8),),
    "early years teaching assistant": (("VOG", 0.8),),
    "baker": (("HACCP", 0.5),),
}
# Certificates a worker from this sector holds, with their chance.
WORKER_CERTIFICATES = {
    "aviation": (("VOG", 0.6), ("BHV", 0.4), ("rijbewijs-B", 0.6)),
    "hospitality": (("HACCP", 0.4), ("BHV", 0.2), ("rijbewijs-B", 0.5)),
    "events": (("VCA", 0.4), ("heftruck", 0.2), ("BHV", 0.3), ("rijbewijs-B", 0.7)),
    "culture": (("BHV", 0.3), ("VOG", 0.2), ("rijbewijs-B", 0.5)),
    "travel": (("VOG", 0.1), ("rijbewijs-B", 0.6)),
    "retail": (("BHV", 0.2), ("heftruck", 0.05), ("VOG", 0.1), ("rijbewijs-B", 0.5)),
}
OTHER_LANGUAGES = ("de", "fr", "es", "pl", "tr", "ar", "pt", "uk")


@dataclass
class DemoReport:
    organisations: int = 0
    unverified: int = 0
    listings: int = 0
    shortages: int = 0
    workers: int = 0
    users: int = 0
    skipped: str | None = None  # why nothing was added
    fingerprint: str = ""  # sha256 of the plan: same seed and date, same fingerprint
    seconds: float = field(default=0.0, compare=False)

    def summary(self) -> str:
        if self.skipped:
            return f"demo: nothing added ({self.skipped})"
        logins = ", ".join(email for email, _role in DEMO_ACCOUNTS)
        return (
            f"demo: {self.organisations} organisations ({self.unverified} unverified), {self.listings} staff listings, "
            f"{self.shortages} shortages, {self.workers} workers, {self.users} accounts; "
            f"log in as {logins} with password {DEMO_PASSWORD}"
        )


# ---------------------------------------------------------------- the plan (pure)


def _occupation(label: str) -> reference.Occupation:
    occupation_id = reference.resolve_occupation(label)
    if occupation_id is None:
        raise AssertionError(f"demo occupation {label!r} does not resolve in ESCO")
    return reference.occupations()[occupation_id]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower().replace(" ", "-") if ch.isalnum() or ch == "-").strip("-")


def _weighted_pc4s() -> tuple[list[str], list[float]]:
    """Every known PC4, weighted so that more people live in the big cities and the Randstad."""
    regions = reference.regions()
    pc4s, weights = [], []
    for pc4, place in sorted(reference.places().items()):
        region = regions.get(place.region_code)
        province = region.provinces[0] if region and region.provinces else ""
        if place.municipality in BIG_CITIES:
            weight = 10.0
        elif place.municipality in CITIES:
            weight = 4.0
        elif province in RANDSTAD_PROVINCES:
            weight = 2.0
        else:
            weight = 1.0
        pc4s.append(pc4)
        weights.append(weight)
    return pc4s, weights


def _pc4s_of(municipality: str) -> list[str]:
    found = sorted(pc4 for pc4, place in reference.places().items() if place.municipality == municipality)
    if not found:
        raise AssertionError(f"demo municipality {municipality!r} has no postcodes")
    return found


def _certificates(rng: random.Random, chances) -> list[str]:
    return [code for code, chance in chances if rng.random() < chance]


def _some_skills(rng: random.Random, occupation: reference.Occupation, max_drop: int) -> list[str]:
    """The occupation's essential skills, sometimes minus a few (people rarely tick every box)."""
    skills = list(occupation.essential_skills)
    if len(skills) > 6 and max_drop:
        for index in sorted(rng.sample(range(len(skills)), rng.randint(0, max_drop)), reverse=True):
            del skills[index]
    return skills


def plan_demo(random_seed: int = 2020, today: date | None = None) -> dict:
    """Everything the demo will contain, as plain values. Deterministic for (seed, today)."""
    today = today or date.today()
    rng = random.Random(random_seed)
    occupations = {label: _occupation(label) for labels in OCCUPATIONS.values() for label in labels}
    pc4s, weights = _weighted_pc4s()

    def near(home: str) -> str:
        # Most postings are in the organisation's home town; chains also have branches elsewhere.
        return rng.choice(_pc4s_of(home)) if rng.random() < 0.7 else rng.choices(pc4s, weights)[0]

    def person_name() -> str:
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"

    all_orgs = [(*spec, True) for spec in ORGANISATIONS] + [(*UNVERIFIED_ORGANISATION, False)]
    kvks = rng.sample(range(10**7), len(all_orgs))
    organisations = []
    for index, (name, sector, side, home, verified) in enumerate(all_orgs):
        if index == 0:
            hr_email = "hr@demo-krimp.nlwerktdoor.nl"
        elif name.startswith("Zorggroep De Lindeboom"):
            hr_email = "hr@demo-groei.nlwerktdoor.nl"
        else:
            hr_email = f"hr.{_slug(name.replace('(fictief)', ''))}@example.org"
        organisations.append(
            dict(
                key=index, name=name, sector=sector, side=side, home=home, verified=verified,
                kvk=f"9{kvks[index]:07d}", hr_email=hr_email, hr_name=person_name(),
                verified_days_ago=rng.randint(2, 30) if verified else None,
            )
        )

    shrinking = [o for o in organisations if o["side"] == "shrinking"]
    growing = [o for o in organisations if o["side"] == "growing" and o["verified"]]
    unverified = [o for o in organisations if not o["verified"]]

    listings = []
    owners = [o for o in shrinking for _ in range(2)]
    owners += rng.choices(shrinking, k=N_LISTINGS - len(owners))
    for number, org in enumerate(owners, start=1):
        label = rng.choice(OCCUPATIONS[org["sector"]])
        listings.append(
            dict(
                org=org["key"], sector=org["sector"], occupation=occupations[label].id,
                skills=_some_skills(rng, occupations[label], 2), count=rng.choice((1, 2, 3, 4, 5, 6, 8, 10, 12)),
                pc4=near(org["home"]), max_distance_km=rng.choice((10, 15, 20, 25, 30, 40, 50)),
                available_from=today + timedelta(days=rng.randint(0, 21)),
                available_until=today + timedelta(days=rng.randint(90, 240)) if rng.random() < 0.5 else None,
                hours_per_week=rng.choice((24, 28, 32, 36, 38, 40)),
                transfer_type=rng.choice(("secondment", "permanent", "either")),
                certificates=_certificates(rng, WORKER_CERTIFICATES.get(org["sector"], ())),
                contact_email=org["hr_email"], external_ref=f"demo-listing-{number:03d}",
            )
        )

    shortages = []
    owners = [o for o in growing for _ in range(2)]
    owners += rng.choices(growing, k=N_SHORTAGES - len(owners) - len(unverified)) + unverified
    for number, org in enumerate(owners, start=1):
        label = rng.choice(OCCUPATIONS[org["sector"]])
        occupation = occupations[label]
        training = rng.random() < 0.3
        positions = rng.choice((1, 1, 2, 2, 3, 4, 5, 8))
        optional = list(occupation.optional_skills)
        nice = [optional[i] for i in sorted(rng.sample(range(len(optional)), min(3, len(optional))))]
        title_noun = occupation.label_nl[:1].upper() + occupation.label_nl[1:]
        suffix = "— zij-instromers welkom" if training else rng.choice(SHORTAGE_TITLE_SUFFIXES)
        description = f"{org['name']} zoekt {positions} × {occupation.label_nl}."
        if training:
            description += " Geen ervaring in de sector? Wij leiden je op."
        shortages.append(
            dict(
                org=org["key"], sector=org["sector"], title=f"{title_noun} {suffix}", description=description,
                occupation=occupation.id, required_skills=_some_skills(rng, occupation, 2), nice_skills=nice,
                positions=positions, pc4=near(org["home"]), max_distance_km=rng.choice((10, 15, 20, 25, 30, 40, 50)),
                start_date=today + timedelta(days=rng.randint(7, 42)), hours_per_week=rng.choice((16, 24, 32, 36)),
                certificates=_certificates(rng, SHORTAGE_CERTIFICATES.get(label, ())),
                training_offered=training, open_hiring=rng.random() < 0.15,
                contact_email=org["hr_email"], external_ref=f"demo-shortage-{number:03d}",
            )
        )

    flight_attendant = occupations["flight attendant"]
    workers = [
        dict(
            email="werkende@demo.nlwerktdoor.nl", name="Sanne Jansen (demo)", sector="aviation",
            occupation=flight_attendant.id, skills=list(flight_attendant.essential_skills), pc4="1055",
            max_distance_km=30, desired_sectors=[], hours_per_week=32, available_from=today + timedelta(days=7),
            certificates=["VOG", "BHV"], languages=["nl", "en"], consent_days_ago=3, external_ref="demo-worker-001",
        )
    ]
    worker_sectors, sector_weights = zip(*WORKER_SECTOR_WEIGHTS.items())
    growing_sectors = [code for code, _nl, _en, trend in DEFAULT_SECTORS if trend == "growing"]
    for number in range(2, N_WORKERS + 1):
        sector = rng.choices(worker_sectors, sector_weights)[0]
        occupation = occupations[rng.choice(OCCUPATIONS[sector])]
        skills = _some_skills(rng, occupation, 3)
        optional = list(occupation.optional_skills)
        if optional and rng.random() < 0.4:
            skills += [s for s in rng.sample(optional, min(2, len(optional))) if s not in skills]
        name = person_name()
        languages = ["nl"] + (["en"] if rng.random() < 0.6 else [])
        if rng.random() < 0.2:
            languages.append(rng.choice(OTHER_LANGUAGES))
        workers.append(
            dict(
                email=f"{_slug(name).replace('-', '.')}.{number}@example.org", name=name, sector=sector,
                occupation=occupation.id, skills=skills, pc4=rng.choices(pc4s, weights)[0],
                max_distance_km=rng.choice((10, 15, 20, 25, 30, 40, 50)),
                desired_sectors=sorted(rng.sample(growing_sectors, rng.randint(1, 2))) if rng.random() < 0.4 else [],
                hours_per_week=rng.choice((16, 20, 24, 28, 32, 36, 40)),
                available_from=today + timedelta(days=rng.randint(0, 28)),
                certificates=_certificates(rng, WORKER_CERTIFICATES[sector]), languages=languages,
                consent_days_ago=rng.randint(0, 20), external_ref=f"demo-worker-{number:03d}",
            )
        )
    return dict(organisations=organisations, listings=listings, shortages=shortages, workers=workers)


def fingerprint(plan: dict) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------- writing it


def _demo_present() -> bool:
    emails = [email for email, _role in DEMO_ACCOUNTS]
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email.in_(emails))) > 0


def seed_demo(random_seed: int = 2020, only_if_empty: bool = False, today: date | None = None) -> DemoReport:
    """Write the demo plan in one transaction (no matching: the scheduler or `match run` does that).

    `only_if_empty`: do nothing when any organisation exists (the quick start seeds on first run only).
    Seeding twice adds nothing the second time: the demo logins are unique."""
    started = time.perf_counter()
    if only_if_empty and db.session.scalar(sa.select(Organisation.id).limit(1)) is not None:
        return DemoReport(skipped="the database already holds organisations")
    if _demo_present():
        return DemoReport(skipped="the demo data is already there")

    plan = plan_demo(random_seed, today)
    plan_fingerprint = fingerprint(plan)
    now = datetime.now(timezone.utc)
    password_hash = generate_password_hash(DEMO_PASSWORD)  # one hash for every demo account keeps this fast
    consent_version = current_app.config["CONSENT_VERSION"]

    existing_sectors = set(db.session.scalars(sa.select(Sector.code)))
    for code, name_nl, name_en, trend in DEFAULT_SECTORS:
        if code not in existing_sectors:
            db.session.add(Sector(code=code, name_nl=name_nl, name_en=name_en, trend=trend))
    taken_kvk = set(db.session.scalars(sa.select(Organisation.kvk_number).where(Organisation.kvk_number.like("9%"))))

    coordinator = User(
        email="coordinator@demo.nlwerktdoor.nl", name="Coördinator (demo)", role="coordinator",
        password_hash=password_hash, region_code=None, email_verified_at=now,
    )
    users = [
        User(email="admin@demo.nlwerktdoor.nl", name="Beheerder (demo)", role="admin", password_hash=password_hash,
             email_verified_at=now),
        coordinator,
    ]
    organisations = {}
    for spec in plan["organisations"]:
        kvk = spec["kvk"]
        while kvk in taken_kvk:  # an earlier organisation has it; keep ours unique
            kvk = f"9{(int(kvk[1:]) + 1) % 10**7:07d}"
        taken_kvk.add(kvk)
        org = Organisation(
            name=spec["name"], kvk_number=kvk, sector_code=spec["sector"], side=spec["side"],
            verified_at=now - timedelta(days=spec["verified_days_ago"]) if spec["verified"] else None,
        )
        organisations[spec["key"]] = org
        users.append(
            User(
                email=spec["hr_email"], name=spec["hr_name"], role="employer", organisation=org,
                password_hash=password_hash, email_verified_at=now,
            )
        )
    db.session.add_all(organisations.values())

    listings = [
        StaffListing(
            organisation=organisations[s["org"]], external_ref=s["external_ref"], sector_code=s["sector"],
            occupation_id=s["occupation"], skills=s["skills"], count=s["count"], pc4=s["pc4"],
            max_distance_km=s["max_distance_km"], available_from=s["available_from"],
            available_until=s["available_until"], hours_per_week=s["hours_per_week"],
            transfer_type=s["transfer_type"], certificates=s["certificates"], contact_email=s["contact_email"],
        )
        for s in plan["listings"]
    ]
    shortages = [
        Shortage(
            organisation=organisations[s["org"]], external_ref=s["external_ref"], sector_code=s["sector"],
            title=s["title"], description=s["description"], occupation_id=s["occupation"],
            required_skills=s["required_skills"], nice_skills=s["nice_skills"], positions=s["positions"],
            pc4=s["pc4"], max_distance_km=s["max_distance_km"], start_date=s["start_date"],
            hours_per_week=s["hours_per_week"], certificates=s["certificates"],
            training_offered=s["training_offered"], open_hiring=s["open_hiring"], contact_email=s["contact_email"],
        )
        for s in plan["shortages"]
    ]
    profiles = []
    for s in plan["workers"]:
        user = User(email=s["email"], name=s["name"], role="worker", password_hash=password_hash,
                    email_verified_at=now)
        users.append(user)
        profiles.append(
            WorkerProfile(
                user=user, external_ref=s["external_ref"], occupation_id=s["occupation"], skills=s["skills"],
                pc4=s["pc4"], max_distance_km=s["max_distance_km"], desired_sectors=s["desired_sectors"],
                hours_per_week=s["hours_per_week"], available_from=s["available_from"],
                certificates=s["certificates"], languages=s["languages"],
                consent_at=now - timedelta(days=s["consent_days_ago"]), consent_version=consent_version,
                status="active",
            )
        )
    db.session.add_all(users + listings + shortages + profiles)
    db.session.flush()
    for org in organisations.values():
        if org.verified_at is not None:
            org.verified_by_id = coordinator.id
    db.session.commit()

    return DemoReport(
        organisations=len(organisations),
        unverified=sum(1 for o in organisations.values() if o.verified_at is None),
        listings=len(listings),
        shortages=len(shortages),
        workers=len(profiles),
        users=len(users),
        fingerprint=plan_fingerprint,
        seconds=time.perf_counter() - started,
    )
