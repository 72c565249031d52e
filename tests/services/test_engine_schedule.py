"""The schedule: `rq cron` loads app/jobs/cron_config.py and registers every job in the prefixed queues;
each job can also be run now with `flask --app app regulars run <job>`."""

from __future__ import annotations

import sys

import pytest
from redis import Redis
from rq.cron import CronScheduler

from app.jobs.schedule import JOBS

# Pending points and advocate rewards are also scheduled for their exact moment (app.services.due); their
# sweeps are the safety net. Birthdays and expiry run hourly so that what falls due on a date happens on it.
EXPECTED = {
    "app.jobs.webhooks.sweep": ("webhooks", 60, None),
    "app.jobs.schedule.sync_writeback": ("sync", 60, None),
    "app.jobs.schedule.release_pending_points": ("bulk", 300, None),
    "app.jobs.schedule.process_referrals": ("bulk", 300, None),
    "app.jobs.schedule.expire_reward_codes": ("bulk", None, "15 * * * *"),
    "app.jobs.schedule.reconcile_orders": ("bulk", None, "30 2 * * *"),
    "app.jobs.schedule.evaluate_tiers": ("bulk", None, "0 4 * * *"),
    "app.jobs.schedule.award_birthdays": ("bulk", None, "10 * * * *"),
    "app.jobs.schedule.run_expiry": ("bulk", None, "5 * * * *"),
    "app.jobs.schedule.refresh_analytics": ("bulk", None, "0 3 * * *"),
    # Automations every 15 minutes; the relay every minute (commits kick it at once, this brings retries).
    "app.jobs.automations.run_automations": ("bulk", 900, None),
    "app.jobs.automations.relay_now": ("sync", 60, None),
}


def test_rq_cron_registers_every_job_in_the_prefixed_queues(monkeypatch):
    monkeypatch.setenv("REGULARS_QUEUE_PREFIX", "shop1-")
    sys.modules.pop("app.jobs.cron_config", None)
    scheduler = CronScheduler(connection=Redis.from_url("redis://127.0.0.1:1/0"))  # never contacted
    scheduler.load_config_from_file("app/jobs/cron_config.py")
    got = {job.func_name: (job.queue_name, job.interval, job.cron) for job in scheduler.get_jobs()}
    assert got == {name: (f"shop1-{queue}", interval, cron) for name, (queue, interval, cron) in EXPECTED.items()}


@pytest.mark.postgres
def test_each_job_runs_now_from_the_command_line(pg_app):
    runner = pg_app.test_cli_runner()
    for name in JOBS:
        result = runner.invoke(args=["regulars", "run", name])
        assert result.exit_code == 0, (name, result.output, result.exception)
    result = runner.invoke(args=["regulars", "run", "release-pending"])
    assert '"orders": 0' in result.output
