"""Load test (issue 5, "Load"): gunicorn + PostgreSQL under locust users who browse, search the public
list by postcode, log in and post. Prints p50/p95/p99 latency, requests per second and errors per
endpoint. A benchmark, run on demand; nothing here is asserted in the test suite.

Needs the `bench` extra (`pip install -e '.[bench]'`: gunicorn and locust). See bench/README.md.

    python bench/load.py fill  --database postgresql+psycopg://postgres@127.0.0.1:5432/bench --shortages 300000
    python bench/load.py serve --database …                        # gunicorn on 127.0.0.1:8000 (blocks)
    python bench/load.py run   --users 200 --seconds 60 [--database …] [--with-matching]   # --database: earlier runs' posts removed first
    python bench/load.py all   --database … --shortages 300000 --users 200 --seconds 60   # fill + serve + run
    python bench/load.py capacity --users 50 --seconds 30       # searches only, wrk, after 60 s of warm-up
    python bench/load.py capacity --users 50 --seconds 30 --pause-ms 40 60   # each user pauses between searches
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO_PASSWORD = "nlwerktdoor-demo"
DEMO_EMPLOYER = "hr@demo-groei.nlwerktdoor.nl"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LOAD_TEST_TITLE = "Zorghulp (load test)"  # the shortages the employers post; `run --database` removes them first


# --- filling the database --------------------------------------------------------------------------


def fill(database_url: str, shortages: int, seed: int = 2020) -> None:
    """Schema, the demo data, then generated open shortages up to `shortages` in all
    (nlwerktdoor/services/generator.py: COPY on PostgreSQL)."""
    from nlwerktdoor import create_app
    from nlwerktdoor.extensions import db
    from nlwerktdoor.models import Shortage
    from nlwerktdoor.services import demo, generator

    app = create_app("development", SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="bench")
    with app.app_context():
        db.create_all()  # from the models (the benchmark database is throwaway; production uses `db upgrade`)
        print(demo.seed_demo(random_seed=seed, only_if_empty=True).summary(), flush=True)
        have = db.session.scalar(db.select(db.func.count(Shortage.id)))
        missing = max(0, shortages - have)
        print(f"shortages: {have} present, generating {missing}", flush=True)
        if not missing:
            return
        # Another seed for every fill, so a second fill adds other rows instead of the first fill's again.
        report = generator.load_database(generator.GeneratedData(candidates=0, shortages=missing, seed=seed + have))
        print(f"generated {report.shortages} shortages ({report.organisations} new organisations) "
              f"in {report.seconds:.1f} s", flush=True)


def serve(database_url: str, workers: int | None, threads: int | None = None, worker_class: str | None = None,
          port: int = 8000) -> subprocess.Popen:
    """gunicorn with the deployment's settings (gunicorn.conf.py), without the access log; `workers`,
    `threads`, `worker_class` (e.g. sync) override them."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING",
           "SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS": "0", "ACCESS_LOG": ""}
    overrides = [*(["--workers", str(workers)] if workers else []), *(["--threads", str(threads)] if threads else []),
                 *(["--worker-class", worker_class] if worker_class else [])]
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), *overrides,
         "--bind", f"127.0.0.1:{port}", "--pythonpath", f"{ROOT},{ROOT / 'bench'}", "--log-level", "warning",
         "--backlog", "2048", "served_app:create_bench_app()"],
        cwd=ROOT, env=env,
    )


# --- the users -------------------------------------------------------------------------------------

try:
    from locust import FastHttpUser, between, task
except ImportError:  # `fill` and `serve` work without locust
    FastHttpUser = object

    def task(weight=1):
        return lambda f: f if callable(weight) else f

    def between(a, b):
        return None


PC4S: list[str] = []
MAX_SHORTAGE_ID = [1]


