"""Who the customers are (reads): recency buckets and RFM segments of all customers today, and monthly cohorts
with the share of each that came back month by month, from the analytics rollups on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.extensions import db
from app.loyalty import analytics as f
from app.models import Shop, utcnow
from app.services.analytics.dialect import bind, flavour, money
from app.services.analytics.figures import Period, iso, num
from app.services.analytics.rollup import rollup_as_of

COHORT_MONTHS = 12


def segments(shop: Shop, now: datetime | None = None) -> dict[str, Any]:
    """Recency buckets (count and revenue) and RFM segments of all customers, as of now."""
    as_of = rollup_as_of(shop.id)
    now = now or utcnow()
    fl = flavour()
    revenue_sum = fl.money_sum.format("revenue", "")
    # recency_bucket counts whole days: "<= 30 days" means last order after now − 31 days.
    rows = db.session.execute(text(f"""
        SELECT CASE WHEN last_order_at > :d31 THEN '0-30' WHEN last_order_at > :d91 THEN '31-90' ELSE '90+' END b,
               COUNT(*), {revenue_sum}
        FROM analytics_customers WHERE shop_id = :s GROUP BY b"""),
        bind({"s": shop.id, "d31": now - timedelta(days=31), "d91": now - timedelta(days=91)}, fl)).all()
    recency = {b: {"customers": 0, "revenue": "0"} for b in ("0-30", "31-90", "90+")}
    for bucket, count, revenue in rows:
        recency[bucket] = {"customers": int(count), "revenue": num(money(revenue, fl))}
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
        rfm[seg] = {"customers": int(count), "revenue": num(money(revenue, fl))}
    return {"as_of": now.isoformat(), "rollup_as_of": iso(as_of), "recency": recency, "rfm": rfm}


def cohorts(shop: Shop, period: Period) -> dict[str, Any]:
    """Monthly cohorts (month of first order within the period, at most the last 12) and the share of each
    that ordered 0, 1, 2… months after their first month, up to the end of the period."""
    as_of = rollup_as_of(shop.id)
    last_month = _month_start(period.end - timedelta(days=1))
    first_month = max(_month_start(period.start), _add_months(last_month, -(COHORT_MONTHS - 1)))
    end = _add_months(last_month, 1)
    fl = flavour()
    sql = _COHORT_SQL.format(cohort=fl.month.format("first_at"), month=fl.month.format("processed_at"),
                             month_start=fl.month_start.format("processed_at"))
    rows = db.session.execute(text(sql), bind({"s": shop.id, "a": first_month, "b": end}, fl)).all()
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
        cells = [num(f._percent(active.get((key, k), 0), size)) for k in range(months_seen)]
        grid.append({"cohort": key.strftime("%Y-%m"), "customers": size, "retention": cells})
    return {"cohorts": grid, "rollup_as_of": iso(as_of)}


# A customer counts once per month through their first order in it (prev_at before the month began).
_COHORT_SQL = """
    SELECT {cohort} AS cohort, {month} AS month, COUNT(*)
    FROM analytics_orders
    WHERE shop_id = :s AND first_at >= :a AND first_at < :b AND processed_at >= :a AND processed_at < :b
      AND (prev_at IS NULL OR prev_at < {month_start})
    GROUP BY 1, 2"""


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
