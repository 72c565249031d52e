"""The birthday-due selection (SQL pre-filter + app.loyalty.actions.birthday_due) picks exactly the members
the rule names, on random birthdays and days, on PostgreSQL and SQLite; 28/29 February are drawn often.
Likewise the anniversaries (PostgreSQL: the join day is read with timezone())."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.loyalty.actions import anniversary_due, birthday_due, validate_birthday
from app.loyalty.dates import days_observed_on
from app.models import Member, Shop, utcnow
from app.services.birthdays import anniversaries_due, birthdays_due_ids

_ids = itertools.count(8_000_000_000_000_000)
SHOP = "birthdays.myshopify.com"

birthdays = st.one_of(
    st.sampled_from([(2, 28), (2, 29), (3, 1), (12, 31), (1, 1)]),
    st.tuples(st.integers(1, 12), st.integers(1, 31)).filter(lambda md: validate_birthday(*md) is None),
)
days = st.one_of(
    st.sampled_from([date(2027, 2, 28), date(2028, 2, 28), date(2028, 2, 29), date(2100, 2, 28), date(2000, 2, 29),
                     date(2027, 3, 1)]),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2104, 12, 31)),
)


def _shop_id() -> int:
    shop_id = db.session.query(Shop.id).filter_by(domain=SHOP).scalar()
    if shop_id is None:
        shop = Shop(domain=SHOP, settings={}, installed_at=utcnow(), access_token="tok", created_at=utcnow(),
                    updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        shop_id = shop.id
    return int(shop_id)


def _check(birthdays_of_members: list[tuple[int, int]], today: date) -> None:
    shop_id = _shop_id()
    db.session.query(Member).filter_by(shop_id=shop_id).delete()
    members = [Member(shop_id=shop_id, customer_id=next(_ids), birthday_month=m, birthday_day=d,
                      enrolled_at=datetime(2020, 1, 1, tzinfo=UTC), created_at=utcnow(), updated_at=utcnow())
               for m, d in birthdays_of_members]
    db.session.add_all(members)
    db.session.commit()
    expected = [m.id for m in members if birthday_due(m.birthday_month, m.birthday_day, today)]
    assert birthdays_due_ids(shop_id, today) == sorted(expected)



_settings = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.postgres
@_settings
@given(members=st.lists(birthdays, max_size=10), today=days)
def test_birthday_selection_is_the_rule_on_postgresql(pg_app: Any, members: Any, today: date) -> None:
    with pg_app.app_context():
        _check(members, today)


@_settings
@given(members=st.lists(birthdays, max_size=10), today=days)
def test_birthday_selection_is_the_rule_on_sqlite(sqlite_app: Any, members: Any, today: date) -> None:
    _check(members, today)


@given(today=days)
def test_the_days_sql_preselects_are_exactly_the_days_the_rule_observes(today: date) -> None:
    every_day = [(m, d) for m in range(1, 13) for d in range(1, 32) if validate_birthday(m, d) is None]
    assert sorted(days_observed_on(today)) == [md for md in every_day if birthday_due(*md, today)]


joins = st.one_of(
    st.sampled_from([datetime(2024, 2, 29, 23, 30, tzinfo=UTC), datetime(2025, 2, 28, 0, 0, tzinfo=UTC),
                     datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)]),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
)


@pytest.mark.postgres
@_settings
@given(joined=st.lists(joins, max_size=10), today=days)
def test_anniversary_selection_is_the_rule_on_postgresql(pg_app: Any, joined: list[datetime], today: date) -> None:
    """The daily job's anniversaries (SQL pre-selection of the day, then app.loyalty.actions.anniversary_due)
    are exactly the members the rule names, with the years it counts."""
    with pg_app.app_context():
        shop_id = _shop_id()
        db.session.query(Member).filter_by(shop_id=shop_id).delete()
        members = [Member(shop_id=shop_id, customer_id=next(_ids), enrolled_at=at, created_at=utcnow(),
                          updated_at=utcnow()) for at in joined]
        db.session.add_all(members)
        db.session.commit()
        expected = [(m.id, anniversary_due(at.date(), today)) for m, at in zip(members, joined, strict=True)]
        assert anniversaries_due(shop_id, today) == sorted((mid, y) for mid, y in expected if y is not None)
