"""The schedule, for RQ's own scheduler:

    rq cron app/jobs/cron_config.py --url "$REDIS_URL"      (with REGULARS_QUEUE_PREFIX as the workers have it)

Jobs go to the configured queues (`<prefix>webhooks`, `<prefix>sync`, `<prefix>bulk`), so the workers
started with `rq worker <prefix>webhooks <prefix>sync <prefix>bulk` run them. Times are UTC (the cron
expressions are read in the scheduler's local time: run it with TZ=UTC). Run one scheduler per deployment.
"""

from __future__ import annotations

import os

from rq.cron import register

from app.jobs import QUEUES
from app.jobs.schedule import (
    award_birthdays,
    evaluate_tiers,
    expire_reward_codes,
    process_referrals,
    reconcile_orders,
    refresh_analytics,
    release_pending_points,
    run_expiry,
    sync_writeback,
)
from app.jobs.webhooks import sweep

PREFIX = (os.environ.get("REGULARS_QUEUE_PREFIX") or "").strip()
WEBHOOKS, SYNC, BULK = (f"{PREFIX}{q}" for q in QUEUES)
HOUR = 3600

# Every minute: drains for stored deliveries nobody is draining, and the outbox consumers.
register(sweep, queue_name=WEBHOOKS, interval=60, job_timeout=300, name="regulars.sweep")
# Within a minute of a change: metafields and tier tags written back, coalesced per customer.
register(sync_writeback, queue_name=SYNC, interval=60, job_timeout=600, name="regulars.writeback")
# Pending points become spendable within five minutes of the end of their period.
register(release_pending_points, queue_name=BULK, interval=300, job_timeout=HOUR, name="regulars.release_pending")
register(process_referrals, queue_name=BULK, interval=900, job_timeout=HOUR, name="regulars.referrals")
register(expire_reward_codes, queue_name=BULK, cron="15 * * * *", job_timeout=HOUR, name="regulars.expire_codes")
# Daily, in the quiet hours (UTC), one after the other so they do not fight for the same rows.
register(reconcile_orders, queue_name=BULK, cron="30 2 * * *", job_timeout=4 * HOUR, name="regulars.reconcile")
register(evaluate_tiers, queue_name=BULK, cron="0 4 * * *", job_timeout=4 * HOUR, name="regulars.tiers")
register(award_birthdays, queue_name=BULK, cron="10 0 * * *", job_timeout=2 * HOUR, name="regulars.birthdays")
register(run_expiry, queue_name=BULK, cron="0 5 * * *", job_timeout=4 * HOUR, name="regulars.expiry")
register(refresh_analytics, queue_name=BULK, cron="0 3 * * *", job_timeout=2 * HOUR, name="regulars.analytics")


def register_automations() -> None:
    """Automations every 15 minutes; the relay every minute (commits kick it at once; this brings retries)."""
    from app.jobs.automations import AUTOMATIONS_INTERVAL, RELAY_INTERVAL, relay_now, run_automations

    register(run_automations, queue_name=BULK, interval=AUTOMATIONS_INTERVAL, job_timeout=HOUR,
             name="regulars.automations")
    register(relay_now, queue_name=SYNC, interval=RELAY_INTERVAL, job_timeout=600, name="regulars.relay")


register_automations()
