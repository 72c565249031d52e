"""The dashboard's key figures over time (reads): per week or month, repeat rate, members' revenue share, points
issued and redeemed, and the points liability at each period's end; and the same figures before and after the
program went live. The rules are app.loyalty.analytics's (period_figures); the SQL below restates them over the
rollups for speed, and tests/analytics proves the two agree on random shops, on PostgreSQL and on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import text

from app.extensions import db
from app.inputs import parse_whole_number
from app.loyalty import analytics as f
from app.loyalty.settings import ProgramSettings
from app.models import Shop, utcnow
from app.services.analytics.dialect import Flavour, aware, bind, expanding, flavour, money
from app.services.analytics.figures import ISSUED_KINDS, REDEEM_KINDS, liability

Granularity = Literal["week", "month"]
PERIODS_RANGE = (1, 104)


def parse_trend(raw_period: str | None, raw_count: str | None) -> tuple[tuple[Granularity, int] | None,
                                                                         dict[str, str]]:
    """`period` week or month (default month) and `periods` 1..104 (default 12); errors name the bad field."""
    low, high = PERIODS_RANGE
    errors: dict[str, str] = {}
    period = raw_period or "month"
    if period not in ("week", "month"):
        errors["period"] = "must be week or month"
    count = 12 if raw_count in (None, "") else parse_whole_number(raw_count, low=low, high=high)
    if count is None:
        errors["periods"] = f"must be a whole number from {low} to {high}"
    if errors or count is None:
        return None, errors
    return ("week" if period == "week" else "month", count), {}


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime  # exclusive


def buckets(period: Granularity, count: int, now: datetime) -> list[Bucket]:
    """The last `count` calendar weeks (Monday to Sunday, UTC) or months, oldest first; the last is the one `now`
    falls in and ends now (nothing after now has happened yet)."""
    today = now.astimezone(UTC).date()
    if period == "week":
        first = today - timedelta(days=today.weekday())
        starts = [first - timedelta(weeks=k) for k in range(count)][::-1]
        ends = [s + timedelta(weeks=1) for s in starts]
    else:
        index = today.year * 12 + today.month - 1
        starts = [_month(index - k) for k in range(count)][::-1]
        ends = [_month(index - k + 1) for k in range(count)][::-1]
    out = [Bucket(_midnight(s), _midnight(e)) for s, e in zip(starts, ends, strict=True)]
    out[-1] = Bucket(out[-1].start, min(out[-1].end, now))
    return out


def _month(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _values(spans: list[Bucket], fl: Flavour) -> tuple[str, dict[str, Any]]:
    """The spans as a CTE `spans(k, a, b)` both databases read, and its parameters."""
    cast = (lambda p: p) if fl.sqlite else (lambda p: f"CAST({p} AS timestamptz)")
    rows = ", ".join(f"({k}, {cast(f':a{k}')}, {cast(f':b{k}')})" for k in range(len(spans)))
    # The spans' outer bounds as plain parameters too: the planner sees how much of the table they cover (it
    # cannot see into the VALUES list), so a short stretch reads through the index, not the whole table.
    params: dict[str, Any] = {"lo": min(s.start for s in spans), "hi": max(s.end for s in spans)}
    for k, span in enumerate(spans):
        params[f"a{k}"], params[f"b{k}"] = span.start, span.end
    return f"WITH spans(k, a, b) AS (VALUES {rows})", params


# Per span and membership: customers (through their first order in the span: prev_at before it), repeat customers
# (through their second: prev_at in the span, prev2_at before it) and revenue. A customer is a member in the span
# when any of their orders in it was a member's: some member order between the span's start and this order, or
# between this order and the span's end. The same rules as f.period_figures.
_FIGURES_SQL = """
    {spans}
    SELECT k, m, COUNT(*) FILTER (WHERE prev_at IS NULL OR prev_at < a),
           COUNT(*) FILTER (WHERE prev_at >= a AND (prev2_at IS NULL OR prev2_at < a)), COUNT(*), {revenue}
    FROM (SELECT spans.k, spans.a, o.prev_at, o.prev2_at, o.total_price,
                 COALESCE(o.member_before_at >= spans.a, false) OR COALESCE(o.member_after_at < spans.b, false) AS m
          FROM spans JOIN analytics_orders o
            ON o.shop_id = :s AND o.processed_at >= spans.a AND o.processed_at < spans.b
          WHERE o.processed_at >= :lo AND o.processed_at < :hi) x
    GROUP BY k, m
"""
# Points per span from the ledger's covering index (shop, occurred_at → kind, points): issued, redeemed and the
# net change of every balance, like the summary's points; the liability walks back from what today's members hold.
_POINTS_SQL = """
    {spans}
    SELECT spans.k, SUM(CASE WHEN l.kind IN :issued AND l.points > 0 THEN l.points ELSE 0 END),
           SUM(CASE WHEN l.kind IN :redeem THEN l.points ELSE 0 END), SUM(l.points)
    FROM spans JOIN ledger_entries l ON l.shop_id = :s AND l.occurred_at >= spans.a AND l.occurred_at < spans.b
    WHERE l.occurred_at >= :lo AND l.occurred_at < :hi
    GROUP BY spans.k
