"""One matching run: load the live postings, let the engine decide, store new matches and queue the digests."""
from __future__ import annotations

import ctypes
import json
import logging
import sys
import zlib
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import JSONB

from .. import reference
from ..extensions import db
from ..matching import (CandidateIn, Changes, MatchSettings, ShortageIn, SkillIndex, SkillInfo, collector_paused,
                        isco_skill_level, match)
from ..matching.allocate import places_left
from ..matching.bounds import CandidateRows, CandidateTable, skill_gains
from ..models import Match, MatchRun, Organisation, Shortage, StaffListing, User, WorkerProfile
from ..models.database import utcnow
from . import candidate_index, privacy
from .bulk import chunks, insert_rows

log = logging.getLogger(__name__)

# Transaction-level advisory lock: two runs (two schedulers, or a CLI run beside the scheduler)
# never interleave; the second waits and then sees the first one's matches as already made.
RUN_LOCK_KEY = zlib.crc32(b"nlwerktdoor.services.matching.run_matching")


@lru_cache(maxsize=1)
def skill_index_from_reference() -> SkillIndex:
    """The engine's skill index over the ESCO skills shipped with the package (built once per process)."""
    return SkillIndex.build(
        SkillInfo(
            id=skill.id,
            group_code=skill.group_code,
            pillars=skill.pillars,
            collections=skill.collections,
            n_occupations=skill.n_occupations_essential,
        )
        for skill in reference.skills().values()
    )


def occupation_skill_level(occupation_id: str | None) -> int:
    """ISCO skill level (1-4) of an ESCO occupation; 0 when unknown (then no level rule applies)."""
    occupation = reference.occupations().get(occupation_id or "")
    return isco_skill_level(occupation.isco_group) if occupation else 0


def match_settings() -> MatchSettings:
    """Engine settings from the app config (MATCH_*), defaults where a key is missing."""
    config = current_app.config
    defaults = MatchSettings()
    return MatchSettings(
        min_coverage=float(config.get("MATCH_MIN_COVERAGE", defaults.min_coverage)),
        min_coverage_with_training=float(
            config.get("MATCH_MIN_COVERAGE_WITH_TRAINING", defaults.min_coverage_with_training)
        ),
        candidates_per_position=int(config.get("MATCH_CANDIDATES_PER_POSITION", defaults.candidates_per_position)),
        shortages_per_candidate=int(config.get("MATCH_SHORTAGES_PER_CANDIDATE", defaults.shortages_per_candidate)),
        level_ease=float(config.get("MATCH_LEVEL_EASE", defaults.level_ease)),
    )


def run_matching(now: datetime | None = None, full: bool = False) -> MatchRun:
    """Store the new matches of one run and queue one digest per recipient, in one transaction.

    Incremental by default: only pairs with a side that changed since the last completed run are
    examined (`_changes_since`); the first run, and a run with `full`, examine every pair.

    Only live postings take part (hard rule 1): open shortages with open positions of verified
    organisations; active workers with consent whose account is active; open, unexpired staff
    listings of verified organisations. A pair that already has a match (any answer) is never
    proposed again, so a rerun adds nothing and a "no" is final. On failure nothing of the run is
    kept except a MatchRun row marked failed (written in a fresh transaction); the error is re-raised.
    """
    # The cycle collector off from the read to the commit: a run reads and stores hundreds of
    # thousands of objects that live until it ends, and the collector walking them again and again
    # was a third of the read and a fifth of the store at 100k x 20k (bench/README.md, "A fifth
    # session"; peak RSS the same). A run leaves next to nothing in reference cycles (a collection
    # right after found 10 objects), so nothing piles up meanwhile.
    with collector_paused():
        return _run_matching(now, full)


