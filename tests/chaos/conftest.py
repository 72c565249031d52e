"""The chaos run needs PostgreSQL and a redis-server binary of its own; under CI their absence fails the run."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, _unavailable


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: the fault-injection run of the whole pipeline (bench/chaos)")


@pytest.fixture(scope="session")
def chaos_services() -> str:
    """The PostgreSQL admin URL, once PostgreSQL answers and redis-server can be started here."""
    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as exc:
        _unavailable("PostgreSQL", str(exc).splitlines()[0])
    if shutil.which("redis-server") is None:
        _unavailable("redis-server", "not on PATH (the chaos run restarts a Redis of its own)")
    if shutil.which("gunicorn") is None and not _importable("gunicorn"):
        _unavailable("gunicorn", "not installed")
    return PG_ADMIN_URL


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
