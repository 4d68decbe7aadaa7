"""Matching at scale (issue 4, item 2): one real matching run on generated data, in phases.

    python bench/match_scale.py --candidates 20000 --shortages 5000 \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/scale --baselines
    python bench/match_scale.py --candidates 100000 --shortages 20000 --database …

The database is a throwaway bench database. Its generated rows (bench/generate.py, seed --seed) are
reused when the counts are right (after a change to the models or the generator, use --reset:
create_all adds no new columns and the counts say nothing of the contents); an empty database is filled first (in a child process, so the
peak memory printed is the run's); other contents stop the script unless --reset (drop every table,
create them from the models, fill). Matches, runs and queued emails of earlier runs are deleted
first, so every run starts from the same state.

The run is `services.matching.run_matching` (a full run), unchanged: its own steps are wrapped with
timers. read = the advisory lock plus loading live shortages, live candidates and earlier matches;
match = the engine's `match` call; store = the rest (Match rows, digests, commit). The engine's `match` is then
called once more on the same inputs ("match again"): the cost of the scheduler's next run in a
process that has run once, and a check that it proposes the same. Pairs are counted
in a second, untimed call of the engine with counters on its steps (--no-count skips it): the pairs
in the blocks the vectorised bounds looked at, the pairs they held (could pass), and the pairs
scored exactly (as far down each shortage's stream as the allocation went).

--baselines runs, on the very inputs the engine got, (a) the naive loop: `matching.evaluate` on
every candidate x shortage pair, and (b) one PostgreSQL query per shortage over a scratch table of
the candidates (bounding box on lat/lon, GIN index on an array of skill and skill-group tokens,
certificates, sector wish and availability in SQL), scored in Python with `evaluate`; both then
allocate greedily under the same caps. Each must give the engine's proposals exactly (same
candidates per shortage, same scores); the script says where they differ, and prints the ratios.
"""
from __future__ import annotations

import argparse
import inspect
import math
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCRATCH_TABLE = "bench_scale_candidates"


def rss_mib() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


# --------------------------------------------------------------------------- the data


def ensure_data(app, args) -> None:
    import sqlalchemy as sa

    from nlwerktdoor.extensions import db
    from nlwerktdoor.models import Shortage, StaffListing, WorkerProfile
    from nlwerktdoor.services.generator import GeneratedData

    expected = GeneratedData(args.candidates, args.shortages, seed=args.seed, listing_share=args.listing_share)
    with app.app_context():
        if args.reset:
            print("--reset: dropping every table", flush=True)
            db.drop_all()
        db.create_all()  # from the models: a throwaway bench database (production uses `db upgrade`)

        def counts(prefix: str | None):
            models = (WorkerProfile, StaffListing, Shortage)
            queries = [sa.select(sa.func.count()).select_from(model) for model in models]
            if prefix is not None:
                queries = [q.where(model.external_ref.like(f"{prefix}%")) for q, model in zip(queries, models)]
            return tuple(db.session.scalar(query) for query in queries)

        generated = counts(f"gen{args.seed}-")
        everything = counts(None)
        db.session.rollback()
    want = (expected.n_workers, expected.n_listings, expected.shortages)
    if generated == want:
        print(f"reusing the generated data: {want[0]} workers, {want[1]} listings, {want[2]} shortages", flush=True)
        return
    if any(everything):
        sys.exit(f"the database holds other postings (workers, listings, shortages = {everything}; generated with "
                 f"seed {args.seed}: {generated}, wanted {want}); use --reset or another database")
    command = [sys.executable, str(ROOT / "bench" / "generate.py"), "--candidates", str(args.candidates),
               "--shortages", str(args.shortages), "--seed", str(args.seed),
               "--listing-share", str(args.listing_share), "--database", args.database]
    print("generating:", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL if args.quiet_load else None)
    print(f"generated and loaded in {time.perf_counter() - started:.1f} s", flush=True)


def clear_results() -> None:
    """Earlier benchmark runs' matches, runs and digests: gone, so this run proposes the same pairs."""
    import sqlalchemy as sa

    from nlwerktdoor.extensions import db

    for table in ("matches", "outgoing_emails", "match_runs"):
        db.session.execute(sa.text(f"DELETE FROM {table}"))
    db.session.commit()


