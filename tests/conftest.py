"""Shared fixtures: a migrated PostgreSQL database per test session, Redis, the app, live servers.

Under CI (CI=true) a missing PostgreSQL or Redis fails the run; elsewhere those tests are skipped and
the summary says so.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from app import create_app
from app.config import Config
from app.extensions import db

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# What scripts/test exports: the app processes the tests start (rq workers, rq cron, scripts) inherit it, since
# unset means production rules. A test of the production rules passes its own environment.
os.environ.setdefault("REGULARS_ENV", "development")
TEST_SECRET = "test-api-secret"
TEST_KEY = "test-api-key"


def _unavailable(what: str, why: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required under CI and is not reachable: {why}")
    pytest.skip(f"{what} not reachable here ({why})")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database migrated by Alembic (not create_all), dropped at the end."""
    name = f"regulars_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # OperationalError and friends
        _unavailable("PostgreSQL", str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    app = create_app(make_config(database_url=url))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        db.engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        from redis import Redis

        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        _unavailable("Redis", str(exc))
    return REDIS_URL


def make_config(**overrides: Any) -> Config:
    # Development rules (REGULARS_ENV=development): the tests point Shopify at stand-ins over http.
    base = dict(
        env="development",
        api_key=TEST_KEY,
        api_secret=TEST_SECRET,
        app_url="http://127.0.0.1:8000",
        database_url="sqlite:///:memory:",
        redis_url=None,
        shopify_api_origin=None,
        # No schedule thread behind a test's back (it would outlive the test's app and write into the next
        # test's tables); the tests of the in-process schedule turn it on.
        in_process_schedule=False,
    )
    base.update(overrides)
    return Config(**base)  # type: ignore[arg-type]


def truncate_all(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    eng.dispose()


@contextmanager
def sqlite_app_at(path: Any, **overrides: Any) -> Iterator[Any]:
    """The app on a fresh SQLite file migrated to head (as `flask db upgrade` leaves the demo's), disposed of after."""
    app = create_app(make_config(database_url=f"sqlite:///{path}", **overrides))
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def pg_app(pg_url: str) -> Iterator[Any]:
    """The app on the migrated PostgreSQL database, jobs in-process; every table emptied afterwards."""
    app = create_app(make_config(database_url=pg_url))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


@pytest.fixture
def client(pg_app: Any) -> Any:
    return pg_app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _not_ready(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not ready"]


class LiveServer:
    """A threaded WSGI server on loopback. Without a port it binds port 0 at once and keeps that socket, so
    the port is known before the app is built (its APP_URL) and no other process can take it meanwhile
    (free_port() then bind leaves a window in which the stand-in or another test run gets the same port)."""

    def __init__(self, wsgi_app: Any = None, port: int | None = None) -> None:
        self.server = make_server("127.0.0.1", port or 0, wsgi_app or _not_ready, threaded=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def serve(self, wsgi_app: Any) -> LiveServer:
        self.server.app = wsgi_app
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def devstore_env(pg_url: str) -> Iterator[dict[str, Any]]:
    """The stand-in Shopify and the app, each on its own port, wired as in production but for the origin."""
    from devstore import DevStore, serve_in_thread

    live_server = LiveServer()
    app_url = live_server.url
    store = DevStore(api_key=TEST_KEY, api_secret=TEST_SECRET, app_url=app_url)
    server, thread, store_url = serve_in_thread(store, "127.0.0.1", 0)
    app = create_app(make_config(database_url=pg_url, shopify_api_origin=store_url, app_url=app_url))
    with live_server.serve(app) as live:
        yield {"app": app, "store": store, "store_url": store_url, "app_url": live.url}
    server.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)
