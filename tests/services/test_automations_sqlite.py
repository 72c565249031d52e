"""The demo's database (SQLite, migrated by `flask db upgrade`): the same set-based decisions, the holdout
hash, the results and the relay to a webhook endpoint work there too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.loyalty import automations as domain
from app.models import AutomationStepRun, Member, Order, Shop, utcnow
from app.services.automation_results import automation_results
from app.services.automation_runs import run_flow
from app.services.automations import patch_automation
from app.services.events import create_endpoint
from app.services.members import enroll
from devstore.receiver import Receiver
from tests.conftest import sqlite_app_at

SHOP = "lite.myshopify.com"


@pytest.fixture
def lite_app(tmp_path: Any) -> Any:
    with sqlite_app_at(tmp_path / "a.db", env="development") as app, app.app_context():
        yield app


def test_flows_holdout_results_and_relay_on_sqlite(lite_app):
    receiver = Receiver().start()
    try:
        shop = Shop(domain=SHOP, settings={}, installed_at=utcnow(), access_token="tok", created_at=utcnow(),
                    updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        receiver.secret = create_endpoint(shop, {"url": receiver.url}, development=True).secret
        patch_automation(shop, "welcome", {"enabled": True, "holdout_percent": 30})
        t0 = utcnow() - timedelta(hours=1)
        customers = [enroll(shop, 9_100_000_000_000_000 + i, now=t0).customer_id for i in range(30)]
        run_flow(shop, "welcome", t0 + timedelta(minutes=5))
        run_flow(shop, "welcome", t0 + timedelta(minutes=10))
        runs = db.session.execute(select(Member.customer_id, AutomationStepRun.status)
                                  .join(Member, Member.id == AutomationStepRun.member_id)).all()
        assert sorted(c for c, _ in runs) == sorted(customers)
        for cid, status in runs:
            assert (status == "holdout") is domain.in_holdout(SHOP, "welcome", cid, 30)
        first = db.session.execute(select(Member).where(Member.customer_id == customers[0])).scalar_one()
        db.session.add(Order(shop_id=shop.id, order_id=1, customer_id=first.customer_id, member_id=first.id,
                             financial_status="paid", processed_at=t0 + timedelta(hours=2), paid_at=t0,
                             subtotal=30, total_price=30, eligible_amount=30, counted=True, created_at=utcnow(),
                             updated_at=utcnow()))
        db.session.commit()
        (step,) = automation_results(shop, "welcome")["steps"]
        assert step["entered"] == 30 == step["fired"] + step["holdout_entered"]
        assert step["converted"] + step["holdout_converted"] == 1
        fired = [c for c, s in runs if s == "fired"]
        step_events = [e for e in receiver.events() if e["type"] == "automation.step"]
        assert sorted(int(e["customer_id"]) for e in step_events) == sorted(fired)
        assert receiver.bad_signatures == 0
    finally:
        receiver.stop()