def _run_matching(now: datetime | None, full: bool) -> MatchRun:
    started_at = now or utcnow()
    try:
        _lock()
        changes = None if full else _changes_since(_last_completed_run())
        run = MatchRun(started_at=started_at, status="running", kind="full" if changes is None else "incremental")
        db.session.add(run)
        shortages = _live_shortages()
        candidates = _live_candidates(started_at, as_table=True)
        by_shortage = {s.id: s for s in shortages}
        exclude, shortage_load, candidate_load = _earlier_matches()
        index = skill_index_from_reference()
        try:
            proposals = match(
                candidates,
                shortages,
                index,
                match_settings(),
                exclude=exclude,
                shortage_load=shortage_load,
                candidate_load=candidate_load,
                changes=changes,
                workers=int(current_app.config.get("MATCH_WORKERS") or 1),
                stream_depth=int(current_app.config.get("MATCH_STREAM_DEPTH") or 0) or None,
            )
        finally:
            index.forget()  # a national run's profiles take hundreds of MB; storing needs them more
            _return_free_memory()
        db.session.flush()  # the run's id
        available_from = _available_from(candidates)
        new_matches = _insert_matches(proposals, by_shortage, available_from, run_id=run.id, created_at=started_at,
                                      announced_at=started_at)

        from . import notifications

        # Matches made the moment a shortage was posted go into this run's digests too, as long as
        # both sides are still live (a worker who withdrew since hears nothing more).
        waiting = _announce_waiting(started_at, by_shortage, available_from)
        run.candidates = len(candidates)
        run.shortages = len(shortages)
        run.new_matches = len(new_matches)
        run.emails = notifications.queue_run_digests(run, new_matches + waiting)
        # The session holds what it read and wrote only while something refers to it: let the run's
        # matches (and the postings they loaded) go, so that the commit does not expire them one
        # by one (at 100k candidates, 100k objects and a hundred MB for nothing).
        del new_matches, waiting
        run.status = "done"
        run.finished_at = now or utcnow()
        db.session.commit()
        if run.new_matches >= _ANALYZE_AFTER_MATCHES:
            _analyze_matches()
    except Exception as exc:
        db.session.rollback()
        log.exception("matching run failed")
        try:
            db.session.add(
                MatchRun(
                    started_at=started_at,
                    finished_at=now or utcnow(),
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            )
            db.session.commit()
        except Exception:  # the database itself may be what failed: keep the original error
            db.session.rollback()
            log.exception("could not record the failed matching run")
        raise
    return run


# A run that stored at least this many matches has the database's statistics of the table renewed at once.
_ANALYZE_AFTER_MATCHES = 10_000


def _analyze_matches() -> None:
    """Renew the planner's statistics of `matches` (about 0.2 s at 918,000 rows). After a national run
    stored 918,000 matches into a table the statistics still took for nearly empty, instant
    candidates' read of the earlier matches of 13,000 candidates took 1.6 s instead of tens of ms
    (median of twenty 1,093 -> 190 ms once analysed). Autovacuum would do it, but only after its
    naptime and threshold, and only where it is on (it is off on the bench machine's server)."""
    try:
        db.session.execute(sa.text("ANALYZE matches"))
        db.session.commit()
    except sa.exc.SQLAlchemyError:  # the run is stored; statistics are the database's own business
        db.session.rollback()
        log.warning("could not analyse the matches table after a big run", exc_info=True)


def _announce_waiting(started_at: datetime, by_shortage: dict, available_from: dict) -> list[Match]:
    """Every match not yet announced (made instantly, between runs) is announced by this run; those
    whose sides are both live go into its digests."""
    waiting = []
    for earlier in db.session.scalars(sa.select(Match).where(Match.announced_at.is_(None)).order_by(Match.id)):
        earlier.announced_at = started_at
        if earlier.shortage_id in by_shortage and _candidate_key(earlier.worker_id, earlier.listing_id) in available_from:
            waiting.append(earlier)
    return waiting


def _available_from(table: CandidateTable) -> dict[str, date]:
    """Each live candidate's first day, by key (made after the engine: at national size a dict of 2.4
    million keys, which the run needs only to store what the engine proposed)."""
    days = {day: date.fromordinal(day) for day in np.unique(table.day).tolist()}
    return dict(zip(table.keys, map(days.__getitem__, table.day.tolist())))


def _return_free_memory() -> None:
    """Give the memory the engine freed back to the system (glibc's malloc_trim), so what follows
    starts from less: its big arrays were freed, but the C allocator keeps such pages for reuse
    that the many small objects of storing never make. Elsewhere: nothing."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _candidate_key(worker_id: int | None, listing_id: int | None) -> str:
    """The engine's key of a match's candidate ("worker:<id>" or "listing:<id>")."""
    return f"worker:{worker_id}" if worker_id is not None else f"listing:{listing_id}"


def _insert_matches(proposals, by_shortage: dict[int, ShortageIn], available_from: dict, **fields) -> list[Match]:
    """The Match rows of the engine's proposals, inserted in bulk (a run stores tens of thousands:
    services.bulk instead of the session's unit of work per object), in the order of the proposals."""
    return insert_rows(Match, [_match_row(proposal, by_shortage, available_from, **fields) for proposal in proposals])


def _match_row(proposal, by_shortage: dict[int, ShortageIn], available_from: dict, **fields) -> dict:
    """The Match row of an engine proposal, with the explanation every page, email and export shows."""
    kind, _, row_id = proposal.candidate_key.partition(":")
    explanation = proposal.explanation
    return dict(
        shortage_id=proposal.shortage_id,
        worker_id=int(row_id) if kind == "worker" else None,
        listing_id=int(row_id) if kind == "listing" else None,
        score=proposal.score,
        distance_km=proposal.distance_km,
        explanation={
            "matched": list(explanation.matched),
            "related": [list(pair) for pair in explanation.related],
            "missing": list(explanation.missing),
            "nice_matched": list(explanation.nice_matched),
            "coverage": explanation.coverage,
            "training_offered": by_shortage[proposal.shortage_id].training_offered,
            "available_from": available_from[proposal.candidate_key].isoformat(),
            "start_date": by_shortage[proposal.shortage_id].start_date.isoformat(),
        },
        **fields,
    )


def match_shortage_now(shortage_id: int, now: datetime | None = None) -> int:
    """Candidates for one shortage the moment it is posted or edited (issue 4, "instant candidates"),
    so the employer sees them on its page at once; the next scheduled run emails both sides (the
    matches wait with announced_at None). The same rules, scores and caps as a run: it is a run over
    one shortage and the candidates within its radius. Returns the number of new matches; commits.
    Nothing happens for a shortage that is not live (closed, full, or its organisation unverified)."""
    with collector_paused():  # as run_matching
        return _match_shortage_now(shortage_id, now or utcnow())


def _match_shortage_now(shortage_id: int, now: datetime) -> int:
    if not _lock(wait=False):
        # A run is going: it (or the next, incremental one) will see this shortage as changed.
        db.session.rollback()
        return 0
    shortage = next(iter(_live_shortages(Shortage.id == shortage_id)), None)
    if shortage is None:
        db.session.rollback()
        return 0
    nearby = reference.places_within(db.session.get(Shortage, shortage_id).pc4, shortage.max_distance_km)
    proposals, candidates = _proposals_for_one(shortage, nearby, match_settings(), now)
    available_from = {c.key: c.available_from for c in candidates}
    _insert_matches(proposals, {shortage.id: shortage}, available_from, created_at=now)
    db.session.commit()
    return len(proposals)


# Instant candidates read the candidates an index ranks first in rounds of this many rows, then four
# times as many each round (_proposals_for_one).
_FIRST_ROUND_ROWS = 2000


def _proposals_for_one(shortage: ShortageIn, near: dict[str, float], settings: MatchSettings,
                       now: datetime) -> tuple[list, list[CandidateIn]]:
    """The engine's proposals for one shortage (instant candidates), and the candidates read for them.

    A shortage that asks no certificate and offers training lets some 80,000 candidates near a city
    through every rule, and reading them all took seconds, though only its best few are proposed. So
    with a candidate index the candidates are read best first by an upper bound of their score
    (CandidateIndex.ranked), a round at a time, and the engine runs over those read so far. For one
    shortage the engine takes candidates in order of score while places are left (passing over
    pairs made before and full candidates), so once the shortage is full with proposals that all
    score above the highest bound of the rows not read, no unread candidate could have come first:
    the proposals are those of reading every row. Rows changed since the index was built come in the
    first round whatever their bound. Without an index or a bound: one round of every row.

    Of the earlier matches, those of the shortage (pairs never to propose again, places taken) and
    the loads of the candidates read."""
    index = skill_index_from_reference()
    exclude, shortage_load, _ = _earlier_matches(shortage_id=shortage.id)
    candidates: list[CandidateIn] = []
    loads: dict[str, int] = {}
    for more, unread_ceiling in _candidates_best_first(shortage, near, settings, now, index):
        if more:
            loads.update(_earlier_matches(candidate_keys=[c.key for c in more])[2])
            candidates.extend(more)
        proposals = match(candidates, [shortage], index, settings, exclude=exclude, shortage_load=shortage_load,
                          candidate_load=loads)
        if unread_ceiling is None:
            return proposals, candidates
        if places_left(shortage, proposals, candidates, settings, shortage_load) <= 0 and (
                not proposals or min(proposal.score for proposal in proposals) > unread_ceiling):
            return proposals, candidates
    raise AssertionError("the last round reads every row")  # pragma: no cover


def _candidates_best_first(shortage: ShortageIn, near: dict[str, float], settings: MatchSettings, now: datetime,
                           index: SkillIndex):
    """Rounds of instant candidates for `shortage` (_proposals_for_one): each yields the candidates read
    in it (none read twice) and the highest score bound of the rows still unread (None: none left)."""
    gains = skill_gains(shortage, index, settings)
    indexed = candidate_index.current()
    ranked = indexed[0].ranked(near, shortage, settings, gains, index) if indexed and gains is not None else None
    if ranked is None:
        yield _live_candidates(now, near=near, fitting=(shortage, settings)), None
        return
    since = indexed[1]
    seen: set[str] = set()
    start, size = 0, _FIRST_ROUND_ROWS
    while True:
        stop = min(start + size, len(ranked.ids))
        kinds, ids = ranked.kinds[start:stop], ranked.ids[start:stop]
        chosen = {kind: ids[kinds == number] for number, kind in enumerate(candidate_index.KINDS)}
        read = _live_candidates(now, near=near, fitting=(shortage, settings),
                                chosen=(since if start == 0 else None, chosen))
        more = [candidate for candidate in read if candidate.key not in seen]
        seen.update(candidate.key for candidate in more)
        yield more, (float(ranked.ceilings[stop]) if stop < len(ranked.ids) else None)
        if stop >= len(ranked.ids):
            return
        start, size = stop, size * 4


def _last_completed_run() -> MatchRun | None:
    return db.session.scalar(
        sa.select(MatchRun).where(MatchRun.status == "done").order_by(MatchRun.started_at.desc(), MatchRun.id.desc()).limit(1)
    )


def _changes_since(last: MatchRun | None) -> Changes | None:
    """The candidates and shortages whose pairs may have changed since `last` started (None: no
    earlier run, so a full run). A change is an edit of the posting or profile (its updated_at:
    new, edited, reopened, consent given), its organisation verified, or room made by an answer on
    one of its matches (a "no", or a hire). A margin before `last` started covers writes that were
    in flight while it read (their time is from before it, their commit after): examining a pair
    again costs a little time and never a second match.

    What no timestamp records (an account switched back on by an admin, a new consent text, the
    clock passing a listing's end date — which only removes) waits for the next full run
    (MATCH_FULL_INTERVAL_HOURS, and `nlwerktdoor match run --full`)."""
    if last is None:
        return None
    since = last.started_at - timedelta(seconds=int(current_app.config.get("MATCH_INCREMENTAL_MARGIN_SECONDS", 300)))
    answered = sa.or_(Match.growing_answered_at >= since, Match.candidate_answered_at >= since,
                      Match.introduced_at >= since)
    shortages = set(db.session.scalars(
        sa.select(Shortage.id).join(Organisation, Shortage.organisation_id == Organisation.id)
        .where(sa.or_(Shortage.updated_at >= since, Organisation.verified_at >= since))
    ))
    shortages.update(db.session.scalars(sa.select(Match.shortage_id).where(answered)))
    candidates = {f"worker:{worker_id}" for worker_id in db.session.scalars(
        sa.select(WorkerProfile.id).where(WorkerProfile.updated_at >= since))}
    candidates.update(f"listing:{listing_id}" for listing_id in db.session.scalars(
        sa.select(StaffListing.id).join(Organisation, StaffListing.organisation_id == Organisation.id)
        .where(sa.or_(StaffListing.updated_at >= since, Organisation.verified_at >= since))
    ))
    for worker_id, listing_id in db.session.execute(sa.select(Match.worker_id, Match.listing_id).where(answered)):
        candidates.add(_candidate_key(worker_id, listing_id))
    return Changes(candidates=frozenset(candidates), shortages=frozenset(shortages))


def _lock(wait: bool = True) -> bool:
    """The run lock, until the transaction ends; without `wait`, False at once when another holds it.
    (SQLite has one writer at a time anyway: the run's write transaction is the lock there.)"""
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    if wait:
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": RUN_LOCK_KEY})
        return True
    return bool(db.session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RUN_LOCK_KEY}))


