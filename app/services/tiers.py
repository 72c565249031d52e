"""VIP tiers: qualifying values from the database, immediate upgrades, the daily (graced) evaluation,
entry bonuses once per member ever, the admin's what-if preview and saving the ladder.

Qualifying values (loyalty-rules.md): `points_earned` = entries of the earning kinds (orders, actions,
campaign bonuses, referrals; reversals negative; never redemptions, admin adjustments or tier bonuses),
dated by when the entry happened (occurred_at); `amount_spent` = eligible amount of counted (paid, not cancelled) orders and
`orders` = how many, dated by the order's payment. The lifetime window reads the member's cached
figures (lifetime_points, lifetime_spent, orders_count, kept in the same transactions as what they
sum); the other windows aggregate. Dates are UTC.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, select, update

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty import tiers as domain
from app.loyalty.settings import TIER_METRICS, TIER_WINDOWS, ProgramSettings, TierMetric, TierWindow
from app.models import LedgerEntry, Member, Order, Shop, Tier, TierChange, utcnow
from app.services import audit, work
from app.services.catalogue import catalogue, settings_for, tier_rule, touch
from app.services.ledger import emit_event, lock_member, post_entry
from app.services.program import Invalid, active_shops

log = logging.getLogger(__name__)


def domain_tier(row: Tier | domain.Tier) -> domain.Tier:
    return row if isinstance(row, domain.Tier) else tier_rule(row)


def tier_rows(shop_id: int) -> list[Tier]:
    """The shop's tiers, lowest first."""
    rows = db.session.execute(select(Tier).where(Tier.shop_id == shop_id)).scalars()
    return sorted(rows, key=lambda t: (Decimal(t.threshold), t.position or 0, t.id))


# --- qualifying values -----------------------------------------------------------------------------


def _in_period(at: Any, period: domain.Period) -> Any:
    """The SQL of app.loyalty.tiers.Period.contains, on a date column."""
    conds = [at <= period.end if period.end_inclusive else at < period.end]
    if period.start is not None:
        conds.append(at >= period.start if period.start_inclusive else at > period.start)
    return and_(*conds)


def _facts(metric: TierMetric) -> tuple[Any, Any, Any, list[Any]]:
    """(member column, dated value, date column, filters) of the metric's facts."""
    if metric == "points_earned":
        return (LedgerEntry.member_id, LedgerEntry.points, LedgerEntry.occurred_at,
                [LedgerEntry.kind.in_(sorted(rules.EARNING_KINDS))])
    value = Order.eligible_amount if metric == "amount_spent" else case((Order.id.is_not(None), 1), else_=0)
    # `counted` is set by the order path from the domain's OrderState.earns (paid, not cancelled).
    return Order.member_id, value, Order.paid_at, [Order.counted.is_(True), Order.member_id.is_not(None)]


def _windowed_value(metric: TierMetric, window: TierWindow, now: datetime) -> tuple[Any, Any, list[Any]]:
    """(member column, aggregate expression, filters) for a windowed metric, generated from the domain's
    window_periods: one sum per period, the largest wins (as app.loyalty.tiers.qualifying_value)."""
    member_col, value, at, filters = _facts(metric)
    periods = domain.window_periods(window, now)
    if len(periods) == 1:
        return member_col, func.coalesce(func.sum(value), 0), [*filters, _in_period(at, periods[0])]
    # The rows of every period (a superset is enough: each sum keeps only its own period's rows).
    filters = [*filters, _in_period(at, _hull(periods))]
    sums = [func.coalesce(func.sum(case((_in_period(at, p), value), else_=0)), 0) for p in periods]
    agg = func.greatest(*sums) if db.session.get_bind().dialect.name == "postgresql" else func.max(*sums)
    return member_col, agg, filters


def _hull(periods: Sequence[domain.Period]) -> domain.Period:
    """The smallest period holding all of `periods`."""
    starts = [p for p in periods if p.start is not None]
    first = min(starts, key=lambda p: (p.start, not p.start_inclusive)) if len(starts) == len(periods) else None
    last = max(periods, key=lambda p: (p.end, p.end_inclusive))
    return domain.Period(first.start if first else None, first.start_inclusive if first else True,
                         last.end, last.end_inclusive)


def qualifying_value_of(member: Member, metric: TierMetric, window: TierWindow, now: datetime) -> Decimal:
    """One member's qualifying value (never below 0)."""
    if window == "lifetime":
        cached: Any = {"points_earned": member.lifetime_points, "amount_spent": member.lifetime_spent,
                       "orders": member.orders_count}[metric]
        return max(Decimal(cached or 0), Decimal(0))
    member_col, agg, filters = _windowed_value(metric, window, now)
    db.session.flush()
    table_filter = [member_col == member.id]
    if metric == "points_earned":
        table_filter.append(LedgerEntry.shop_id == member.shop_id)
    value: Any = db.session.execute(select(agg).where(*filters, *table_filter)).scalar_one()
    return max(Decimal(value or 0), Decimal(0))


