"""The retention dashboard's figures: SQL aggregates over the analytics rollups (kept ahead of the dashboard,
per order change and by a rebuild job), the ledger and members, turned into numbers by app.loyalty.analytics
(the formulas live there, once). PostgreSQL is the production path; SQLite (the embedded demo default) gets
the same figures through SQLite's own SQL where the two differ (see _Flavour).

Which orders count: paid or partially refunded, not cancelled, not test, with a customer; revenue is the
order's current total (net of refunds). Dates are UTC days; a range [from, to] includes both days.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, Inexact, localcontext
from typing import Any

from sqlalchemy import bindparam, text

from app.extensions import db
from app.loyalty import analytics as f
from app.loyalty import ledger as rules
from app.loyalty.settings import ProgramSettings
from app.models import Shop, utcnow

PAID = ("o.financial_status IN ('paid', 'partially_refunded') AND o.cancelled = false AND o.test = false "
        "AND o.customer_id IS NOT NULL")
# A customer is "active" at a moment when they ordered within this many days before it (churn, retention).
ACTIVE_DAYS = 365
COHORT_MONTHS = 12
ISSUED_KINDS = tuple(sorted(rules.EARNING_KINDS | {rules.TIER_BONUS}))
REDEEM_KINDS = (rules.REDEEM, rules.REDEEM_REVERSED, rules.CODE_REFUNDED)

# What each figure means, shown next to it in the admin and returned by the API.
FORMULAS: dict[str, str] = {
    "repeat_customer_rate": "Customers with 2 or more orders in the period ÷ customers with at least 1 order in the "
                            "period × 100",
    "purchase_frequency": "Orders in the period ÷ customers who ordered in the period",
    "average_order_value": "Revenue in the period ÷ orders in the period",
    "customer_lifetime_value": "Average order value × purchases per customer per year (purchase frequency scaled "
                               "to 365 days) × average customer lifespan in years (first to last order of "
                               "repeat customers)",
    "churn_rate": f"Customers active at the start (ordered in the {ACTIVE_DAYS} days before it) who were no longer "
                  "active at the end ÷ customers active at the start × 100",
    "retention_rate": "(Customers active at the end E − new customers in the period N) ÷ customers active at the "
                      "start S × 100",
    "median_days_to_second_order": "Median number of days between first and second order, over customers whose "
                                   "second order fell in the period",
    "redemption_rate": "Points redeemed in the period ÷ points issued in the period × 100",
    "points_liability": "(Available + pending points of all members) × point value",
    "referral_revenue": "Revenue of paid orders in the period that used a referral friend code",
    "recency": "Customers by days since their last order, today: 0–30, 31–90, more than 90",
    "rfm": "Recency, frequency and monetary scores 1–5 by quintile among all customers; segment from R and F",
    "cohorts": "Customers grouped by the month of their first order; each cell is the share of the cohort that "
               "ordered in that month after their first",
}


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive: midnight after the last day

    @property
    def days(self) -> int:
        return max(1, (self.end - self.start).days)

    @classmethod
    def of(cls, first: date, last: date) -> Period:
        return cls(datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC))


def parse_period(raw_from: str | None, raw_to: str | None, today: date | None = None) -> tuple[Period | None, dict[str, str]]:
    """`from`/`to` as YYYY-MM-DD (default: the last 90 days up to today); errors name the bad field."""
    today = today or utcnow().date()
    errors: dict[str, str] = {}
    parsed: dict[str, date] = {}
    for name, raw, default in (("from", raw_from, today - timedelta(days=89)), ("to", raw_to, today)):
        if raw in (None, ""):
            parsed[name] = default
            continue
        try:
            parsed[name] = date.fromisoformat(str(raw))
        except ValueError:
            errors[name] = "must be a date like 2026-01-31"
    if errors:
        return None, errors
    if parsed["from"] > parsed["to"]:
        return None, {"from": "must not be after to"}
    if (parsed["to"] - parsed["from"]).days > 3660:
        return None, {"from": "the range may span at most 10 years"}
    return Period.of(parsed["from"], parsed["to"]), {}


def _num(value: Any) -> str | None:
    """Decimals travel as strings (never floats), None as null."""
    return None if value is None else str(value)


# --- the database's flavour ------------------------------------------------------------------------------
#
# PostgreSQL keeps exactly the statements it was tuned with. SQLite differs where it would change a figure or
# fail: it stores money as floating point (so sums add whole cents, exact, and come back as cents), timestamps
# as text 'YYYY-MM-DD HH:MM:SS.ffffff' (parameters are bound in that form so text comparisons are time
# comparisons), and it has no bool_or, date_trunc, percentile_disc or advisory locks.


@dataclass(frozen=True)
class _Flavour:
    sqlite: bool
    any_member: str  # per customer: did any of their counted orders belong to a member
    customer_revenue: str  # analytics_customers.revenue from the customer's facts
    money_sum: str  # a money sum by the dashboard: {0} the column, {1} an aggregate FILTER; read with _money
    month: str  # the UTC month of timestamp {0}, as a date or 'YYYY-MM-01'
    month_start: str  # the UTC instant the month of timestamp {0} began, comparable to a timestamp column
    in_customers: str  # "customer_id is one of :customer_ids" (see _ids)


_POSTGRES = _Flavour(
    sqlite=False,
    any_member="bool_or(member_after_at IS NOT NULL)",
    customer_revenue="COALESCE(SUM(total_price), 0)",
    money_sum="COALESCE(SUM({0}){1}, 0)",
    month="date_trunc('month', {0} AT TIME ZONE 'UTC')",
    month_start="date_trunc('month', {0} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    in_customers="= ANY(CAST(:customer_ids AS bigint[]))",
)
_SQLITE = _Flavour(
    sqlite=True,
    any_member="MAX(member_after_at IS NOT NULL)",
    customer_revenue="SUM(CAST(ROUND(total_price * 100) AS INTEGER)) / 100.0",
    money_sum="SUM(CAST(ROUND({0} * 100) AS INTEGER)){1}",
    month="substr({0}, 1, 7) || '-01'",
    # A stored 'YYYY-MM-DD …' sorts below 'YYYY-MM-01' exactly when it is before that month began.
    month_start="substr({0}, 1, 7) || '-01'",
    in_customers="IN :customer_ids",
)


def _flavour() -> _Flavour:
    return _SQLITE if db.engine.dialect.name == "sqlite" else _POSTGRES


def _money(value: Any, fl: _Flavour) -> Decimal:
    """A money sum of _Flavour.money_sum: PostgreSQL's numeric as is; SQLite's whole cents (None when nothing
    was summed, which PostgreSQL's COALESCE turns into 0)."""
    if not fl.sqlite:
        return Decimal(value)
    return Decimal(0) if value is None else Decimal(int(value)).scaleb(-2)


def _bind(params: dict[str, Any], fl: _Flavour) -> dict[str, Any]:
    """Statement parameters; on SQLite timestamps in the stored text form (UTC), so that comparing them with
    stored timestamps compares instants (the driver's own form, '…+00:00', would not)."""
    if not fl.sqlite:
        return params
    return {k: _sqlite_at(v) if isinstance(v, datetime) else v for k, v in params.items()}


def _sqlite_at(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime given as a UTC timestamp")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- the rollups: per counted order (analytics_orders) and per customer (analytics_customers) ------------
#
# Both are derived from orders by the same statements, per customer (refresh_customer, on the order path) or
# per shop (refresh_shop, a job). The dashboard only reads them: it never rebuilds inside a request.

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
    fl = _flavour()
    if not fl.sqlite:
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k, CAST(:s AS integer))"),
                           {"k": _LOCK, "s": shop_id})
    params = _bind({"shop_id": shop_id, "now": utcnow()}, fl)
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