# What the engine reads of a posting: plain columns, not ORM objects. A national run reads hundreds of
# thousands of rows; objects with every column, tracked by the session, cost several times the time
# and memory. A run streams them in batches (yield_per: a server-side cursor on PostgreSQL).
_POSTING_COLUMNS = ("id", "pc4", "max_distance_km", "available_from", "occupation_id")  # and, as text, "certificates"
_READ_BATCH = 5000


def _columns(model, *names):
    return [getattr(model, name) for name in names]


def _plan_for_every_row() -> None:
    """PostgreSQL plans a server-side cursor (yield_per) for its first tenth of rows by default
    (cursor_tuple_fraction): with ORDER BY id, that is a walk along the primary key, filtering every
    row of the table. The engine reads every row it asks for, so the plan should be the one that
    is fastest for all of them: for instant candidates among 2.4 million workers, reading the
    ~28,000 near one shortage went from 6.9 s (5.3 s of it waiting for PostgreSQL) to about 2.5 s.
    And the bitmap of those rows and the hash join with their accounts get the memory to stay exact
    and in memory (the default 4 MB made the bitmap lossy: every row of a block checked again;
    98,000 rows near one shortage: 1.73 -> 1.2 s in PostgreSQL, with the sort gone too).
    No JIT compilation: PostgreSQL compiles a statement it estimates dear, and for the earlier
    matches near one shortage in a city (a national run had stored 918,000) that took about a
    second, longer than running it. For this transaction only."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL cursor_tuple_fraction = 1.0"))
        db.session.execute(sa.text(f"SET LOCAL work_mem = '{_READ_WORK_MEM}'"))
        db.session.execute(sa.text("SET LOCAL jit = off"))


_IDS_PER_QUERY = 5000  # ids per IN (...) list: below SQLite's parameter limit (32,766), few round trips
_READ_WORK_MEM = "64MB"  # per sort or hash of the read, per process that runs it


def _live_shortages(*where) -> list[ShortageIn]:
    _plan_for_every_row()
    query = (
        sa.select(*_columns(Shortage, "id", "pc4", "sector_code", "max_distance_km", "required_skills", "nice_skills",
                            "certificates", "start_date", "positions", "filled_positions", "training_offered",
                            "occupation_id"))
        .join(Organisation, Shortage.organisation_id == Organisation.id)
        .where(
            Shortage.status == "open",
            Shortage.positions > Shortage.filled_positions,
            Organisation.verified_at.is_not(None),
            *where,
        )
        .order_by(Shortage.id)
        .execution_options(yield_per=_READ_BATCH)
    )
    result = []
    for shortage in db.session.execute(query):
        place = reference.place(shortage.pc4)
        if place is None:
            continue
        result.append(
            ShortageIn(
                id=shortage.id,
                sector=shortage.sector_code,
                lat=place.lat,
                lon=place.lon,
                max_distance_km=shortage.max_distance_km,
                required_skills=tuple(map(sys.intern, shortage.required_skills or ())),
                nice_skills=tuple(map(sys.intern, shortage.nice_skills or ())),
                certificates=_shared(frozenset(shortage.certificates or ())),
                start_date=_shared(shortage.start_date),
                open_positions=max(shortage.positions - shortage.filled_positions, 0),
                training_offered=bool(shortage.training_offered),
                skill_level=occupation_skill_level(shortage.occupation_id),
            )
        )
    return result


def _live_candidates(now: datetime, near: dict[str, float] | None = None,
                     fitting: tuple[ShortageIn, MatchSettings] | None = None,
                     chosen: tuple[datetime | None, dict[str, np.ndarray]] | None = None,
                     as_table: bool = False) -> list[CandidateIn] | CandidateTable:
    """Live workers and listings; with `near` (PC4 area -> km from one shortage), only those in
    these areas whose own radius reaches that far (_within_reach); with `fitting` (that shortage and
    the settings), only those its rules of availability, certificates and sector wish let through
    (_fits_logistics) and whose skills could cover enough of it (bounds.skill_gains: of the 157,000
    candidates near a city shortage, nine in ten are turned away from their list of skill ids,
    before a candidate is built). In no particular order: the engine's result does not depend on
    it, and sorting the rows (with their skill lists) by id spilled to disk at national size.

    With both and a candidate index on this machine (services/candidate_index.py), only the rows it
    says could pass and the rows changed since it was built are read (_rows). `chosen` (since, ids
    per kind) names them instead: the rows changed since `since` (None: none) and those ids.

    `as_table`: as the engine's CandidateTable, made row by row as they come (a run's read: 2.4 million
    CandidateIn objects and their skill sets took 1.2 GB of a national run's peak)."""
    _plan_for_every_row()
    gains = skill_gains(fitting[0], skill_index_from_reference(), fitting[1]) if fitting is not None else None
    if chosen is None and near is not None and fitting is not None and (indexed := candidate_index.current()):
        index, since = indexed
        chosen = since, {kind: index.could_pass(kind, near, fitting[0], fitting[1], gains)
                         for kind in candidate_index.KINDS}
    # One set per distinct skill list (its JSON text), None where the gains turn it away: the national
    # data has 675,000 distinct lists for 2.4 million candidates, so most rows are a lookup instead
    # of a parse, and the candidates share their sets (2.4 million sets of ~1.2 kB each otherwise).
    skill_sets: dict[str | None, frozenset[str] | None] = {}

    def skills_of(text: str | None) -> frozenset[str] | None:
        skills = skill_sets.get(text, _UNSEEN)
        if skills is _UNSEEN:
            skills = frozenset(set(map(sys.intern, _json_list(text))))
            skill_sets[text] = skills = skills if gains is None or gains.may_pass(skills) else None
        return skills

    rows = CandidateRows() if as_table else None
    candidates = []

    def add(key: str, source, skills: frozenset[str], desired_sectors: str | None, capacity: int) -> None:
        fields = _candidate_fields(key, source, skills, desired_sectors, capacity)
        if fields is None:
            return
        if rows is not None:
            rows.add(*fields)
        else:
            candidates.append(CandidateIn(*fields))

    # A run's read is streamed (a server-side cursor: millions of rows). The rows near one shortage
    # are read at once: PostgreSQL runs no parallel plan for a cursor and fetching in batches costs
    # round trips (116,000 rows near a city: 1.78 s through the cursor, 1.13 s at once; instant
    # candidates' median 1.02-1.21 -> 0.80-0.95 s), for a peak about 200 MB higher while they are held.
    streamed = {"yield_per": _READ_BATCH} if near is None else {}
    workers = (
        sa.select(*_columns(WorkerProfile, *_POSTING_COLUMNS), *_as_text(WorkerProfile, "skills", "certificates", "desired_sectors"))
        .join(User, WorkerProfile.user_id == User.id)
        .where(WorkerProfile.status == "active", WorkerProfile.consent_at.is_not(None), User.active.is_(True),
               # consent to an older text does not count: the worker is asked again (services/privacy.py)
               WorkerProfile.consent_version.in_(privacy.accepted_consent_versions()),
               *([_within_reach(WorkerProfile, near)] if near is not None else []),
               *(_fits_logistics(WorkerProfile, *fitting, wishes=True) if fitting is not None else []))
        .execution_options(**streamed)
    )
    for worker in _rows(workers, WorkerProfile, "worker", chosen):
        skills = skills_of(worker.skills)
        if skills is None:
            continue
        add(f"worker:{worker.id}", worker, skills, worker.desired_sectors, capacity=1)
    listings = (
        sa.select(*_columns(StaffListing, *_POSTING_COLUMNS, "count"), *_as_text(StaffListing, "skills", "certificates"))
        .join(Organisation, StaffListing.organisation_id == Organisation.id)
        .where(
            StaffListing.status == "open",
            Organisation.verified_at.is_not(None),
            # A listing whose people are no longer available has nobody left to offer.
            sa.or_(StaffListing.available_until.is_(None), StaffListing.available_until >= now.date()),
            *([_within_reach(StaffListing, near)] if near is not None else []),
            *(_fits_logistics(StaffListing, *fitting, wishes=False) if fitting is not None else []),
        )
        .execution_options(**streamed)
    )
    for listing in _rows(listings, StaffListing, "listing", chosen):
        skills = skills_of(listing.skills)
        if skills is None:
            continue
        add(f"listing:{listing.id}", listing, skills, None, capacity=max(listing.count, 1))
    return rows.table() if rows is not None else candidates


