"""What automations and campaigns did, measured against their holdouts: per flow and step, members who
entered, fired, converted within the window (an order, its revenue), the holdout's figures, the lift with
its 95 % interval (app.loyalty.lift) and the cost of the incentives. Read-only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, text

from app.extensions import db
from app.loyalty.automations import FLOW_KEYS
from app.loyalty.campaigns import in_holdout as campaign_holdout
from app.loyalty.lift import Lift, lift_of
from app.models import Campaign, Member, Order, Shop
from app.models.types import UTCDateTime
from app.services.automations import AutomationNotFound, get_automation
from app.services.program import settings_for


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def lift_document(lift: Lift) -> dict[str, Any]:
    return {"conversion_rate": _round(lift.treated_rate), "holdout_conversion_rate": _round(lift.holdout_rate),
            "lift": _round(lift.lift), "lift_ci": [_round(lift.low), _round(lift.high)]}


@dataclass
class _Cell:
    entered: int = 0
    fired: int = 0
    converted: int = 0
    revenue: Decimal = Decimal(0)
    points: int = 0
    codes_value: Decimal = Decimal(0)


def _cells(shop: Shop, flow: str, window_days: int, start: datetime | None, end: datetime | None) -> dict[tuple[str, str, bool], _Cell]:
    pg = db.session.get_bind().dialect.name == "postgresql"
    window_end = "r.due_at + make_interval(days => :w)" if pg else "datetime(r.due_at, :wmod)"
    where = ["r.shop_id = :shop", "r.flow = :flow"]
    params: dict[str, Any] = {"shop": shop.id, "flow": flow, "w": window_days, "wmod": f"+{window_days} days", "yes": True}
    if start is not None:
        where.append("r.due_at >= :start")
        params["start"] = start
    if end is not None:
        where.append("r.due_at < :end")
        params["end"] = end
    orders = (f"FROM orders o WHERE o.shop_id = :shop AND o.member_id = r.member_id AND o.counted = :yes"
              f" AND o.processed_at > r.due_at AND o.processed_at <= {window_end}")
    sql = (
        "SELECT step_key, variant, holdout, count(*), sum(fired), sum(conv), sum(rev), sum(points), sum(code_value) FROM ("
        " SELECT r.step_key, r.variant, r.holdout,"
        "  CASE WHEN r.status = 'fired' THEN 1 ELSE 0 END AS fired,"
        f"  CASE WHEN EXISTS (SELECT 1 {orders}) THEN 1 ELSE 0 END AS conv,"
        f"  (SELECT coalesce(sum(o.total_price), 0) {orders}) AS rev,"
        "  r.incentive_points AS points,"
        "  CASE WHEN red.status = 'used' THEN red.value ELSE 0 END AS code_value"
        " FROM automation_step_runs r LEFT JOIN redemptions red ON red.id = r.redemption_id"
        f" WHERE {' AND '.join(where)}"
        ") x GROUP BY step_key, variant, holdout"
    )
    used = set(re.findall(r"(?<![:\w]):(\w+)", sql))
    binds = [bindparam(k, v, type_=UTCDateTime()) if isinstance(v, datetime) else bindparam(k, v)
             for k, v in params.items() if k in used]
    out: dict[tuple[str, str, bool], _Cell] = {}
    for step, variant, holdout, n, fired, conv, rev, points, code_value in db.session.execute(text(sql).bindparams(*binds)):
        out[(str(step), str(variant), bool(holdout))] = _Cell(int(n), int(fired or 0), int(conv or 0), _money(rev),
                                                             int(points or 0), _money(code_value))
    return out


def _figures(treated: _Cell, holdout: _Cell, point_value: Decimal) -> dict[str, Any]:
    lift = lift_of(treated.converted, treated.fired, holdout.converted, holdout.entered)
    cost = (Decimal(treated.points) * point_value + treated.codes_value).quantize(Decimal("0.01"))
    return {
        "entered": treated.entered + holdout.entered, "fired": treated.fired, "converted": treated.converted,
        "revenue": str(treated.revenue), "holdout_entered": holdout.entered, "holdout_converted": holdout.converted,
        "holdout_revenue": str(holdout.revenue), **lift_document(lift), "incentive_points": treated.points,
        "incentive_cost": str(cost),
    }


def _sum(cells: list[_Cell]) -> _Cell:
    out = _Cell()
    for c in cells:
        out.entered += c.entered
        out.fired += c.fired
        out.converted += c.converted
        out.revenue += c.revenue
        out.points += c.points
        out.codes_value += c.codes_value
    return out


def automation_results(shop: Shop, key: str, start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    """contract.md GET /api/v1/automations/{key}/results: per step (and per A/B half when split)."""

    a = get_automation(shop, key)
    point_value = Decimal(str(settings_for(shop).point_value))
    cells = _cells(shop, key, a.window_days, start, end)
    keys = [s.key for s in a.steps] + sorted({k[0] for k in cells} - {s.key for s in a.steps})
    steps = []
    for step_key in keys:
        treated = [c for (s, _v, h), c in cells.items() if s == step_key and not h]
        held = [c for (s, _v, h), c in cells.items() if s == step_key and h]
        doc = {"key": step_key, **_figures(_sum(treated), _sum(held), point_value)}
        step = a.step(step_key)
        if step is not None and step.incentive_b is not None:
            variants = []
            for variant in ("a", "b"):
                t = cells.get((step_key, variant, False), _Cell())
                h = cells.get((step_key, variant, True), _Cell())
                incentive = step.incentive_for(variant)
                variants.append({"variant": variant, "incentive": incentive.document() if incentive else None,
                                 **_figures(t, h, point_value)})
            a_cell, b_cell = cells.get((step_key, "a", False), _Cell()), cells.get((step_key, "b", False), _Cell())
            diff = lift_of(b_cell.converted, b_cell.fired, a_cell.converted, a_cell.fired)
            doc["variants"] = variants
            doc["b_minus_a"] = {"lift": _round(diff.lift), "lift_ci": [_round(diff.low), _round(diff.high)]}
        steps.append(doc)
    return {"key": key, "name": a.name, "window_days": a.window_days, "holdout_percent": a.holdout_percent,
            "steps": steps}


def all_results(shop: Shop, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:

    return [automation_results(shop, key, start, end) for key in FLOW_KEYS]


def campaign_results(shop: Shop, campaign_id: int, now: datetime) -> dict[str, Any]:
    """A campaign against its holdout: members it applied to (by tier, when it names one), split by the same
    stable hash the order path uses; converted = a counted order during the campaign."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.shop_id != shop.id:
        raise AutomationNotFound(str(campaign_id))
    end = min(campaign.ends_at, now)
    orders = (select(Order.member_id.label("mid"), func.count().label("n"), func.sum(Order.total_price).label("rev"))
              .where(Order.shop_id == shop.id, Order.counted.is_(True), Order.processed_at >= campaign.starts_at,
                     Order.processed_at < end, Order.member_id.is_not(None))
              .group_by(Order.member_id).subquery())
    q = (select(Member.customer_id, func.coalesce(orders.c.n, 0), func.coalesce(orders.c.rev, 0))
         .outerjoin(orders, orders.c.mid == Member.id)
         .where(Member.shop_id == shop.id, Member.enrolled_at.is_not(None), Member.enrolled_at < campaign.ends_at,
                Member.deleted_at.is_(None)))
    if campaign.tier_id is not None:
        q = q.where(Member.tier_id == campaign.tier_id)
    groups = {False: _Cell(), True: _Cell()}
    for customer_id, n, rev in db.session.execute(q):
        cell = groups[campaign_holdout(campaign.id, int(customer_id), campaign.holdout_percent or 0)]
        cell.entered += 1
        if int(n) > 0:
            cell.converted += 1
            cell.revenue += _money(rev)
    treated, held = groups[False], groups[True]
    treated.fired = treated.entered
    lift = lift_of(treated.converted, treated.entered, held.converted, held.entered)
    return {"campaign_id": str(campaign.id), "name": campaign.name, "kind": campaign.kind,
            "holdout_percent": campaign.holdout_percent or 0,
            "starts_at": campaign.starts_at.isoformat().replace("+00:00", "Z"),
            "ends_at": campaign.ends_at.isoformat().replace("+00:00", "Z"),
            "members": treated.entered, "converted": treated.converted, "revenue": str(treated.revenue),
            "holdout_entered": held.entered, "holdout_converted": held.converted, "holdout_revenue": str(held.revenue),
            **lift_document(lift)}


def campaigns_results(shop: Shop, now: datetime) -> list[dict[str, Any]]:
    ids = db.session.execute(select(Campaign.id).where(Campaign.shop_id == shop.id).order_by(Campaign.id.desc())
                             .limit(50)).scalars()
    return [campaign_results(shop, int(cid), now) for cid in ids]


def parse_range(args: Mapping[str, Any]) -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """`from` / `to` as YYYY-MM-DD (both optional; `to` includes its whole day)."""
    errors: dict[str, str] = {}
    bounds: dict[str, datetime | None] = {"from": None, "to": None}
    for name in ("from", "to"):
        raw = args.get(name)
        if raw in (None, ""):
            continue
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            errors[name] = "must be a date like 2026-01-31"
            continue
        bounds[name] = datetime.combine(day + timedelta(days=1 if name == "to" else 0), time(), UTC)
    if not errors and bounds["from"] and bounds["to"] and bounds["from"] >= bounds["to"]:
        errors["from"] = "must not be after to"
    return bounds["from"], bounds["to"], errors
