"""The relay's entry points: the RQ job, the request for one after a commit that wrote outbox events, and
(without REDIS_URL) the run in-process right after that commit.

A commit that wrote outbox events asks for a relay run: with Redis, a flag (SET NX) and one job on the
`sync` queue, set by a kicker thread so the committing request does not wait for Redis; in-process, the
relay runs at once in its own app context (its own session). A kick lost to a Redis outage or a dead
process is redone by the minute sweeper, which also brings retries that came due.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.jobs import Jobs, _Kicker, current_jobs, job_context, jobs_for
from app.models import OutboxEvent
from app.services.events import OUTBOX_WRITTEN as _FLAG
from app.services.relay import relay, work_waiting

log = logging.getLogger(__name__)

_local = threading.local()
_listening = False
_kickers: dict[int, _Kicker] = {}
_kickers_lock = threading.Lock()


def relay_flag(jobs: Jobs) -> str:
    return f"regulars:{jobs.prefix}relay-requested"


def relay_events() -> dict[str, int]:
    """RQ job: fan the outbox out and deliver what is due, until nothing is (bounded)."""
    with job_context():
        jobs = current_jobs()
        if not jobs.in_process:
            try:
                jobs.redis.delete(relay_flag(jobs))
            except Exception as exc:  # still relay; the sweeper covers what a flag would have
                log.warning("could not clear the relay flag: %s", exc)
        return relay().as_dict()


def _kick(jobs: Jobs) -> bool:
    try:
        if jobs.redis.set(relay_flag(jobs), "1", nx=True, ex=600):
            return jobs.enqueue("sync", relay_events, job_id=None)
        return True
    except Exception as exc:
        log.warning("Redis unavailable, events left for the sweeper: %s", exc)
        return False


def request_relay(app: Flask | None = None) -> None:
    """After a commit that wrote outbox events: make sure a relay run follows."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    jobs = jobs_for(app)
    if jobs.in_process:
        run_in_process(app)
        return
    kicker = _kickers.get(id(jobs))
    if kicker is None or not kicker.alive():
        with _kickers_lock:
            kicker = _kickers.get(id(jobs))
            if kicker is None or not kicker.alive():
                kicker = _kickers[id(jobs)] = _Kicker(lambda: _kick(jobs))
    kicker.wake()


def run_in_process(app: Flask) -> None:
    """The relay now, in a fresh app context (so a session of its own), never re-entered by its own commits."""
    if getattr(_local, "running", False):
        return
    _local.running = True
    try:
        with app.app_context():
            try:
                relay()
            except Exception:  # the events stay in the outbox; the next commit or the sweeper retries
                log.exception("in-process relay failed")
    finally:
        _local.running = False


def _after_flush(session: Session, _ctx: Any) -> None:
    if not session.info.get(_FLAG) and any(isinstance(o, OutboxEvent) for o in session.new):
        session.info[_FLAG] = True


def _after_commit(session: Session) -> None:
    # SQLAlchemy calls this for a savepoint's release too: wait for the outer commit.
    if session.in_nested_transaction() or not session.info.pop(_FLAG, False) or not has_app_context():
        return
    try:
        request_relay()
    except Exception:
        log.exception("could not request a relay run")


def _after_rollback(session: Session, previous: Any) -> None:
    # A savepoint rolled back (a retried unique code, say) leaves the outer transaction's events in place.
    if getattr(previous, "parent", None) is None and not getattr(previous, "nested", False):
        session.info.pop(_FLAG, None)


def sweep() -> int:
    """Every minute: events a lost kick left behind, and retries that came due."""
    if not work_waiting():
        return 0
    run = relay()
    return run.delivered + run.dead


def init_app(app: Flask) -> None:
    """Listens for commits that wrote outbox events (every session; registered once per process)."""
    global _listening
    if not _listening:
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
        _listening = True
