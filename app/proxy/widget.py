"""What the shopper's widget shows, read in a fixed handful of queries (no per-row lookups)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.loyalty import ledger as kinds
from app.loyalty.actions import action_period_key
from app.loyalty.dates import add_years
from app.loyalty.money import format_money
from app.loyalty.referrals import referral_url
from app.loyalty.rewards import Refusal, RewardSpec, redemption_quote
from app.loyalty.settings import ProgramSettings
from app.models import CustomAction, LedgerEntry, Member, Order, Redemption, Reward, Shop, Tier

HISTORY_LINES = 20
CODES_SHOWN = 10
_TAGS = re.compile(r"<[^>]*>")


def program_settings(shop: Shop) -> ProgramSettings:
    """The engine's view of the settings when it is there; the stored JSON otherwise."""
    try:
        from app.services.program import settings_for
    except ImportError:
        return ProgramSettings.from_dict(shop.settings or {})
    return settings_for(shop)


def money(shop: Shop, amount: Decimal) -> str:
    # money_format may carry theme HTML (<span class=money>); the widget wants the text only.
    return _TAGS.sub("", format_money(amount, shop.money_format or "${{amount}}"))


def find_member(shop: Shop, customer_id: int) -> Member | None:
    return db.session.execute(
        select(Member).where(Member.shop_id == shop.id, Member.customer_id == customer_id)
    ).scalar_one_or_none()


def is_member(member: Member | None) -> bool:
    return member is not None and member.enrolled_at is not None and member.deleted_at is None


@dataclass
class RewardRow:
    reward: Reward
    refusal: Refusal | None
    tier_name: str | None


@dataclass
class HistoryLine:
    created_at: datetime
    points: int
    kind: str
    status: str
    ref: str | None
    note: str | None


@dataclass
class ActionRow:
    action: CustomAction
    done: bool


@dataclass
class WidgetView:
    shop: Shop
    settings: ProgramSettings
    tiers: list[Tier]
    rewards: list[RewardRow] = field(default_factory=list)
    member: Member | None = None
    current_tier: Tier | None = None
    next_tier: Tier | None = None
    # How much of the tier metric is still missing to reach next_tier (points, money or orders).
    missing: Decimal | None = None
    progress_percent: int = 0
    actions: list[ActionRow] = field(default_factory=list)
    codes: list[Redemption] = field(default_factory=list)
    history: list[HistoryLine] = field(default_factory=list)
    referral_link: str | None = None


def _ordered_tiers(shop: Shop) -> list[Tier]:
    tiers = list(db.session.execute(select(Tier).where(Tier.shop_id == shop.id)).scalars())
    return sorted(tiers, key=lambda t: (t.threshold, t.position, t.id))


def _spec(reward: Reward, tiers: list[Tier]) -> RewardSpec:
    # "This tier or higher" may redeem; decided from the tiers already loaded (no query per reward).
    allowed: frozenset[int] = frozenset()
    if reward.tier_id is not None:
        ids = [t.id for t in tiers]
        if reward.tier_id in ids:
            allowed = frozenset(ids[ids.index(reward.tier_id):])
    variable = reward.type == "variable"
    return RewardSpec(
        id=reward.id, type=reward.type, name=reward.name,  # type: ignore[arg-type]
        points_cost=reward.points_cost, value=None if variable else reward.value,
        minimum_subtotal=reward.minimum_subtotal or Decimal(0), tier_ids=allowed,
        rate=reward.value if variable else None, min_points=reward.variable_min_points,
        max_points=reward.variable_max_points, product_variant_id=reward.product_variant_id,
        enabled=reward.active,
    )


def _qualifying(member: Member, settings: ProgramSettings, now: datetime) -> Decimal:
    """The member's value on the tier metric; lifetime reads the cached totals, windows sum one query."""
    metric, window = settings.tier_metric, settings.tier_window
    if window == "lifetime":
        if metric == "amount_spent":
            return Decimal(member.lifetime_spent or 0)
        if metric == "orders":
            return Decimal(member.orders_count or 0)
        return Decimal(max(member.lifetime_points or 0, 0))

    def total_since(start: datetime, end: datetime | None = None) -> Decimal:
        if metric == "points_earned":
            q = select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member.id, LedgerEntry.kind.in_(kinds.EARNING_KINDS),
                LedgerEntry.created_at >= start)
            if end is not None:
                q = q.where(LedgerEntry.created_at < end)
        else:
            agg = func.count(Order.id) if metric == "orders" else func.coalesce(func.sum(Order.eligible_amount), 0)
            q = select(agg).where(
                Order.member_id == member.id, Order.cancelled.is_(False),
                Order.financial_status.in_(("paid", "partially_refunded")), Order.paid_at >= start)
            if end is not None:
                q = q.where(Order.paid_at < end)
        return Decimal(db.session.execute(q).scalar_one() or 0)

    if window == "rolling_12_months":
        return max(total_since(add_years(now, -1)), Decimal(0))
    this_year = datetime(now.year, 1, 1, tzinfo=UTC)
    last_year = datetime(now.year - 1, 1, 1, tzinfo=UTC)
    return max(total_since(this_year), total_since(last_year, this_year), Decimal(0))


