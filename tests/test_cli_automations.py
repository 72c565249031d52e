"""`flask --app app regulars automations run [--shop]` prints what fired per flow and step; `regulars events
dead|replay` list and replay dead letters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import EventDelivery, Shop, utcnow
from app.services.automations import patch_automation
from app.services.members import enroll

pytestmark = pytest.mark.postgres


def test_automations_run_prints_fired_per_flow_and_step(pg_app):
    with pg_app.app_context():
        shop = Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok",
                    created_at=utcnow(), updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        patch_automation(shop, "welcome", {"enabled": True, "holdout_percent": 0})
        for i in range(3):
            enroll(shop, 8_500_000_000_000_000 + i, now=utcnow() - timedelta(minutes=5))
    runner = pg_app.test_cli_runner()
    out = runner.invoke(args=["regulars", "automations", "run", "--shop", "alpha.myshopify.com"])
    assert out.exit_code == 0, out.output
    assert "welcome\twelcome\tfired=3" in out.output
    again = runner.invoke(args=["regulars", "automations", "run"])
    assert again.exit_code == 0 and "no automation step was due" in again.output
    assert runner.invoke(args=["regulars", "automations", "run", "--shop", "nope.myshopify.com"]).exit_code != 0


def test_events_dead_and_replay(pg_app):
    with pg_app.app_context():
        shop = Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok",
                    created_at=utcnow(), updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        db.session.add(EventDelivery(shop_id=shop.id, event_id=_event(shop), destination="webhook:1", status="dead",
                                     attempts=8, last_error="HTTP 500: down", next_attempt_at=utcnow(),
                                     created_at=utcnow(), updated_at=utcnow()))
        db.session.commit()
    runner = pg_app.test_cli_runner()
    listed = runner.invoke(args=["regulars", "events", "dead", "--shop", "alpha.myshopify.com"])
    assert listed.exit_code == 0 and "HTTP 500: down" in listed.output and "points.earned" in listed.output
    with pg_app.app_context():
        db.session.execute(db.update(EventDelivery).values(destination="nowhere"))
        db.session.commit()
    replayed = runner.invoke(args=["regulars", "events", "replay", "--dead", "--shop", "alpha.myshopify.com"])
    assert replayed.exit_code == 0 and "replayed 1 deliveries" in replayed.output


def _event(shop: Shop) -> int:
    from app.services.ledger import emit_event

    event = emit_event(shop.id, None, "points_earned", {"points": 1})
    db.session.flush()
    return int(event.id)