def qualifying_values_query(shop_id: int, metric: TierMetric, window: TierWindow, now: datetime,
                            member_ids: Iterable[int] | None = None) -> Select[Any]:
    """One query: (member id, current tier id, tier_below_since, qualifying value) of every enrolled member.
    The lifetime window reads the cached figures; the others aggregate the facts once, grouped by member."""
    members = [Member.shop_id == shop_id, Member.enrolled_at.is_not(None), Member.deleted_at.is_(None)]
    if member_ids is not None:
        members.append(Member.id.in_(list(member_ids)))
    if window == "lifetime":
        col = {"points_earned": Member.lifetime_points, "amount_spent": Member.lifetime_spent,
               "orders": Member.orders_count}[metric]
        return select(Member.id, Member.tier_id, Member.tier_below_since, col).where(*members)  # type: ignore[return-value]
    member_col, agg, filters = _windowed_value(metric, window, now)
    shop_col = LedgerEntry.shop_id if metric == "points_earned" else Order.shop_id
    sums = (select(member_col.label("member_id"), agg.label("value"))
            .where(shop_col == shop_id, *filters).group_by(member_col).subquery())
    return (select(Member.id, Member.tier_id, Member.tier_below_since, func.coalesce(sums.c.value, 0))  # type: ignore[return-value]
            .outerjoin(sums, sums.c.member_id == Member.id).where(*members))


def qualifying_values(shop_id: int, metric: TierMetric, window: TierWindow, now: datetime,
                      member_ids: Iterable[int] | None = None) -> Iterator[tuple[int, int | None, datetime | None, Decimal]]:
    db.session.flush()
    for mid, tier_id, below, value in db.session.execute(
            qualifying_values_query(shop_id, metric, window, now, member_ids)):
        yield mid, tier_id, below, max(Decimal(value or 0), Decimal(0))


# --- changes ---------------------------------------------------------------------------------------


def change_tier(shop: Shop, member: Member, change: domain.TierChange, ladder: Sequence[Tier | domain.Tier],
                now: datetime, reason: str | None = None, *, at: datetime | None = None) -> TierChange:
    """Applies a decided change to a locked member: the tier, a TierChange row with its reason, the
    tier_changed outbox event, the write-back request and, going up, each entry bonus owed (once per
    member and tier, ever). `at` is when the change happened (the qualifying order's time), `now` when it
    is recorded. No commit."""
    at = min(at, now) if at is not None else now
    by_id = {t.id: t for t in ladder}
    old = by_id.get(change.from_tier_id) if change.from_tier_id else None
    new = by_id.get(change.to_tier_id) if change.to_tier_id else None
    old_name = old.name if old else None
    why = f"{change.reason} ({reason})" if reason else change.reason
    if change.direction == "up" and change.to_tier_id is not None:
        reached: set[int] = {tid for tid in db.session.execute(
            select(TierChange.to_tier_id).where(TierChange.member_id == member.id, TierChange.to_tier_id.is_not(None))
        ).scalars() if tid is not None}
        if member.tier_id:
            reached.add(member.tier_id)
        ladder_domain = [domain_tier(t) for t in ladder]
        for bonus in domain.entry_bonuses_due(reached, change.to_tier_id, ladder_domain):
            tier = by_id[bonus.tier_id]
            post_entry(member, points=bonus.points, kind=rules.TIER_BONUS, source=rules.SOURCE_TIER,
                       idempotency_key=rules.tier_bonus_key(member.customer_id, bonus.tier_id),
                       source_id=str(bonus.tier_id), reason=f"Welcome to {tier.name}",
                       snapshot={"tier_id": tier.id, "tier_name": tier.name, "entry_bonus": bonus.points},
                       now=now, occurred_at=at, emit="points_earned")
    member.tier_id = change.to_tier_id
    member.tier_since = at
    member.tier_below_since = None
    member.sync_requested_at = now
    record = TierChange(shop_id=shop.id, member_id=member.id, from_tier_id=change.from_tier_id,
                        to_tier_id=change.to_tier_id, from_name=old_name, to_name=new.name if new else None,
                        direction=change.direction, reason=why[:2000], occurred_at=at, created_at=now)
    db.session.add(record)
    emit_event(shop.id, member.id, "tier_changed", {
        "from_tier_id": change.from_tier_id, "to_tier_id": change.to_tier_id, "from": old_name,
        "to": new.name if new else None, "to_handle": new.handle if new else None,
        "direction": change.direction, "reason": why,
    }, now=now)
    return record