def _customers_insert(fl: _Flavour, *, extra: str, conflict: str) -> str:
    return _CUSTOMERS_INSERT.format(any_member=fl.any_member, revenue=fl.customer_revenue, extra=extra,
                                    conflict=conflict)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


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


def refresh_customers(shop_id: int, customer_ids: Iterable[int]) -> None:
    """refresh_customer for several customers of a shop at once: the same statements, over the set (the window
    functions partition by customer, so each customer's rows are exactly what their own refresh gives)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    db.session.flush()  # the statements below read orders with SQL: the caller's pending changes must be in
    fl = _flavour()
    params = _bind({"shop_id": shop_id, "customer_ids": ids, "now": utcnow(), "k": _LOCK, "ck": _CUSTOMER_LOCK},
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
    db.session.execute(_ids(f"DELETE FROM analytics_orders WHERE shop_id = :shop_id AND customer_id {one_of}", fl),
                       params)
    # An order that moved here from another customer still has its row there.
    db.session.execute(_ids("DELETE FROM analytics_orders WHERE id IN "
                            f"(SELECT id FROM orders WHERE shop_id = :shop_id AND customer_id {one_of})", fl), params)
    db.session.execute(_ids(f"DELETE FROM analytics_customers WHERE shop_id = :shop_id AND customer_id {one_of}", fl),
                       params)
    db.session.execute(_ids(_FACTS_INSERT.format(extra=f"AND o.customer_id {one_of}", conflict=_FACTS_UPSERT), fl),
                       params)
    db.session.execute(_ids(_customers_insert(fl, extra=f"AND customer_id {one_of}", conflict=_CUSTOMERS_UPSERT), fl),
                       params)


def _ids(sql: str, fl: _Flavour) -> Any:
    """A statement over :customer_ids: one array parameter on PostgreSQL, an expanded IN list on SQLite."""
    stmt = text(sql)
    return stmt.bindparams(bindparam("customer_ids", expanding=True)) if fl.sqlite else stmt


def rebuild_shop(shop_id: int) -> int:
    """RQ entry point (bulk queue) of refresh_shop: opens the worker's app context."""
    from app.jobs import current_jobs, job_context

    with job_context():
        try:
            return refresh_shop(shop_id)
        finally:
            jobs = current_jobs()
            if not jobs.in_process:
                # The next request for a rebuild may queue one again (the flag expires within the hour anyway).
                with suppress(Exception):
                    jobs.redis.delete(_rebuild_flag(jobs.prefix, shop_id))


