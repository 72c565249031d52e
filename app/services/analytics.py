"""The retention dashboard's figures: SQL aggregates over orders, the ledger and the per-customer rollup,
turned into numbers by app.loyalty.analytics (the formulas live there, once).

Which orders count: paid or partially refunded, not cancelled, not test, with a customer; revenue is the
order's current total (net of refunds). Dates are UTC days; a range [from, to] includes both days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from app.extensions import db
from app.loyalty import analytics as f
from app.loyalty import ledger as rules
from app.loyalty.settings import ProgramSettings
from app.models import Shop, utcnow

PAID = ("o.financial_status IN ('paid', 'partially_refunded') AND o.cancelled = false AND o.test = false "
        "AND o.customer_id IS NOT NULL")
# A customer is "active" at a moment when they ordered within this many days before it (churn, retention).
ACTIVE_DAYS = 365
# How old the per-customer rollup may get before a dashboard read rebuilds it.
STALE_AFTER = timedelta(minutes=15)
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


# --- the per-customer rollup -----------------------------------------------------------------------

_REFRESH_SELECT = f"""
    SELECT :shop_id, r.customer_id, MAX(CASE WHEN r.member_id IS NOT NULL THEN 1 ELSE 0 END) = 1,
           MIN(r.processed_at), MIN(CASE WHEN r.rn = 2 THEN r.processed_at END), MAX(r.processed_at),
           COUNT(*), COALESCE(SUM(r.total_price), 0), :now
    FROM (SELECT o.customer_id, o.member_id, o.processed_at, o.total_price,
                 ROW_NUMBER() OVER (PARTITION BY o.customer_id ORDER BY o.processed_at, o.id) AS rn
          FROM orders o WHERE o.shop_id = :shop_id AND {PAID} AND o.processed_at IS NOT NULL {{extra}}) r
    GROUP BY r.customer_id
"""
_COLUMNS = ("shop_id, customer_id, is_member, first_order_at, second_order_at, last_order_at, orders_count, "
            "revenue, refreshed_at")


def refresh_shop(shop_id: int) -> int:
    """Rebuilds the shop's per-customer rollup from its orders in one statement. Commits. Run by the daily
    job, by the dashboard when the rollup is older than STALE_AFTER, and by the bench."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(872301, :s)"), {"s": shop_id})
    db.session.execute(text("DELETE FROM analytics_customers WHERE shop_id = :shop_id"), {"shop_id": shop_id})
    result = db.session.execute(
        text(f"INSERT INTO analytics_customers ({_COLUMNS}) " + _REFRESH_SELECT.format(extra="")),
        {"shop_id": shop_id, "now": utcnow()},
    )
    db.session.commit()
    return int(result.rowcount or 0)


def refresh_customer(shop_id: int, customer_id: int) -> None:
    """Recomputes one customer's row from their orders (index on shop_id, customer_id). For the order path:
    call after an order's state changes, in its transaction (does not commit)."""
    params = {"shop_id": shop_id, "customer_id": customer_id, "now": utcnow()}
    db.session.execute(text("DELETE FROM analytics_customers WHERE shop_id = :shop_id AND customer_id = :customer_id"),
                       params)
    db.session.execute(
        text(f"INSERT INTO analytics_customers ({_COLUMNS}) "
             + _REFRESH_SELECT.format(extra="AND o.customer_id = :customer_id")),
        params,
    )


def ensure_fresh(shop_id: int) -> None:
    """Rebuilds a stale rollup once: the dashboard asks for three figures at once, and concurrent rebuilds
    would collide, so the rebuild runs under a per-shop advisory lock and re-checks after waiting for it."""
    if _is_stale(shop_id):
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_advisory_xact_lock(872301, :s)"), {"s": shop_id})
            if not _is_stale(shop_id):
                db.session.commit()  # releases the lock
                return
        refresh_shop(shop_id)


def _is_stale(shop_id: int) -> bool:
    last = db.session.execute(
        text("SELECT MAX(refreshed_at) FROM analytics_customers WHERE shop_id = :s"), {"s": shop_id}
    ).scalar()
    if last is not None and not isinstance(last, datetime):  # SQLite hands back text
        last = datetime.fromisoformat(str(last))
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return last is None or utcnow() - last > STALE_AFTER


# --- figures ---------------------------------------------------------------------------------------


