"""Mail throughput: how many digests per second the outbox sender delivers into a local SMTP server.

    .venv/bin/python bench/mail_throughput.py [--emails 2000] [--matches 3] [--database URL] [--rate 0]

Queues N realistic match digests (each with a few matches, skills and a password link) in a
fresh database — a SQLite file in a temporary folder unless --database is given (a PostgreSQL
URL: its tables are created and emptied, so use a scratch database) — then runs the real sender
(`outbox.send_pending`: claims, one SMTP connection per batch, one commit per message) into an
aiosmtpd server in its own process, and prints emails/s. A benchmark, not a test: it asserts
nothing. Target (issue 5): at least 200 emails/s.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_server(port: int, ready, counter) -> None:
    """An aiosmtpd server that accepts everything and counts (its own process: no shared GIL)."""
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def digest_data(n: int, matches: int) -> dict:
    """Data shaped like notifications.queue_run_digests builds it, with real ESCO ids."""
    from nlwerktdoor import reference

    occupations = [o for o in reference.occupations().values() if len(o.essential_skills) >= 4][:50]
    items = []
    for m in range(matches):
        occupation = occupations[(n + m) % len(occupations)]
        skills = list(occupation.essential_skills)
        items.append({
            "match_id": n * 10 + m,
            "side": "candidate" if m % 2 else "growing",
            "url": f"https://werk.example.nl/matches/{n * 10 + m}",
            "score": 0.8,
            "distance_km": 4.2,
            "shortage": {"id": m, "title": f"Zorghulp {m}", "organisation": "Zorggroep Amstel",
                         "occupation": occupation.id, "pc4": "1011", "start_date": "01-12-2026",
                         "hours_per_week": 32, "positions": 2, "training_offered": True, "open_hiring": False},
            "candidate": {"type": "worker", "occupation": occupation.id, "skills": skills[:6],
                          "region": "Groot Amsterdam", "available_from": "24-11-2026", "hours_per_week": 32,
                          "certificates": []},
            "matched": skills[:3], "related": [], "missing": skills[3:4], "nice_matched": [],
            "training_offered": True,
        })
    return {
        "recipient_name": f"Persoon {n}",
        "run_id": 1,
        "matches": items,
        "set_password_url": f"https://werk.example.nl/account/wachtwoord/token{n}" if n % 3 == 0 else None,
        "login_url": "https://werk.example.nl/account/inloggen",
    }


def make_app(url: str, port: int, args):
    from nlwerktdoor import create_app

    return create_app(
        "development", SQLALCHEMY_DATABASE_URI=url, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USERNAME=None, MAIL_RATE_PER_SECOND=args.rate,
        MAIL_CONNECTIONS=args.connections, SERVER_NAME="werk.example.nl",
        **({"MAIL_BATCH_SIZE": args.batch_size} if args.batch_size else {}),
    )


def sender_process(url: str, port: int, args, start, results) -> None:
    """One more sender process (as a second scheduler machine would be): its own app and connections."""
    from nlwerktdoor.services import outbox

    app = make_app(url, port, args)
    with app.app_context():
        start.wait()
        report = outbox.send_pending()
        results.put((report.sent, report.failed, report.batches))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--matches", type=int, default=3, help="matches per digest")
    parser.add_argument("--database", help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--rate", type=float, default=0, help="MAIL_RATE_PER_SECOND (0 = no limit)")
    parser.add_argument("--connections", type=int, default=1, help="MAIL_CONNECTIONS")
    parser.add_argument("--processes", type=int, default=1, help="sender processes working side by side")
    parser.add_argument("--batch-size", type=int, default=None, help="MAIL_BATCH_SIZE")
    args = parser.parse_args()

    port = free_port()
    ready = multiprocessing.Event()
    counter = multiprocessing.Value("i", 0)
    server = multiprocessing.Process(target=smtp_server, args=(port, ready, counter), daemon=True)
    server.start()
    ready.wait(10)

    from nlwerktdoor.extensions import db
    from nlwerktdoor.services import outbox

    with tempfile.TemporaryDirectory() as folder:
        url = args.database or "sqlite:///" + os.path.join(folder, "bench.sqlite")
        app = make_app(url, port, args)
        with app.app_context():
            db.drop_all()
            db.create_all()
            started = time.perf_counter()
            for n in range(args.emails):
                outbox.queue_email(f"persoon{n}@example.org", "nl" if n % 4 else "en", "digest",
                                   digest_data(n, args.matches), f"bench:{n}")
            db.session.commit()
            queued = time.perf_counter() - started
            db.engine.dispose()  # no connections shared with the forked senders

            start, results = multiprocessing.Event(), multiprocessing.Queue()
            others = [multiprocessing.Process(target=sender_process, args=(url, port, args, start, results))
                      for _ in range(args.processes - 1)]
            for process in others:
                process.start()
            time.sleep(1.5 if others else 0)  # let them start up before the clock runs
            start.set()
            started, cpu = time.perf_counter(), time.process_time()
            report = outbox.send_pending()
            for process in others:
                process.join()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            mine = report.sent
            while not results.empty():
                sent, failed, batches = results.get()
                report.sent += sent
                report.failed += failed
                report.batches += batches
            received = counter.value
            report.waiting = outbox.send_pending().waiting
            if args.database:
                db.drop_all()
    server.terminate()

    dialect = url.split(":", 1)[0]
    print(f"database: {dialect}, digests: {args.emails} ({args.matches} matches each), "
          f"rate limit: {args.rate or 'none'}, processes: {args.processes}, connections each: {args.connections}, "
          f"batches: {report.batches}")
    print(f"queued in {queued:.2f} s; sent {report.sent}, failed {report.failed}, waiting {report.waiting}; "
          f"server received {received}")
    print(f"CPU of the first sender: {cpu / max(mine, 1) * 1000:.2f} ms per email it sent")
    print(f"send time: {elapsed:.2f} s -> {report.sent / elapsed:.0f} emails/s")


if __name__ == "__main__":
    main()