def time_instant_candidates(count: int, seed: int, keep_matches: bool = False, wide: bool = False) -> None:
    """Instant candidates (issue 4, item 5): `services.matching.match_shortage_now`, as posting or
    editing a shortage calls it, for `count` random open shortages of the database, each timed from
    the call to its commit; their matches are deleted afterwards (with `keep_matches`, only theirs:
    the database's earlier matches, say of a national run, stay as a live platform has them).

    `wide`: each is posted again as a copy that asks no certificate and offers training, the widest a
    shortage gets (most candidates pass its hard rules); the copies are deleted afterwards."""
    import random
    import statistics

    import sqlalchemy as sa

    from nlwerktdoor.extensions import db
    from nlwerktdoor.models import Match, Shortage
    from nlwerktdoor.services import matching as service

    ids = sorted(db.session.scalars(sa.select(Shortage.id).where(Shortage.status == "open")))
    last_earlier = db.session.scalar(sa.select(sa.func.max(Match.id))) or 0
    db.session.rollback()
    seconds, made = [], []
    chosen = random.Random(seed).sample(ids, min(count, len(ids)))
    copies = [wide_copy(shortage_id) for shortage_id in chosen] if wide else []
    try:
        for shortage_id in copies or chosen:
            started = time.perf_counter()
            made.append(service.match_shortage_now(shortage_id))
            seconds.append(time.perf_counter() - started)
    finally:
        db.session.rollback()
        if keep_matches:
            db.session.execute(sa.delete(Match).where(Match.id > last_earlier))
            db.session.commit()
        else:
            clear_results()
        if copies:
            db.session.execute(sa.delete(Shortage).where(Shortage.id.in_(copies)))
            db.session.commit()
    print(f"instant candidates:  median {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms "
          f"over {len(seconds)} shortages ({statistics.mean(made):.1f} candidates each on average)", flush=True)


def wide_copy(shortage_id: int) -> int:
    """A copy of a shortage that asks no certificate and offers training (committed); its id."""
    import sqlalchemy as sa

    from nlwerktdoor.extensions import db
    from nlwerktdoor.models import Shortage

    original = db.session.get(Shortage, shortage_id)
    fields = {column.key: getattr(original, column.key) for column in sa.inspect(Shortage).column_attrs
              if column.key not in ("id", "external_ref", "feed_item_id", "created_at", "updated_at")}
    copy = Shortage(**{**fields, "certificates": [], "training_offered": True})
    db.session.add(copy)
    db.session.commit()
    return copy.id


@contextmanager
def candidate_index_as(app, how: str):
    """Instant candidates with a candidate index written now ("build", timed, in a temporary directory
    removed afterwards), with none ("none"), or with whatever the database and CANDIDATE_INDEX_DIR hold."""
    import tempfile

    from nlwerktdoor.services import candidate_index

    if how == "as-is":
        yield
        return
    if how == "none":
        real = candidate_index.current
        candidate_index.current = lambda: None
        try:
            yield
        finally:
            candidate_index.current = real
        return
    with tempfile.TemporaryDirectory(prefix="candidate-index-") as directory:
        app.config["CANDIDATE_INDEX_DIR"] = directory
        started = time.perf_counter()
        build = candidate_index.build()
        size = sum(path.stat().st_size for path in Path(directory).rglob("*") if path.is_file())
        print(f"candidate index:     {build.workers} workers, {build.listings} listings in "
              f"{time.perf_counter() - started:.1f} s, {size / 2**20:.0f} MiB of files, RSS then {rss_mib():.0f} MiB",
              flush=True)
        try:
            yield
        finally:
            candidate_index.forget()


# --------------------------------------------------------------------------- the real run, in phases


