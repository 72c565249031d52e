"""Fixtures of the engine's service tests (the kit itself is tests/services/engine_fixtures.py)."""

from collections.abc import Iterator
from typing import Any

import pytest
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from tests.conftest import make_config
from tests.services.engine_fixtures import engine_app  # noqa: F401 (a fixture)


@pytest.fixture
def sqlite_app(tmp_path: Any) -> Iterator[Any]:
    """A migrated SQLite app of its own, for the tests that prove SQL equals a rule on both databases."""
    app = create_app(make_config(env="development", database_url=f"sqlite:///{tmp_path}/rules.db"))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()
