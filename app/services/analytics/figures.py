"""The retention dashboard's figures (reads): SQL aggregates over the analytics rollups (app.services.analytics
.rollup), the ledger and members, turned into numbers by app.loyalty.analytics (the formulas live there, once).
PostgreSQL is the production path; SQLite (the embedded demo default) gets the same figures through its own SQL
where the two differ (app.services.analytics.dialect). Dates are UTC days; a range [from, to] includes both days.
What each figure means, in words, is the API's to say (app/api/analytics.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, Inexact, localcontext
from typing import Any

from sqlalchemy import text

from app.extensions import db
from app.inputs import parse_whole_number
from app.loyalty import analytics as f
from app.loyalty import ledger as rules
from app.loyalty.settings import ProgramSettings
from app.models import Shop, utcnow
from app.services.analytics.dialect import PAID, aware, bind, expanding, flavour, money, pg_days
from app.services.analytics.rollup import rollup_as_of

ISSUED_KINDS = tuple(sorted(rules.EARNING_KINDS | {rules.TIER_BONUS}))
REDEEM_KINDS = (rules.REDEEM, rules.REDEEM_REVERSED, rules.CODE_REFUNDED)


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


def num(value: Any) -> str | None:
    """Decimals travel as strings (never floats), None as null."""
    return None if value is None else str(value)


# --- figures ---------------------------------------------------------------------------------------

# One pass over the order facts from one activity window (app.loyalty.analytics.is_active) before the period to
# its end gives the period figures by
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
# Customers active at both the start and the end, when the two windows do not overlap (periods longer than one).
_KEPT_SQL = """
    SELECT COUNT(*) FROM
      (SELECT customer_id FROM analytics_orders WHERE shop_id = :s AND processed_at >= :w1 AND processed_at < :a
         AND (prev_at IS NULL OR prev_at < :w1)) s
      JOIN
      (SELECT customer_id FROM analytics_orders WHERE shop_id = :s AND processed_at >= :w2 AND processed_at < :b
         AND (prev_at IS NULL OR prev_at < :w2)) e USING (customer_id)