"""
# Deleted members' share of that net change (they are few: read through their own entries), which the liability
# leaves out as the headline liability does.
_DELETED_SQL = """
    {spans}
    SELECT spans.k, SUM(l.points)
    FROM members mb JOIN ledger_entries l ON l.member_id = mb.id
    JOIN spans ON l.occurred_at >= spans.a AND l.occurred_at < spans.b
    WHERE mb.shop_id = :s AND mb.deleted_at IS NOT NULL AND l.shop_id = :s
    GROUP BY spans.k
"""
# What today's members' entries dated after the last span add (entries dated ahead of now, if any).
_LATER_SQL = """
    SELECT COALESCE(SUM(l.points), 0) FROM ledger_entries l JOIN members mb ON mb.id = l.member_id
    WHERE l.shop_id = :s AND l.occurred_at >= :b AND mb.deleted_at IS NULL
"""


def span_figures(shop_id: int, spans: list[Bucket]) -> list[f.PeriodFigures]:
    """f.period_figures of each span over the shop's counted orders, from the rollups."""
    fl = flavour()
    ctes, params = _values(spans, fl)
    sql = _FIGURES_SQL.format(spans=ctes, revenue=fl.money_sum.format("total_price", ""))
    counts = [[0, 0, 0] for _ in spans]  # customers, repeat customers, orders
    revenue = [[Decimal(0), Decimal(0)] for _ in spans]  # all, members'
    for k, m, customers, repeat, orders, spent in db.session.execute(text(sql), bind({**params, "s": shop_id}, fl)):
        c, r = counts[int(k)], revenue[int(k)]
        c[0], c[1], c[2] = c[0] + int(customers), c[1] + int(repeat), c[2] + int(orders)
        r[0] += money(spent, fl)
        if m:
            r[1] += money(spent, fl)
    return [f.PeriodFigures(c[0], c[1], c[2], r[0], r[1]) for c, r in zip(counts, revenue, strict=True)]


def _span_points(shop: Shop, settings: ProgramSettings, spans: list[Bucket]) -> list[tuple[int, int, int]]:
    """Per span (issued, redeemed, points today's members held at its end). Contiguous spans, oldest first: a
    balance is the sum of its entries, so what was held at a span's end is what is held now less every later
    change, and the last point is the dashboard's liability."""
    fl = flavour()
    ctes, params = _values(spans, fl)
    stmt = text(_POINTS_SQL.format(spans=ctes)).bindparams(expanding("issued"), expanding("redeem"))
    per = [(0, 0, 0) for _ in spans]
    rows = db.session.execute(stmt, bind({**params, "s": shop.id, "issued": list(ISSUED_KINDS),
                                          "redeem": list(REDEEM_KINDS)}, fl))
    for k, issued, redeemed, net in rows:
        per[int(k)] = (int(issued or 0), -int(redeemed or 0), int(net or 0))
    deleted: dict[int, int] = {
        int(k): int(net or 0)
        for k, net in db.session.execute(text(_DELETED_SQL.format(spans=ctes)), bind({**params, "s": shop.id}, fl))}
    owed = liability(shop, settings)
    held = owed["available_points"] + owed["pending_points"]
    held -= int(db.session.execute(text(_LATER_SQL), bind({"s": shop.id, "b": spans[-1].end}, fl)).scalar() or 0)
    out: list[tuple[int, int, int]] = []
    for k in range(len(spans) - 1, -1, -1):
        issued, redeemed, net = per[k]
        out.append((issued, redeemed, held))
        held -= net - deleted.get(k, 0)
    return out[::-1]


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def trends(shop: Shop, settings: ProgramSettings, period: Granularity, count: int,
           now: datetime | None = None) -> dict[str, Any]:
    """The key figures per week or month over the last `count` of them, and before/after the launch."""
    now = now or utcnow()
    spans = buckets(period, count, now)
    figures = span_figures(shop.id, spans)
    points = _span_points(shop, settings, spans)
    out = []
    for span, fig, (issued, redeemed, held) in zip(spans, figures, points, strict=True):
        out.append({
            "start": span.start.date().isoformat(),
            "end": (span.end - timedelta(microseconds=1)).date().isoformat(),
            "repeat_rate": _rate(fig.repeat_rate),
            "member_revenue_share": _rate(fig.member_revenue_share),
            "points_issued": issued,
            "points_redeemed": redeemed,
            "liability": str(f.points_liability(held, 0, settings.point_value)),
        })
    launched = None if shop.setup_completed_at is None else aware(shop.setup_completed_at)
    return {"period": period, "currency": shop.currency, "launched_at": None if launched is None else launched.isoformat(),
            "points": out, "since_launch": _since_launch(shop.id, launched, now)}


def _since_launch(shop_id: int, launched: datetime | None, now: datetime) -> dict[str, Any] | None:
    """Repeat rate and members' revenue share since the launch, and over as long a stretch just before it."""
    if launched is None or launched >= now:
        return None
    before, after = span_figures(shop_id, [Bucket(launched - (now - launched), launched), Bucket(launched, now)])
    return {key: {"repeat_rate": _rate(fig.repeat_rate), "member_revenue_share": _rate(fig.member_revenue_share)}
            for key, fig in (("before", before), ("after", after))}
