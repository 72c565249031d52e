"""`flask --app app regulars run <job>`: any scheduled job, now, in this process (what cron would enqueue)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.jobs.schedule import JOBS


def register(group: AppGroup) -> None:
    @group.command("run")
    @click.argument("job", type=click.Choice(sorted(JOBS)))
    def run_job(job: str) -> None:
        """Run one scheduled job now: release-pending, evaluate-tiers, birthdays, expiry, reconcile, …"""
        result = JOBS[job]()
        click.echo(json.dumps(result, default=str))
