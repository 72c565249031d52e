"""Fixtures for the admin: an installed shop in an app on the migrated PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.admin.support import install_shop
from tests.services.engine_fixtures import engine_app  # noqa: F401 (a fixture: orders through the real webhooks)


@pytest.fixture
def shop(pg_app: Any) -> Iterator[Any]:
    with pg_app.app_context():
        yield install_shop()
