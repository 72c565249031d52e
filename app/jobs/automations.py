"""RQ entry point of the automations: decide and fire the steps due now, for every installed shop.

Scheduled every 15 minutes by app/jobs/schedule.py's entries (`rq cron`, or the in-process runner without
Redis); `flask --app app regulars automations run` runs it now.
"""

from __future__ import annotations

from app.jobs import job_context
from app.jobs.events import relay_events
from app.services.automation_runs import run_all

AUTOMATIONS_INTERVAL = 900
RELAY_INTERVAL = 60


def run_automations(shop_domain: str | None = None) -> dict[str, dict[str, int]]:
    with job_context():
        return run_all(shop_domain=shop_domain)


def relay_now() -> dict[str, int]:
    return relay_events()