class PhaseTimer:
    def __init__(self):
        self.seconds = defaultdict(float)

    def wrap(self, phase: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - started
        return timed


@contextmanager
def patched(module, **replacements):
    originals = {name: getattr(module, name) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(module, name, value)


def timed_run():
    """run_matching with its read and match steps timed; returns (run, timer, captured engine call)."""
    from nlwerktdoor.services import matching as service

    timer = PhaseTimer()
    captured = {}
    engine_match = timer.wrap("match", service.match)

    def capturing_match(candidates, shortages, index, settings, **kwargs):
        # A line as each phase starts: a long run shows where it is (and a killed one what it had done).
        print(f"  read {len(candidates)} candidates and {len(shortages)} shortages in {timer.seconds['read']:.2f} s "
              f"(RSS {rss_mib():.0f} MiB, peak {peak_rss_mib():.0f}); matching …", flush=True)
        captured.update(candidates=candidates, shortages=shortages, index=index, settings=settings, kwargs=kwargs)
        captured["proposals"] = result = engine_match(candidates, shortages, index, settings, **kwargs)
        print(f"  matched in {timer.seconds['match']:.2f} s (RSS {rss_mib():.0f} MiB, peak {peak_rss_mib():.0f}); "
              f"storing …", flush=True)
        return result

    from nlwerktdoor.services import notifications

    readers = ("_lock", "_last_completed_run", "_changes_since", "_live_shortages", "_live_candidates",
               "_earlier_matches")
    replacements = {name: timer.wrap("read", getattr(service, name)) for name in readers if hasattr(service, name)}
    # The store's two big parts, timed within it: the Match rows, and the digests (which load both
    # sides of every match and the recipients' accounts, and queue one email per recipient).
    if hasattr(service, "_insert_matches"):
        replacements["_insert_matches"] = timer.wrap("store matches", service._insert_matches)
    # A full run: every pair examined (the results of earlier runs are deleted anyway).
    options = {"full": True} if "full" in inspect.signature(service.run_matching).parameters else {}
    with patched(service, match=capturing_match, **replacements), \
            patched(notifications, queue_run_digests=timer.wrap("store digests", notifications.queue_run_digests)):
        started = time.perf_counter()
        run = service.run_matching(**options)
        total = time.perf_counter() - started
    timer.seconds["store"] = total - timer.seconds["read"] - timer.seconds["match"]
    timer.seconds["total"] = total
    return run, timer, captured


class _InputsDumped(Exception):
    pass


def dump_inputs(path: str) -> None:
    """Read as a full run does, pickle what the engine would get (no proposals) and stop: the exception
    that stops run_matching before the match rolls its transaction back, and it logs and records the run
    as failed (its traceback silenced here); the next benchmark run clears that record (clear_results)."""
    import logging
    import pickle

    from nlwerktdoor.services import matching as service

    def dumping_match(candidates, shortages, index, settings, **kwargs):
        with open(path, "wb") as f:
            pickle.dump({"candidates": candidates, "shortages": shortages, "settings": settings, "kwargs": kwargs,
                         "proposals": None}, f, protocol=pickle.HIGHEST_PROTOCOL)
        raise _InputsDumped

    options = {"full": True} if "full" in inspect.signature(service.run_matching).parameters else {}
    started = time.perf_counter()
    quiet = logging.getLogger(service.__name__)
    level, quiet.level = quiet.level, logging.CRITICAL  # the stop is meant: no traceback for it
    with patched(service, match=dumping_match):
        try:
            service.run_matching(**options)
        except _InputsDumped:
            pass
        finally:
            quiet.setLevel(level)
    print(f"engine inputs (read and written in {time.perf_counter() - started:.1f} s) written to {path}; "
          "no match, no store (--dump-only)")


def repeat_match(captured) -> tuple[float, bool]:
    """(seconds, same proposals) of the engine's `match` called again on the very inputs of the run:
    what the scheduler's next run costs in a process that has run once (memory and the skill
    index's memos warm). The run's own time above is the first, cold one."""
    from nlwerktdoor.services import matching as service

    started = time.perf_counter()
    again = service.match(captured["candidates"], captured["shortages"], captured["index"], captured["settings"],
                          **captured["kwargs"])
    return time.perf_counter() - started, again == captured["proposals"]


def count_engine_pairs(captured) -> tuple[int, int, int] | None:
    """(pairs the bounds hold, pairs scored exactly, pairs in the blocks the bounds looked at) by the
    engine on the same inputs, from a second, untimed `match` call with counters on its steps."""
    from nlwerktdoor.matching import allocate, bounds, exact

    if not hasattr(allocate, "pair_bounds"):
        return None
    counts = {"held": 0, "scored": 0, "blocks": 0}
    pair_bounds, allocate_streams, bound_block = allocate.pair_bounds, exact.allocate_streams, bounds._bound_block

    def counting_bounds(*args, **kwargs):
        result = pair_bounds(*args, **kwargs)
        counts["held"] += len(result)
        return result

    def counting_allocation(*args):
        result = allocate_streams(*args)
        counts["scored"] += result[-1]  # the pairs it scored exactly
        return result

    def counting_block(rows, cols, *args):
        counts["blocks"] += len(rows) * len(cols)
        return bound_block(rows, cols, *args)

    # In one thread: the counters are not made for threads.
    kwargs = {**captured["kwargs"], "workers": 1} if "workers" in captured["kwargs"] else captured["kwargs"]
    with patched(allocate, pair_bounds=counting_bounds), patched(exact, allocate_streams=counting_allocation), \
            patched(bounds, _bound_block=counting_block):
        allocate.match(captured["candidates"], captured["shortages"], captured["index"], captured["settings"],
                       **kwargs)
    return counts["held"], counts["scored"], counts["blocks"]


# --------------------------------------------------------------------------- baselines


def allocate_greedily(proposals, candidates, shortages, settings, shortage_load=None, candidate_load=None):
    """The engine's own allocation under the caps (DESIGN.md): greedy by rank over the whole run."""
    from nlwerktdoor.matching import allocate_under_caps

    return allocate_under_caps(proposals, candidates, shortages, settings, shortage_load, candidate_load)


def fresh_index():
    """A new skill index, so a baseline starts as cold as the engine did (the index memoises per profile)."""
    from nlwerktdoor.services import matching as service

    return service.skill_index_from_reference.__wrapped__()


def score_counter(score):
    """A stand-in for rules._score that counts its calls: the pairs that reach the skill score."""
    calls = [0]

    def counting_score(*args):
        calls[0] += 1
        return score(*args)

    return calls, counting_score


def naive_baseline(captured):
    """Every pair through matching.evaluate, then the same allocation."""
    from nlwerktdoor.matching import evaluate, rules

    candidates, shortages = captured["candidates"], captured["shortages"]
    settings, kwargs = captured["settings"], captured["kwargs"]
    index = fresh_index()
    exclude = kwargs.get("exclude", frozenset())
    scored, counting_score = score_counter(rules._score)

    started = time.perf_counter()
    passing = []
    with patched(rules, _score=counting_score):
        for shortage in shortages:
            for candidate in candidates:
                if (candidate.key, shortage.id) in exclude:
                    continue
                proposal = evaluate(candidate, shortage, index, settings)
                if proposal is not None:
                    passing.append(proposal)
    chosen = allocate_greedily(passing, candidates, shortages, settings,
                               kwargs.get("shortage_load"), kwargs.get("candidate_load"))
    seconds = time.perf_counter() - started
    return dict(seconds=seconds, examined=len(candidates) * len(shortages), scored=scored[0],
                passing=len(passing), chosen=chosen)


def skill_tokens(skill_ids) -> list[str]:
    """A skill's id and the ESCO groups through which the engine may relate it to another skill:
    level-2 and level-3 skill groups and knowledge fields for every skill ("g:"), the level-1 group only
    between transversal skills ("t:"). Two skills share a token whenever one can cover the other (a
    necessary condition, which the GIN index can test); the exact credit is left to `evaluate`."""
    from nlwerktdoor import reference

    skills = reference.skills()
    tokens = set()
    for skill_id in skill_ids:
        tokens.add(skill_id)
        skill = skills.get(skill_id)
        if skill is None:
            continue
        code = skill.group_code or ""
        if code[:1] in ("S", "T"):
            parts = code.split(".")
            prefix = parts[0]
            for part in parts[1:]:
                if part in ("", "0"):
                    break
                prefix = f"{prefix}.{part}"
                tokens.add("g:" + prefix)
            if skill.is_transversal:
                tokens.add("t:" + parts[0])
        elif code.isdigit():
            tokens.add("g:" + code)
    return sorted(tokens)


def build_scratch_table(captured) -> float:
    """The candidates as the SQL baseline sees them, with its indexes; returns the seconds it took."""
    from nlwerktdoor.extensions import db

    started = time.perf_counter()
    connection = db.session.connection().connection
    cursor = connection.cursor()
    cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")
    cursor.execute(f"""CREATE TABLE {SCRATCH_TABLE} (
        key text PRIMARY KEY, lat double precision, lon double precision, max_distance_km double precision,
        skills text[], tokens text[], certificates text[], desired_sectors text[], available_from date,
        capacity integer, skill_level integer)""")
    with cursor.copy(f"COPY {SCRATCH_TABLE} FROM STDIN") as copy:
        for c in captured["candidates"]:
            copy.write_row((c.key, c.lat, c.lon, c.max_distance_km, sorted(c.skills), skill_tokens(c.skills),
                            sorted(c.certificates), sorted(c.desired_sectors), c.available_from, c.capacity,
                            c.skill_level))
    cursor.execute(f"CREATE INDEX ON {SCRATCH_TABLE} USING gin (tokens)")
    cursor.execute(f"CREATE INDEX ON {SCRATCH_TABLE} (lat, lon)")
    cursor.execute(f"ANALYZE {SCRATCH_TABLE}")
    db.session.commit()
    return time.perf_counter() - started


def sql_baseline(captured):
    """One query per shortage over the scratch table, `evaluate` on the rows it returns, then the same allocation."""
    from nlwerktdoor.extensions import db
    from nlwerktdoor.matching import rules

    shortages, settings, kwargs = captured["shortages"], captured["settings"], captured["kwargs"]
    index = fresh_index()
    scored, counting_score = score_counter(rules._score)
    exclude = kwargs.get("exclude", frozenset())
    # With a zero threshold every pair passes rule 5, so the skill tokens may not filter.
    skills_decide = min(settings.min_coverage, settings.min_coverage_with_training) > 0
    cursor = db.session.connection().connection.cursor()
    started = time.perf_counter()
    with patched(rules, _score=counting_score):
        passing, examined, rows_read = _query_per_shortage(cursor, shortages, index, settings, exclude, skills_decide)
    chosen = allocate_greedily(passing, captured["candidates"], shortages, settings,
                               kwargs.get("shortage_load"), kwargs.get("candidate_load"))
    seconds = time.perf_counter() - started
    db.session.rollback()
    return dict(seconds=seconds, examined=examined, scored=scored[0], rows=rows_read, passing=len(passing),
                chosen=chosen)


def _query_per_shortage(cursor, shortages, index, settings, exclude, skills_decide):
    from nlwerktdoor.matching import CandidateIn, evaluate

    km_per_degree = math.pi * 6371.0088 / 180.0
    passing, examined, rows_read = [], 0, 0
    for s in shortages:
        # The smaller of the two radii decides, so the shortage's radius bounds the box.
        dlat = s.max_distance_km / km_per_degree + 1e-6
        widest = math.cos(math.radians(min(90.0, abs(s.lat) + dlat)))
        dlon = s.max_distance_km / (km_per_degree * max(widest, 1e-6)) + 1e-6
        conditions = ["lat BETWEEN %s AND %s", "lon BETWEEN %s AND %s", "available_from <= %s",
                      "certificates @> %s", "(cardinality(desired_sectors) = 0 OR %s = ANY(desired_sectors))"]
        params = [s.lat - dlat, s.lat + dlat, s.lon - dlon, s.lon + dlon,
                  s.start_date + timedelta(days=settings.availability_grace_days), sorted(s.certificates), s.sector]
        if s.required_skills and skills_decide:
            conditions.append("tokens && %s")
            params.append(skill_tokens(s.required_skills))
        cursor.execute(
            f"SELECT key, lat, lon, max_distance_km, skills, certificates, desired_sectors, available_from, capacity, "
            f"skill_level FROM {SCRATCH_TABLE} WHERE {' AND '.join(conditions)}", params)
        for key, lat, lon, radius, skills, certificates, desired, available_from, capacity, level in cursor:
            rows_read += 1
            if (key, s.id) in exclude:
                continue
            candidate = CandidateIn(key=key, lat=lat, lon=lon, max_distance_km=radius, skills=frozenset(skills),
                                    certificates=frozenset(certificates), desired_sectors=frozenset(desired),
                                    available_from=available_from, capacity=capacity, skill_level=level)
            examined += 1
            proposal = evaluate(candidate, s, index, settings)
            if proposal is not None:
                passing.append(proposal)
    return passing, examined, rows_read


def compare(engine_proposals, baseline_proposals) -> str:
    """'identical', or how the top-k per shortage differs."""
    def per_shortage(proposals):
        grouped = defaultdict(list)
        for p in proposals:
            grouped[p.shortage_id].append((p.candidate_key, p.score))
        return {sid: sorted(items) for sid, items in grouped.items()}

    ours, theirs = per_shortage(engine_proposals), per_shortage(baseline_proposals)
    differing = sorted(sid for sid in set(ours) | set(theirs) if ours.get(sid) != theirs.get(sid))
    if not differing:
        return f"identical top-k ({len(engine_proposals)} proposals, {len(ours)} shortages)"
    example = differing[0]
    return (f"DIFFERENT top-k on {len(differing)} of {len(set(ours) | set(theirs))} shortages; e.g. shortage {example}: "
            f"engine {ours.get(example)} vs baseline {theirs.get(example)}")


# --------------------------------------------------------------------------- main


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, required=True, help="workers plus staff listings")
    parser.add_argument("--shortages", type=int, required=True)
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL"),
                        help="SQLAlchemy URL of a throwaway bench database (default $DATABASE_URL)")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--listing-share", type=float, default=0.2)
    parser.add_argument("--baselines", action="store_true", help="also the naive loop and the SQL query per shortage")
    parser.add_argument("--no-naive", action="store_true", help="with --baselines: skip the naive loop (slow)")
    parser.add_argument("--no-count", action="store_true", help="skip the second, counting engine call")
    parser.add_argument("--no-again", action="store_true", help="skip calling the engine again (national size)")
    parser.add_argument("--reset", action="store_true", help="drop every table of the database first")
    parser.add_argument("--quiet-load", action="store_true", help="no progress lines while loading")
    parser.add_argument("--instant", type=int, default=0, metavar="N",
                        help="first time instant candidates (match_shortage_now) for N random shortages")
    parser.add_argument("--no-run", action="store_true", help="stop after --instant (no matching run)")
    parser.add_argument("--index", choices=("build", "none", "as-is"), default="build",
                        help="with --instant: write the candidate index first (build: as the scheduler does, "
                             "timed; its files in a temporary directory), read without one (none: every row "
                             "near the shortage), or use what the database and CANDIDATE_INDEX_DIR hold (as-is)")
    parser.add_argument("--wide", action="store_true",
                        help="with --instant: post each chosen shortage again as a copy that asks no certificate "
                             "and offers training (most candidates pass), and time those; the copies are deleted")
    parser.add_argument("--keep-matches", action="store_true",
                        help="with --instant --no-run: keep the database's matches (say, of a national run) "
                             "instead of deleting them first, as a live platform has them")
    parser.add_argument("--dump", metavar="FILE", help="also pickle the engine's inputs and proposals to FILE "
                        "(to work on the engine without a database: bench/engine_replay.py)")
    parser.add_argument("--dump-only", action="store_true",
                        help="with --dump: read the run's input, pickle it and stop (no match, no store: a "
                             "national run's inputs in a minute instead of half an hour); the dump has no proposals")
    args = parser.parse_args(argv)
    if args.keep_matches and not (args.instant and args.no_run):
        parser.error("--keep-matches goes with --instant N --no-run (a run starts from no matches)")
    if not args.database:
        parser.error("--database (or DATABASE_URL) is required")
    if args.dump_only and not args.dump:
        parser.error("--dump-only goes with --dump FILE")

    from nlwerktdoor import create_app

    app = create_app("development", SQLALCHEMY_DATABASE_URI=args.database, SECRET_KEY="bench", SCHEDULER_ENABLED=False)
    ensure_data(app, args)

    from nlwerktdoor import reference
    from nlwerktdoor.extensions import db
    from nlwerktdoor.services import matching as service

    with app.app_context():
        if not args.keep_matches:
            clear_results()
        started = time.perf_counter()
        reference.places(), reference.occupations(), service.skill_index_from_reference()
        # As the scheduler does when it starts (jobs.run_scheduler) and a deploy (`flask match warm`).
        from nlwerktdoor.matching import warm_up

        warm_up()
        warm = time.perf_counter() - started
        if args.instant:
            with candidate_index_as(app, args.index):
                time_instant_candidates(args.instant, args.seed, keep_matches=args.keep_matches, wide=args.wide)
        if args.no_run:
            return
        if args.dump_only:
            dump_inputs(args.dump)
            return
        rss_before = rss_mib()

        run, timer, captured = timed_run()
        peak = peak_rss_mib()
        t = timer.seconds
        print()
        print(f"database: {db.engine.dialect.name}; seed {args.seed}")
        print(f"reference data, ESCO index, compiled engine (once per process, before the run): {warm:.2f} s")
        print(f"candidates: {run.candidates}, shortages: {run.shortages}")
        print(f"time to read input:  {t['read']:8.2f} s")
        print(f"time to match:       {t['match']:8.2f} s")
        print(f"time to store:       {t['store']:8.2f} s   ({run.new_matches} matches, {run.emails} digests queued; "
              f"matches {t['store matches']:.1f} s, digests {t['store digests']:.1f} s, the rest and the commit "
              f"{t['store'] - t['store matches'] - t['store digests']:.1f} s)")
        print(f"total run:           {t['total']:8.2f} s")
        print(f"peak RSS:            {peak:8.0f} MiB  (before the run {rss_before:.0f} MiB)")
        helpers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if helpers:
            print(f"peak RSS of a child:  {helpers:7.0f} MiB  (the generator, if it ran in this invocation)")
        print(f"matches made:        {run.new_matches:8d}")

        if args.dump:
            import pickle

            with open(args.dump, "wb") as f:
                pickle.dump({k: captured[k] for k in ("candidates", "shortages", "settings", "kwargs", "proposals")}, f)
            print(f"engine inputs and proposals written to {args.dump}")

        if args.no_again:
            print("time to match again: not measured (--no-again)")
        else:
            seconds, same = repeat_match(captured)
            print(f"time to match again: {seconds:8.2f} s   (same inputs, warm process, as the scheduler's next run; "
                  f"{'same proposals' if same else 'PROPOSALS DIFFER'})")
        engine_counts = None if args.no_count else count_engine_pairs(captured)
        if engine_counts is None:
            print("pairs considered:    not counted" + ("" if args.no_count else " (the engine has no per-pair functions)"))
        else:
            held, scored, blocks = engine_counts
            print(f"pairs considered:    {scored:8d} scored exactly, of {held} that the bounds held "
                  f"(of {blocks} in the blocks they looked at)")
        sys.stdout.flush()

        if not args.baselines:
            return
        if captured["kwargs"].get("changes") is not None:
            sys.exit("the run was incremental; the baselines compare full runs only")
        engine_proposals = captured["proposals"]
        if hasattr(captured["candidates"], "candidates"):  # the run reads them as the engine's CandidateTable
            captured["candidates"] = captured["candidates"].candidates()  # the baselines take CandidateIn
        results = {}
        if not args.no_naive:
            print("\nbaseline (a), naive loop over all pairs …", flush=True)
            results["naive"] = naive_baseline(captured)
        if db.engine.dialect.name == "postgresql":
            print("baseline (b), one PostgreSQL query per shortage …", flush=True)
            setup = build_scratch_table(captured)
            print(f"  scratch table {SCRATCH_TABLE} with GIN and (lat, lon) indexes built in {setup:.1f} s")
            results["sql"] = sql_baseline(captured)
        else:
            print("baseline (b) needs PostgreSQL: skipped")
        print()
        for name, result in results.items():
            print(f"baseline {name}: {result['seconds']:.2f} s; pairs {result['scored']} scored "
                  f"({result['examined']} examined), {result['passing']} passing, {len(result['chosen'])} proposals; "
                  f"{compare(engine_proposals, result['chosen'])}")
        if "naive" in results:
            print(f"ratio naive / engine match time:          {results['naive']['seconds'] / t['match']:8.1f}x")
        if "sql" in results:
            print(f"ratio SQL per shortage / engine match time: {results['sql']['seconds'] / t['match']:6.1f}x")
            print(f"ratio SQL per shortage / engine read+match: {results['sql']['seconds'] / (t['read'] + t['match']):6.1f}x")


if __name__ == "__main__":
    main()
