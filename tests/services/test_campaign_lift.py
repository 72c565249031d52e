"""Campaigns get the same holdout and lift as automations: members the campaign applied to, split by the
stable hash the order path uses to leave the holdout out of the multiplier, converted during the campaign."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.loyalty.campaigns import in_holdout
from app.loyalty.lift import lift_of
from app.models import Campaign, Member, Order, utcnow
from app.services.automation_results import campaign_results

pytestmark = pytest.mark.postgres
START = datetime(2026, 4, 1, tzinfo=UTC)


def test_campaign_results_split_by_its_holdout_and_count_orders_during_it(engine_app):
    eng = engine_app
    rng = random.Random(4)
    campaign = Campaign(shop_id=eng.shop_id, name="Double points week", kind="multiplier", value=Decimal(2),
                        starts_at=START, ends_at=START + timedelta(days=7), holdout_percent=30, active=True,
                        created_at=utcnow())
    db.session.add(campaign)
    members = [Member(shop_id=eng.shop_id, customer_id=6_200_000_000_000_000 + i, enrolled_at=START - timedelta(days=9),
                      points_available=0, points_pending=0, lifetime_points=0, orders_count=0, created_at=START,
                      updated_at=START) for i in range(600)]
    db.session.add_all(members)
    db.session.commit()
    want = {False: [0, 0, Decimal(0)], True: [0, 0, Decimal(0)]}
    oid = 0
    for m in members:
        held = in_holdout(campaign.id, m.customer_id, 30)
        want[held][0] += 1
        if rng.random() < (0.2 if held else 0.35):
            oid += 1
            amount = Decimal(rng.randrange(1000, 9000)) / 100
            db.session.add(Order(shop_id=eng.shop_id, order_id=oid, member_id=m.id, customer_id=m.customer_id,
                                 financial_status="paid", processed_at=START + timedelta(days=rng.uniform(0, 6.9)),
                                 subtotal=amount, total_price=amount, eligible_amount=amount, counted=True,
                                 created_at=utcnow(), updated_at=utcnow()))
            want[held][1] += 1
            want[held][2] += amount
        if rng.random() < 0.1:  # an order after the campaign does not count
            oid += 1
            db.session.add(Order(shop_id=eng.shop_id, order_id=oid, member_id=m.id, customer_id=m.customer_id,
                                 financial_status="paid", processed_at=START + timedelta(days=8), subtotal=10,
                                 total_price=10, eligible_amount=10, counted=True, created_at=utcnow(),
                                 updated_at=utcnow()))
    db.session.commit()
    got = campaign_results(eng.shop(), campaign.id, START + timedelta(days=30))
    t, h = want[False], want[True]
    assert (got["members"], got["converted"], Decimal(got["revenue"])) == (t[0], t[1], t[2])
    assert (got["holdout_entered"], got["holdout_converted"], Decimal(got["holdout_revenue"])) == (h[0], h[1], h[2])
    lift = lift_of(t[1], t[0], h[1], h[0])
    assert got["lift"] == pytest.approx(lift.lift, abs=1e-4) and got["lift_ci"][0] == pytest.approx(lift.low, abs=1e-4)
