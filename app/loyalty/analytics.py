"""Retention metrics from plain aggregates; every formula is written the way a merchant reads it.

Division by zero: every function returns ``None`` ("not enough data yet", shown as "—"), never 0,
because 0 % repeat rate and "no customers yet" are different things. Rates are percentages rounded to
2 decimals; money is rounded to cents; counts per customer to 2 decimals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from app.loyalty.money import exact_product

_TWO = Decimal("0.01")
_HUNDRED = Decimal(100)


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if denominator == 0:
        return None
    return Decimal(numerator) / Decimal(denominator)


def _round(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_TWO, rounding=ROUND_HALF_UP)


def _percent(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    ratio = _ratio(numerator, denominator)
    return None if ratio is None else _round(ratio * _HUNDRED)


# A customer is a repeat customer of a period when they placed at least this many counted orders in it.
REPEAT_ORDERS = 2
# Churn and retention: a customer is active at a moment when they ordered within this many days before it. The
# default is the demo seeds' lapse (a customer 90+ days without an order is lapsed); the merchant may widen it.
DEFAULT_ACTIVE_DAYS = 90
ACTIVE_DAYS_RANGE = (7, 730)


def is_repeat_customer(orders_in_period: int) -> bool:
    """A repeat customer of a period: 2 or more counted orders in it."""
    return orders_in_period >= REPEAT_ORDERS


def is_member_customer(member_orders: Iterable[bool]) -> bool:
    """A customer counts as a member in a period when any of their counted orders in it was a member's."""
    return any(member_orders)


def is_active(order_times: Iterable[datetime], at: datetime, active_days: int) -> bool:
    """Active at `at`: ordered in the `active_days` days before it, [at − active_days, at)."""
    since = at - timedelta(days=active_days)
    return any(since <= t < at for t in order_times)


def repeat_customer_rate(customers_with_2_plus_orders: int, customers_with_1_plus_orders: int) -> Decimal | None:
    """Repeat customer rate (%) = customers with 2 or more orders ÷ customers with at least 1 order × 100."""
    return _percent(customers_with_2_plus_orders, customers_with_1_plus_orders)


def purchase_frequency(orders: int, customers: int) -> Decimal | None:
    """Purchase frequency = orders ÷ customers who ordered (in the same period)."""
    return _round(_ratio(orders, customers))


def member_revenue_share(members_revenue: Decimal, revenue: Decimal) -> Decimal | None:
    """Members' revenue share (%) = revenue of the period's member customers ÷ the period's revenue × 100."""
    return _percent(members_revenue, revenue)


@dataclass(frozen=True)
class PeriodOrder:
    """A counted order, as the period figures see it."""

    customer_id: int
    at: datetime
    revenue: Decimal
    member: bool  # placed by a member


@dataclass(frozen=True)
class PeriodFigures:
    customers: int
    repeat_customers: int
    orders: int
    revenue: Decimal
    members_revenue: Decimal

    @property
    def repeat_rate(self) -> Decimal | None:
        return repeat_customer_rate(self.repeat_customers, self.customers)

    @property
    def member_revenue_share(self) -> Decimal | None:
        return member_revenue_share(self.members_revenue, self.revenue)


def period_figures(orders: Iterable[PeriodOrder], start: datetime, end: datetime) -> PeriodFigures:
    """The period [start, end)'s customers, repeat customers, orders, revenue and members' revenue, by the rules
    above. The dashboard's SQL restates this over the rollups for speed; tests prove the two agree."""
    by_customer: dict[int, list[PeriodOrder]] = {}
    for o in orders:
        if start <= o.at < end:
            by_customer.setdefault(o.customer_id, []).append(o)
    revenue = members_revenue = Decimal(0)
    repeat = count = 0
    for own in by_customer.values():
        spent = sum((o.revenue for o in own), Decimal(0))
        revenue += spent
        count += len(own)
        repeat += is_repeat_customer(len(own))
        if is_member_customer(o.member for o in own):
            members_revenue += spent
    return PeriodFigures(len(by_customer), repeat, count, revenue, members_revenue)


def order_revenue(current_total: Decimal) -> Decimal:
    """What one order counts for in revenue: its current total (net of refunds), never below zero. A paid order
    whose subtotal Shopify reports negative (an over-discounted edit, a refund larger than the order) earns
    nothing, like its eligible amount for points, and must not pull the average order value below zero."""
    return max(current_total, Decimal(0))


def average_order_value(revenue: Decimal, orders: int) -> Decimal | None:
    """Average order value = revenue ÷ orders."""
    return _round(_ratio(revenue, orders))


def customer_lifetime_value(
    average_order_value: Decimal | None, purchases_per_year: Decimal | None, lifespan_years: Decimal | None
) -> Decimal | None:
    """Customer lifetime value = average order value × purchases per customer per year × average customer
    lifespan in years. None when any part is unknown."""
    if average_order_value is None or purchases_per_year is None or lifespan_years is None:
        return None
    return _round(exact_product(average_order_value, purchases_per_year, lifespan_years))


