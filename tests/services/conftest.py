"""Fixtures of the engine's service tests (the kit itself is tests/services/engine_fixtures.py)."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import sqlite_app_at
from tests.services.engine_fixtures import engine_app  # noqa: F401 (a fixture)


@pytest.fixture
def sqlite_app(tmp_path: Any) -> Iterator[Any]:
    """A migrated SQLite app of its own, for the tests that prove SQL equals a rule on both databases."""
    with sqlite_app_at(tmp_path / "rules.db", env="development") as app, app.app_context():
        yield app