def _rows(query, model, kind: str, chosen):
    """The rows of `query`; with `chosen` (since, ids per kind: see _live_candidates), only those
    changed since and those of the ids, a list of ids at a time (a row in both comes once). Every rule
    of `query` still applies to them: the ids only leave out rows that cannot pass."""
    if chosen is None:
        yield from db.session.execute(query)
        return
    since, ids = chosen
    changed = set()
    if since is not None:
        for row in db.session.execute(query.where(model.updated_at >= since)):
            changed.add(row.id)
            yield row
    for chunk in chunks(np.sort(ids[kind]).tolist(), _IDS_PER_QUERY):
        for row in db.session.execute(query.where(model.id.in_(chunk))):
            if row.id not in changed:
                yield row


def _as_text(model, *names):
    """JSON list columns read as their text, for _json_list: SQLAlchemy's JSON type on psycopg took
    twice as long for the same rows (116,000 workers' skills: 2.6 s against 0.8 s read plus 0.4 s
    json.loads)."""
    return [sa.cast(getattr(model, name), sa.Text).label(name) for name in names]


def _json_list(text: str | None) -> list:
    """A JSON list column read as text (_as_text): its values; none for SQL NULL or JSON null."""
    return (json.loads(text) or []) if text else []


_UNSEEN = object()
# Certificates and sector wishes, as read (_as_text): a few dozen distinct lists in all.
_SETS_BY_TEXT: dict[str | None, frozenset] = {}


