"""Work that falls due later (pending points released, a referral's waiting period over): a service records
what is due when with `at`, in its transaction; once that transaction commits, the scheduler the job layer
registered at app start (app.jobs.due) is handed each item, and a rollback forgets them. Services thus
never import the job layer, and nothing is scheduled for work that was never committed.

Scheduling is for timeliness only: the work itself stays findable in the data (an order's pending points
and release time, a pending referral), and the schedule's sweeps do it if a scheduled run is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

# (task, ids, due) → scheduled. Tasks: "release-order" (order row id), "settle-referral" (referral id).
Scheduler = Callable[[str, tuple[int, ...], datetime], Any]
TASKS = ("release-order", "settle-referral")

_INFO_KEY = "regulars.due"
_scheduler: Scheduler | None = None
_listening = False


def register(scheduler: Scheduler) -> None:
    """The job layer's scheduler (one per process; the last registered wins)."""
    global _scheduler, _listening
    _scheduler = scheduler
    if not _listening:
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        _listening = True


def at(task: str, *ids: int, due_at: datetime) -> None:
    """Records that `task` for `ids` is due at `due_at`; handed to the scheduler after this transaction commits."""
    if task not in TASKS:
        raise ValueError(f"unknown due task {task!r}")
    db.session.info.setdefault(_INFO_KEY, []).append((task, tuple(int(i) for i in ids), due_at))


def _after_commit(session: Session) -> None:
    items = session.info.pop(_INFO_KEY, None)
    if not items or _scheduler is None:
        return
    for task, ids, due_at in dict.fromkeys(items):
        try:
            _scheduler(task, ids, due_at)
        except Exception:  # the sweep does it a little later
            log.exception("could not schedule %s %s for %s", task, ids, due_at)


def _after_rollback(session: Session) -> None:
    session.info.pop(_INFO_KEY, None)