def upgrade_if_qualified(shop: Shop, member: Member, settings: ProgramSettings | None, now: datetime,
                         reason: str = "", *, at: datetime | None = None) -> TierChange | None:
    """The immediate upgrade, on the event that qualifies (the member is locked), dated `at` (when that event
    happened; `now` when not given). No commit."""
    if member.enrolled_at is None or member.deleted_at is not None:
        return None
    ladder = catalogue(shop).ladder
    if not ladder:
        return None
    if member.tier_id is not None and ladder[-1].id == member.tier_id:
        return None  # already at the top
    settings = settings or settings_for(shop)
    value = qualifying_value_of(member, settings.tier_metric, settings.tier_window, now)
    decision = domain.upgrade_decision(member.tier_id, value, ladder)
    if decision is None:
        return None
    return change_tier(shop, member, decision, ladder, now, reason, at=at)


def evaluate_shop(shop: Shop, now: datetime | None = None, *, batch: int = 500) -> dict[str, int]:
    """The daily evaluation: upgrades due at once, downgrades after `downgrade_grace_days` below the
    tier's threshold (tier_below_since marks the start). Commits every `batch` changes."""
    now = now or utcnow()
    settings = settings_for(shop)
    ladder = tier_rows(shop.id)
    ladder_domain = [domain_tier(t) for t in ladder]
    thresholds = [t.threshold for t in ladder_domain]
    ids = [t.id for t in ladder_domain]
    known = set(ids)
    out = {"up": 0, "down": 0, "grace_started": 0, "grace_cleared": 0}
    to_change: list[int] = []
    start_grace: list[int] = []
    clear_grace: list[int] = []
    for mid, tier_id, below, value in qualifying_values(shop.id, settings.tier_metric, settings.tier_window, now):
        slot = bisect.bisect_right(thresholds, value)
        reach = ids[slot - 1] if slot else None
        if reach == tier_id and below is None and (tier_id is None or tier_id in known):
            continue  # where they belong, no grace running: the common case, no work
        decision = domain.daily_tier_evaluation(tier_id, value, ladder_domain, below, now, settings.downgrade_grace_days)
        if decision.change is not None:
            to_change.append(mid)
        elif decision.below_since is not None and below is None:
            start_grace.append(mid)
        elif decision.below_since is None and below is not None:
            clear_grace.append(mid)
    if start_grace:
        db.session.execute(update(Member).where(Member.id.in_(start_grace), Member.tier_below_since.is_(None))
                           .values(tier_below_since=now))
        out["grace_started"] = len(start_grace)
    if clear_grace:
        db.session.execute(update(Member).where(Member.id.in_(clear_grace)).values(tier_below_since=None))
        out["grace_cleared"] = len(clear_grace)
    db.session.commit()
    for i, mid in enumerate(to_change, 1):
        member = lock_member(mid)
        # Decided again under the lock: an order may have moved the member since the bulk read.
        value = qualifying_value_of(member, settings.tier_metric, settings.tier_window, now)
        decision = domain.daily_tier_evaluation(member.tier_id, value, ladder_domain, member.tier_below_since, now,
                                                settings.downgrade_grace_days)
        if decision.change is not None:
            change_tier(shop, member, decision.change, ladder, now, "daily evaluation")
            out[decision.change.direction] += 1
        else:
            member.tier_below_since = decision.below_since
        if i % batch == 0:
            db.session.commit()
    db.session.commit()
    return out


# --- editing the ladder ----------------------------------------------------------------------------


def candidate_ladder(shop: Shop, specs: Sequence[object]) -> tuple[list[domain.Tier], dict[str, str]]:
    """The edited ladder as domain tiers (app.loyalty.tiers.parse_ladder against the shop's tiers) and its errors."""
    existing = {t.id: domain_tier(t) for t in tier_rows(shop.id)}
    return domain.parse_ladder(specs, existing)


def preview(shop: Shop, specs: Sequence[Mapping[str, Any]], *, metric: TierMetric | None = None,
            window: TierWindow | None = None, now: datetime | None = None) -> dict[str, Any]:
    """How many members would move up or down (and sit in each tier) under the edited ladder, before
    saving: one aggregate query for the qualifying values, then app.loyalty.tiers.what_if.

    Answers {"moves_up", "moves_down", "unchanged", "by_tier": {tier id | None: members}}; new tiers
    (no "id" in `specs`) are counted under -(their index + 1)."""
    candidate, errors = candidate_ladder(shop, specs)
    if metric is not None and metric not in TIER_METRICS:
        errors["tier_metric"] = "must be one of " + ", ".join(TIER_METRICS)
    if window is not None and window not in TIER_WINDOWS:
        errors["tier_window"] = "must be one of " + ", ".join(TIER_WINDOWS)
    if errors:
        raise Invalid("the tiers are not valid", fields=errors)
    settings = settings_for(shop)
    now = now or utcnow()
    current = [domain_tier(t) for t in tier_rows(shop.id)]
    rows = db.session.execute(qualifying_values_query(
        shop.id, metric or settings.tier_metric, window or settings.tier_window, now))
    zero = Decimal(0)
    result = domain.what_if(((tid, max(Decimal(v), zero)) for _, tid, _, v in rows), candidate, current)
    return {"moves_up": result.moves_up, "moves_down": result.moves_down, "unchanged": result.unchanged,
            "by_tier": dict(result.by_tier)}


