"""The embedded default (SQLite, README command (a)) answers the retention dashboard with the same figures as
PostgreSQL: same data, same endpoints, equal bodies; and on a small shop, the figures worked out by hand."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.extensions import db
from app.loyalty import analytics as f
from app.models import LedgerEntry, Referral, Shop
from tests.admin.support import api, install_shop, member, order
from tests.admin.test_analytics_rollup import (
    COUNTED,
    PERIODS,
    actual_summary,
    expected_cohorts,
    expected_summary,
    raw_orders,
    rollup_rows,
)
from tests.conftest import sqlite_app_at

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
BASE = NOW - timedelta(days=1100)
LEDGER_KINDS = ("earn_order", "reverse_order", "signup", "tier_bonus", "redeem", "redeem_reversed", "expiry",
                "admin_adjustment")


@pytest.fixture
def lite_app(tmp_path: Path) -> Iterator[Any]:
    """The app on a migrated SQLite file, as `flask db upgrade` leaves it for the demo; jobs in-process."""
    with sqlite_app_at(tmp_path / "a.db") as app:
        yield app


def seed(rng: random.Random, customers: int = 60, orders: int = 500) -> None:
    """A shop with every case the figures distinguish: ties, uncounted orders, member and non-member orders,
    sub-second timestamps (the lifespan's rounding), cents that floating point does not add exactly, ledger
    entries of every kind the dashboard sums, and referral orders."""
    shop = install_shop()
    members = {c: member(shop, c, email=f"c{c}@x.test", points=rng.randint(0, 900)) for c in range(1, customers + 1)
               if c % 3 == 0}
    stamps: list[datetime] = []
    counted: list[int] = []
    for _ in range(orders):
        c = rng.randint(1, customers)
        if stamps and rng.random() < 0.08:  # the same instant as an earlier order: ties are ordered by id
            at = rng.choice(stamps)
        else:
            at = BASE + timedelta(days=rng.random() * 1100, microseconds=rng.randint(0, 999_999))
            stamps.append(at)
        mid = members[c].id if c in members and rng.random() < 0.6 else None
        status = rng.choice(COUNTED * 4 + ("refunded", "pending"))
        o = order(shop, None if rng.random() < 0.03 else c, at, f"{rng.randint(1, 30000) / 100:.2f}",
                  member_id=mid, status=status, cancelled=rng.random() < 0.05, test=rng.random() < 0.03)
        if status in COUNTED:
            counted.append(o.order_id)
        if rng.random() < 0.02:
            o.processed_at = None
    for i in range(150):
        m = rng.choice(list(members.values()))
        kind = rng.choice(LEDGER_KINDS)
        points = rng.randint(1, 500) * (-1 if kind in ("reverse_order", "redeem", "expiry") else 1)
        db.session.add(LedgerEntry(shop_id=shop.id, member_id=m.id, points=points, kind=kind, source="admin",
                                   status="available", idempotency_key=f"seed-{i}",
                                   created_at=BASE + timedelta(days=rng.random() * 1100)))
    for i, order_id in enumerate(rng.sample(counted, 12)):
        db.session.add(Referral(shop_id=shop.id, advocate_member_id=rng.choice(list(members.values())).id,
                                friend_code=f"FRIEND{i}", order_id=order_id,
                                status=rng.choice(("pending", "completed", "review", "invited", "rejected"))))
    db.session.commit()


def dashboard(app: Any, periods: list[tuple[date, date]]) -> dict[str, Any]:
    """Every dashboard answer for these periods, without the moments they were computed at."""
    from app.services import analytics

    client = app.test_client()
    out: dict[str, Any] = {}
    for first, last in periods:
        for path in ("/api/admin/analytics/summary", "/api/v1/analytics/summary", "/api/admin/analytics/cohorts"):
            r = api(client, "GET", f"{path}?from={first}&to={last}")
            assert r.status_code == 200, r.get_data(as_text=True)
            body = r.get_json()
            assert body.pop("rollup_as_of") is not None
            out[f"{path} {first} {last}"] = body
    r = api(client, "GET", "/api/admin/analytics/segments")
    assert r.status_code == 200, r.get_data(as_text=True)
    out["segments rfm"] = r.get_json()["rfm"]  # ranks only: not tied to the moment of the request
    shop = db.session.query(Shop).one()
    fixed = analytics.segments(shop, now=NOW)  # recency buckets move with the clock: read them at one moment
    out["segments at NOW"] = {k: v for k, v in fixed.items() if k != "rollup_as_of"}
    return out


def periods_for(rng: random.Random) -> list[tuple[date, date]]:
    start = BASE.date()
    return PERIODS + [(start, NOW.date()), (NOW.date() - timedelta(days=29), NOW.date())] + [
        (d, d + timedelta(days=rng.randint(0, 800)))
        for d in (start + timedelta(days=rng.randint(0, 1000)) for _ in range(5))]


@pytest.mark.postgres
@pytest.mark.parametrize("seed_value", [3, 4])
def test_sqlite_figures_equal_postgres_figures(lite_app: Any, pg_app: Any, seed_value: int) -> None:
    periods = periods_for(random.Random(seed_value))
    answers = []
    for app in (pg_app, lite_app):
        with app.app_context():
            seed(random.Random(seed_value))
            answers.append(dashboard(app, periods))
    on_postgres, on_sqlite = answers
    assert on_sqlite.keys() == on_postgres.keys()
    for key in on_postgres:
        assert on_sqlite[key] == on_postgres[key], key
    # Not vacuous: the lifetime value (PostgreSQL's numeric rounding, replayed on SQLite) and money are there.
    everything = on_postgres["/api/admin/analytics/summary 2023-01-01 2026-01-31"]
    assert everything["customer_lifetime_value"] and everything["median_days_to_second_order"]
    assert everything["referral_revenue"] != "0" and everything["points_redeemed"]


@pytest.mark.parametrize("seed_value", [5])
def test_sqlite_figures_equal_figures_from_raw_orders(lite_app: Any, seed_value: int) -> None:
    """Without PostgreSQL at hand: the rollup figures on SQLite equal the definitions applied to raw orders."""
    with lite_app.app_context():
        seed(random.Random(seed_value))
        orders = raw_orders()
        client = lite_app.test_client()
        for first, last in periods_for(random.Random(seed_value)):
            body = api(client, "GET", f"/api/admin/analytics/summary?from={first}&to={last}").get_json()
            a = datetime(first.year, first.month, first.day, tzinfo=UTC)
            b = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
            assert actual_summary(body) == expected_summary(orders, a, b), (first, last)
            body = api(client, "GET", f"/api/admin/analytics/cohorts?from={first}&to={last}").get_json()
            assert body["cohorts"] == expected_cohorts(orders, first, last), (first, last)


def test_sqlite_small_shop_by_hand(lite_app: Any) -> None:
    from app.services import analytics

    with lite_app.app_context():
        shop = install_shop()
        m1 = member(shop, 1, email="one@x.test", points=50)
        day = lambda d, h=0: datetime(2026, 1, 1, h, tzinfo=UTC) + timedelta(days=d - 1)  # noqa: E731
        order(shop, 1, day(10), "10.10", member_id=m1.id)  # 2026-01-10
        order(shop, 1, day(40), "20.20", member_id=m1.id)  # 2026-02-09: 30 days to the second order
        order(shop, 2, day(20, 12), "0.10")  # 2026-01-20 12:00
        order(shop, 2, day(21, 12), "0.20")  # 1 day to the second order
        order(shop, 2, day(60), "0.30")  # 2026-03-01: lifespan 39.5 days
        referred = order(shop, 3, day(46), "99.99")  # 2026-02-15
        order(shop, 3, day(47), "5.00", status="refunded")  # not counted
        db.session.add(Referral(shop_id=shop.id, advocate_member_id=m1.id, friend_code="F1",
                                order_id=referred.order_id, status="completed"))
        for i, (kind, points) in enumerate((("earn_order", 100), ("redeem", -40), ("expiry", -10))):
            db.session.add(LedgerEntry(shop_id=shop.id, member_id=m1.id, points=points, kind=kind, source="admin",
                                       status="available", idempotency_key=f"k{i}", created_at=day(15)))
        db.session.commit()

        body = api(lite_app.test_client(), "GET", "/api/admin/analytics/summary?from=2026-01-01&to=2026-03-31")
        assert body.status_code == 200, body.get_data(as_text=True)
        s = body.get_json()
        assert (s["customers"], s["orders"], s["revenue"]) == (3, 6, "130.89")
        assert (s["repeat_customer_rate"], s["purchase_frequency"], s["average_order_value"]) == \
            ("66.67", "2.00", "21.82")
        assert s["members_vs_non_members"]["members"]["revenue"] == "30.30"
        assert s["members_vs_non_members"]["non_members"]["revenue"] == "100.59"
        assert s["median_days_to_second_order"] == "15.50"
        assert s["average_lifespan_years"] == "0.10"
        lifespan = Decimal("69.5") / 2 / 365  # (30 + 39.5 days) ÷ 2 repeat customers
        per_year = f.purchase_frequency(6 * 365, 3 * 90)
        assert s["customer_lifetime_value"] == str(f.customer_lifetime_value(Decimal("21.82"), per_year, lifespan))
        assert (s["new_customers"], s["customers_at_start"], s["churn_rate"]) == (3, 0, None)
        assert (s["points_issued"], s["points_redeemed"], s["points_expired"], s["redemption_rate"]) == \
            (100, 40, 10, "40.00")
        assert s["points_outstanding"] == 50 and s["referral_revenue"] == "99.99"

        seg = analytics.segments(shop, now=NOW)
        # Last orders: 2 on 03-01 (19 days before NOW), 3 on 02-15 (33), 1 on 02-09 (39). 0.10 + 0.20 + 0.30
        # is 0.6000000000000001 in floating point: the sums are of whole cents.
        assert seg["recency"] == {"0-30": {"customers": 1, "revenue": "0.60"},
                                  "31-90": {"customers": 2, "revenue": "130.29"},
                                  "90+": {"customers": 0, "revenue": "0"}}
        # R by last order 1 < 3 < 2 → 1, 2, 4; F by orders 3 < 1 < 2 → 1, 2, 4.
        assert seg["rfm"]["Champions"] == {"customers": 1, "revenue": "0.60"}
        assert seg["rfm"]["Hibernating"] == {"customers": 2, "revenue": "130.29"}

        cohorts = analytics.cohorts(shop, analytics.Period.of(date(2026, 1, 1), date(2026, 3, 31)))["cohorts"]
        assert cohorts == [
            {"cohort": "2026-01", "customers": 2, "retention": ["100.00", "50.00", "50.00"]},
            {"cohort": "2026-02", "customers": 1, "retention": ["100.00", "0.00"]},
            {"cohort": "2026-03", "customers": 0, "retention": [None]},
        ]


def test_sqlite_refresh_customer_keeps_the_rollup_equal_to_a_full_rebuild(lite_app: Any) -> None:
    """The order path's upkeep works on SQLite too (no advisory locks) and leaves what a rebuild leaves."""
    from app.services import analytics

    with lite_app.app_context():
        seed(random.Random(6), customers=25, orders=150)
        shop = db.session.query(Shop).one()
        for c in range(1, 26):
            analytics.refresh_customer(shop.id, c)
        db.session.commit()
        incremental = rollup_rows()
        assert analytics.refresh_shop(shop.id) == len(incremental[1]) > 0
        assert rollup_rows() == incremental


@pytest.mark.postgres
def test_lifespan_days_round_as_postgres_numeric_division(pg_app: Any) -> None:
    """The SQLite path replays EXTRACT(EPOCH FROM gap) / 86400.0 digit for digit."""
    from app.services.analytics import _pg_days

    rng = random.Random(7)
    gaps = [0, 1, 499_999, 500_000, 86_400_000_000, 86_400_000_001, 10**12 - 1, 10**12, 8_640_000_000]
    gaps += [rng.randint(0, 4000 * 86_400_000_000) for _ in range(300)]
    gaps += [rng.randint(0, 10**rng.randint(1, 12)) for _ in range(300)]
    with pg_app.app_context():
        for micros in gaps:
            on_postgres = db.session.execute(
                text("SELECT EXTRACT(EPOCH FROM CAST(:g AS interval)) / 86400.0"),
                {"g": timedelta(microseconds=micros)}).scalar()
            assert str(_pg_days(micros)) == str(on_postgres), micros
