"""Retention formulas, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.loyalty.analytics import (
    RfmInput,
    average_order_value,
    churn_rate,
    customer_lifetime_value,
    lift,
    median_days_to_second_order,
    points_liability,
    purchase_frequency,
    recency_bucket,
    recency_buckets,
    redemption_rate,
    repeat_customer_rate,
    retention_rate,
    rfm_scores,
    rfm_segment,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_core_rates() -> None:
    assert repeat_customer_rate(30, 120) == Decimal("25.00")
    assert purchase_frequency(180, 120) == Decimal("1.50")
    assert average_order_value(Decimal("9000.00"), 180) == Decimal("50.00")
    assert customer_lifetime_value(Decimal("50.00"), Decimal("1.5"), Decimal(3)) == Decimal("225.00")
    assert churn_rate(200, 30) == Decimal("15.00")
    # started with 200, ended with 220, of whom 50 are new: (220 − 50) ÷ 200 = 85 %
    assert retention_rate(220, 50, 200) == Decimal("85.00")
    assert redemption_rate(2500, 10_000) == Decimal("25.00")
    assert lift(Decimal("12"), Decimal("10")) == Decimal("20.00")


def test_division_by_zero_is_none_not_zero() -> None:
    assert repeat_customer_rate(0, 0) is None
    assert purchase_frequency(0, 0) is None
    assert average_order_value(Decimal(0), 0) is None
    assert churn_rate(0, 0) is None
    assert retention_rate(10, 10, 0) is None
    assert redemption_rate(0, 0) is None
    assert customer_lifetime_value(None, Decimal(1), Decimal(1)) is None
    assert median_days_to_second_order([]) is None


def test_median_days_to_second_order() -> None:
    first = NOW - timedelta(days=100)
    pairs = [(first, first + timedelta(days=d)) for d in (10, 30, 20, 40)]
    assert median_days_to_second_order(pairs) == Decimal("25.00")
    assert median_days_to_second_order(pairs[:3]) == Decimal("20.00")


def test_recency_buckets() -> None:
    assert recency_bucket(NOW - timedelta(days=30), NOW) == "0-30"
    assert recency_bucket(NOW - timedelta(days=31), NOW) == "31-90"
    assert recency_bucket(NOW - timedelta(days=90), NOW) == "31-90"
    assert recency_bucket(NOW - timedelta(days=91), NOW) == "90+"
    times = [NOW, NOW - timedelta(days=45), NOW - timedelta(days=200), NOW - timedelta(days=365)]
    assert recency_buckets(times, NOW) == {"0-30": 1, "31-90": 1, "90+": 2}


def test_points_liability() -> None:
    assert points_liability(120_000, 30_000, Decimal("0.01")) == Decimal("1500.00")


def test_rfm_scores_and_segments() -> None:
    customers = [RfmInput(i, days_since_last_order=days, orders=orders, monetary=Decimal(spent))
                 for i, (days, orders, spent) in enumerate(
                     [(2, 12, 900), (5, 1, 40), (200, 9, 700), (300, 1, 20), (60, 3, 150)])]
    scores = rfm_scores(customers)
    assert scores[0].segment == "Champions" and (scores[0].recency, scores[0].frequency) == (5, 5)
    assert scores[1].segment == "New"
    assert scores[2].segment == "At risk"
    assert scores[3].segment == "Hibernating"
    assert scores[3].recency == 1 and scores[0].monetary == 5
    assert rfm_segment(3, 3) == "Loyal" and rfm_segment(3, 2) == "Potential loyalists"
    assert rfm_scores([]) == {}