def _period_orders(shop_id: int, period: Period) -> dict[bool, dict[str, Any]]:
    rows = db.session.execute(text(f"""
        SELECT c.m, COUNT(*), SUM(CASE WHEN c.n >= 2 THEN 1 ELSE 0 END), SUM(c.n), COALESCE(SUM(c.rev), 0)
        FROM (SELECT o.customer_id, COUNT(*) AS n, SUM(o.total_price) AS rev,
                     MAX(CASE WHEN o.member_id IS NOT NULL THEN 1 ELSE 0 END) AS m
              FROM orders o
              WHERE o.shop_id = :s AND {PAID} AND o.processed_at >= :a AND o.processed_at < :b
              GROUP BY o.customer_id) c
        GROUP BY c.m"""), {"s": shop_id, "a": period.start, "b": period.end}).all()
    out = {m: {"customers": 0, "repeat": 0, "orders": 0, "revenue": Decimal(0)} for m in (False, True)}
    for m, customers, repeat, orders, revenue in rows:
        out[bool(m)] = {"customers": int(customers), "repeat": int(repeat or 0), "orders": int(orders or 0),
                        "revenue": Decimal(revenue or 0)}
    return out


def _activity(shop_id: int, period: Period) -> tuple[int, int, int, int]:
    """(active at start S, active at end E, new in period N, S customers still active at the end)."""
    window = timedelta(days=ACTIVE_DAYS)
    row = db.session.execute(text(f"""
        SELECT SUM(c.at_start), SUM(c.at_end), SUM(c.at_start * c.at_end)
        FROM (SELECT o.customer_id,
                     MAX(CASE WHEN o.processed_at >= :sa AND o.processed_at < :a THEN 1 ELSE 0 END) AS at_start,
                     MAX(CASE WHEN o.processed_at >= :eb AND o.processed_at < :b THEN 1 ELSE 0 END) AS at_end
              FROM orders o
              WHERE o.shop_id = :s AND {PAID} AND o.processed_at >= :lo AND o.processed_at < :b
              GROUP BY o.customer_id) c"""),
        {"s": shop_id, "a": period.start, "b": period.end, "sa": period.start - window, "eb": period.end - window,
         "lo": min(period.start - window, period.end - window)}).one()
    new = db.session.execute(text(
        "SELECT COUNT(*) FROM analytics_customers WHERE shop_id = :s AND first_order_at >= :a AND first_order_at < :b"),
        {"s": shop_id, "a": period.start, "b": period.end}).scalar()
    return int(row[0] or 0), int(row[1] or 0), int(new or 0), int(row[2] or 0)


def _days_to_second(shop_id: int, period: Period) -> tuple[Decimal | None, Decimal | None]:
    """(median days to second order for second orders in the period, average lifespan in years)."""
    rows = db.session.execute(text("""
        SELECT first_order_at, second_order_at FROM analytics_customers
        WHERE shop_id = :s AND second_order_at >= :a AND second_order_at < :b"""),
        {"s": shop_id, "a": period.start, "b": period.end}).all()
    median = f.median_days_to_second_order([(_aware(a), _aware(b)) for a, b in rows])
    # Average lifespan of repeat customers (first to last order); one-time buyers have no lifespan to measure.
    count, total = db.session.execute(text(_LIFESPAN_SQL[db.engine.dialect.name == "postgresql"]),
                                      {"s": shop_id}).one()
    lifespan = Decimal(str(total)) / Decimal(count) / Decimal(365) if count else None
    return median, lifespan


