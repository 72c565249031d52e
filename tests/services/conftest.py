"""Fixtures of the engine's service tests (the kit itself is tests/services/engine_fixtures.py)."""

from tests.services.engine_fixtures import engine_app  # noqa: F401 (a fixture)
