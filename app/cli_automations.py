"""`flask --app app regulars automations run` and `regulars events dead|replay|relay`: the automations and
the event bus from a shell (what the schedule does, now, in this process)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.services.automation_runs import run_all
from app.services.events import list_deliveries, replay_deliveries
from app.services.relay import relay
from app.services.shops import get_shop


def _shop(domain: str) -> object:
    shop = get_shop(domain.strip().lower())
    if shop is None:
        raise click.UsageError(f"no shop {domain!r}")
    return shop


def register(group: AppGroup) -> None:
    automations = AppGroup("automations", help="Retention automations.")
    events = AppGroup("events", help="Events out: the relay, dead letters, replay.")

    @automations.command("run")
    @click.option("--shop", "shop_domain", default=None, help="Only this shop (example.myshopify.com).")
    def run_cmd(shop_domain: str | None) -> None:
        """Decide and fire the automation steps due now; prints how many fired per flow and step."""
        if shop_domain:
            _shop(shop_domain)
        totals = run_all(shop_domain=shop_domain.strip().lower() if shop_domain else None)
        if not totals:
            click.echo("no automation step was due")
        for flow, steps in sorted(totals.items()):
            for step, n in sorted(steps.items()):
                click.echo(f"{flow}\t{step}\tfired={n}")

    @events.command("relay")
    def relay_cmd() -> None:
        """Relay the outbox now (fan-out and every due delivery)."""
        click.echo(json.dumps(relay().as_dict()))

    @events.command("dead")
    @click.option("--shop", "shop_domain", required=True)
    @click.option("--limit", default=50)
    def dead_cmd(shop_domain: str, limit: int) -> None:
        """List dead letters: deliveries that failed after their last retry."""
        rows = list_deliveries(_shop(shop_domain), status="dead", limit=limit)  # type: ignore[arg-type]
        if not rows:
            click.echo("no dead deliveries")
        for r in rows:
            d = r.delivery
            click.echo(f"{d.id}\t{d.destination}\t{r.event_type}\tevent={d.event_id}\tattempts={d.attempts}\t"
                       f"{(d.last_error or '').splitlines()[0] if d.last_error else ''}")

    @events.command("replay")
    @click.argument("ids", nargs=-1, type=int)
    @click.option("--shop", "shop_domain", required=True)
    @click.option("--dead", is_flag=True, help="Replay every dead delivery of the shop.")
    def replay_cmd(ids: tuple[int, ...], shop_domain: str, dead: bool) -> None:
        """Put dead deliveries back in line (by id, or all with --dead) and relay."""
        if not ids and not dead:
            raise click.UsageError("give delivery ids or --dead")
        n = replay_deliveries(_shop(shop_domain), list(ids), dead=dead)  # type: ignore[arg-type]
        click.echo(f"replayed {n} deliveries")
        if n:
            click.echo(json.dumps(relay().as_dict()))

    group.add_command(automations)
    group.add_command(events)