def churn_rate(customers_at_start: int, customers_lost: int) -> Decimal | None:
    """Churn rate (%) = customers lost during the period ÷ customers at the start × 100."""
    return _percent(customers_lost, customers_at_start)


def retention_rate(customers_at_end: int, new_customers: int, customers_at_start: int) -> Decimal | None:
    """Customer retention rate (%) = (customers at the end − new customers in the period) ÷ customers at
    the start × 100."""
    return _percent(customers_at_end - new_customers, customers_at_start)


def median_days_to_second_order(first_and_second: Iterable[tuple[datetime, datetime]]) -> Decimal | None:
    """Median days between a customer's first and second order, over customers with a second order."""
    days = sorted(Decimal((second - first).total_seconds()) / 86400 for first, second in first_and_second)
    if not days:
        return None
    mid = len(days) // 2
    median = days[mid] if len(days) % 2 else (days[mid - 1] + days[mid]) / 2
    return _round(median)


RecencyBucket = Literal["0-30", "31-90", "90+"]


def recency_bucket(last_order_at: datetime, now: datetime) -> RecencyBucket:
    """Days since the last order: 0–30, 31–90, or more than 90 ("90+")."""
    days = (now - last_order_at).days
    if days <= 30:
        return "0-30"
    if days <= 90:
        return "31-90"
    return "90+"


def recency_buckets(last_order_times: Iterable[datetime], now: datetime) -> dict[RecencyBucket, int]:
    """How many customers fall in each recency bucket."""
    counts: dict[RecencyBucket, int] = {"0-30": 0, "31-90": 0, "90+": 0}
    for at in last_order_times:
        counts[recency_bucket(at, now)] += 1
    return counts


@dataclass(frozen=True)
class RfmInput:
    customer_id: int
    days_since_last_order: int
    orders: int
    monetary: Decimal


@dataclass(frozen=True)
class RfmScore:
    recency: int
    frequency: int
    monetary: int
    segment: str


def _quintile_scores(values: Sequence[Decimal | int]) -> list[int]:
    """1–5 by rank: score = 1 + ⌊5 × (number of smaller values) ÷ n⌋; equal values score the same."""
    n = len(values)
    ordered = sorted(values)
    first_index: dict[Decimal | int, int] = {}
    for i, v in enumerate(ordered):
        first_index.setdefault(v, i)
    return [1 + (5 * first_index[v]) // n for v in values]


def rfm_segment(recency: int, frequency: int) -> str:
    """Segment names from the recency and frequency scores (1–5, 5 best), first match wins:
    Champions (R ≥ 4, F ≥ 4), New (R ≥ 4, F = 1), At risk (R ≤ 2, F ≥ 3), Hibernating (R ≤ 2),
    Loyal (F ≥ 3), Potential loyalists (the rest)."""
    if recency >= 4 and frequency >= 4:
        return "Champions"
    if recency >= 4 and frequency == 1:
        return "New"
    if recency <= 2 and frequency >= 3:
        return "At risk"
    if recency <= 2:
        return "Hibernating"
    if frequency >= 3:
        return "Loyal"
    return "Potential loyalists"


def rfm_scores(customers: Sequence[RfmInput]) -> dict[int, RfmScore]:
    """Recency, frequency and monetary scores by quintile among these customers (5 = most recent, most
    orders, most spent), with the segment of each customer."""
    if not customers:
        return {}
    # Fewer days since the last order is better: score the negated days.
    recency = _quintile_scores([-c.days_since_last_order for c in customers])
    frequency = _quintile_scores([c.orders for c in customers])
    monetary = _quintile_scores([c.monetary for c in customers])
    return {
        c.customer_id: RfmScore(r, f, m, rfm_segment(r, f))
        for c, r, f, m in zip(customers, recency, frequency, monetary, strict=True)
    }


def redemption_rate(points_redeemed: int, points_issued: int) -> Decimal | None:
    """Redemption rate (%) = points redeemed ÷ points issued × 100 (same period)."""
    return _percent(points_redeemed, points_issued)


def points_liability(available_points: int, pending_points: int, point_value: Decimal) -> Decimal:
    """Points liability (money) = (available + pending points) × point value, in cents. Negative
    balances count as they are: they reduce what the shop owes."""
    return exact_product(available_points + pending_points, point_value).quantize(_TWO, rounding=ROUND_HALF_UP)


def lift(members_value: Decimal | None, holdout_value: Decimal | None) -> Decimal | None:
    """Lift (%) of a campaign = (members' figure − holdout's figure) ÷ holdout's figure × 100."""
    if members_value is None or holdout_value is None:
        return None
    return _percent(members_value - holdout_value, holdout_value)