"""


def _period_figures(shop_id: int, period: Period,
                    active_days: int) -> tuple[dict[bool, dict[str, Any]], tuple[int, int, int, int]]:
    """(period figures by membership, (active at start S, active at end E, new in period N, S still active at
    the end)), active meaning an order in the `active_days` before the moment."""
    window = timedelta(days=active_days)
    fl = flavour()
    params = bind({"s": shop_id, "a": period.start, "b": period.end, "w1": period.start - window,
                    "w2": period.end - window, "lo": period.start - window}, fl)
    out = {m: {"customers": 0, "repeat": 0, "orders": 0, "revenue": Decimal(0)} for m in (False, True)}
    new = at_start = at_end = union = 0
    sql = _SUMMARY_SQL.format(revenue=fl.money_sum.format("total_price", " FILTER (WHERE inp)"))
    for m, customers, repeat, orders, revenue, first, s_, e_, u_ in db.session.execute(text(sql), params):
        at_start, at_end, union = at_start + int(s_), at_end + int(e_), union + int(u_)
        if m is None:
            continue
        out[bool(m)] = {"customers": int(customers), "repeat": int(repeat), "orders": int(orders),
                        "revenue": money(revenue, fl)}
        new += int(first)
    if period.end - window <= period.start:
        # The windows [a − w, a) and [b − w, b) overlap: the union is one window, |S ∩ E| = S + E − |S ∪ E|.
        kept = at_start + at_end - union
    else:
        kept = int(db.session.execute(text(_KEPT_SQL), params).scalar() or 0)
    return out, (at_start, at_end, new, kept)


def _days_to_second(shop_id: int, period: Period) -> tuple[Decimal | None, Decimal | None]:
    """(median days to second order for second orders in the period, average lifespan in years)."""
    fl = flavour()
    params = bind({"s": shop_id, "a": period.start, "b": period.end}, fl)
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
    gaps = sorted(aware(second) - aware(first) for first, second in rows)
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
        total = sum((pg_days((aware(last) - aware(first)) // timedelta(microseconds=1))
                     for first, last in rows), Decimal(0))
    return len(rows), total


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_LIFESPAN_SQL = ("SELECT COUNT(*), SUM(EXTRACT(EPOCH FROM (last_order_at - first_order_at)) / 86400.0) "
                 "FROM analytics_customers WHERE shop_id = :s AND orders_count >= 2")



def _points(shop_id: int, period: Period) -> dict[str, int]:
    fl = flavour()
    row = db.session.execute(text("""
        SELECT SUM(CASE WHEN kind IN :issued AND points > 0 THEN points ELSE 0 END),
               SUM(CASE WHEN kind IN :redeem THEN points ELSE 0 END),
               SUM(CASE WHEN kind = 'expiry' THEN points ELSE 0 END)
        FROM ledger_entries WHERE shop_id = :s AND occurred_at >= :a AND occurred_at < :b""").bindparams(
        expanding("issued"), expanding("redeem")),
        bind({"s": shop_id, "a": period.start, "b": period.end, "issued": list(ISSUED_KINDS),
               "redeem": list(REDEEM_KINDS)}, fl),
    ).one()
    return {"issued": int(row[0] or 0), "redeemed": -int(row[1] or 0), "expired": -int(row[2] or 0)}



def liability(shop: Shop, settings: ProgramSettings) -> dict[str, Any]:
    row = db.session.execute(text("""
        SELECT COALESCE(SUM(points_available), 0), COALESCE(SUM(points_pending), 0) FROM members
        WHERE shop_id = :s AND deleted_at IS NULL"""), {"s": shop.id}).one()
    available, pending = int(row[0]), int(row[1])
    return {"available_points": available, "pending_points": pending,
            "money": f.points_liability(available, pending, settings.point_value)}


def _referral_revenue(shop_id: int, period: Period) -> Decimal:
    fl = flavour()
    value = db.session.execute(text(f"""
        SELECT {fl.money_sum.format("o.total_price", "")} FROM orders o
        WHERE o.shop_id = :s AND {PAID} AND o.processed_at >= :a AND o.processed_at < :b
          AND o.order_id IN (SELECT r.order_id FROM referrals r WHERE r.shop_id = :s AND r.order_id IS NOT NULL
                             AND r.status IN ('pending', 'completed', 'review'))"""),
        bind({"s": shop_id, "a": period.start, "b": period.end}, fl)).scalar()
    return money(value, fl) or Decimal(0)  # an empty (or zero) sum reads "0", as it always has


@dataclass(frozen=True)
class Windows:
    """How long without an order makes a customer inactive, for churn and for retention (days)."""

    churn_days: int = f.DEFAULT_ACTIVE_DAYS
    retention_days: int = f.DEFAULT_ACTIVE_DAYS


def parse_windows(raw_churn: str | None, raw_retention: str | None) -> tuple[Windows | None, dict[str, str]]:
    """`churn_days` (default 90) and `retention_days` (default: churn_days), whole days within 7..730."""
    low, high = f.ACTIVE_DAYS_RANGE
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for name, raw in (("churn_days", raw_churn), ("retention_days", raw_retention)):
        if raw in (None, ""):
            continue
        value = parse_whole_number(raw, low=low, high=high)
        if value is None:
            errors[name] = f"must be a whole number of days from {low} to {high}"
            continue
        values[name] = value
    if errors:
        return None, errors
    churn = values.get("churn_days", f.DEFAULT_ACTIVE_DAYS)
    return Windows(churn, values.get("retention_days", churn)), {}


def summary(shop: Shop, settings: ProgramSettings, period: Period, windows: Windows | None = None) -> dict[str, Any]:
    """Every headline figure of the dashboard by contract.md's names (money and rates as strings), with the
    activity windows churn and retention were measured with."""
    windows = windows or Windows()
    as_of = rollup_as_of(shop.id)
    groups, (at_start, at_end, new, kept) = _period_figures(shop.id, period, windows.churn_days)
    churn_start, churn_kept = at_start, kept
    if windows.retention_days != windows.churn_days:
        _, (at_start, at_end, new, kept) = _period_figures(shop.id, period, windows.retention_days)
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
            "customers": g["customers"], "orders": g["orders"], "revenue": num(g["revenue"]),
            "average_order_value": num(f.average_order_value(g["revenue"], g["orders"])),
            "purchase_frequency": num(f.purchase_frequency(g["orders"], g["customers"])),
            "revenue_share": num(f.member_revenue_share(g["revenue"], revenue)),
        }
    return {
        "from": period.start.date().isoformat(),
        "to": (period.end - timedelta(days=1)).date().isoformat(),
        "currency": shop.currency,
        "rollup_as_of": iso(as_of),
        "customers": customers,
        "orders": orders,
        "revenue": num(revenue),
        "repeat_customer_rate": num(f.repeat_customer_rate(repeat, customers)),
        "purchase_frequency": num(frequency),
        "average_order_value": num(aov),
        "customer_lifetime_value": num(clv),
        "average_lifespan_years": num(None if lifespan is None else lifespan.quantize(Decimal("0.01"))),
        "churn_rate": num(f.churn_rate(churn_start, churn_start - churn_kept)),
        "retention_rate": num(f.retention_rate(at_end, new, at_start)),
        "customers_at_start": at_start,
        "customers_at_end": at_end,
        "new_customers": new,
        "median_days_to_second_order": num(median),
        "redemption_rate": num(f.redemption_rate(points["redeemed"], points["issued"])),
        "points_issued": points["issued"],
        "points_redeemed": points["redeemed"],
        "points_expired": points["expired"],
        "points_liability": num(owed["money"]),
        "points_outstanding": owed["available_points"] + owed["pending_points"],
        "referral_revenue": num(_referral_revenue(shop.id, period)),
        "members_vs_non_members": by_membership,
        "windows": {"churn_days": windows.churn_days, "retention_days": windows.retention_days,
                    "period_days": period.days},
    }


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
