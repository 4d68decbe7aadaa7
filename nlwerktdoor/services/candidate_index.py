"""The candidate index: which postings near a shortage could pass it, from arrays on disk, for instant candidates.

Instant candidates (services/matching.match_shortage_now) must show a new shortage's candidates
within a second with 2.4 million candidates in the database (issue 4). Near a city a shortage has
~150,000 postings within reach; PostgreSQL alone takes about a second to find and return them
(their rows lie all over the tables), and decoding their skill lists in Python a second more, to
turn away nine in ten by their skills (bounds.skill_gains). Nothing cheap in SQL sorts them by
skills (bench/README.md: a prefilter on shared skills kept 84-99% of them).

So a scheduled job (jobs.py: `candidate_index`; `nlwerktdoor match index`) writes every worker
profile and staff listing (whatever their status: the read checks that) as arrays: place, radius,
availability, certificates and sector wishes as bit masks, and skills as codes. A process maps the
files (shared by every web worker on the machine through the page cache) and answers, for one
shortage, with numpy: the ids of the postings that its radius, dates, certificates, wishes and
skills' gains could let through. The read then asks the database for those rows by id, and for
every row changed since the build (updated_at, with the incremental run's margin), with every rule
of the plain read; the engine decides as before. The index is only ever a superset of what the plain read
keeps, so the matches are the same (tests/test_candidate_index.py).

A shortage that asks no certificate and offers training still lets tens of thousands through
(80,000 near a city), of which it proposes a few. So the index also ranks them by an upper bound of
their score (`ranked`: per required and nice-to-have skill the best credit a posting's skills give,
its distance and its availability; bounds.score_ceilings), and instant candidates read them best
first, a round at a time, until no unread one could still come first (services/matching._proposals_for_one).

Files are kept per build token in CANDIDATE_INDEX_DIR; a process uses them only when their token
is the newest row of `candidate_index_builds` of its own database. Without an index (a fresh
install, another machine without the files, SQLite in tests), instant candidates read as before.
"""
from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
import uuid
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask import current_app

from .. import reference
from ..extensions import db
from ..matching import MatchSettings, ShortageIn
from ..matching import SkillIndex
from ..matching.bounds import (SkillGains, best_credits, concatenated_ranges, nice_skills, run_offsets,
                               score_ceilings)
from ..models import CandidateIndexBuild, StaffListing, WorkerProfile
from ..models.database import utcnow

log = logging.getLogger(__name__)

KINDS = ("worker", "listing")
_MODELS = {"worker": WorkerProfile, "listing": StaffListing}
_ARRAYS = ("ids", "place", "radius", "available", "certificates", "wishes", "skill_starts", "skills")
_BATCH = 10_000
# A further relative slack on the gains: numpy sums them in another order than SkillGains.may_pass,
# so the last bits may differ.
_GAINS_SLACK = 1e-9
# Rows whose skills are weighed against a shortage's at a time (CandidateIndex._covered): a few MB.
_COVER_ROWS = 4096
# Bit masks hold up to 64 distinct certificates or sectors; with more, that filter is left to the read.
_MASK_BITS = 64


@dataclass
class Postings:
    """One kind's postings, sorted by place: row i is posting ids[i]; place_starts[p] is the first row
    of place code p (len(places) + 1 entries); skills[skill_starts[i]:skill_starts[i + 1]] its codes."""

    ids: np.ndarray  # int64
    place: np.ndarray  # int32, code into CandidateIndex.places
    radius: np.ndarray  # int32, km
    available: np.ndarray  # int32, date ordinal
    certificates: np.ndarray  # uint64 bit mask over CandidateIndex.certificates
    wishes: np.ndarray  # uint64 bit mask over CandidateIndex.sectors; 0 = any sector
    skill_starts: np.ndarray  # int64
    skills: np.ndarray  # int32, codes into CandidateIndex.skills
    place_starts: np.ndarray | None = None  # int64

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Ranked:
    """Postings of both kinds, best first by an upper bound of their score for one shortage."""

    kinds: np.ndarray  # int8, position in KINDS
    ids: np.ndarray  # int64
    ceilings: np.ndarray  # float64, highest first