_LIFESPAN_SQL = {
    True: "SELECT COUNT(*), SUM(EXTRACT(EPOCH FROM (last_order_at - first_order_at)) / 86400.0) FROM analytics_customers "
          "WHERE shop_id = :s AND orders_count >= 2",
    False: "SELECT COUNT(*), SUM(julianday(last_order_at) - julianday(first_order_at)) FROM analytics_customers "
           "WHERE shop_id = :s AND orders_count >= 2",
}


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _points(shop_id: int, period: Period) -> dict[str, int]:
    row = db.session.execute(text("""
        SELECT SUM(CASE WHEN kind IN :issued AND points > 0 THEN points ELSE 0 END),
               SUM(CASE WHEN kind IN :redeem THEN points ELSE 0 END),
               SUM(CASE WHEN kind = 'expiry' THEN points ELSE 0 END)
        FROM ledger_entries WHERE shop_id = :s AND created_at >= :a AND created_at < :b""").bindparams(
        _expanding("issued"), _expanding("redeem")),
        {"s": shop_id, "a": period.start, "b": period.end, "issued": list(ISSUED_KINDS), "redeem": list(REDEEM_KINDS)},
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
    value = db.session.execute(text(f"""
        SELECT COALESCE(SUM(o.total_price), 0) FROM orders o
        WHERE o.shop_id = :s AND {PAID} AND o.processed_at >= :a AND o.processed_at < :b
          AND o.order_id IN (SELECT r.order_id FROM referrals r WHERE r.shop_id = :s AND r.order_id IS NOT NULL
                             AND r.status IN ('pending', 'completed', 'review'))"""),
        {"s": shop_id, "a": period.start, "b": period.end}).scalar()
    return Decimal(value or 0)


def summary(shop: Shop, settings: ProgramSettings, period: Period) -> dict[str, Any]:
    """Every headline figure of the dashboard by contract.md's names (money and rates as strings)."""
    ensure_fresh(shop.id)
    groups = _period_orders(shop.id, period)
    customers = sum(g["customers"] for g in groups.values())
    repeat = sum(g["repeat"] for g in groups.values())
    orders = sum(g["orders"] for g in groups.values())
    revenue = sum((g["revenue"] for g in groups.values()), Decimal(0))
    aov = f.average_order_value(revenue, orders)
    frequency = f.purchase_frequency(orders, customers)
    per_year = f.purchase_frequency(orders * 365, customers * period.days) if customers else None
    median, lifespan = _days_to_second(shop.id, period)
    clv = f.customer_lifetime_value(aov, per_year, lifespan)
    at_start, at_end, new, kept = _activity(shop.id, period)
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
    ensure_fresh(shop.id)
    now = now or utcnow()
    # recency_bucket counts whole days: "<= 30 days" means last order after now − 31 days.
    rows = db.session.execute(text("""
        SELECT CASE WHEN last_order_at > :d31 THEN '0-30' WHEN last_order_at > :d91 THEN '31-90' ELSE '90+' END b,
               COUNT(*), COALESCE(SUM(revenue), 0)
        FROM analytics_customers WHERE shop_id = :s GROUP BY b"""),
        {"s": shop.id, "d31": now - timedelta(days=31), "d91": now - timedelta(days=91)}).all()
    recency = {b: {"customers": 0, "revenue": "0"} for b in ("0-30", "31-90", "90+")}
    for bucket, count, revenue in rows:
        recency[bucket] = {"customers": int(count), "revenue": _num(Decimal(revenue))}
    # Same quintile rule as app.loyalty.analytics.rfm_scores: 1 + ⌊5 × (values smaller) ÷ n⌋ = 1 + ⌊5 × (rank−1) ÷ n⌋.
    rfm_rows = db.session.execute(text("""
        SELECT seg, COUNT(*), COALESCE(SUM(revenue), 0) FROM (
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
        rfm[seg] = {"customers": int(count), "revenue": _num(Decimal(revenue))}
    return {"as_of": now.isoformat(), "recency": recency, "rfm": rfm, "formulas": FORMULAS}


def cohorts(shop: Shop, period: Period) -> dict[str, Any]:
    """Monthly cohorts (month of first order within the period, at most the last 12) and the share of each
    that ordered 0, 1, 2… months after their first month, up to the end of the period."""
    ensure_fresh(shop.id)
    last_month = _month_start(period.end - timedelta(days=1))
    first_month = max(_month_start(period.start), _add_months(last_month, -(COHORT_MONTHS - 1)))
    end = _add_months(last_month, 1)
    rows = db.session.execute(text(_COHORT_SQL[db.engine.dialect.name == "postgresql"].format(paid=PAID)),
                              {"s": shop.id, "a": first_month, "b": end}).all()
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
    return {"cohorts": grid, "formula": FORMULAS["cohorts"]}


_COHORT_SQL = {
    True: """
        SELECT date_trunc('month', c.first_order_at AT TIME ZONE 'UTC') AS cohort,
               date_trunc('month', o.processed_at AT TIME ZONE 'UTC') AS month, COUNT(DISTINCT o.customer_id)
        FROM analytics_customers c
        JOIN orders o ON o.shop_id = c.shop_id AND o.customer_id = c.customer_id
        WHERE c.shop_id = :s AND c.first_order_at >= :a AND c.first_order_at < :b
          AND o.shop_id = :s AND {paid} AND o.processed_at >= :a AND o.processed_at < :b
        GROUP BY 1, 2""",
    False: """
        SELECT strftime('%Y-%m-01', c.first_order_at) AS cohort, strftime('%Y-%m-01', o.processed_at) AS month,
               COUNT(DISTINCT o.customer_id)
        FROM analytics_customers c
        JOIN orders o ON o.shop_id = c.shop_id AND o.customer_id = c.customer_id
        WHERE c.shop_id = :s AND c.first_order_at >= :a AND c.first_order_at < :b
          AND {paid} AND o.processed_at >= :a AND o.processed_at < :b
        GROUP BY 1, 2""",
}


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