def _shared_set(text: str | None) -> frozenset:
    """The values of a JSON list column read as text, as one kept frozenset per distinct text."""
    kept = _SETS_BY_TEXT.get(text)
    if kept is None:
        if len(_SETS_BY_TEXT) > 10_000:  # never unbounded (as _shared)
            _SETS_BY_TEXT.clear()
        kept = _SETS_BY_TEXT[text] = _shared(frozenset(_json_list(text)))
    return kept


def _within_reach(model, near: dict[str, float]):
    """SQL: the posting lies in one of the `near` areas and its own radius reaches that far.

    Instant candidates read only the candidates that could be within the smaller of the two radii:
    most candidates travel 10-25 km, so around a shortage that reaches 50 km this leaves a fraction
    of the rows. Radii are whole km, so the areas are grouped by the whole km a radius needs to
    reach them: ceil(d), less a micrometre, so that a last-bit difference between this distance and
    the engine's never leaves out a candidate the engine would take. The engine applies the exact rule."""
    by_km: dict[int, list[str]] = {}
    for area, km in near.items():
        by_km.setdefault(reference.whole_km_to_reach(km), []).append(area)
    if not by_km:
        return sa.false()
    return sa.or_(*(sa.and_(model.pc4.in_(areas), model.max_distance_km >= km) for km, areas in sorted(by_km.items())))


