"""The production web server as deployed: gunicorn with gunicorn.conf.py serving wsgi:app."""
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import free_port

ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture
def web_server(tmp_path):
    """gunicorn with the deployment's settings (one process, through WEB_CONCURRENCY), the production
    configuration on a scratch SQLite file, no access log."""
    port = free_port()
    env = {**os.environ, "NLWERKTDOOR_CONFIG": "production", "SECRET_KEY": "test-web-server",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite'}", "WEB_CONCURRENCY": "1",
           "ACCESS_LOG": "", "SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS": "0"}
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start: {(tmp_path / 'gunicorn.log').read_text()[-2000:]}")
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_the_deployment_settings_serve_the_site(web_server):
    connection = http.client.HTTPConnection("127.0.0.1", web_server, timeout=10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert response.status == 200 and b'"ok"' in response.read()
    assert response.getheader("X-Content-Type-Options") == "nosniff"  # the app's own headers, as deployed
    connection.close()
