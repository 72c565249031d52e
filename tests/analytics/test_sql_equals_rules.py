"""The dashboard's SQL restates app.loyalty.analytics's rules over the rollups (who is a repeat customer, who counts
as a member, the members' revenue share, who is active for churn and retention): on random shops, spans and
windows the trend's and the summary's SQL must give exactly what the rules give from the raw orders, on
PostgreSQL and on SQLite."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.loyalty import analytics as f
from app.models import Member, Order, Shop, utcnow
from app.services import analytics
from app.services.analytics.figures import Period, _period_figures
from app.services.analytics.over_time import Bucket, span_figures
from tests.conftest import sqlite_app_at

BASE = datetime(2025, 1, 1, tzinfo=UTC)
COUNTED = ("paid", "partially_refunded")
_shops = itertools.count(1)
_orders = itertools.count(1)

# A shop drawn from a seed: its size and mix are hypothesis's, the orders a seeded generator's (dense enough that
# customers have several orders per span, instants repeat, members' and others' orders mix within a customer).
shop_st = st.tuples(st.integers(0, 2**32), st.integers(0, 80), st.integers(1, 8))


def _rows(seed: int, count: int, customers: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    stamps: list[int] = []
    rows = []
    for _ in range(count):
        minutes = rng.choice(stamps) if stamps and rng.random() < 0.1 else rng.randint(0, 60 * 24 * 60)
        if rng.random() < 0.1:  # at midnight: on a span's edge
            minutes -= minutes % (60 * 24)
        stamps.append(minutes)
        customer = None if rng.random() < 0.05 else rng.randint(1, customers)
        rows.append((customer, minutes, rng.randint(0, 40_000), rng.random() < 0.4,
                     rng.choice(COUNTED * 4 + ("refunded", "pending")), rng.random() < 0.05, rng.random() < 0.05))
    return rows


# Spans as (start, length) in days from BASE: overlapping, touching, empty, single-day.
spans_st = st.lists(st.tuples(st.integers(-5, 65), st.integers(1, 45)), min_size=1, max_size=5)


def _seed(rows: list[tuple[Any, ...]]) -> tuple[int, list[f.PeriodOrder]]:
    shop = Shop(domain=f"trend{next(_shops)}.myshopify.com", settings={}, installed_at=utcnow(), created_at=utcnow())
    db.session.add(shop)
    db.session.flush()
    members = {}
    for c in range(1, 9):
        m = Member(shop_id=shop.id, customer_id=c, email=f"c{c}@x.test", email_normalized=f"c{c}@x.test",
                   enrolled_at=utcnow(), referral_code=f"R{c}")
        db.session.add(m)
        members[c] = m
    db.session.flush()
    counted = []
    for customer, minutes, cents, is_member, status, cancelled, test in rows:
        at = BASE + timedelta(minutes=minutes)
        total = Decimal(cents).scaleb(-2)
        member_id = members[customer].id if customer is not None and is_member else None
        db.session.add(Order(shop_id=shop.id, order_id=next(_orders), customer_id=customer, member_id=member_id,
                             financial_status=status, cancelled=cancelled, test=test, processed_at=at, paid_at=at,
                             subtotal=total, total_price=total, eligible_amount=total))
        if status in COUNTED and not cancelled and not test and customer is not None:
            counted.append(f.PeriodOrder(customer, at, total, member_id is not None))
    db.session.commit()
    analytics.refresh_shop(shop.id)
    return shop.id, counted


def _check_summary(shop_id: int, counted: list[f.PeriodOrder], start: int, length: int, window: int) -> None:
    a = BASE + timedelta(days=start)
    period = Period(a, a + timedelta(days=length))
    groups, (at_start, at_end, new, kept) = _period_figures(shop_id, period, window)
    rules = f.period_figures(counted, period.start, period.end)
    from_sql = f.PeriodFigures(sum(g["customers"] for g in groups.values()), sum(g["repeat"] for g in groups.values()),
                               sum(g["orders"] for g in groups.values()),
                               sum((g["revenue"] for g in groups.values()), Decimal(0)), groups[True]["revenue"])
    assert from_sql == rules
    times: dict[int, list[datetime]] = {}
    for o in counted:
        times.setdefault(o.customer_id, []).append(o.at)
    active_start = {c for c, ts in times.items() if f.is_active(ts, period.start, window)}
    active_end = {c for c, ts in times.items() if f.is_active(ts, period.end, window)}
    first_in = sum(1 for ts in times.values() if period.start <= min(ts) < period.end)
    assert (at_start, at_end, new, kept) == (len(active_start), len(active_end), first_in,
                                             len(active_start & active_end))


def _check(drawn: tuple[int, int, int], raw_spans: list[tuple[int, int]]) -> None:
    shop_id, counted = _seed(_rows(*drawn))
    spans = [Bucket(BASE + timedelta(days=s), BASE + timedelta(days=s + n)) for s, n in raw_spans]
    from_sql = span_figures(shop_id, spans)
    from_rules = [f.period_figures(counted, s.start, s.end) for s in spans]
    assert from_sql == from_rules
    # And the figures the trend shows, which follow from those.
    assert [(x.repeat_rate, x.member_revenue_share) for x in from_sql] == [
        (f.repeat_customer_rate(x.repeat_customers, x.customers), f.member_revenue_share(x.members_revenue, x.revenue))
        for x in from_rules]
    # The summary's one pass, for each span as its period, with windows shorter and longer than the period.
    for (start, length), window in zip(raw_spans, itertools.cycle((7, 30, 90, 200)), strict=False):
        _check_summary(shop_id, counted, start, length, window)


@pytest.mark.postgres
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=shop_st, raw_spans=spans_st)
def test_postgres_trend_sql_equals_the_rules(pg_app: Any, drawn: tuple[int, int, int],
                                             raw_spans: list[tuple[int, int]]) -> None:
    with pg_app.app_context():
        _check(drawn, raw_spans)


@pytest.fixture(scope="module")
def lite_app(tmp_path_factory: Any) -> Iterator[Any]:
    with sqlite_app_at(tmp_path_factory.mktemp("trends") / "a.db") as app:
        yield app


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=shop_st, raw_spans=spans_st)
def test_sqlite_trend_sql_equals_the_rules(lite_app: Any, drawn: tuple[int, int, int],
                                           raw_spans: list[tuple[int, int]]) -> None:
    with lite_app.app_context():
        _check(drawn, raw_spans)