def _fits_logistics(model, shortage: ShortageIn, settings: MatchSettings, wishes: bool) -> list:
    """SQL: the hard rules of rules.passes_logistics that a posting can be read by, for one shortage:
    available in time, holding every certificate it asks, and (a worker) wishing its sector or
    any. The engine checks them again; reading only these rows is what makes instant candidates
    faster (at 100k x 20k the certificates and sector wishes turn away over half the pairs that
    are close enough). The certificates and wishes are JSON lists: checked on PostgreSQL (jsonb
    containment), left to the engine on SQLite."""
    rules = [model.available_from <= shortage.start_date + timedelta(days=settings.availability_grace_days)]
    if db.session.get_bind().dialect.name != "postgresql":
        return rules
    if shortage.certificates:
        rules.append(sa.cast(model.certificates, JSONB).contains(sorted(shortage.certificates)))
    if wishes:
        wished = sa.cast(model.desired_sectors, JSONB)
        # No wish (an empty list, or JSON null as the engine reads it) is any sector.
        no_wish = sa.or_(*(wished == sa.cast(sa.literal(empty), JSONB) for empty in ("[]", "null")))
        rules.append(sa.or_(no_wish, wished.contains([shortage.sector])))
    return rules


def _candidate_fields(key: str, source, skills: frozenset[str], desired_sectors: str | None,
                      capacity: int) -> tuple | None:
    """The engine's view of a worker profile or a staff listing (a row of _POSTING_COLUMNS and its
    certificates as text, with its set of skill ids and its sector wishes as text), as CandidateIn's
    fields in order (for a CandidateIn, or a run's CandidateRows); None when its postcode is unknown
    to the reference data.

    A national run holds millions of these (2.4 million took 6 GB), so they are kept small. The
    skill sets come from _live_candidates, one per distinct list, their ids interned: every row
    read brings its own copies of the same few thousand ids (at 100k candidates about 180 MB of
    them); each set is made from a set: a frozenset built straight from a list of twenty-odd ids
    grows its table step by step to twice the size a copy of a set gets (2.3 kB against 1.2 kB).
    Certificates, sector wishes and dates come in few kinds: one object serves every candidate with
    the same (_shared, _shared_set)."""
    place = reference.place(source.pc4)
    if place is None:
        return None
    return (key, place.lat, place.lon, source.max_distance_km, skills, _shared_set(source.certificates),
            _shared_set(desired_sectors), _shared(source.available_from), capacity,
            occupation_skill_level(source.occupation_id), _shared(source.occupation_id or ""))


