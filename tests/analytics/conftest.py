"""Fixtures for the analytics tests: an installed shop in an app on the migrated PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.admin.support import install_shop


@pytest.fixture
def shop(pg_app: Any) -> Iterator[Any]:
    with pg_app.app_context():
        yield install_shop()