class Visitor(FastHttpUser):
    """Browses and searches the public list of shortages (most of the traffic)."""

    wait_time = between(0.5, 1.5)
    weight = 8

    @task(3)
    def search_by_postcode(self):
        pc4 = random.choice(PC4S) if PC4S else "3511"
        self.client.get(f"/tekorten/?postcode={pc4}&radius=25", name="search /tekorten/?postcode")

    @task(2)
    def public_list(self):
        self.client.get(f"/tekorten/?pagina={random.randint(1, 20)}", name="list /tekorten/")

    @task(1)
    def home(self):
        self.client.get("/", name="home /")

    @task(2)
    def shortage_detail(self):
        with self.client.get(f"/tekorten/vacature/{random.randint(1, MAX_SHORTAGE_ID[0])}",
                             name="detail /tekorten/vacature/<id>", catch_response=True) as response:
            if response.status_code == 404:  # closed or unverified: a correct answer
                response.success()


class Employer(FastHttpUser):
    """Logs in as the demo care group and posts a shortage now and then."""

    wait_time = between(1, 3)
    weight = 2

    def on_start(self):
        page = self.client.get("/account/inloggen", name="login form")
        token = CSRF.search(page.text or "")
        self.client.post("/account/inloggen", name="login POST",
                         data={"email": DEMO_EMPLOYER, "password": DEMO_PASSWORD, "csrf_token": token.group(1) if token else ""})

    @task(3)
    def own_list(self):
        self.client.get("/tekorten/mijn", name="own list /tekorten/mijn")

    @task(1)
    def post_shortage(self):
        page = self.client.get("/tekorten/nieuw", name="new form /tekorten/nieuw")
        token = CSRF.search(page.text or "")
        self.client.post("/tekorten/nieuw", name="post /tekorten/nieuw", data={
            "csrf_token": token.group(1) if token else "", "title": LOAD_TEST_TITLE, "occupation": "zorghulp",
            "positions": "2", "postcode": random.choice(PC4S) if PC4S else "3511", "max_distance_km": "25",
            "start_date": (date.today() + timedelta(days=30)).isoformat(), "hours_per_week": "24",
            "contact_email": "werving@bench.example",
        })


# --- running and reporting -------------------------------------------------------------------------


def run(host: str, users: int, seconds: int, spawn_rate: float, matching_database: str | None,
        warmup: float = 5.0, database: str | None = None) -> None:
    import gevent
    from locust.env import Environment
    from nlwerktdoor import reference

    if database:
        _forget_load_test_posts(database)
    PC4S[:] = list(reference.places())
    MAX_SHORTAGE_ID[0] = int(os.environ.get("BENCH_MAX_SHORTAGE_ID", "300000"))
    env = Environment(user_classes=[Visitor, Employer], host=host)
    runner = env.create_local_runner()
    matcher = _MatchingLoop(matching_database) if matching_database else None
    runner.start(users, spawn_rate=spawn_rate)
    # The ramp-up (every employer logs in as it starts: argon2 on purpose costs ~0.5 s of CPU each)
    # is reported on its own; the figures below are the steady state after it, as locust's
    # --reset-stats does.
    while runner.user_count < users:
        gevent.sleep(0.1)
    gevent.sleep(warmup)
    ramp = env.stats.total
    logins = env.stats.get("login POST", "POST")
    print(f"ramp-up (not counted below): {ramp.num_requests} requests, {ramp.num_failures} failures; "
          f"login POST p50 {logins.get_response_time_percentile(0.5):.0f} ms, "
          f"p95 {logins.get_response_time_percentile(0.95):.0f} ms", flush=True)
    env.stats.reset_all()
    if matcher:
        matcher.start()
    gevent.spawn_later(seconds, runner.quit)
    started = time.perf_counter()
    runner.greenlet.join()
    elapsed = time.perf_counter() - started
    if matcher:
        matcher.stop()
    report(env.stats, elapsed, users, matcher)