def build(shop: Shop, member: Member | None, now: datetime | None = None) -> WidgetView:
    now = now or datetime.now(UTC)
    settings = program_settings(shop)
    tiers = _ordered_tiers(shop)
    rewards = list(db.session.execute(
        select(Reward).where(Reward.shop_id == shop.id, Reward.active.is_(True)).order_by(Reward.position, Reward.id)
    ).scalars())
    view = WidgetView(shop=shop, settings=settings, tiers=tiers, member=member)
    tier_names = {t.id: t.name for t in tiers}
    balance = member.points_available if is_member(member) else 0
    member_tier = member.tier_id if member is not None else None
    for reward in rewards:
        quote = redemption_quote(_spec(reward, tiers), reward.variable_min_points, balance, member_tier)
        view.rewards.append(RewardRow(reward, quote if isinstance(quote, Refusal) else None,
                                      tier_names.get(reward.tier_id) if reward.tier_id else None))
    actions = list(db.session.execute(
        select(CustomAction).where(CustomAction.shop_id == shop.id, CustomAction.active.is_(True))
        .order_by(CustomAction.id)
    ).scalars())
    if not is_member(member):
        view.actions = [ActionRow(a, False) for a in actions]
        return view
    assert member is not None

    # Tier and the next rung.
    view.current_tier = next((t for t in tiers if t.id == member.tier_id), None)
    floor = (view.current_tier.threshold, view.current_tier.position, view.current_tier.id) if view.current_tier else None
    view.next_tier = next((t for t in tiers if floor is None or (t.threshold, t.position, t.id) > floor), None)
    if view.next_tier is not None:
        value = _qualifying(member, settings, now)
        view.missing = max(view.next_tier.threshold - value, Decimal(0))
        if view.next_tier.threshold > 0:
            view.progress_percent = int(min(value / view.next_tier.threshold, Decimal(1)) * 100)

    # Actions done in their current period: their award keys are exact, so one lookup on the unique index.
    keys = {}
    for a in actions:
        if a.limit != "unlimited":
            keys[action_period_key(a.key, member.customer_id, a.limit, now)] = a.id  # type: ignore[arg-type]
    done_ids: set[int] = set()
    if keys:
        found = db.session.execute(select(LedgerEntry.idempotency_key).where(
            LedgerEntry.shop_id == shop.id, LedgerEntry.idempotency_key.in_(list(keys)))).scalars()
        done_ids = {keys[k] for k in found}
    view.actions = [ActionRow(a, a.id in done_ids) for a in actions]

    view.codes = list(db.session.execute(
        select(Redemption).where(Redemption.member_id == member.id, Redemption.status == "issued")
        .order_by(Redemption.id.desc()).limit(CODES_SHOWN)
    ).scalars())
    view.codes = [c for c in view.codes if c.expires_at is None or c.expires_at > now]

    # Newest 20 entries: walks ix_ledger_entries_member (member_id, id) backwards and stops at 20.
    rows = db.session.execute(
        select(LedgerEntry.created_at, LedgerEntry.points, LedgerEntry.kind, LedgerEntry.status,
               LedgerEntry.source_id, LedgerEntry.note, Order.name)
        .outerjoin(Order, Order.id == LedgerEntry.order_ref_id)
        .where(LedgerEntry.member_id == member.id)
        .order_by(LedgerEntry.id.desc()).limit(HISTORY_LINES)
    ).all()
    action_names = {a.key: a.name for a in actions}
    for r in rows:
        ref = r.name or r.source_id
        if r.kind == kinds.ACTION and r.source_id:
            ref = action_names.get(r.source_id, r.source_id)
        view.history.append(HistoryLine(r.created_at, r.points, r.kind, r.status, ref, r.note))

    if member.referral_code:
        view.referral_link = referral_url(shop.domain, member.referral_code)
    return view


def reward_value_text(shop: Shop, reward: Reward) -> dict[str, Any]:
    """What a reward gives, for the template (money in the shop's format)."""
    if reward.type == "fixed_amount":
        return {"value": money(shop, reward.value)}
    if reward.type == "percentage":
        return {"value": f"{reward.value.normalize():f}%"}
    return {"value": ""}
