"""Figures kept in Redis for GET /metrics: the drain's outcome counters and the depth of each RQ queue.

The drain counts what it did (processed, skipped, retried, given up) once per batch, after the batch's
commit, with one round trip: the figures a count over webhook_deliveries would have to read the whole
table for. Like any Prometheus counter they start again from zero when Redis loses its data; `rate()`
reads through that. Without Redis (jobs in-process) there is nowhere to keep them and none are reported.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rq import Queue

from app.jobs import QUEUES, Jobs

log = logging.getLogger(__name__)

# Outcomes of a delivery's processing, as BatchResult.outcomes names them.
OUTCOMES = ("processed", "skipped", "retry", "failed")


def _key(jobs: Jobs, outcome: str) -> str:
    return f"regulars:{jobs.prefix}stats:deliveries:{outcome}"


def record_outcomes(jobs: Jobs, outcomes: Mapping[str, int]) -> None:
    """Adds a batch's outcomes to the counters; a Redis failure costs the figures, never the batch."""
    if jobs.in_process or not any(outcomes.values()):
        return
    try:
        pipe = jobs.redis.pipeline(transaction=False)
        for outcome, n in outcomes.items():
            if n:
                pipe.incrby(_key(jobs, outcome), n)
        pipe.execute()
    except Exception as exc:
        log.warning("could not count the batch's outcomes in Redis: %s", exc)


def delivery_outcomes(jobs: Jobs) -> dict[str, int]:
    """The counters, by outcome (0 for one never counted). Raises when Redis does not answer."""
    values = jobs.redis.mget([_key(jobs, o) for o in OUTCOMES])
    return {o: int(v or 0) for o, v in zip(OUTCOMES, values, strict=True)}


def queue_figures(jobs: Jobs) -> dict[str, dict[str, int]]:
    """Per RQ queue: jobs waiting, started (running now), failed (kept in RQ's failed registry), and
    scheduled (waiting for their time); one round trip. Raises when Redis does not answer."""
    pipe: Any = jobs.redis.pipeline(transaction=False)
    names = [jobs.queue_name(q) for q in QUEUES]
    for name in names:
        queue = Queue(name, connection=jobs.redis)
        pipe.llen(queue.key)
        pipe.zcard(queue.started_job_registry.key)
        pipe.zcard(queue.failed_job_registry.key)
        pipe.zcard(queue.scheduled_job_registry.key)
    values = pipe.execute()
    out: dict[str, dict[str, int]] = {}
    for i, name in enumerate(names):
        waiting, started, failed, scheduled = (int(v or 0) for v in values[4 * i: 4 * i + 4])
        out[name] = {"waiting": waiting, "started": started, "failed": failed, "scheduled": scheduled}
    return out