def refresh_all() -> dict[str, int]:
    """Daily heal (schedule "analytics"): rebuilds every installed shop's rollups, one shop per transaction."""
    ids = db.session.execute(text("SELECT id FROM shops WHERE installed_at IS NOT NULL AND uninstalled_at IS NULL "
                                  "ORDER BY id")).scalars().all()
    return {str(i): refresh_shop(int(i)) for i in ids}


def rollup_as_of(shop_id: int) -> datetime | None:
    """When the rollups were last rebuilt in full, or None when never: then a rebuild is queued (once) and the
    figures come from what exists. Between rebuilds the order path keeps them current."""
    at = db.session.execute(text("SELECT rebuilt_at FROM analytics_shops WHERE shop_id = :s"), {"s": shop_id}).scalar()
    if at is None:
        queue_rebuild(shop_id)
        at = db.session.execute(text("SELECT rebuilt_at FROM analytics_shops WHERE shop_id = :s"),
                                {"s": shop_id}).scalar()
    return None if at is None else _aware(at)


def queue_rebuild(shop_id: int) -> bool:
    """Queues one rebuild on the bulk queue (in-process when the app runs without Redis, as every job does).
    False when one is already queued or Redis is down (the daily rebuild will come)."""
    from app.jobs import current_jobs

    jobs = current_jobs()
    if not jobs.in_process:
        try:  # one queued rebuild per shop at a time, however many dashboards ask
            if not jobs.redis.set(_rebuild_flag(jobs.prefix, shop_id), "1", nx=True, ex=3600):
                return False
        except Exception:
            return False
    return jobs.enqueue("bulk", rebuild_shop, shop_id, job_id=f"analytics-rebuild-{shop_id}")


def _rebuild_flag(prefix: str, shop_id: int) -> str:
    return f"regulars:{prefix}analytics-rebuild:{shop_id}"


# --- figures ---------------------------------------------------------------------------------------

