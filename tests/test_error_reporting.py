"""Sentry is on only when SENTRY_DSN is set: a web request's unhandled exception and a job's logged error
reach the DSN's server (here a local one reading Sentry's envelopes); without it sentry_sdk is never loaded.

Each case runs in a process of its own: sentry_sdk.init patches Flask and logging for the whole process."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class _Envelopes(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Envelopes

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        self.server.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sentry_server() -> Iterator[_Envelopes]:
    server = _Envelopes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(timeout=5)


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REGULARS_", "SHOPIFY_", "SENTRY_"))}
    base.update({"REGULARS_ENV": "development", "DATABASE_URL": "sqlite:///:memory:", **env})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=60)


def test_an_unhandled_exception_of_a_request_is_sent_to_sentry(sentry_server):
    dsn = f"http://publickey@127.0.0.1:{sentry_server.server_address[1]}/42"
    done = _run(
        "from app import create_app\n"
        "from app.error_reporting import flush\n"
        "app = create_app()\n"
        "@app.get('/boom')\n"
        "def boom():\n"
        "    raise RuntimeError('boom-for-sentry')\n"
        "assert app.test_client().get('/boom').status_code == 500\n"
        "flush()\n",
        SENTRY_DSN=dsn)
    assert done.returncode == 0, done.stderr[-3000:]
    bodies = [body for path, body in sentry_server.received if path.startswith("/api/42/envelope")]
    assert any(b"boom-for-sentry" in body and b"RuntimeError" in body for body in bodies), sentry_server.received


def test_an_error_logged_in_a_job_reaches_sentry_although_the_work_horse_leaves_with_os_exit(sentry_server):
    dsn = f"http://publickey@127.0.0.1:{sentry_server.server_address[1]}/42"
    done = _run(
        "import logging, os\n"
        "from app.jobs import job_context\n"
        "with job_context():\n"
        "    try:\n"
        "        raise ValueError('delivery-handler-broke')\n"
        "    except ValueError:\n"
        "        logging.getLogger('app.services.deliveries').exception('delivery 7 (orders/paid) failed')\n"
        "os._exit(0)  # as RQ's work horse does: no atexit, no Sentry shutdown\n",
        SENTRY_DSN=dsn)
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(b"delivery-handler-broke" in body for _, body in sentry_server.received), sentry_server.received


def test_without_sentry_dsn_sentry_sdk_is_never_imported():
    done = _run(
        "import sys\n"
        "from app import create_app\n"
        "app = create_app()\n"
        "app.test_client().get('/healthz')\n"
        "print('sentry_sdk' in sys.modules)\n")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("dsn", ["not a url", "https://sentry.example.com/42", "https://key@sentry.example.com/",
                                 "ftp://key@sentry.example.com/42"])
def test_a_malformed_sentry_dsn_stops_the_app_at_start_up(dsn):
    from app.config import Config, ConfigError

    with pytest.raises(ConfigError, match="SENTRY_DSN"):
        Config.from_env({"REGULARS_ENV": "development", "SENTRY_DSN": dsn})
    assert Config.from_env({"REGULARS_ENV": "development", "SENTRY_DSN": "https://k3y@o1.ingest.sentry.io/42"}).sentry_dsn is not None


def test_an_exception_leaving_a_job_reaches_sentry_before_rq_takes_it(sentry_server):
    dsn = f"http://publickey@127.0.0.1:{sentry_server.server_address[1]}/42"
    done = _run(
        "import os\n"
        "from app.jobs import job_context\n"
        "try:\n"
        "    with job_context():\n"
        "        raise LookupError('job-blew-up')\n"
        "except LookupError:\n"
        "    os._exit(0)  # RQ records the failure, then its work horse leaves with os._exit\n"
        "os._exit(3)\n",
        SENTRY_DSN=dsn)
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(b"job-blew-up" in body and b"LookupError" in body for _, body in sentry_server.received), \
        sentry_server.received