def save_tiers(shop: Shop, specs: Sequence[Mapping[str, Any]], actor: str = "system",
               now: datetime | None = None) -> list[Tier]:
    """The admin's save of the ladder: parse, `stage_ladder`, audit, commit, then ask for an evaluation of the
    shop's members (upgrades that the edit makes due)."""
    now = now or utcnow()
    candidate, errors = candidate_ladder(shop, specs)
    if errors:
        raise Invalid("the tiers are not valid", fields=errors)
    rows, removed = stage_ladder(shop, candidate, now)
    audit.record(shop, actor, "tiers.saved", target_type="shop", target_id=shop.id,
                 details={"tiers": [{"id": r.id, "name": r.name, "threshold": str(r.threshold),
                                     "multiplier": str(r.multiplier), "entry_bonus": r.entry_bonus} for r in rows],
                          "removed": removed})
    db.session.commit()
    ladder_saved(shop)
    return rows


def stage_ladder(shop: Shop, candidate: Sequence[domain.Tier], now: datetime) -> tuple[list[Tier], list[int]]:
    """Writes a validated ladder (from `candidate_ladder`) without committing: the one code path that writes
    tiers. Edits keep their id, new tiers are added, missing ones removed: their members move at once to the
    tier their value reaches, each move recorded as `tier_removed` (loyalty-rules.md: every tier change is
    recorded with its reason). Answers (rows lowest first, removed ids). Call `ladder_saved` after the commit."""
    existing = {t.id: t for t in tier_rows(shop.id)}
    kept = {t.id for t in candidate if t.id > 0}
    removed = [t for tid, t in existing.items() if tid not in kept]
    # Handles are unique per shop: park the edited ones first so a swap of names never collides.
    for t in existing.values():
        t.handle = f"tmp-{t.id}"
    db.session.flush()
    rows: list[Tier] = []
    for spec in candidate:
        row = existing.get(spec.id) if spec.id > 0 else None
        if row is None:
            row = Tier(shop_id=shop.id, created_at=now)
            db.session.add(row)
        row.name, row.handle, row.threshold = spec.name, spec.handle, spec.threshold
        row.multiplier, row.entry_bonus, row.perks, row.position = spec.multiplier, spec.entry_bonus, spec.perks, spec.position
        row.updated_at = now
        rows.append(row)
    db.session.flush()
    ladder = sorted(rows, key=lambda t: (Decimal(t.threshold), t.position, t.id))
    if removed:
        settings = settings_for(shop)
        ladder_domain = [domain_tier(t) for t in ladder]
        removed_ids = [t.id for t in removed]
        affected = db.session.execute(select(Member.id).where(Member.tier_id.in_(removed_ids))).scalars().all()
        for mid in affected:
            member = lock_member(mid)
            value = qualifying_value_of(member, settings.tier_metric, settings.tier_window, now)
            decision = domain.downgrade_decision(member.tier_id, value, ladder_domain, None, now, 0)
            if decision.change is not None:
                change_tier(shop, member, decision.change, [*ladder, *removed], now)
        for t in removed:
            db.session.delete(t)
    touch(shop)
    return ladder, [t.id for t in removed]


def ladder_saved(shop: Shop) -> None:
    """After a committed ladder edit: the daily evaluation runs for the shop now (upgrades the edit made due)."""
    _request_evaluation(shop)


def _request_evaluation(shop: Shop) -> None:
    work.request("evaluate-shop-tiers", shop.id, job_id=f"tiers-{shop.id}-{int(utcnow().timestamp())}")


def evaluate_all(now: datetime | None = None) -> dict[str, int]:
    """The daily job over every installed shop that has tiers."""

    totals: dict[str, int] = {}
    for shop in active_shops():
        if not db.session.execute(select(func.count()).select_from(Tier).where(Tier.shop_id == shop.id)).scalar_one():
            continue
        try:
            for k, v in evaluate_shop(shop, now).items():
                totals[k] = totals.get(k, 0) + v
        except Exception:
            db.session.rollback()
            log.exception("tier evaluation failed for %s", shop.domain)
    return totals
