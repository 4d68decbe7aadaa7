"""gunicorn's settings for the web process: read by the systemd unit, the Procfile and the load test
(`gunicorn -c gunicorn.conf.py wsgi:app`). Flags on the command line and GUNICORN_CMD_ARGS win.

Single-threaded processes (`sync`), two per core, behind nginx (docs/deploy.md), which buffers slow
clients and keeps their connections alive. Threads (`gthread`, with keep-alive to gunicorn) served
more searches when only searches came (bench/load.py capacity: 594-895/s against 406-486/s), but
with the mixed load of bench/load.py run the search's p95 went 20 ms -> 37 ms (4 x 2 threads) and
120 ms (2 x 4): the threads of a process share one interpreter lock, so a heavy request (a shortage
posted, matched at once) holds up every other request of its process. bench/README.md, "Load test".
"""
import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use, not the host's
    except AttributeError:
        return os.cpu_count() or 1


bind = os.environ.get("BIND", "127.0.0.1:8000")
# The app waits on PostgreSQL and Redis for part of each request: two processes per core keep the cores busy.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _cores())
worker_class = "sync"
# SIGTERM or a reload (SIGHUP): requests in progress get this long to finish.
graceful_timeout = 30
accesslog = os.environ.get("ACCESS_LOG", "-") or None
# X-Forwarded-* trusted only from the proxy in front (nginx on the same machine by default).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
