"""Hooks the sweeper calls every minute; subsystems add theirs at import (e.g. the write-back outbox)."""

from __future__ import annotations

from collections.abc import Callable

SWEEP_HOOKS: dict[str, Callable[[], int | None]] = {}


def sweep_hook(name: str) -> Callable[[Callable[[], int | None]], Callable[[], int | None]]:
    def register(fn: Callable[[], int | None]) -> Callable[[], int | None]:
        SWEEP_HOOKS[name] = fn
        return fn

    return register
