"""The analytics rollups (writes): per counted order (analytics_orders) and per customer (analytics_customers),
derived from orders by the same statements per customer (refresh_customers, on the order path) or per shop
(refresh_shop, a job). The dashboard only reads them: it never rebuilds inside a request; when it finds no
rollup it asks for a rebuild through the work port (app.services.work), which the job layer implements.

Which orders count: paid or partially refunded, not cancelled, not test, with a customer; revenue is the
order's current total as the order path stores it (net of refunds, never below zero: app.loyalty.analytics
.order_revenue).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text

from app.extensions import db
from app.models import utcnow
from app.services import work
from app.services.analytics.dialect import PAID, Flavour, aware, bind, flavour, over_customers

_LOCK = 872301  # advisory lock class: the shop's rollup (shared per customer refresh, exclusive for a rebuild)
_CUSTOMER_LOCK = 872302

_FACTS_INSERT = f"""
    INSERT INTO analytics_orders (id, shop_id, customer_id, processed_at, total_price, first_at, prev_at, prev2_at,
                                  member_before_at, member_after_at)
    SELECT o.id, o.shop_id, o.customer_id, o.processed_at, o.total_price,
           FIRST_VALUE(o.processed_at) OVER w, LAG(o.processed_at, 1) OVER w, LAG(o.processed_at, 2) OVER w,
           MAX(CASE WHEN o.member_id IS NOT NULL THEN o.processed_at END)
               OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           MIN(CASE WHEN o.member_id IS NOT NULL THEN o.processed_at END)
               OVER (w ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
    FROM orders o
    WHERE o.shop_id = :shop_id AND {PAID} AND o.processed_at IS NOT NULL {{extra}}
    WINDOW w AS (PARTITION BY o.customer_id ORDER BY o.processed_at, o.id)
    {{conflict}}
"""
# The per-customer row follows from the facts, so the two can never disagree.
_CUSTOMERS_INSERT = """
    INSERT INTO analytics_customers (shop_id, customer_id, is_member, first_order_at, second_order_at, last_order_at,
                                     orders_count, revenue, refreshed_at)
    SELECT :shop_id, customer_id, {any_member}, MIN(processed_at),
           MIN(processed_at) FILTER (WHERE prev_at IS NOT NULL AND prev2_at IS NULL), MAX(processed_at),
           COUNT(*), {revenue}, :now
    FROM analytics_orders WHERE shop_id = :shop_id {extra}
    GROUP BY customer_id
    {conflict}
"""
_FACTS_UPSERT = """ON CONFLICT (id) DO UPDATE SET shop_id = EXCLUDED.shop_id, customer_id = EXCLUDED.customer_id,
    processed_at = EXCLUDED.processed_at, total_price = EXCLUDED.total_price, first_at = EXCLUDED.first_at,
    prev_at = EXCLUDED.prev_at, prev2_at = EXCLUDED.prev2_at, member_before_at = EXCLUDED.member_before_at,
    member_after_at = EXCLUDED.member_after_at"""
_CUSTOMERS_UPSERT = """ON CONFLICT (shop_id, customer_id) DO UPDATE SET is_member = EXCLUDED.is_member,
    first_order_at = EXCLUDED.first_order_at, second_order_at = EXCLUDED.second_order_at,
    last_order_at = EXCLUDED.last_order_at, orders_count = EXCLUDED.orders_count, revenue = EXCLUDED.revenue,
    refreshed_at = EXCLUDED.refreshed_at"""


def refresh_shop(shop_id: int) -> int:
    """Rebuilds the shop's rollups from its orders (a job: ≈10 s at a million orders). Commits.

    Holds the shop's lock exclusively meanwhile, so an order change that commits during the rebuild waits in
    refresh_customer and then recomputes its customer from what the rebuild left: nothing is lost. On SQLite
    there is no lock to take: the database admits one writer at a time anyway."""
    fl = flavour()
    if not fl.sqlite:
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k, CAST(:s AS integer))"),
                           {"k": _LOCK, "s": shop_id})
    params = bind({"shop_id": shop_id, "now": utcnow()}, fl)
    db.session.execute(text("DELETE FROM analytics_customers WHERE shop_id = :shop_id"), params)
    db.session.execute(text("DELETE FROM analytics_orders WHERE shop_id = :shop_id"), params)
    orders = _rowcount(db.session.execute(text(_FACTS_INSERT.format(extra="", conflict=_FACTS_UPSERT)), params))
    customers = _rowcount(db.session.execute(text(_customers_insert(fl, extra="", conflict="")), params))
    db.session.execute(text("""
        INSERT INTO analytics_shops (shop_id, rebuilt_at, customers, orders) VALUES (:shop_id, :now, :c, :o)
        ON CONFLICT (shop_id) DO UPDATE SET rebuilt_at = EXCLUDED.rebuilt_at, customers = EXCLUDED.customers,
                                            orders = EXCLUDED.orders"""),
                       {**params, "c": customers, "o": orders})
    db.session.commit()
    if not fl.sqlite:  # SQLite's planner picks the indexes without statistics at the demo's size
        # Fresh statistics: planned on the counts of an empty table, the dashboard's joins take seconds, not ms.
        db.session.execute(text("ANALYZE analytics_orders, analytics_customers"))
        db.session.commit()
    return customers


def _customers_insert(fl: Flavour, *, extra: str, conflict: str) -> str:
    return _CUSTOMERS_INSERT.format(any_member=fl.any_member, revenue=fl.customer_revenue, extra=extra,
                                    conflict=conflict)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)




def refresh_customers(shop_id: int, customer_ids: Iterable[int]) -> None:
    """refresh_customer for several customers of a shop at once: the same statements, over the set (the window
    functions partition by customer, so each customer's rows are exactly what their own refresh gives)."""
    customers = sorted(set(customer_ids))
    if not customers:
        return
    db.session.flush()  # the statements below read orders with SQL: the caller's pending changes must be in
    fl = flavour()
    params = bind({"shop_id": shop_id, "customer_ids": customers, "now": utcnow(), "k": _LOCK, "ck": _CUSTOMER_LOCK},
                   fl)
    if not fl.sqlite:  # SQLite serialises writers itself
        # Shared with other customers, exclusive against a full rebuild; and one refresher per customer at a
        # time, so the last one to commit has seen every other's order change. The customers' locks are taken
        # in one order (by key) whatever the set, so two refreshes of overlapping sets cannot deadlock.
        db.session.execute(text(
            "SELECT pg_advisory_xact_lock_shared(:k, CAST(:shop_id AS integer)), "
            "(SELECT count(pg_advisory_xact_lock(:ck, h)) FROM "
            " (SELECT DISTINCT hashtext(CAST(:shop_id AS text) || '/' || CAST(c AS text)) AS h "
            "  FROM unnest(CAST(:customer_ids AS bigint[])) AS c ORDER BY h) AS keys)"), params)
    one_of = fl.in_customers
    db.session.execute(over_customers(f"DELETE FROM analytics_orders WHERE shop_id = :shop_id AND customer_id {one_of}", fl),
                       params)
    # An order that moved here from another customer still has its row there.
    db.session.execute(over_customers("DELETE FROM analytics_orders WHERE id IN "
                            f"(SELECT id FROM orders WHERE shop_id = :shop_id AND customer_id {one_of})", fl), params)
    db.session.execute(over_customers(f"DELETE FROM analytics_customers WHERE shop_id = :shop_id AND customer_id {one_of}", fl),
                       params)
    db.session.execute(over_customers(_FACTS_INSERT.format(extra=f"AND o.customer_id {one_of}", conflict=_FACTS_UPSERT), fl),
                       params)
    db.session.execute(over_customers(_customers_insert(fl, extra=f"AND customer_id {one_of}", conflict=_CUSTOMERS_UPSERT), fl),
                       params)


def refresh_all() -> dict[str, int]:
    """Daily heal (schedule "analytics"): rebuilds every installed shop's rollups, one shop per transaction."""
    shop_ids = db.session.execute(text("SELECT id FROM shops WHERE installed_at IS NOT NULL AND uninstalled_at IS NULL "
                                       "ORDER BY id")).scalars().all()
    return {str(i): refresh_shop(int(i)) for i in shop_ids}


def request_rebuild(shop_id: int) -> bool:
    """Asks for one rebuild of the shop's rollups in the background (app.services.work; the job layer queues at
    most one per shop at a time); False when none was queued (one already is, or the queue is down: the daily
    rebuild will come)."""
    return work.request("analytics-rebuild", shop_id, job_id=f"analytics-rebuild-{shop_id}")


def rollup_as_of(shop_id: int) -> datetime | None:
    """When the rollups were last rebuilt in full, or None when never: then a rebuild is asked for and the
    figures come from what exists (in-process, the rebuild may already have run). Between rebuilds the order path
    keeps them current."""
    at = db.session.execute(text("SELECT rebuilt_at FROM analytics_shops WHERE shop_id = :s"), {"s": shop_id}).scalar()
    if at is None:
        request_rebuild(shop_id)
        at = db.session.execute(text("SELECT rebuilt_at FROM analytics_shops WHERE shop_id = :s"),
                                {"s": shop_id}).scalar()
    return None if at is None else aware(at)
