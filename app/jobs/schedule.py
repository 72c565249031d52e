"""RQ entry points of the schedule (app/jobs/cron_config.py registers them with `rq cron`).

Each takes plain arguments, opens the app context, calls one service and returns a small dict that
RQ keeps as the job's result. Services are imported by name at the top, so a misspelt one fails at start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask

from app.extensions import db
from app.jobs import job_context, jobs_for
from app.jobs.automations import AUTOMATIONS_INTERVAL, RELAY_INTERVAL, relay_now, run_automations
from app.jobs.inprocess import Periodic
from app.jobs.webhooks import sweep
from app.models import Shop
from app.services import (
    analytics,
    birthdays,
    expiry,
    pending,
    reconcile,
    redemption,
    referrals,
    tiers,
    writeback,
)

log = logging.getLogger(__name__)


def release_pending_points() -> dict[str, int]:
    """Pending order points whose period is over become available (every few minutes)."""
    with job_context():
        return pending.release_due()


def evaluate_tiers() -> dict[str, int]:
    """Daily: upgrades due, downgrades after the grace days, for every shop with tiers."""
    with job_context():
        return tiers.evaluate_all()


def evaluate_shop_tiers(shop_id: int) -> dict[str, int]:
    """One shop's evaluation, e.g. right after its ladder was edited."""
    with job_context():
        shop = db.session.get(Shop, shop_id)
        if shop is None or not shop.active:
            return {}
        return tiers.evaluate_shop(shop)


def award_birthdays() -> dict[str, int]:
    """Daily: birthday and anniversary points of the day."""
    with job_context():
        return birthdays.award_due()


def run_expiry() -> dict[str, int]:
    """Daily: reminders before inactivity expiry, then the expiry itself."""
    with job_context():
        return expiry.run_due()


def reconcile_orders() -> dict[str, int]:
    """Nightly: orders changed in Shopify since the last run, through the order path (missed webhooks heal)."""
    with job_context():
        return reconcile.reconcile_all()


def process_referrals() -> Any:
    """Referrals whose friend's order passed the pending period: advocate rewarded (rewards engineer's service)."""
    with job_context():
        return referrals.process_due()


def expire_reward_codes() -> Any:
    """Unused reward codes past their end: expired, points back when the shop says so."""
    with job_context():
        return redemption.expire_codes()


def sync_writeback() -> Any:
    """Metafields and tier tags of members whose points or tier changed, within Shopify's rate limits."""
    with job_context():
        return writeback.sync_due()


def refresh_analytics() -> Any:
    """Daily heal of the dashboard's rollups (the order path keeps them current between runs)."""
    with job_context():
        return analytics.refresh_all()


# name → job, for `flask --app app regulars run <name>` and the cron config.
JOBS: dict[str, Callable[[], Any]] = {
    "release-pending": release_pending_points,
    "evaluate-tiers": evaluate_tiers,
    "birthdays": award_birthdays,
    "expiry": run_expiry,
    "reconcile": reconcile_orders,
    "referrals": process_referrals,
    "expire-codes": expire_reward_codes,
    "writeback": sync_writeback,
    "analytics": refresh_analytics,
    "automations": run_automations,
    "relay": relay_now,
}


# --- the schedule ----------------------------------------------------------------------------------------
# One table for both ways of running it: `rq cron` (app/jobs/cron_config.py) with Redis, the in-process
# runner without. Times are UTC. Every job is idempotent, so a run more (at start-up, after a clock jump)
# changes nothing that a run at its time would not have. Work with a precise due time (pending points, a
# referral's waiting period) is also scheduled for that moment (app.services.due); these are the safety net.

MINUTE, HOUR = 60, 3600


@dataclass(frozen=True)
class Entry:
    name: str
    func: Callable[[], Any]
    queue: str  # webhooks | sync | bulk
    every: int | None = None  # seconds
    cron: str | None = None  # "M * * * *" (hourly) or "M H * * *" (daily), UTC
    timeout: int = HOUR
    at_start: bool = True  # in-process: run once when the app starts serving (catches up a stopped process)


def schedule_entries() -> list[Entry]:
    return [
        # Every minute: drains for stored deliveries nobody is draining, and the outbox consumers.
        Entry("sweep", sweep, "webhooks", every=MINUTE, timeout=300),
        # Within a minute of a change: metafields and tier tags written back, coalesced per customer.
        Entry("writeback", sync_writeback, "sync", every=MINUTE, timeout=600),
        # Behind the timers set for the exact moment: pending points and advocate rewards.
        Entry("release_pending", release_pending_points, "bulk", every=5 * MINUTE),
        Entry("referrals", process_referrals, "bulk", every=5 * MINUTE),
        Entry("expire_codes", expire_reward_codes, "bulk", cron="15 * * * *"),
        # Hourly, so that what falls due on a date happens on that date whatever the hour: birthdays on the
        # day, expiry reminders on theirs, and points expiring within the hour of their moment.
        Entry("birthdays", award_birthdays, "bulk", cron="10 * * * *", timeout=2 * HOUR),
        Entry("expiry", run_expiry, "bulk", cron="5 * * * *", timeout=4 * HOUR),
        # Daily, in the quiet hours, one after the other so they do not fight for the same rows.
        Entry("reconcile", reconcile_orders, "bulk", cron="30 2 * * *", timeout=4 * HOUR, at_start=False),
        Entry("analytics", refresh_analytics, "bulk", cron="0 3 * * *", timeout=2 * HOUR, at_start=False),
        # Downgrades after the grace days are decided here (upgrades happen at once, on the order).
        Entry("tiers", evaluate_tiers, "bulk", cron="0 4 * * *", timeout=4 * HOUR),
        # Automations every 15 minutes; the relay every minute (commits kick it at once, this brings retries).
        Entry("automations", run_automations, "bulk", every=AUTOMATIONS_INTERVAL),
        Entry("relay", relay_now, "sync", every=RELAY_INTERVAL, timeout=600),
    ]


def _cron_slot(cron: str) -> tuple[int | None, int]:
    """(hour or None for every hour, minute) of the two cron forms the schedule uses."""
    minute, hour, *rest = cron.split()
    if rest != ["*", "*", "*"]:
        raise ValueError(f"unsupported cron expression {cron!r}")
    return (None if hour == "*" else int(hour)), int(minute)


def periodic_jobs() -> list[Periodic]:
    """The schedule for the in-process runner."""
    out = []
    for e in schedule_entries():
        if e.every is not None:
            out.append(Periodic(e.name, e.func, every=timedelta(seconds=e.every), run_at_start=e.at_start))
        else:
            assert e.cron is not None
            hour, minute = _cron_slot(e.cron)
            out.append(Periodic(e.name, e.func, hour=hour, minute=minute, run_at_start=e.at_start))
    return out


def init_app(app: Flask) -> None:
    """Without Redis the app runs the schedule itself (app.jobs.inprocess); with Redis, `rq cron` does."""
    inprocess = jobs_for(app).inprocess
    if inprocess is not None:
        inprocess.set_schedule(periodic_jobs())
