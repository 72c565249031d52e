"""RQ entry points for webhook deliveries: the drain (many deliveries per job) and the sweeper."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.jobs import current_jobs, job_context
from app.jobs.events import sweep as relay_sweep
from app.jobs.stats import record_outcomes
from app.services import writeback
from app.services.deliveries import drain, pending_count
from app.services.topics import dispatch

log = logging.getLogger(__name__)


def drain_webhooks(slot: int = 0, limit: int | None = None) -> int:
    """Processes stored deliveries until none is due. Several drains may run at once (SKIP LOCKED)."""
    with job_context() as app:
        jobs = current_jobs()
        if not jobs.in_process:
            try:
                jobs.redis.delete(jobs.drain_flag(slot))
            except Exception as exc:  # still drain; the sweeper covers what a flag would have
                log.warning("could not clear drain flag: %s", exc)
        return drain(dispatch, app.config["REGULARS"].delivery_max_attempts, limit=limit,
                     on_batch=lambda result: record_outcomes(jobs, result.outcomes))


def sweep() -> dict[str, int]:
    """Every minute: re-kick drains for stored-but-unprocessed deliveries (Redis was down, a worker died,
    a retry came due) and hand pending outbox events to their consumers."""
    with job_context():
        jobs = current_jobs()
        pending = pending_count(due_only=True)
        kicked = 0
        if pending:
            for slot in range(jobs.drain_slots):
                if not jobs.in_process:
                    try:
                        jobs.redis.delete(jobs.drain_flag(slot))
                    except Exception:
                        return {"pending": pending, "kicked": 0}
                kicked += int(jobs.request_drain(slot))
        extra = _sweep_hooks()
        return {"pending": pending, "kicked": kicked, **extra}


# The minute sweep's other parts, by name (the names are keys of the sweep's result): the write-back of
# flagged members, and the relay of outbox events a lost kick left behind.
SWEEP_HOOKS: dict[str, Callable[[], int]] = {
    "writeback": writeback.sweep,
    "relay": relay_sweep,
}


def _sweep_hooks() -> dict[str, int]:
    """Each part on its own: one failing does not stop the others."""
    out: dict[str, int] = {}
    for name, hook in SWEEP_HOOKS.items():
        try:
            out[name] = int(hook() or 0)
        except Exception:
            log.exception("sweep hook %s failed", name)
    return out
