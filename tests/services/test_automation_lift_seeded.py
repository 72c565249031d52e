"""The results page's figures on a seeded data set whose true effect is known: the treated members convert
at 30 %, the holdout at 15 % (a true lift of 0.15). Every figure must equal an independent computation from
the simulation's own records, and the interval must hold the true lift."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.loyalty import automations as domain
from app.models import Member, Order, utcnow
from app.services.automation_results import automation_results
from app.services.automation_runs import run_flow
from app.services.automations import patch_automation
from tests.services.engine_fixtures import SHOP

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
Z = 1.959963984540054


def _wilson_by_bisection(k: int, n: int) -> tuple[float, float]:
    """The Wilson bounds as the two roots of (p̂ − p)² = z² p (1 − p) / n, found by bisection (not the
    closed form the app uses)."""
    ph = k / n

    def f(p: float) -> float:
        return (ph - p) ** 2 - Z * Z * p * (1 - p) / n

    def root(lo: float, hi: float) -> float:
        for _ in range(200):
            mid = (lo + hi) / 2
            if (f(lo) > 0) == (f(mid) > 0):
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = 0.0 if k == 0 else root(0.0, ph)
    high = 1.0 if k == n else root(ph, 1.0)
    return low, high


def _newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson_by_bisection(k1, n1)
    l2, u2 = _wilson_by_bisection(k2, n2)
    d = p1 - p2
    return d, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def test_lift_figures_equal_an_independent_computation_on_a_seeded_data_set(engine_app):
    eng = engine_app
    rng = random.Random(20261201)
    n, holdout_pct, window = 3000, 30, 7
    patch_automation(eng.shop(), "welcome", {"enabled": True, "holdout_percent": holdout_pct, "window_days": window})
    customers = [6_100_000_000_000_000 + i for i in range(n)]
    db.session.add_all([Member(shop_id=eng.shop_id, customer_id=c, email=f"m{c}@example.com", enrolled_at=T0,
                               points_available=0, points_pending=0, lifetime_points=0, orders_count=0,
                               created_at=T0, updated_at=T0) for c in customers])
    db.session.commit()
    fired_at = T0 + timedelta(hours=1)
    run_flow(eng.shop(), "welcome", fired_at)

    ids = dict(db.session.execute(db.select(Member.customer_id, Member.id).where(Member.shop_id == eng.shop_id)).all())
    truth = {False: {"n": 0, "conv": 0, "rev": Decimal(0)}, True: {"n": 0, "conv": 0, "rev": Decimal(0)}}
    orders = []
    for c in customers:
        held = domain.in_holdout(SHOP, "welcome", c, holdout_pct)
        group = truth[held]
        group["n"] += 1
        if rng.random() < (0.15 if held else 0.30):
            # a converting order inside the window, sometimes a second one (revenue adds, conversion once)
            for _ in range(1 + (rng.random() < 0.2)):
                at = fired_at + timedelta(hours=rng.uniform(1, window * 24 - 1))
                amount = Decimal(rng.randrange(1000, 20000)) / 100
                orders.append((c, at, amount))
                group["rev"] += amount
            group["conv"] += 1
        elif rng.random() < 0.1:
            # an order after the window: the member did come back, but not within the step's window
            orders.append((c, fired_at + timedelta(days=window, hours=rng.uniform(1, 48)), Decimal("25.00")))
    db.session.add_all([Order(shop_id=eng.shop_id, order_id=9_000_000_000_000_000 + i, customer_id=c, member_id=ids[c],
                              financial_status="paid", processed_at=at, paid_at=at, subtotal=amount, total_price=amount,
                              eligible_amount=amount, counted=True, created_at=utcnow(), updated_at=utcnow())
                        for i, (c, at, amount) in enumerate(orders)])
    db.session.commit()

    (step,) = automation_results(eng.shop(), "welcome")["steps"]
    t, h = truth[False], truth[True]
    assert step["fired"] == t["n"] and step["holdout_entered"] == h["n"]
    assert step["entered"] == n == step["fired"] + step["holdout_entered"]
    assert step["converted"] == t["conv"] and step["holdout_converted"] == h["conv"]
    assert Decimal(step["revenue"]) == t["rev"] and Decimal(step["holdout_revenue"]) == h["rev"]
    lift, low, high = _newcombe(t["conv"], t["n"], h["conv"], h["n"])
    assert step["lift"] == pytest.approx(lift, abs=1e-4)
    assert step["lift_ci"][0] == pytest.approx(low, abs=1e-4) and step["lift_ci"][1] == pytest.approx(high, abs=1e-4)
    assert low < 0.15 < high  # the true effect is inside the interval
    assert low > 0  # and with 3,000 members the lift is told apart from none