# One pass over the order facts from a year before the period to its end gives the period figures by
# membership and the counts behind churn and retention. A customer counts once per window through their
# first order in it (prev_at before the window); a repeat customer through their second order in the
# period; they are a member in the period when any of their orders in it was a member's.
_SUMMARY_SQL = """
    SELECT m, COUNT(*) FILTER (WHERE inp AND (prev_at IS NULL OR prev_at < :a)),
           COUNT(*) FILTER (WHERE inp AND prev_at >= :a AND (prev2_at IS NULL OR prev2_at < :a)),
           COUNT(*) FILTER (WHERE inp), {revenue},
           COUNT(*) FILTER (WHERE inp AND prev_at IS NULL),
           COUNT(*) FILTER (WHERE processed_at >= :w1 AND processed_at < :a AND (prev_at IS NULL OR prev_at < :w1)),
           COUNT(*) FILTER (WHERE processed_at >= :w2 AND (prev_at IS NULL OR prev_at < :w2)),
           COUNT(*) FILTER (WHERE prev_at IS NULL OR prev_at < :lo)
    FROM (SELECT processed_at, total_price, prev_at, prev2_at, processed_at >= :a AS inp,
                 CASE WHEN processed_at >= :a
                      THEN COALESCE(member_before_at >= :a, false) OR COALESCE(member_after_at < :b, false) END AS m
          FROM analytics_orders WHERE shop_id = :s AND processed_at >= :lo AND processed_at < :b) x
    GROUP BY m
"""
# Customers active at both the start and the end, when the two windows do not overlap (periods over a year).
_KEPT_SQL = """
    SELECT COUNT(*) FROM
      (SELECT customer_id FROM analytics_orders WHERE shop_id = :s AND processed_at >= :w1 AND processed_at < :a
         AND (prev_at IS NULL OR prev_at < :w1)) s
      JOIN
      (SELECT customer_id FROM analytics_orders WHERE shop_id = :s AND processed_at >= :w2 AND processed_at < :b
         AND (prev_at IS NULL OR prev_at < :w2)) e USING (customer_id)
"""


def _period_figures(shop_id: int, period: Period) -> tuple[dict[bool, dict[str, Any]], tuple[int, int, int, int]]:
    """(period figures by membership, (active at start S, active at end E, new in period N, S still active at
    the end))."""
    window = timedelta(days=ACTIVE_DAYS)
    fl = _flavour()
    params = _bind({"s": shop_id, "a": period.start, "b": period.end, "w1": period.start - window,
                    "w2": period.end - window, "lo": period.start - window}, fl)
    out = {m: {"customers": 0, "repeat": 0, "orders": 0, "revenue": Decimal(0)} for m in (False, True)}
    new = at_start = at_end = union = 0
    sql = _SUMMARY_SQL.format(revenue=fl.money_sum.format("total_price", " FILTER (WHERE inp)"))
    for m, customers, repeat, orders, revenue, first, s_, e_, u_ in db.session.execute(text(sql), params):
        at_start, at_end, union = at_start + int(s_), at_end + int(e_), union + int(u_)
        if m is None:
            continue
        out[bool(m)] = {"customers": int(customers), "repeat": int(repeat), "orders": int(orders),
                        "revenue": _money(revenue, fl)}
        new += int(first)
    if period.end - window <= period.start:
        # The windows [a − 365 d, a) and [b − 365 d, b) overlap: the union is one window, |S ∩ E| = S + E − |S ∪ E|.
        kept = at_start + at_end - union
    else:
        kept = int(db.session.execute(text(_KEPT_SQL), params).scalar() or 0)
    return out, (at_start, at_end, new, kept)


def _days_to_second(shop_id: int, period: Period) -> tuple[Decimal | None, Decimal | None]:
    """(median days to second order for second orders in the period, average lifespan in years)."""
    fl = _flavour()
    params = _bind({"s": shop_id, "a": period.start, "b": period.end}, fl)
    if fl.sqlite:
        n, low, high = _middle_gaps_in_python(params)
        count, total = _lifespan_days_in_python(params)
    else:
        # The two middle gaps, picked by the database; the median itself is app.loyalty's, on exactly those gaps.
        n, low, high = db.session.execute(text("""
            SELECT COUNT(*),
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY second_order_at - first_order_at),
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY second_order_at - first_order_at DESC)
            FROM analytics_customers WHERE shop_id = :s AND second_order_at >= :a AND second_order_at < :b"""),
            params).one()
        # Average lifespan of repeat customers (first to last order); one-time buyers have no lifespan to measure.
        count, total = db.session.execute(text(_LIFESPAN_SQL), {"s": shop_id}).one()
    middle = [low] if n % 2 else [low, high]
    median = f.median_days_to_second_order([(_EPOCH, _EPOCH + gap) for gap in middle]) if n else None
    lifespan = Decimal(str(total)) / Decimal(count) / Decimal(365) if count else None
    return median, lifespan


