"""The job layer's side of app.services.work: each task a service may ask for, and the job that does it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from app.jobs import Jobs, jobs_for
from app.jobs.analytics import queue_rebuild
from app.jobs.schedule import evaluate_shop_tiers, sync_writeback
from app.services import work

# task → (queue, job); "drain" and "drain-now" are the drain protocol's own (Jobs.request_drains/request_drain).
QUEUED: dict[str, tuple[str, Callable[..., Any]]] = {
    "writeback": ("sync", sync_writeback),
    "evaluate-shop-tiers": ("bulk", evaluate_shop_tiers),
}


class JobDispatcher:
    """app.services.work's Dispatcher over one app's Jobs (RQ, or in-process without Redis)."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    def request(self, task: str, ids: tuple[int, ...], job_id: str | None) -> bool:
        if task == "drain":
            return self.jobs.request_drains(list(ids))
        if task == "drain-now":
            return self.jobs.request_drain(ids[0] if ids else 0)
        if task == "analytics-rebuild":  # at most one queued per shop, however many dashboards ask
            return queue_rebuild(self.jobs, ids[0])
        queue, job = QUEUED[task]  # a task services know and this table lacks is a bug: KeyError, loudly
        return self.jobs.enqueue(queue, job, *ids, job_id=job_id)


def init_app(app: Flask) -> None:
    work.register(app, JobDispatcher(jobs_for(app)))
