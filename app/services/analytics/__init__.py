"""The retention dashboard's service: the order path's upkeep of the rollups (here), the rollups themselves
(rollup: writes), the dashboard's headline figures (figures), its segments and cohorts (customers) and their
trends (over_time), all reads, and where PostgreSQL and SQLite differ (dialect).

Callers use this package's names. The order path's hooks (customer_changed, deferred_refreshes) live here and
call refresh_customers through this namespace, so a test that replaces it here sees every refresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.extensions import db
from app.services.analytics.customers import cohorts, segments

# Checked digit for digit against PostgreSQL by tests/admin/test_analytics_sqlite.py.
from app.services.analytics.dialect import pg_days as _pg_days  # noqa: F401
from app.services.analytics.figures import (
    Period,
    Windows,
    liability,
    parse_period,
    parse_windows,
    summary,
)
from app.services.analytics.over_time import parse_trend, trends
from app.services.analytics.rollup import (
    refresh_all,
    refresh_customers,
    refresh_shop,
    request_rebuild,
    rollup_as_of,
)

__all__ = [
    "Period", "Windows", "cohorts", "customer_changed", "deferred_refreshes", "liability", "parse_period",
    "parse_trend", "parse_windows", "refresh_all", "refresh_customer", "refresh_customers", "refresh_shop",
    "request_rebuild", "rollup_as_of", "segments", "summary", "trends",
]


def refresh_customer(shop_id: int, customer_id: int) -> None:
    """Recomputes one customer's rollup rows from their orders (a few indexed rows). For the order path: call
    after an order of this customer was created or changed, in the same transaction; does not commit.
    Idempotent. When an order moves from one customer to another, call it for both."""
    refresh_customers(shop_id, [customer_id])


# Customers of the current transaction whose refresh waits for its end (see deferred_refreshes).
_PENDING = "analytics.pending_customers"


def customer_changed(shop_id: int, customer_id: int) -> None:
    """The order path's call after an order of this customer changed: refreshes the customer's rollup now, or,
    inside `deferred_refreshes`, once at its end (still before the caller's commit)."""
    pending: set[tuple[int, int]] | None = db.session.info.get(_PENDING)
    if pending is None:
        refresh_customer(shop_id, customer_id)
    else:
        pending.add((shop_id, customer_id))


@contextmanager
def deferred_refreshes() -> Iterator[None]:
    """Within the block, `customer_changed` only notes the customer; on normal exit every noted customer is
    refreshed, once, shop by shop, with a few set-based statements, in the caller's (uncommitted) transaction.

    For the drain's batch of deliveries: the dashboard's figures are the same at commit as with a refresh per
    order change (a refresh recomputes from the orders as they are, so a customer noted by a delivery whose
    savepoint was rolled back afterwards is only refreshed for nothing). On an exception nothing is refreshed:
    the caller rolls the transaction back. Nested use joins the outer block."""
    if db.session.info.get(_PENDING) is not None:
        yield
        return
    pending: set[tuple[int, int]] = set()
    db.session.info[_PENDING] = pending
    try:
        yield
    finally:
        db.session.info.pop(_PENDING, None)
    by_shop: dict[int, set[int]] = {}
    for shop_id, customer_id in pending:
        by_shop.setdefault(shop_id, set()).add(customer_id)
    for shop_id in sorted(by_shop):
        refresh_customers(shop_id, sorted(by_shop[shop_id]))