def _forget_load_test_posts(database_url: str) -> None:
    """Delete the shortages earlier runs posted (and, by cascade, their matches): every run posts
    about a hundred for the demo care group, whose own list then grows from run to run, and runs
    an hour apart would not measure the same pages."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        gone = connection.execute(sa.text("DELETE FROM shortages WHERE title = :title"), {"title": LOAD_TEST_TITLE})
    engine.dispose()
    print(f"removed {gone.rowcount} shortages posted by earlier load tests", flush=True)


class _MatchingLoop:
    """`nlwerktdoor match run` over and over while the load runs ("p95 while a matching run is going")."""

    def __init__(self, database_url: str):
        self.database_url, self.halt, self.runs = database_url, threading.Event(), []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.halt.set()
        self.thread.join(600)

    def _loop(self):
        env = {**os.environ, "DATABASE_URL": self.database_url, "SECRET_KEY": "bench", "NLWERKTDOOR_CONFIG": "production"}
        while not self.halt.is_set():
            started = time.perf_counter()
            # A full run every time (the most work a run can be), at the CPU priority the scheduler
            # gives its matching runs (jobs.py, MATCH_IDLE_PRIORITY: Linux SCHED_IDLE).
            done = subprocess.run(["chrt", "--idle", "0", sys.executable, "-m", "flask", "--app", "nlwerktdoor", "match",
                                   "run", "--full"], cwd=ROOT,
                                  env=env, capture_output=True, text=True)
            self.runs.append((time.perf_counter() - started, done.returncode, done.stdout.strip()[-200:]))


def capacity(host: str, connections: int, seconds: int, threads: int = 2, warmup: int = 60,
             pause_ms: tuple[int, int] | None = None) -> None:
    """Search capacity: wrk (Debian's package) keeps `connections` users searching, each a search by a
    random PC4 of the whole country and a random radius, and reports requests/s and latency (p50, p90,
    p95, p99).

    `warmup` seconds of the same load come first and are not counted: a server that has been up a
    while keeps the pages of the last PUBLIC_PAGE_SECONDS, and a run that starts from an empty cache
    measures the filling of it instead (at 30 s, a third fewer hits). Give it at least
    PUBLIC_PAGE_SECONDS (default 60): with less, no page rendered during the warm-up expires during
    the run, and the run measures more hits than a server ever keeps up. `pause_ms` (low, high): each
    user waits that many ms (uniformly) between its searches, as a person would; without it the next
    search follows the answer at once (the most the server can do, but then by Little's law the
    latency is the number of users divided by the throughput, whatever the server)."""
    import shutil
    import tempfile

    from nlwerktdoor import reference

    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    areas = ",".join(f'"{pc4}"' for pc4 in reference.places())
    pause = (f"delay = function()\n  return math.random({pause_ms[0]}, {pause_ms[1]})\nend\n" if pause_ms else "")
    script = (
        f"local areas = {{{areas}}}\n"
        'local radii = {"10", "25", "50"}\n'
        "math.randomseed(os.time())\n"
        "request = function()\n"
        '  return wrk.format("GET", "/tekorten/?postcode=" .. areas[math.random(#areas)] .. "&radius=" .. radii[math.random(#radii)])\n'
        "end\n"
        f"{pause}"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("searches/s %.1f; latency ms p50 %.1f, p90 %.1f, p95 %.1f, p99 %.1f, max %.1f; '
        'errors: %d connect, %d read, %d status, %d timeout\\n",\n'
        "    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000,\n"
        "    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000, summary.errors.connect,\n"
        "    summary.errors.read, summary.errors.status, summary.errors.timeout))\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = ["wrk", f"-t{threads}", f"-c{connections}", "-s", lua.name, host]
        if warmup > 0:
            warm = subprocess.run(command[:1] + [f"-d{warmup}s"] + command[1:], check=True, capture_output=True, text=True)
            print(f"warm-up ({warmup} s, not counted): {warm.stdout.strip().splitlines()[-1]}", flush=True)
        before = _cache_lookups()
        measured = subprocess.run(command[:1] + [f"-d{seconds}s"] + command[1:], check=True, capture_output=True,
                                  text=True)
        after = _cache_lookups()
    print(f"{connections} users, {seconds} s" + (f", {pause_ms[0]}-{pause_ms[1]} ms between searches" if pause_ms else
                                                ", no pause") + f": {measured.stdout.strip().splitlines()[-1]}")
    if before and after:
        hits, misses = after[0] - before[0], after[1] - before[1]
        print(f"page cache (Redis lookups during the run, whole server): {hits} hits, {misses} misses, "
              f"{100 * hits / max(hits + misses, 1):.0f}% hits")


def _cache_lookups() -> tuple[int, int] | None:
    """Redis's own count of lookups that found a key and that did not (the served app's page cache is
    what the searches look up), or None without Redis."""
    try:
        import redis

        stats = redis.Redis.from_url(os.environ.get("CACHE_REDIS_URL", "redis://127.0.0.1:6379/1")).info("stats")
    except Exception:  # noqa: BLE001 — the figure is extra; the benchmark runs without it
        return None
    return int(stats["keyspace_hits"]), int(stats["keyspace_misses"])


def report(stats, elapsed: float, users: int, matcher=None) -> None:
    rows = sorted(stats.entries.values(), key=lambda e: (-e.num_requests, e.name))
    print(f"\n{users} users, {elapsed:.0f} s")
    header = f"{'endpoint':<36} {'method':<6} {'reqs':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7} {'5xx':>5}"
    print(header)
    print("-" * len(header))
    server_errors = {}
    for error in stats.errors.values():
        if re.search(r"\b5\d\d\b", str(error.error)):
            server_errors[(error.name, error.method)] = server_errors.get((error.name, error.method), 0) + error.occurrences
    for entry in rows + [stats.total]:
        print(f"{entry.name[:36]:<36} {entry.method or '':<6} {entry.num_requests:>7} {entry.num_requests / elapsed:>7.1f} "
              f"{entry.get_response_time_percentile(0.5):>7.0f} {entry.get_response_time_percentile(0.95):>7.0f} "
              f"{entry.get_response_time_percentile(0.99):>7.0f} {entry.num_failures:>7} "
              f"{server_errors.get((entry.name, entry.method), sum(server_errors.values()) if entry is stats.total else 0):>5}")
    for error in stats.errors.values():
        print(f"  error {error.method} {error.name}: {error.error} x{error.occurrences}")
    if matcher is not None:
        print(f"matching runs during the load: {len(matcher.runs)}: "
              + "; ".join(f"{t:.1f} s rc={rc} {out}" for t, rc, out in matcher.runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["fill", "serve", "run", "all", "capacity"])
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--shortages", type=int, default=300_000)
    parser.add_argument("--workers", type=int, help="serve: gunicorn processes (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, help="serve: threads per process (default: gunicorn.conf.py's)")
    parser.add_argument("--worker-class", help="serve: e.g. gthread, to compare (default: gunicorn.conf.py's, sync)")
    parser.add_argument("--host", default="http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--spawn-rate", type=float, default=50)
    parser.add_argument("--with-matching", action="store_true", help="run `match run` in a loop during the load")
    parser.add_argument("--warmup", type=int, default=60, help="capacity: seconds of load first, not counted; at least the server's PUBLIC_PAGE_SECONDS (default 60)")
    parser.add_argument("--pause-ms", type=int, nargs=2, metavar=("LOW", "HIGH"),
                        help="capacity: each user waits LOW-HIGH ms between searches (default: no pause)")
    args = parser.parse_args()
    if args.command in ("fill", "all"):
        fill(args.database, args.shortages)
    if args.command == "serve":
        serve(args.database, args.workers, args.threads, args.worker_class).wait()
    if args.command == "capacity":
        capacity(args.host, args.users, args.seconds, warmup=args.warmup,
                 pause_ms=tuple(args.pause_ms) if args.pause_ms else None)
    if args.command == "run":
        run(args.host, args.users, args.seconds, args.spawn_rate, args.database if args.with_matching else None,
            database=args.database)
    if args.command == "all":
        server = serve(args.database, args.workers, args.threads, args.worker_class)
        try:
            time.sleep(4)
            run(args.host, args.users, args.seconds, args.spawn_rate, args.database if args.with_matching else None,
                database=args.database)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


if __name__ == "__main__":
    main()
