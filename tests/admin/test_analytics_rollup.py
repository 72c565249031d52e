"""The dashboard reads rollups, not orders: on a random shop its figures must equal the same figures worked
out straight from the raw orders, and per-customer upkeep must leave exactly what a full rebuild leaves."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from app.loyalty import analytics as f
from tests.admin.support import api, member, order

pytestmark = pytest.mark.postgres

COUNTED = ("paid", "partially_refunded")
BASE = datetime(2023, 1, 1, tzinfo=UTC)


def seed_random(shop: Any, rng: random.Random, customers: int = 70, orders: int = 600) -> None:
    from app.extensions import db

    members = {c: member(shop, c, email=f"c{c}@x.test").id for c in range(1, customers + 1) if c % 3 == 0}
    stamps: list[datetime] = []
    for _ in range(orders):
        c = rng.randint(1, customers)
        if stamps and rng.random() < 0.08:  # same instant as an earlier order: ties are ordered by id
            at = rng.choice(stamps)
        else:
            at = BASE + timedelta(days=rng.random() * 1100)
            stamps.append(at)
        # Members' orders carry the member id only sometimes (orders before enrolment, deleted members).
        mid = members.get(c) if rng.random() < 0.6 else None
        o = order(shop, None if rng.random() < 0.03 else c, at, f"{rng.uniform(5, 300):.2f}", member_id=mid,
                  status=rng.choice(COUNTED * 4 + ("refunded", "pending")), cancelled=rng.random() < 0.05,
                  test=rng.random() < 0.03)
        if rng.random() < 0.02:
            o.processed_at = None
    db.session.commit()


def raw_orders() -> list[tuple[int, int, datetime, Decimal, bool]]:
    """Counted orders straight from the orders table: (id, customer, processed_at, total, member order)."""
    from app.extensions import db
    from app.models import Order

    rows = db.session.query(Order).order_by(Order.processed_at, Order.id).all()
    return [(o.id, o.customer_id, o.processed_at, o.total_price, o.member_id is not None) for o in rows
            if o.financial_status in COUNTED and not o.cancelled and not o.test and o.customer_id is not None
            and o.processed_at is not None]


def expected_summary(orders: list[tuple[int, int, datetime, Decimal, bool]], a: datetime, b: datetime,
                     active_days: int = f.DEFAULT_ACTIVE_DAYS) -> dict:
    window = timedelta(days=active_days)  # active: an order in the window before the moment
    by_customer: dict[int, list[tuple[int, int, datetime, Decimal, bool]]] = defaultdict(list)
    for o in orders:
        by_customer[o[1]].append(o)
    groups = {m: {"customers": 0, "repeat": 0, "orders": 0, "revenue": Decimal(0)} for m in (False, True)}
    start, end, new, seconds = set(), set(), 0, []
    for c, own in by_customer.items():
        inside = [o for o in own if a <= o[2] < b]
        if inside:
            g = groups[any(o[4] for o in inside)]
            g["customers"] += 1
            g["repeat"] += len(inside) >= 2
            g["orders"] += len(inside)
            g["revenue"] += sum((o[3] for o in inside), Decimal(0))
        if any(a - window <= o[2] < a for o in own):
            start.add(c)
        if any(b - window <= o[2] < b for o in own):
            end.add(c)
        new += a <= own[0][2] < b
        if len(own) >= 2 and a <= own[1][2] < b:
            seconds.append((own[0][2], own[1][2]))
    customers = groups[False]["customers"] + groups[True]["customers"]
    count = groups[False]["orders"] + groups[True]["orders"]
    revenue = groups[False]["revenue"] + groups[True]["revenue"]
    kept = len(start & end)
    out = {
        "customers": customers, "orders": count, "revenue": str(revenue),
        "repeat_customer_rate": f.repeat_customer_rate(groups[False]["repeat"] + groups[True]["repeat"], customers),
        "purchase_frequency": f.purchase_frequency(count, customers),
        "average_order_value": f.average_order_value(revenue, count),
        "customers_at_start": len(start), "customers_at_end": len(end), "new_customers": new,
        "churn_rate": f.churn_rate(len(start), len(start) - kept),
        "retention_rate": f.retention_rate(len(end), new, len(start)),
        "median_days_to_second_order": f.median_days_to_second_order(seconds),
    }
    for key, g in (("members", groups[True]), ("non_members", groups[False])):
        out[key] = (g["customers"], g["orders"], str(g["revenue"]))
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in out.items()}


def actual_summary(body: dict) -> dict:
    out = {k: body[k] for k in ("customers", "orders", "revenue", "repeat_customer_rate", "purchase_frequency",
                                "average_order_value", "customers_at_start", "customers_at_end", "new_customers",
                                "churn_rate", "retention_rate", "median_days_to_second_order")}
    for key in ("members", "non_members"):
        g = body["members_vs_non_members"][key]
        out[key] = (g["customers"], g["orders"], g["revenue"])
    return out


def month(at: datetime) -> date:
    return date(at.year, at.month, 1)


def expected_cohorts(orders: list[tuple[int, int, datetime, Decimal, bool]], first: date, last: date) -> list[dict]:
    """The cohort grid worked out from raw orders, by the definition the service documents."""
    last_month = month(datetime(last.year, last.month, 1))
    index = last_month.year * 12 + last_month.month - 1 - 11
    first_month = max(date(first.year, first.month, 1), date(index // 12, index % 12 + 1, 1))
    firsts: dict[int, datetime] = {}
    months: dict[int, set[date]] = defaultdict(set)
    for _, c, at, _, _ in orders:
        firsts.setdefault(c, at)
        if first_month <= at.date() and month(at) <= last_month:
            months[c].add(month(at))
    grid = []
    m = first_month
    while m <= last_month:
        cohort = [c for c, at in firsts.items() if month(at) == m]
        seen = (last_month.year - m.year) * 12 + last_month.month - m.month + 1
        cells = []
        for k in range(seen):
            idx = m.year * 12 + m.month - 1 + k
            target = date(idx // 12, idx % 12 + 1, 1)
            active = sum(1 for c in cohort if target in months[c])
            cells.append(None if f._percent(active, len(cohort)) is None else str(f._percent(active, len(cohort))))
        grid.append({"cohort": m.strftime("%Y-%m"), "customers": len(cohort), "retention": cells})
        idx = m.year * 12 + m.month
        m = date(idx // 12, idx % 12 + 1, 1)
    return grid


PERIODS = [(date(2023, 1, 1), date(2026, 1, 31)), (date(2024, 3, 1), date(2024, 5, 29)),
           (date(2024, 1, 1), date(2024, 12, 31)), (date(2023, 6, 15), date(2025, 6, 14)),
           (date(2025, 2, 1), date(2025, 2, 1)), (date(2022, 1, 1), date(2022, 12, 31))]


@pytest.mark.parametrize("seed", [1, 2])
def test_rollup_figures_equal_raw_order_figures(client: Any, shop: Any, pg_app: Any, seed: int) -> None:
    rng = random.Random(seed)
    seed_random(shop, rng)
    orders = raw_orders()
    periods = PERIODS + [(d, d + timedelta(days=rng.randint(0, 800)))
                         for d in (date(2023, 1, 1) + timedelta(days=rng.randint(0, 1000)) for _ in range(6))]
    for first, last in periods:
        r = api(client, "GET", f"/api/admin/analytics/summary?from={first}&to={last}")
        assert r.status_code == 200, r.get_data(as_text=True)
        a = datetime(first.year, first.month, first.day, tzinfo=UTC)
        b = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        assert actual_summary(r.get_json()) == expected_summary(orders, a, b), (first, last)
        assert r.get_json()["rollup_as_of"] is not None
        # The window the merchant picks: a year, as the dashboard measured it before the window was adjustable.
        r = api(client, "GET", f"/api/admin/analytics/summary?from={first}&to={last}&churn_days=365")
        assert actual_summary(r.get_json()) == expected_summary(orders, a, b, 365), (first, last)
        assert r.get_json()["windows"]["churn_days"] == 365
        body = api(client, "GET", f"/api/admin/analytics/cohorts?from={first}&to={last}").get_json()
        assert body["cohorts"] == expected_cohorts(orders, first, last), (first, last)


def rollup_rows() -> tuple[list[tuple], list[tuple]]:
    from app.extensions import db

    facts = db.session.execute(text("SELECT * FROM analytics_orders ORDER BY id")).all()
    customers = db.session.execute(text(
        "SELECT shop_id, customer_id, is_member, first_order_at, second_order_at, last_order_at, orders_count, "
        "revenue FROM analytics_customers ORDER BY shop_id, customer_id")).all()
    return [tuple(r) for r in facts], [tuple(r) for r in customers]


def test_refresh_customer_keeps_the_rollup_equal_to_a_full_rebuild(shop: Any, pg_app: Any) -> None:
    from app.extensions import db
    from app.models import Order
    from app.services import analytics

    rng = random.Random(5)
    seed_random(shop, rng, customers=30, orders=200)
    # Built customer by customer, as the order path does it.
    for c in range(1, 31):
        analytics.refresh_customer(shop.id, c)
    db.session.commit()
    incremental = rollup_rows()
    analytics.refresh_shop(shop.id)
    assert rollup_rows() == incremental and incremental[0]

    # Order changes: refunds, cancellations, a date change, an order moved to another customer, a new order.
    all_orders = db.session.query(Order).filter(Order.customer_id.isnot(None)).all()
    touched: set[int] = set()
    for o in rng.sample(all_orders, 25):
        touched.add(o.customer_id)
        change = rng.choice(["refund", "cancel", "date", "move", "revive"])
        if change == "refund":
            o.financial_status = "refunded"
        elif change == "cancel":
            o.cancelled = True
        elif change == "date":
            o.processed_at = BASE + timedelta(days=rng.random() * 1100)
        elif change == "move":
            o.customer_id = rng.randint(1, 30)
        else:
            o.financial_status, o.cancelled, o.test = "paid", False, False
        touched.add(o.customer_id)
    touched.add(31)
    order(shop, 31, BASE + timedelta(days=3), "12.00")
    db.session.flush()
    for c in sorted(touched):
        analytics.refresh_customer(shop.id, c)
        analytics.refresh_customer(shop.id, c)  # idempotent
    db.session.commit()
    incremental = rollup_rows()
    analytics.refresh_shop(shop.id)
    assert rollup_rows() == incremental


def test_dashboard_answers_from_what_exists_without_rebuilding(client: Any, shop: Any, pg_app: Any) -> None:
    """With the rollup already built, a new order reaches the dashboard only through refresh_customer: the
    request itself never recomputes from orders."""
    from app.extensions import db
    from app.services import analytics

    order(shop, 1, datetime(2025, 1, 10, tzinfo=UTC), "10.00")
    db.session.commit()
    path = "/api/admin/analytics/summary?from=2025-01-01&to=2025-01-31"
    first = api(client, "GET", path).get_json()
    assert first["orders"] == 1 and first["rollup_as_of"]
    order(shop, 2, datetime(2025, 1, 11, tzinfo=UTC), "20.00")
    db.session.commit()
    assert api(client, "GET", path).get_json()["orders"] == 1
    analytics.refresh_customer(shop.id, 2)
    db.session.commit()
    again = api(client, "GET", path).get_json()
    assert again["orders"] == 2 and again["revenue"] == "30.00"
    assert again["rollup_as_of"] == first["rollup_as_of"]
    assert api(client, "POST", "/api/admin/analytics/refresh").status_code == 202