def _middle_gaps_in_python(params: dict[str, Any]) -> tuple[int, timedelta, timedelta]:
    """SQLite has no percentile_disc: (n, percentile_disc(0.5) of the gaps ascending, and descending), i.e.
    the lower and upper middle gap (the same one when n is odd), from the gaps sorted here."""
    rows = db.session.execute(text("""
        SELECT first_order_at, second_order_at FROM analytics_customers
        WHERE shop_id = :s AND second_order_at >= :a AND second_order_at < :b"""), params).all()
    gaps = sorted(_aware(second) - _aware(first) for first, second in rows)
    if not gaps:
        return 0, timedelta(0), timedelta(0)  # n = 0: no median, the gaps are not read
    return len(gaps), gaps[(len(gaps) - 1) // 2], gaps[len(gaps) // 2]


def _lifespan_days_in_python(params: dict[str, Any]) -> tuple[int, Decimal | None]:
    """What _LIFESPAN_SQL answers on PostgreSQL, to the last digit: (repeat customers, the sum over them of
    EXTRACT(EPOCH FROM last − first) / 86400.0, each quotient rounded as PostgreSQL's numeric division rounds
    it). The lifespan and the lifetime value derived from it then agree with PostgreSQL's."""
    rows = db.session.execute(text("""
        SELECT first_order_at, last_order_at FROM analytics_customers
        WHERE shop_id = :s AND orders_count >= 2"""), params).all()
    if not rows:
        return 0, None
    with localcontext() as ctx:
        ctx.prec = 200  # far more digits than the sum has: it is exact, as PostgreSQL's numeric sum is
        ctx.traps[Inexact] = True
        total = sum((_pg_days((_aware(last) - _aware(first)) // timedelta(microseconds=1))
                     for first, last in rows), Decimal(0))
    return len(rows), total


def _pg_days(micros: int) -> Decimal:
    """PostgreSQL's EXTRACT(EPOCH FROM gap) / 86400.0 for a gap of this many microseconds: the dividend is
    numeric with 6 decimals, and numeric division keeps at least 16 significant digits (select_div_scale in
    PostgreSQL's numeric.c, on base-10000 digits), rounding half away from zero."""
    seconds = Decimal(micros).scaleb(-6)
    if micros == 0:
        weight, first_digit = 0, 0
    else:
        weight = abs(seconds).adjusted() // 4  # position of the leading base-10000 digit
        first_digit = int(abs(seconds).scaleb(-4 * weight))
    # The divisor 86400.0: weight 1, leading base-10000 digit 8, 1 decimal.
    qweight = weight - 1 - (1 if first_digit <= 8 else 0)
    scale = min(max(16 - 4 * qweight, 6, 1, 0), 1000)
    quotient, remainder = divmod(abs(micros) * 10 ** scale, 86_400_000_000)
    if 2 * remainder >= 86_400_000_000:
        quotient += 1
    return Decimal(quotient if micros >= 0 else -quotient).scaleb(-scale)


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_LIFESPAN_SQL = ("SELECT COUNT(*), SUM(EXTRACT(EPOCH FROM (last_order_at - first_order_at)) / 86400.0) "
                 "FROM analytics_customers WHERE shop_id = :s AND orders_count >= 2")


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _points(shop_id: int, period: Period) -> dict[str, int]:
    fl = _flavour()
    row = db.session.execute(text("""
        SELECT SUM(CASE WHEN kind IN :issued AND points > 0 THEN points ELSE 0 END),
               SUM(CASE WHEN kind IN :redeem THEN points ELSE 0 END),
               SUM(CASE WHEN kind = 'expiry' THEN points ELSE 0 END)
        FROM ledger_entries WHERE shop_id = :s AND occurred_at >= :a AND occurred_at < :b""").bindparams(
        _expanding("issued"), _expanding("redeem")),
        _bind({"s": shop_id, "a": period.start, "b": period.end, "issued": list(ISSUED_KINDS),
               "redeem": list(REDEEM_KINDS)}, fl),
    ).one()
    return {"issued": int(row[0] or 0), "redeemed": -int(row[1] or 0), "expired": -int(row[2] or 0)}


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def liability(shop: Shop, settings: ProgramSettings) -> dict[str, Any]:
    row = db.session.execute(text("""
        SELECT COALESCE(SUM(points_available), 0), COALESCE(SUM(points_pending), 0) FROM members
        WHERE shop_id = :s AND deleted_at IS NULL"""), {"s": shop.id}).one()
    available, pending = int(row[0]), int(row[1])
    return {"available_points": available, "pending_points": pending,
            "money": f.points_liability(available, pending, settings.point_value)}


def _referral_revenue(shop_id: int, period: Period) -> Decimal:
    fl = _flavour()
    value = db.session.execute(text(f"""
        SELECT {fl.money_sum.format("o.total_price", "")} FROM orders o
        WHERE o.shop_id = :s AND {PAID} AND o.processed_at >= :a AND o.processed_at < :b
          AND o.order_id IN (SELECT r.order_id FROM referrals r WHERE r.shop_id = :s AND r.order_id IS NOT NULL
                             AND r.status IN ('pending', 'completed', 'review'))"""),
        _bind({"s": shop_id, "a": period.start, "b": period.end}, fl)).scalar()
    return _money(value, fl) or Decimal(0)  # an empty (or zero) sum reads "0", as it always has


def summary(shop: Shop, settings: ProgramSettings, period: Period) -> dict[str, Any]:
    """Every headline figure of the dashboard by contract.md's names (money and rates as strings)."""
    as_of = rollup_as_of(shop.id)
    groups, (at_start, at_end, new, kept) = _period_figures(shop.id, period)
    customers = sum(g["customers"] for g in groups.values())
    repeat = sum(g["repeat"] for g in groups.values())
    orders = sum(g["orders"] for g in groups.values())
    revenue = sum((g["revenue"] for g in groups.values()), Decimal(0))
    aov = f.average_order_value(revenue, orders)
    frequency = f.purchase_frequency(orders, customers)
    per_year = f.purchase_frequency(orders * 365, customers * period.days) if customers else None
    median, lifespan = _days_to_second(shop.id, period)
    clv = f.customer_lifetime_value(aov, per_year, lifespan)
    points = _points(shop.id, period)
    owed = liability(shop, settings)
    by_membership = {}
    for key, g in (("members", groups[True]), ("non_members", groups[False])):
        by_membership[key] = {
            "customers": g["customers"], "orders": g["orders"], "revenue": _num(g["revenue"]),
            "average_order_value": _num(f.average_order_value(g["revenue"], g["orders"])),
            "purchase_frequency": _num(f.purchase_frequency(g["orders"], g["customers"])),
            "revenue_share": _num(f._percent(g["revenue"], revenue) if revenue else None),
        }
    return {
        "from": period.start.date().isoformat(),
        "to": (period.end - timedelta(days=1)).date().isoformat(),
        "currency": shop.currency,
        "rollup_as_of": _iso(as_of),
        "customers": customers,
        "orders": orders,
        "revenue": _num(revenue),
        "repeat_customer_rate": _num(f.repeat_customer_rate(repeat, customers)),
        "purchase_frequency": _num(frequency),
        "average_order_value": _num(aov),
        "customer_lifetime_value": _num(clv),
        "average_lifespan_years": _num(None if lifespan is None else lifespan.quantize(Decimal("0.01"))),
        "churn_rate": _num(f.churn_rate(at_start, at_start - kept)),
        "retention_rate": _num(f.retention_rate(at_end, new, at_start)),
        "customers_at_start": at_start,
        "customers_at_end": at_end,
        "new_customers": new,
        "median_days_to_second_order": _num(median),
        "redemption_rate": _num(f.redemption_rate(points["redeemed"], points["issued"])),
        "points_issued": points["issued"],
        "points_redeemed": points["redeemed"],
        "points_expired": points["expired"],
        "points_liability": _num(owed["money"]),
        "points_outstanding": owed["available_points"] + owed["pending_points"],
        "referral_revenue": _num(_referral_revenue(shop.id, period)),
        "members_vs_non_members": by_membership,
        "formulas": FORMULAS,
    }


def segments(shop: Shop, now: datetime | None = None) -> dict[str, Any]:
    """Recency buckets (count and revenue) and RFM segments of all customers, as of now."""
    as_of = rollup_as_of(shop.id)
    now = now or utcnow()
    fl = _flavour()
    revenue_sum = fl.money_sum.format("revenue", "")
    # recency_bucket counts whole days: "<= 30 days" means last order after now − 31 days.
    rows = db.session.execute(text(f"""
        SELECT CASE WHEN last_order_at > :d31 THEN '0-30' WHEN last_order_at > :d91 THEN '31-90' ELSE '90+' END b,
               COUNT(*), {revenue_sum}
        FROM analytics_customers WHERE shop_id = :s GROUP BY b"""),
        _bind({"s": shop.id, "d31": now - timedelta(days=31), "d91": now - timedelta(days=91)}, fl)).all()
    recency = {b: {"customers": 0, "revenue": "0"} for b in ("0-30", "31-90", "90+")}
    for bucket, count, revenue in rows:
        recency[bucket] = {"customers": int(count), "revenue": _num(_money(revenue, fl))}
    # Same quintile rule as app.loyalty.analytics.rfm_scores: 1 + ⌊5 × (values smaller) ÷ n⌋ = 1 + ⌊5 × (rank−1) ÷ n⌋.
    rfm_rows = db.session.execute(text(f"""
        SELECT seg, COUNT(*), {revenue_sum} FROM (
          SELECT revenue,
            CASE WHEN r >= 4 AND fq >= 4 THEN 'Champions' WHEN r >= 4 AND fq = 1 THEN 'New'
                 WHEN r <= 2 AND fq >= 3 THEN 'At risk' WHEN r <= 2 THEN 'Hibernating'
                 WHEN fq >= 3 THEN 'Loyal' ELSE 'Potential loyalists' END AS seg
          FROM (SELECT revenue,
                  1 + (5 * (RANK() OVER (ORDER BY last_order_at) - 1)) / COUNT(*) OVER () AS r,
                  1 + (5 * (RANK() OVER (ORDER BY orders_count) - 1)) / COUNT(*) OVER () AS fq
                FROM analytics_customers WHERE shop_id = :s) scored) named
        GROUP BY seg"""), {"s": shop.id}).all()
    names = ("Champions", "Loyal", "Potential loyalists", "New", "At risk", "Hibernating")
    rfm = {n: {"customers": 0, "revenue": "0"} for n in names}
    for seg, count, revenue in rfm_rows:
        rfm[seg] = {"customers": int(count), "revenue": _num(_money(revenue, fl))}
    return {"as_of": now.isoformat(), "rollup_as_of": _iso(as_of), "recency": recency, "rfm": rfm,
            "formulas": FORMULAS}


def cohorts(shop: Shop, period: Period) -> dict[str, Any]:
    """Monthly cohorts (month of first order within the period, at most the last 12) and the share of each
    that ordered 0, 1, 2… months after their first month, up to the end of the period."""
    as_of = rollup_as_of(shop.id)
    last_month = _month_start(period.end - timedelta(days=1))
    first_month = max(_month_start(period.start), _add_months(last_month, -(COHORT_MONTHS - 1)))
    end = _add_months(last_month, 1)
    fl = _flavour()
    sql = _COHORT_SQL.format(cohort=fl.month.format("first_at"), month=fl.month.format("processed_at"),
                             month_start=fl.month_start.format("processed_at"))
    rows = db.session.execute(text(sql), _bind({"s": shop.id, "a": first_month, "b": end}, fl)).all()
    active: dict[tuple[date, int], int] = {}
    for cohort, month, count in rows:
        cohort_d = _as_date(cohort)
        month_d = _as_date(month)
        offset = (month_d.year - cohort_d.year) * 12 + month_d.month - cohort_d.month
        active[(cohort_d, offset)] = active.get((cohort_d, offset), 0) + int(count)
    grid = []
    for month_start in _months(first_month, end):
        key = month_start.date()
        size = active.get((key, 0), 0)
        months_seen = (last_month.year - key.year) * 12 + last_month.month - key.month + 1
        cells = [_num(f._percent(active.get((key, k), 0), size)) for k in range(months_seen)]
        grid.append({"cohort": key.strftime("%Y-%m"), "customers": size, "retention": cells})
    return {"cohorts": grid, "rollup_as_of": _iso(as_of), "formula": FORMULAS["cohorts"]}


# A customer counts once per month through their first order in it (prev_at before the month began).
_COHORT_SQL = """
    SELECT {cohort} AS cohort, {month} AS month, COUNT(*)
    FROM analytics_orders
    WHERE shop_id = :s AND first_at >= :a AND first_at < :b AND processed_at >= :a AND processed_at < :b
      AND (prev_at IS NULL OR prev_at < {month_start})
    GROUP BY 1, 2"""


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _month_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def _add_months(at: datetime, months: int) -> datetime:
    index = at.year * 12 + at.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _months(first: datetime, end: datetime) -> list[datetime]:
    out = []
    at = first
    while at < end:
        out.append(at)
        at = _add_months(at, 1)
    return out
