"""Trends and the activity windows as a merchant reads them: a small shop worked out by hand, the endpoint's
answers and refusals, and churn/retention on a shop where half the customers are 90+ days lapsed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.extensions import db
from app.loyalty import analytics as f
from app.loyalty.settings import ProgramSettings
from app.models import LedgerEntry
from app.services import analytics
from tests.admin.support import api, member, order

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def day(month: int, d: int, year: int = 2026) -> datetime:
    return datetime(year, month, d, 9, 0, tzinfo=UTC)


def entry(shop: Any, member_id: int, points: int, kind: str, at: datetime, key: str) -> None:
    db.session.add(LedgerEntry(shop_id=shop.id, member_id=member_id, points=points, kind=kind, source="admin",
                               status="available", idempotency_key=key, created_at=at, occurred_at=at))


def seed_small_shop(shop: Any) -> None:
    m1 = member(shop, 1, email="one@x.test", points=140)
    db.session.flush()
    order(shop, 1, day(1, 5), "10.00", member_id=m1.id)
    order(shop, 1, day(1, 20), "30.00", member_id=m1.id)
    order(shop, 2, day(1, 10), "60.00")  # not a member
    order(shop, 2, day(3, 1), "20.00")
    entry(shop, m1.id, 100, "signup", day(12, 15, 2025), "k1")  # before the first month: the opening balance
    entry(shop, m1.id, 50, "earn_order", day(1, 6), "k2")
    entry(shop, m1.id, -30, "redeem", day(2, 2), "k3")
    entry(shop, m1.id, 20, "earn_order", day(3, 3), "k4")
    shop.setup_completed_at = datetime(2026, 2, 1, tzinfo=UTC)
    db.session.commit()
    analytics.refresh_shop(shop.id)


def test_monthly_trend_of_a_small_shop_by_hand(shop: Any) -> None:
    seed_small_shop(shop)
    settings = ProgramSettings()
    out = analytics.trends(shop, settings, "month", 3, now=NOW)
    assert (out["period"], out["currency"], out["launched_at"]) == ("month", "USD", "2026-02-01T00:00:00+00:00")
    value = settings.point_value
    assert out["points"] == [
        # January: two customers, one of them twice (a repeat customer) and a member: 40 of 100 in revenue.
        {"start": "2026-01-01", "end": "2026-01-31", "repeat_rate": "50.00", "member_revenue_share": "40.00",
         "points_issued": 50, "points_redeemed": 0, "liability": str(f.points_liability(150, 0, value))},
        # February: no orders, so no rates (not 0 %); 30 points redeemed.
        {"start": "2026-02-01", "end": "2026-02-28", "repeat_rate": None, "member_revenue_share": None,
         "points_issued": 0, "points_redeemed": 30, "liability": str(f.points_liability(120, 0, value))},
        # March so far: one order of a customer who is not a member.
        {"start": "2026-03-01", "end": "2026-03-20", "repeat_rate": "0.00", "member_revenue_share": "0.00",
         "points_issued": 20, "points_redeemed": 0, "liability": str(f.points_liability(140, 0, value))},
    ]
    # Since the launch on 1 February (47.5 days) against the 47.5 days before it, which hold all of January.
    assert out["since_launch"] == {"before": {"repeat_rate": "50.00", "member_revenue_share": "40.00"},
                                   "after": {"repeat_rate": "0.00", "member_revenue_share": "0.00"}}


def test_weekly_trend_runs_monday_to_sunday_and_ends_now(shop: Any) -> None:
    seed_small_shop(shop)
    out = analytics.trends(shop, ProgramSettings(), "week", 2, now=NOW)  # NOW is a Friday
    assert [(p["start"], p["end"]) for p in out["points"]] == [("2026-03-09", "2026-03-15"),
                                                               ("2026-03-16", "2026-03-20")]
    assert [p["repeat_rate"] for p in out["points"]] == [None, None]


def test_trends_endpoint_answers_and_refuses(client: Any, shop: Any) -> None:
    r = api(client, "GET", "/api/admin/analytics/trends")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert (body["period"], len(body["points"]), body["launched_at"], body["since_launch"]) == ("month", 12, None,
                                                                                               None)
    assert body["points"][-1]["liability"] == "0.00"
    weeks = api(client, "GET", "/api/admin/analytics/trends?period=week&periods=104").get_json()
    assert weeks["period"] == "week" and len(weeks["points"]) == 104
    for query, field in (("period=day", "period"), ("periods=0", "periods"), ("periods=105", "periods"),
                         ("periods=abc", "periods"), ("periods=-3", "periods"), ("periods=1.5", "periods")):
        r = api(client, "GET", f"/api/admin/analytics/trends?{query}")
        assert r.status_code == 422, query
        assert field in r.get_json()["error"]["fields"], query
    # An API key does not open the admin's endpoints.
    assert client.get("/api/admin/analytics/trends", headers={"X-Regulars-Api-Key": "nope"}).status_code == 401


def test_half_the_customers_lapsed_show_as_churn_with_the_default_window(client: Any, shop: Any) -> None:
    """Ten customers ordered just before the period; five came back in it and five did not, and at the end those
    five are 100 days without an order. With a year as the window every one of them still counted as active: churn
    0 %, retention 100 %. The default window (90 days, the lapse) shows what happened; the answer names it."""
    first, last = date(2026, 1, 1), date(2026, 3, 31)
    for c in range(1, 11):
        order(shop, c, datetime(2025, 12, 22, tzinfo=UTC), "25.00")
        if c <= 5:
            order(shop, c, datetime(2026, 3, 21, tzinfo=UTC), "25.00")
    db.session.commit()
    analytics.refresh_shop(shop.id)
    path = f"/api/admin/analytics/summary?from={first}&to={last}"
    body = api(client, "GET", path).get_json()
    assert (body["churn_rate"], body["retention_rate"]) == ("50.00", "50.00")
    assert body["windows"] == {"churn_days": 90, "retention_days": 90, "period_days": 90}
    assert "90 days" in body["formulas"]["churn_rate"]
    year = api(client, "GET", f"{path}&churn_days=365").get_json()
    assert (year["churn_rate"], year["retention_rate"]) == ("0.00", "100.00")
    assert year["windows"]["retention_days"] == 365  # follows the churn window unless set
    mixed = api(client, "GET", f"{path}&churn_days=90&retention_days=365").get_json()
    assert (mixed["churn_rate"], mixed["retention_rate"]) == ("50.00", "100.00")
    assert mixed["windows"] == {"churn_days": 90, "retention_days": 365, "period_days": 90}
    assert api(client, "GET", f"/api/v1/analytics/summary?from={first}&to={last}").get_json()["churn_rate"] == "50.00"
    for bad in ("churn_days=6", "churn_days=731", "churn_days=abc", "retention_days=0", "churn_days=٣٠"):
        r = api(client, "GET", f"{path}&{bad}")
        assert r.status_code == 422, bad
        assert r.get_json()["error"]["fields"].keys() == {bad.split("=")[0]}, bad


def test_trend_liability_ends_at_the_headline_liability(client: Any, shop: Any) -> None:
    """The members' balances are the sum of their entries, so the last point's liability is the dashboard's, and
    each earlier one is that less what changed since. A deleted member's points are owed at no point."""
    m1 = member(shop, 1, email="one@x.test", points=70)
    m2 = member(shop, 2, email="two@x.test", points=30)
    gone = member(shop, 3, email="gone@x.test", points=400)
    db.session.flush()
    now = datetime.now(UTC)
    entry(shop, m1.id, 100, "signup", now - timedelta(days=400), "a")
    entry(shop, m1.id, -30, "redeem", now - timedelta(days=20), "b")
    entry(shop, m2.id, 30, "earn_order", now - timedelta(days=1), "c")
    entry(shop, gone.id, 500, "signup", now - timedelta(days=400), "d")
    entry(shop, gone.id, -100, "redeem", now - timedelta(days=5), "e")
    gone.deleted_at = now
    db.session.commit()
    trend = api(client, "GET", "/api/admin/analytics/trends?periods=3").get_json()
    headline = api(client, "GET", "/api/admin/analytics/summary").get_json()
    assert trend["points"][-1]["liability"] == headline["points_liability"] == str(
        f.points_liability(100, 0, Decimal("0.01")))
    # The first month ended more than 28 days ago: before the redemption and the order, Ada's 100 points alone.
    assert trend["points"][0]["liability"] == str(f.points_liability(100, 0, Decimal("0.01")))
    assert sum(p["points_redeemed"] for p in trend["points"]) == 130  # every redemption, as the summary counts
