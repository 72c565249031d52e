"""RQ entry points of the schedule (app/jobs/cron_config.py registers them with `rq cron`).

Each takes plain arguments, opens the app context, calls one service and returns a small dict that
RQ keeps as the job's result. Services of other subsystems are looked up by name, so a job whose
service is not there yet logs and does nothing instead of failing the schedule.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from app.jobs import job_context

log = logging.getLogger(__name__)


def release_pending_points() -> dict[str, int]:
    """Pending order points whose period is over become available (every few minutes)."""
    from app.services.pending import release_due

    with job_context():
        return release_due()


def evaluate_tiers() -> dict[str, int]:
    """Daily: upgrades due, downgrades after the grace days, for every shop with tiers."""
    from app.services.tiers import evaluate_all

    with job_context():
        return evaluate_all()


def evaluate_shop_tiers(shop_id: int) -> dict[str, int]:
    """One shop's evaluation, e.g. right after its ladder was edited."""
    from app.extensions import db
    from app.models import Shop
    from app.services.tiers import evaluate_shop

    with job_context():
        shop = db.session.get(Shop, shop_id)
        if shop is None or not shop.active:
            return {}
        return evaluate_shop(shop)


def award_birthdays() -> dict[str, int]:
    """Daily: birthday and anniversary points of the day."""
    from app.services.birthdays import award_due

    with job_context():
        return award_due()


def run_expiry() -> dict[str, int]:
    """Daily: reminders before inactivity expiry, then the expiry itself."""
    from app.services.expiry import run_due

    with job_context():
        return run_due()


def reconcile_orders() -> dict[str, int]:
    """Nightly: orders changed in Shopify since the last run, through the order path (missed webhooks heal)."""
    from app.services.reconcile import reconcile_all

    with job_context():
        return reconcile_all()


def _call_service(module: str, name: str) -> Any:
    with job_context():
        try:
            service = importlib.import_module(f"app.services.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.services.{module}":
                raise
            service = None
        fn: Callable[[], Any] | None = getattr(service, name, None) if service is not None else None
        if fn is None:
            log.info("app.services.%s.%s is not available: nothing to run", module, name)
            return None
        return fn()


def process_referrals() -> Any:
    """Referrals whose friend's order passed the pending period: advocate rewarded (rewards engineer's service)."""
    return _call_service("referrals", "process_due")


def expire_reward_codes() -> Any:
    """Unused reward codes past their end: expired, points back when the shop says so."""
    return _call_service("rewards", "expire_codes")


def sync_writeback() -> Any:
    """Metafields and tier tags of members whose points or tier changed, within Shopify's rate limits."""
    return _call_service("writeback", "sync_due")


def refresh_analytics() -> Any:
    """Daily heal of the dashboard's rollups (the order path keeps them current between runs)."""
    return _call_service("analytics", "refresh_all")


def run_automations() -> Any:
    """Every 15 minutes: the automation steps due now, decided and fired (holdout counted, not sent)."""
    return _call_service("automation_runs", "run_all")


def relay_events() -> Any:
    """The outbox relayed to Flow, Klaviyo and webhook endpoints; retries that came due."""
    result = _call_service("relay", "relay")
    return result.as_dict() if hasattr(result, "as_dict") else result


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
    "relay": relay_events,
}