@dataclass
class CandidateIndex:
    token: str
    places: dict[str, int]
    skills: dict[str, int]
    certificates: dict[str, int] | None  # None: more than _MASK_BITS, not filtered on
    sectors: dict[str, int] | None
    postings: dict[str, Postings]

    def could_pass(self, kind: str, near: dict[str, float], shortage: ShortageIn, settings: MatchSettings,
                   gains: SkillGains | None) -> np.ndarray:
        """Ids of the postings of `kind` (as the index holds them) that `shortage` could take: within
        reach (reference.whole_km_to_reach over `near`, PC4 -> km, as services.matching._within_reach),
        available in time, holding its certificates, wishing its sector or any (workers), and whose
        skills' gains reach what it needs (`gains`; None: not bounded)."""
        postings = self.postings[kind]
        rows, _km, _sums = self._passing(kind, near, shortage, settings, gains)
        return np.asarray(postings.ids[rows], np.int64)

    def ranked(self, near: dict[str, float], shortage: ShortageIn, settings: MatchSettings, gains: SkillGains,
               index: SkillIndex) -> Ranked | None:
        """The postings of both kinds that could pass (could_pass), best first by an upper bound of
        their score (bounds.score_ceilings); None when the score cannot be bounded so."""
        asked = index.asked(shortage.required_skills, settings)
        nice_asked, nice_weights = nice_skills(shortage, index, settings)
        required = self._credit_table(best_credits(asked.skills, asked.weights, index, settings), len(asked.skills))
        nice = self._credit_table(best_credits(nice_asked, nice_weights, index, settings), len(nice_asked))
        kinds, ids, ceilings = [], [], []
        for number, kind in enumerate(KINDS):
            postings = self.postings[kind]
            rows, km, sums = self._passing(kind, near, shortage, settings, gains)
            # The gains bound the covered weight too: the lower of the two holds.
            covered = np.minimum(sums, self._covered(postings, rows, required))
            found = score_ceilings(shortage, index, settings, covered, self._covered(postings, rows, nice), km,
                                   postings.radius[rows], postings.available[rows])
            if found is None:
                return None
            kinds.append(np.full(len(rows), number, np.int8))
            ids.append(np.asarray(postings.ids[rows], np.int64))
            ceilings.append(found)
        kinds, ids, ceilings = np.concatenate(kinds), np.concatenate(ids), np.concatenate(ceilings)
        order = np.lexsort((ids, kinds, -ceilings))
        return Ranked(kinds=kinds[order], ids=ids[order], ceilings=ceilings[order])

    def _passing(self, kind: str, near: dict[str, float], shortage: ShortageIn, settings: MatchSettings,
                 gains: SkillGains | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """could_pass as rows of the kind's arrays, with each row's distance (km, as `near` has it) and
        the sum of its skills' gains (None without `gains`)."""
        postings = self.postings[kind]
        codes, need, distances = [], [], []
        for area, km in near.items():
            code = self.places.get(area)
            if code is not None:
                codes.append(code)
                need.append(reference.whole_km_to_reach(km))
                distances.append(km)
        nothing = np.zeros(0, np.int64), np.zeros(0), (np.zeros(0) if gains is not None else None)
        if not codes or not len(postings):
            return nothing
        codes_array = np.asarray(codes, np.int64)
        starts, stops = postings.place_starts[codes_array], postings.place_starts[codes_array + 1]
        rows = concatenated_ranges(starts, stops - starts)
        km = np.repeat(np.asarray(distances, float), stops - starts)
        keep = postings.radius[rows] >= np.repeat(np.asarray(need, np.int32), stops - starts)
        latest = (shortage.start_date + timedelta(days=settings.availability_grace_days)).toordinal()
        keep &= postings.available[rows] <= latest
        if self.certificates is not None and shortage.certificates:
            if any(name not in self.certificates for name in shortage.certificates):
                return nothing  # nobody in the index holds it
            asked = np.uint64(sum(1 << self.certificates[name] for name in shortage.certificates))
            keep &= (postings.certificates[rows] & asked) == asked
        if kind == "worker" and self.sectors is not None:
            wishes = postings.wishes[rows]
            bit = self.sectors.get(shortage.sector)
            keep &= (wishes == 0) if bit is None else ((wishes == 0) | ((wishes & np.uint64(1 << bit)) != 0))
        rows, km = rows[keep], km[keep]
        if gains is None:
            return rows, km, None
        sums = self._gains(postings, rows, gains) if len(rows) else np.zeros(0)
        keep = sums >= gains.needed * (1.0 - _GAINS_SLACK)
        return rows[keep], km[keep], sums[keep]

    def _credit_table(self, values: dict[str, np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
        """best_credits (`width` asked skills) by skill code: per code its row in a table (-1: adds
        nothing), and the table."""
        row_of = np.full(len(self.skills) + 1, -1, np.int64)
        table = np.zeros((len(values) + 1, width))
        for number, (skill, row) in enumerate(values.items()):
            code = self.skills.get(skill)
            if code is not None:
                row_of[code] = number
                table[number] = row
        return row_of, table

    def _covered(self, postings: Postings, rows: np.ndarray, credits: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Per row, the most its skills can cover (best_credits: per asked skill the best, summed), in
        slices of rows so that the table of their skills by asked skills stays small."""
        row_of, table = credits
        covered = np.zeros(len(rows))
        if not table.shape[1]:
            return covered
        for first in range(0, len(rows), _COVER_ROWS):
            part = rows[first:first + _COVER_ROWS]
            starts, stops = postings.skill_starts[part], postings.skill_starts[part + 1]
            lengths = stops - starts
            found = row_of[postings.skills[concatenated_ranges(starts, lengths)]]
            owner = np.repeat(np.arange(len(part)), lengths)
            useful = found >= 0
            found, owner = found[useful], owner[useful]
            if not len(found):
                continue
            # Entries come in row order: the best per asked skill of each row's run, then summed.
            heads = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            best = np.maximum.reduceat(table[found], heads, axis=0)
            covered[first + owner[heads]] = best.sum(axis=1)
        return covered

    def _gains(self, postings: Postings, rows: np.ndarray, gains: SkillGains) -> np.ndarray:
        """Per row, the sum of its skills' gains (SkillGains.may_pass, vectorised)."""
        by_code = np.zeros(len(self.skills) + 1)
        for skill, gain in gains.gains.items():
            code = self.skills.get(skill)
            if code is not None:
                by_code[code] = gain
        starts, stops = postings.skill_starts[rows], postings.skill_starts[rows + 1]
        lengths = stops - starts
        values = by_code[postings.skills[concatenated_ranges(starts, lengths)]]
        sums = np.zeros(len(rows))
        filled = lengths > 0
        if len(values):
            sums[filled] = np.add.reduceat(values, run_offsets(lengths)[:-1][filled])
        return sums


# --- building ----------------------------------------------------------------------------------------


def index_dir() -> Path:
    return Path(current_app.config.get("CANDIDATE_INDEX_DIR") or Path(current_app.instance_path) / "candidate-index")


def build() -> CandidateIndexBuild:
    """Read every worker profile and staff listing, write their arrays under a new token, record the
    build (commits) and remove older builds' files. Reads in batches; a national build holds the arrays
    of 2.4 million postings (about 250 MB) and one skill list's codes per distinct list at a time."""
    read_at = utcnow()
    token = uuid.uuid4().hex
    vocab = _Vocabulary()
    read = {kind: _read(kind, vocab) for kind in KINDS}
    # Sorted once every kind is read: place_starts covers every place code, including those only a
    # later kind brought (a listing where no worker lives).
    postings = {kind: _by_place(rows, vocab) for kind, rows in read.items()}
    del read
    db.session.rollback()  # the read's transaction; the write below is short
    root = index_dir()
    target = root / token
    target.mkdir(parents=True, exist_ok=True)
    for kind, rows in postings.items():
        for name in (*_ARRAYS, "place_starts"):
            np.save(target / f"{kind}.{name}.npy", getattr(rows, name), allow_pickle=False)
    manifest = {"token": token, "places": vocab.places, "skills": vocab.skills,
                "certificates": vocab.certificates, "sectors": vocab.sectors}
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    record = CandidateIndexBuild(token=token, read_at=read_at, finished_at=utcnow(),
                                 workers=len(postings["worker"]), listings=len(postings["listing"]))
    db.session.add(record)
    db.session.flush()
    db.session.execute(sa.delete(CandidateIndexBuild).where(CandidateIndexBuild.id < record.id))
    db.session.commit()
    for other in root.iterdir():
        if other.is_dir() and other.name != token:
            # A process that still maps the old files keeps them until it lets go (POSIX).
            shutil.rmtree(other, ignore_errors=True)
    return record


class _Vocabulary:
    """Codes for places, skills, certificates and sectors, given in the order first seen."""

    def __init__(self):
        self.places: list[str] = []
        self.skills: list[str] = []
        self.certificates: list[str] = []
        self.sectors: list[str] = []
        self._codes: dict[str, dict[str, int]] = {"places": {}, "skills": {}, "certificates": {}, "sectors": {}}

    def code(self, kind: str, value: str) -> int:
        codes = self._codes[kind]
        found = codes.get(value)
        if found is None:
            found = codes[value] = len(codes)
            getattr(self, kind).append(value)
        return found

    def mask(self, kind: str, values) -> int:
        mask = 0
        for value in values:
            code = self.code(kind, value)
            if code < _MASK_BITS:
                mask |= 1 << code
        return mask


def _read(kind: str, vocab: _Vocabulary) -> Postings:
    model = _MODELS[kind]
    text = [sa.cast(getattr(model, name), sa.Text).label(name) for name in ("skills", "certificates")]
    if kind == "worker":
        text.append(sa.cast(WorkerProfile.desired_sectors, sa.Text).label("desired_sectors"))
    query = (sa.select(model.id, model.pc4, model.max_distance_km, model.available_from, *text)
             .execution_options(yield_per=_BATCH))
    ids, place, radius, available = array("q"), array("i"), array("i"), array("i")
    certificates, wishes, skill_starts, skills = array("Q"), array("Q"), array("q", [0]), array("i")
    masks: dict[tuple[str, str | None], int] = {}
    codes_of: dict[str | None, array] = {}  # one entry per distinct skill list (most rows are a lookup)
    for row in db.session.execute(query):
        codes = codes_of.get(row.skills)
        if codes is None:
            if len(codes_of) > 200_000:  # never unbounded
                codes_of.clear()
            codes = codes_of[row.skills] = array("i", sorted({vocab.code("skills", s) for s in _json_list(row.skills)}))
        ids.append(row.id)
        place.append(vocab.code("places", row.pc4 or ""))
        radius.append(row.max_distance_km or 0)
        available.append(row.available_from.toordinal() if row.available_from else 1)
        certificates.append(_mask(masks, vocab, "certificates", row.certificates))
        wishes.append(_mask(masks, vocab, "sectors", row.desired_sectors) if kind == "worker" else 0)
        skills.extend(codes)
        skill_starts.append(len(skills))
    return Postings(
        ids=np.frombuffer(ids, np.int64), place=np.frombuffer(place, np.int32),
        radius=np.frombuffer(radius, np.int32), available=np.frombuffer(available, np.int32),
        certificates=np.frombuffer(certificates, np.uint64), wishes=np.frombuffer(wishes, np.uint64),
        skill_starts=np.frombuffer(skill_starts, np.int64), skills=np.frombuffer(skills, np.int32),
    )


def _mask(masks: dict, vocab: _Vocabulary, kind: str, text: str | None) -> int:
    mask = masks.get((kind, text))
    if mask is None:
        mask = masks[(kind, text)] = vocab.mask(kind, _json_list(text))
    return mask


def _json_list(text: str | None) -> list:
    value = json.loads(text) if text else None
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _by_place(postings: Postings, vocab: _Vocabulary) -> Postings:
    """The rows in place order (their skills moved along), with place_starts."""
    order = np.argsort(postings.place, kind="stable")
    starts, stops = postings.skill_starts[:-1][order], postings.skill_starts[1:][order]
    moved = Postings(
        ids=postings.ids[order], place=postings.place[order], radius=postings.radius[order],
        available=postings.available[order], certificates=postings.certificates[order],
        wishes=postings.wishes[order],
        skill_starts=run_offsets(stops - starts),
        skills=postings.skills[concatenated_ranges(starts, stops - starts)],
    )
    moved.place_starts = np.searchsorted(moved.place, np.arange(len(vocab.places) + 1), side="left").astype(np.int64)
    return moved


# --- using --------------------------------------------------------------------------------------------

_loaded_lock = threading.Lock()
_loaded: CandidateIndex | None = None


def current() -> tuple[CandidateIndex, datetime] | None:
    """The newest build's index and the moment from which changed rows must be read from the tables
    (its read less the incremental margin: writes in flight while it read), or None when this process
    cannot use one (no build yet, or its files are not on this machine)."""
    global _loaded
    build_row = db.session.execute(
        sa.select(CandidateIndexBuild.token, CandidateIndexBuild.read_at)
        .order_by(CandidateIndexBuild.id.desc()).limit(1)
    ).first()
    if build_row is None:
        return None
    margin = timedelta(seconds=int(current_app.config.get("MATCH_INCREMENTAL_MARGIN_SECONDS", 300)))
    since = build_row.read_at - margin
    with _loaded_lock:
        if _loaded is None or _loaded.token != build_row.token:
            try:
                _loaded = _load(index_dir() / build_row.token)
            except (OSError, ValueError, KeyError) as error:
                log.info("candidate index %s not usable here (%s): instant candidates read every row near",
                         build_row.token, error)
                return None
        return _loaded, since


def _load(directory: Path) -> CandidateIndex:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    postings = {}
    for kind in KINDS:
        arrays = {name: np.load(directory / f"{kind}.{name}.npy", mmap_mode="r", allow_pickle=False)
                  for name in (*_ARRAYS, "place_starts")}
        postings[kind] = Postings(**arrays)

    def codes(values: list[str], limit: int | None = None) -> dict[str, int] | None:
        if limit is not None and len(values) > limit:
            return None
        return {sys.intern(value): code for code, value in enumerate(values)}

    return CandidateIndex(
        token=manifest["token"], places=codes(manifest["places"]), skills=codes(manifest["skills"]),
        certificates=codes(manifest["certificates"], _MASK_BITS), sectors=codes(manifest["sectors"], _MASK_BITS),
        postings=postings,
    )


def forget() -> None:
    """Drop this process's loaded index (tests; the next use loads the newest again)."""
    global _loaded
    with _loaded_lock:
        _loaded = None
