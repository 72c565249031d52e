"""Work due at a precise moment (app.services.due records it): handed to RQ's scheduler with Redis, to the
in-process runner's timers without. Entry points take ids, open the app context, call one service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask

from app.jobs import current_jobs, job_context
from app.services import due as due_work
from app.services.pending import release_order_now
from app.services.referrals import settle_now


def release_order_points(order_ref_id: int) -> int:
    """One order's pending points, released at their moment."""
    with job_context():
        return release_order_now(order_ref_id)


def settle_referral(referral_id: int) -> str:
    """One referral whose waiting period is over: the advocate rewarded (or the referral withdrawn)."""
    with job_context():
        return settle_now(referral_id)


TASKS: dict[str, Callable[..., Any]] = {
    "release-order": release_order_points,
    "settle-referral": settle_referral,
}


def schedule(task: str, ids: tuple[int, ...], due_at: datetime) -> None:
    """The scheduler app.services.due hands committed work to (see there)."""
    job_id = f"due-{task}-{'-'.join(str(i) for i in ids)}-{int(due_at.timestamp())}"
    current_jobs().enqueue_at("webhooks", due_at, TASKS[task], *ids, job_id=job_id)


def init_app(app: Flask) -> None:
    due_work.register(schedule)
