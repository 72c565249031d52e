"""The tier window's SQL (app/services/tiers.py, the widget's progress bar too) equals the domain's rule
(app.loyalty.tiers.qualifying_value) on random facts, on PostgreSQL and on SQLite: the dates that matter
most (exactly a year before, New Year's midnight, now itself, Feb 29) are drawn often."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.dates import add_years
from app.loyalty.settings import TierMetric, TierWindow
from app.loyalty.tiers import qualifying_value
from app.models import LedgerEntry, Member, Order, Shop, utcnow
from app.services import tiers

WINDOWED: tuple[TierWindow, ...] = ("rolling_12_months", "calendar_year")
_ids = itertools.count(7_000_000_000_000_000)

nows = st.one_of(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)),
    st.sampled_from([datetime(2028, 2, 29, 12, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
                     datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)]),
)


@st.composite
def scenarios(draw: Any) -> tuple[TierMetric, TierWindow, datetime, list[tuple[datetime, Any, bool, str]]]:
    """(metric, window, now, facts): facts are (date, value, counted, kind); uncounted orders and
    non-earning entries are noise the rule must leave out."""
    metric: TierMetric = draw(st.sampled_from(["points_earned", "amount_spent", "orders"]))
    window: TierWindow = draw(st.sampled_from(WINDOWED))
    now = draw(nows)
    edges = [add_years(now, -1), datetime(now.year, 1, 1, tzinfo=UTC), datetime(now.year - 1, 1, 1, tzinfo=UTC),
             now, now + timedelta(seconds=1), add_years(now, -1) + timedelta(seconds=1),
             datetime(now.year, 1, 1, tzinfo=UTC) - timedelta(microseconds=1)]
    when = st.one_of(st.sampled_from(edges),
                     st.integers(-3 * 366 * 86400, 86400).map(lambda s: now + timedelta(seconds=s)))
    if metric == "points_earned":
        fact = st.tuples(when, st.integers(-500, 2000), st.just(True),
                         st.sampled_from([rules.EARN_ORDER, rules.REVERSE_ORDER, rules.BIRTHDAY, rules.REDEEM,
                                          rules.ADMIN_ADJUSTMENT, rules.TIER_BONUS]))
    else:
        amount = st.decimals(0, 1000, places=2, allow_nan=False, allow_infinity=False)
        fact = st.tuples(when, amount, st.booleans(), st.just(""))
    return metric, window, now, draw(st.lists(fact, max_size=12))


def _store(shop: Shop, metric: TierMetric, facts: list[tuple[datetime, Any, bool, str]]) -> Member:
    member = Member(shop_id=shop.id, customer_id=next(_ids), enrolled_at=datetime(2020, 1, 1, tzinfo=UTC),
                    created_at=utcnow(), updated_at=utcnow())
    db.session.add(member)
    db.session.flush()
    for i, (at, value, counted, kind) in enumerate(facts):
        if metric == "points_earned":
            db.session.add(LedgerEntry(shop_id=shop.id, member_id=member.id, points=value, kind=kind, source="test",
                                       idempotency_key=f"t:{member.id}:{i}", occurred_at=at, created_at=at))
        else:
            db.session.add(Order(shop_id=shop.id, order_id=next(_ids), member_id=member.id,
                                 customer_id=member.customer_id, financial_status="paid" if counted else "refunded",
                                 paid_at=at, processed_at=at, eligible_amount=value, counted=counted,
                                 created_at=at, updated_at=at))
    db.session.commit()
    return member


def _domain_facts(metric: TierMetric, facts: list[tuple[datetime, Any, bool, str]]) -> list[tuple[datetime, Any]]:
    if metric == "points_earned":
        return [(at, v) for at, v, _, kind in facts if kind in rules.EARNING_KINDS]
    return [(at, v) for at, v, counted, _ in facts if counted]


def _check(shop_id: int, scenario: tuple[TierMetric, TierWindow, datetime, list[Any]]) -> None:
    metric, window, now, facts = scenario
    shop = db.session.get(Shop, shop_id)
    assert shop is not None
    member = _store(shop, metric, facts)
    expected = qualifying_value(metric, window, _domain_facts(metric, facts), now)
    assert tiers.qualifying_value_of(member, metric, window, now) == expected
    bulk = {mid: v for mid, _, _, v in tiers.qualifying_values(shop_id, metric, window, now, [member.id])}
    assert bulk == {member.id: expected}


def _new_shop() -> int:
    shop = Shop(domain="window.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok",
                created_at=utcnow(), updated_at=utcnow())
    db.session.add(shop)
    db.session.commit()
    return shop.id



_settings = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.postgres
@_settings
@given(scenario=scenarios())
def test_tier_window_sql_equals_the_rule_on_postgresql(pg_app: Any, scenario: Any) -> None:
    with pg_app.app_context():
        shop_id = db.session.query(Shop.id).filter_by(domain="window.myshopify.com").scalar() or _new_shop()
        _check(shop_id, scenario)


@_settings
@given(scenario=scenarios())
def test_tier_window_sql_equals_the_rule_on_sqlite(sqlite_app: Any, scenario: Any) -> None:
    shop_id = db.session.query(Shop.id).filter_by(domain="window.myshopify.com").scalar() or _new_shop()
    _check(shop_id, scenario)


def test_the_rolling_window_starts_after_the_same_moment_a_year_before() -> None:
    """The boundary the widget used to count and the evaluation did not: an order exactly a year ago is out."""
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    year_ago = add_years(now, -1)
    assert qualifying_value("amount_spent", "rolling_12_months", [(year_ago, Decimal("50"))], now) == 0
    later = year_ago + timedelta(microseconds=1)
    assert qualifying_value("amount_spent", "rolling_12_months", [(later, Decimal("50"))], now) == 50
