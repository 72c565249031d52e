"""The port through which services ask for background work; the job layer implements it (app.jobs.work).

A service names the work (`request("writeback")`) and the job layer, registered per app at start, decides
how it runs (RQ or in-process). Services thus never import the job layer. Call after the commit whose
changes the work reads: the work itself always stays findable in the data, and the schedule's sweeps do
it if a request is lost (Redis down, no dispatcher registered).
"""

from __future__ import annotations

import logging
from typing import Protocol

from flask import Flask, current_app

log = logging.getLogger(__name__)

# Work a service may ask for: "writeback" (members' metafields and tags), "evaluate-shop-tiers" (shop id),
# "drain" (new stored webhook deliveries, by id: one batched kick for many), "drain-now" (one delivery,
# the drain flag set before this returns) and "analytics-rebuild" (shop id: one queued per shop at a time).
TASKS = ("writeback", "evaluate-shop-tiers", "drain", "drain-now", "analytics-rebuild")

_EXT = "regulars.work"


class Dispatcher(Protocol):
    def request(self, task: str, ids: tuple[int, ...], job_id: str | None) -> bool:
        """Runs `task` for `ids` in the background; False when it could not be queued."""


def register(app: Flask, dispatcher: Dispatcher) -> None:
    app.extensions[_EXT] = dispatcher


def dispatcher() -> Dispatcher | None:
    """The current app's dispatcher, for a caller that asks from another thread (the group commit's leader)."""
    found: Dispatcher | None = current_app.extensions.get(_EXT)
    return found


def request(task: str, *ids: int, job_id: str | None = None) -> bool:
    """Asks for `task` to run in the background; False when nobody could take it (the sweeps do it later)."""
    if task not in TASKS:
        raise ValueError(f"unknown background task {task!r}")
    found = dispatcher()
    if found is None:
        log.warning("no job layer registered: %s left for the schedule's sweep", task)
        return False
    return found.request(task, tuple(int(i) for i in ids), job_id)


def request_writeback() -> None:
    """Asks for the metafield/tag write-back after a committed change; never fails the caller."""
    try:
        request("writeback")
    except Exception:  # the minute sweeper picks it up anyway
        log.exception("could not request the write-back")
