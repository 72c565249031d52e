"""The analytics rollup's rebuild on the bulk queue: the job, and how app.jobs.work queues one when
app.services.analytics asks ("analytics-rebuild": one queued rebuild per shop at a time)."""

from __future__ import annotations

import threading
from contextlib import suppress

from app.jobs import Jobs, current_jobs, job_context
from app.jobs.inprocess import LOCK_WAIT
from app.services import analytics

# In-process rebuilds running now, by (jobs, shop): the dashboard asks with three requests at once, and the ones
# that did not start the rebuild wait for it instead of reading rollups that are not built yet.
_guard = threading.Lock()
_building: dict[tuple[int, int], threading.Event] = {}


def rebuild_shop(shop_id: int) -> int:
    """RQ entry point (bulk queue): rebuilds one shop's rollups in the worker's app context."""
    with job_context():
        try:
            return analytics.refresh_shop(shop_id)
        finally:
            jobs = current_jobs()
            if not jobs.in_process:
                # The next request for a rebuild may queue one again (the flag expires within the hour anyway).
                with suppress(Exception):
                    jobs.redis.delete(_rebuild_flag(jobs.prefix, shop_id))


def queue_rebuild(jobs: Jobs, shop_id: int) -> bool:
    """Queues one rebuild on the bulk queue (in-process when the app runs without Redis, as every job does).
    False when one is already queued or Redis is down (the daily rebuild will come)."""
    if jobs.in_process:
        return _rebuild_in_process(jobs, shop_id)
    try:  # one queued rebuild per shop at a time, however many dashboards ask
        if not jobs.redis.set(_rebuild_flag(jobs.prefix, shop_id), "1", nx=True, ex=3600):
            return False
    except Exception:
        return False
    return jobs.enqueue("bulk", rebuild_shop, shop_id, job_id=f"analytics-rebuild-{shop_id}")


def _rebuild_in_process(jobs: Jobs, shop_id: int) -> bool:
    """Without Redis the rebuild runs in the asking request's thread (unless another job holds the runner): a
    request asking while it runs waits for it (at most LOCK_WAIT), then reads what it built. False for those."""
    key = (id(jobs), shop_id)
    with _guard:
        running = _building.get(key)
        if running is None:
            running = _building[key] = threading.Event()
            starter = True
        else:
            starter = False
    if not starter:
        running.wait(LOCK_WAIT)
        return False
    try:
        return jobs.enqueue("bulk", rebuild_shop, shop_id, job_id=f"analytics-rebuild-{shop_id}")
    finally:
        with _guard:
            _building.pop(key, None)
        running.set()


def _rebuild_flag(prefix: str, shop_id: int) -> str:
    return f"regulars:{prefix}analytics-rebuild:{shop_id}"