# Values many candidates share (see _candidate_fields): each distinct one is kept once per process.
_SHARED: dict = {}


def _shared(value):
    """The one kept object equal to `value` (hashable); a new value is kept from now on."""
    kept = _SHARED.setdefault(value, value)
    if len(_SHARED) > 100_000:  # not a cache that must hold: just never unbounded
        _SHARED.clear()
    return kept


def _earlier_matches(shortage_id: int | None = None, candidate_keys: list[str] | None = None,
                     ) -> tuple[frozenset[tuple[str, int]], dict[int, int], dict[str, int]]:
    """Pairs never to propose again (every earlier match, whatever its answers), and the load of
    the matches still in play (nobody said no, no outcome yet) per shortage and per candidate.
    With `shortage_id` and/or `candidate_keys` (instant candidates, _proposals_for_one): only the
    matches of that shortage and of those candidates."""
    query = sa.select(
        Match.id,
        Match.worker_id,
        Match.listing_id,
        Match.shortage_id,
        Match.growing_status,
        Match.candidate_status,
        Match.outcome,
        StaffListing.count,
    ).outerjoin(StaffListing, Match.listing_id == StaffListing.id)
    if shortage_id is None and candidate_keys is None:
        rows = db.session.execute(query)
    else:
        # By candidate, not by the areas near the shortage: after a national run had stored 918,000
        # matches, the areas held up to ~100,000 of them (1.3-1.4 s). Index lookups, a list of ids at a time.
        ids = {"worker": [], "listing": []}
        for key in candidate_keys or ():
            kind, _, row_id = key.partition(":")
            ids[kind].append(int(row_id))
        selects = [query.where(Match.shortage_id == shortage_id)] if shortage_id is not None else []
        for column, kind in ((Match.worker_id, "worker"), (Match.listing_id, "listing")):
            selects.extend(query.where(column.in_(chunk)) for chunk in chunks(sorted(ids[kind]), _IDS_PER_QUERY))
        # A match can come back twice (its shortage's and its candidate's): once per id.
        rows = {row.id: row for select in selects for row in db.session.execute(select)}.values()
    pairs = set()
    shortage_load: dict[int, int] = {}
    candidate_load: dict[str, int] = {}
    for _match_id, worker_id, listing_id, shortage_id, growing_status, candidate_status, outcome, people in rows:
        key = _candidate_key(worker_id, listing_id)
        pairs.add((key, shortage_id))
        if "no" in (growing_status, candidate_status) or outcome in ("hired", "not hired"):
            continue
        shortage_load[shortage_id] = shortage_load.get(shortage_id, 0) + ((people or 1) if listing_id is not None else 1)
        candidate_load[key] = candidate_load.get(key, 0) + 1
    return frozenset(pairs), shortage_load, candidate_load
