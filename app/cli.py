"""The `flask --app app regulars …` commands: demo, replay, sweep, drain, failed."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from app.cli_automations import register as register_automations
from app.cli_engine import register as register_engine
from app.demo import register as register_demo
from app.jobs import current_jobs
from app.jobs.webhooks import drain_webhooks, sweep
from app.services.deliveries import failed_deliveries, replay

regulars = AppGroup("regulars", help="Regulars operations.")


@regulars.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", is_flag=True, help="Replay every delivery marked failed.")
def replay_cmd(ids: tuple[int, ...], failed: bool) -> None:
    """Put stored webhook deliveries back in the queue (by id, or all failed ones) and drain."""
    if not ids and not failed:
        raise click.UsageError("give delivery ids or --failed")
    n = replay(list(ids), failed=failed)
    click.echo(f"replayed {n} deliveries")
    if n:
        current_jobs().request_drain(0)


@regulars.command("failed")
@click.option("--limit", default=50)
def failed_cmd(limit: int) -> None:
    """List deliveries that failed after their last retry."""
    rows = failed_deliveries(limit)
    if not rows:
        click.echo("no failed deliveries")
    for d in rows:
        first_line = (d.last_error or "").splitlines()[0] if d.last_error else ""
        click.echo(f"{d.id}\t{d.shop_domain}\t{d.topic}\tattempts={d.attempts}\t{first_line}")


@regulars.command("sweep")
def sweep_cmd() -> None:
    """Re-kick drains for stored-but-unprocessed deliveries and run the outbox consumers (what cron does)."""
    click.echo(json.dumps(sweep()))


@regulars.command("drain")
def drain_cmd() -> None:
    """Process every due delivery in this process (no worker needed)."""
    click.echo(f"processed {drain_webhooks(0)} deliveries")


def init_app(app: Flask) -> None:
    register_demo(regulars)
    register_engine(regulars)
    register_automations(regulars)
    app.cli.add_command(regulars)
