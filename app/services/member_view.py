"""What a shopper sees of the program (the storefront widget and the UI extensions alike): the cached shop
catalogue plus the member's own rows, read fresh in one round trip."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, String, cast, func, literal, null, select, union_all

from app.extensions import db
from app.loyalty import ledger as kinds
from app.loyalty.actions import action_period_key
from app.loyalty.dates import add_years
from app.loyalty.referrals import referral_url
from app.loyalty.rewards import Refusal, redemption_quote
from app.loyalty.settings import ProgramSettings
from app.models import LedgerEntry, Member, Order, Redemption, Shop, utcnow
from app.services.catalogue import ActionInfo, RewardInfo, TierInfo, catalogue_for
from app.services.program import settings_for

HISTORY_LINES = 20
CODES_SHOWN = 10


def program_settings(shop: Shop) -> ProgramSettings:
    return settings_for(shop)


def find_member(shop: Shop, customer_id: int) -> Member | None:
    return db.session.execute(
        select(Member).where(Member.shop_id == shop.id, Member.customer_id == customer_id)
    ).scalar_one_or_none()


def is_member(member: Member | None) -> bool:
    return member is not None and member.enrolled_at is not None and member.deleted_at is None


@dataclass
class RewardRow:
    reward: RewardInfo
    refusal: Refusal | None
    tier_name: str | None


@dataclass
class HistoryLine:
    id: int
    source: str
    occurred_at: datetime  # when it happened (the order's payment, …), not when it was recorded
    points: int
    kind: str
    status: str
    ref: str | None
    note: str | None


@dataclass
class CodeLine:
    code: str
    reward_name: str
    expires_at: datetime | None


@dataclass
class PendingOrder:
    order_id: int
    name: str | None
    points: int
    release_at: datetime | None


@dataclass
class ActionRow:
    action: ActionInfo
    done: bool


@dataclass
class WidgetView:
    shop: Shop
    settings: ProgramSettings
    tiers: tuple[TierInfo, ...]
    rewards: list[RewardRow] = field(default_factory=list)
    member: Member | None = None
    current_tier: TierInfo | None = None
    next_tier: TierInfo | None = None
    # How much of the tier metric is still missing to reach next_tier (points, money or orders).
    missing: Decimal | None = None
    progress_percent: int = 0
    actions: list[ActionRow] = field(default_factory=list)
    codes: list[CodeLine] = field(default_factory=list)
    history: list[HistoryLine] = field(default_factory=list)
    referral_link: str | None = None
    # Orders still holding pending points, soonest release first (only when build(..., pending_orders=True)).
    pending: list[PendingOrder] = field(default_factory=list)


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
        q: Any
        if metric == "points_earned":
            q = select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member.id, LedgerEntry.kind.in_(kinds.EARNING_KINDS),
                LedgerEntry.occurred_at >= start)
            if end is not None:
                q = q.where(LedgerEntry.occurred_at < end)
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


@dataclass(frozen=True)
class TierStanding:
    """Where a member stands on the tier ladder: the widget, the UI extensions and the write-back read it."""

    current: TierInfo | None
    next: TierInfo | None
    # How much of the tier metric is still missing to reach `next` (points, money or orders).
    missing: Decimal | None
    progress_percent: int

    @property
    def ladder_percent(self) -> int:
        """Progress as one number: to the next tier, 100 at the top tier, 0 in a program without tiers."""
        if self.next is None:
            return 100 if self.current is not None else 0
        return self.progress_percent


def tier_standing(member: Member, settings: ProgramSettings, tiers: tuple[TierInfo, ...],
                  now: datetime) -> TierStanding:
    current = next((t for t in tiers if t.id == member.tier_id), None)
    floor = (current.threshold, current.position, current.id) if current else None
    upcoming = next((t for t in tiers if floor is None or (t.threshold, t.position, t.id) > floor), None)
    if upcoming is None:
        return TierStanding(current, None, None, 0)
    value = _qualifying(member, settings, now)
    percent = int(min(value / upcoming.threshold, Decimal(1)) * 100) if upcoming.threshold > 0 else 0
    return TierStanding(current, upcoming, max(upcoming.threshold - value, Decimal(0)), percent)


_READ_COLUMNS = ("tag", "id", "at", "points", "kind", "status", "ref", "note", "extra", "source")


def _labelled(*cols: Any) -> list[Any]:
    # Every branch of the UNION names its columns alike (and unnamed NULLs would be merged into one column).
    return [c.label(name) for c, name in zip(cols, _READ_COLUMNS, strict=True)]


PENDING_ORDERS_SHOWN = 10


def _member_reads(shop: Shop, member: Member, done_keys: list[str], pending_orders: bool = False) -> list[Any]:
    """Codes, the newest history lines and which period keys are taken, in one round trip (UNION ALL).

    Every branch is bounded by the member's own id (or the shop's unique key index) and its own LIMIT.
    """
    text, num = String(), BigInteger()
    history = (
        select(*_labelled(literal("h", text), LedgerEntry.id, LedgerEntry.occurred_at, cast(LedgerEntry.points, num),
                          LedgerEntry.kind, LedgerEntry.status, LedgerEntry.source_id, cast(LedgerEntry.note, text),
                          Order.name, LedgerEntry.source))
        .outerjoin(Order, Order.id == LedgerEntry.order_ref_id)
        .where(LedgerEntry.member_id == member.id)
        # Newest first by when it happened: walks ix_ledger_entries_member_occurred backwards, stops at 20.
        .order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc()).limit(HISTORY_LINES)
    ).subquery()
    codes = (
        select(*_labelled(literal("c", text), Redemption.id, Redemption.expires_at, cast(null(), num),
                          Redemption.reward_name, Redemption.status, Redemption.code, cast(null(), text),
                          cast(null(), text), cast(null(), text)))
        .where(Redemption.member_id == member.id, Redemption.status == "issued")
        .order_by(Redemption.id.desc()).limit(CODES_SHOWN)
    ).subquery()
    parts = [select(history), select(codes)]
    if pending_orders:
        pending = (
            select(*_labelled(literal("p", text), Order.id, Order.points_release_at, cast(Order.points_pending, num),
                              cast(null(), text), cast(null(), text), cast(Order.order_id, text), cast(null(), text),
                              Order.name, cast(null(), text)))
            # ix_orders_member, then the member's few orders that still hold pending points.
            .where(Order.member_id == member.id, Order.points_pending > 0)
            .order_by(Order.points_release_at, Order.id).limit(PENDING_ORDERS_SHOWN)
        ).subquery()
        parts.append(select(pending))
    if done_keys:
        parts.append(select(*_labelled(
            literal("d", text), LedgerEntry.id, LedgerEntry.created_at, cast(null(), num), cast(null(), text),
            cast(null(), text), LedgerEntry.idempotency_key, cast(null(), text), cast(null(), text), cast(null(), text),
        )).where(LedgerEntry.shop_id == shop.id, LedgerEntry.idempotency_key.in_(done_keys)))
    return list(db.session.execute(union_all(*parts)).all())


def build(shop: Shop, member: Member | None, now: datetime | None = None,
          catalogue_version: str | None = None, *, pending_orders: bool = False) -> WidgetView:
    now = now or utcnow()
    cat = catalogue_for(shop, catalogue_version)
    settings = cat.settings
    view = WidgetView(shop=shop, settings=settings, tiers=cat.tiers, member=member)
    balance = member.points_available if member is not None and is_member(member) else 0
    member_tier = member.tier_id if member is not None else None
    for reward in cat.rewards:
        quote = redemption_quote(reward.spec, reward.variable_min_points, balance, member_tier)
        view.rewards.append(RewardRow(reward, quote if isinstance(quote, Refusal) else None,
                                      cat.tier_name(reward.tier_id)))
    if not is_member(member):
        view.actions = [ActionRow(a, False) for a in cat.actions]
        return view
    assert member is not None

    standing = tier_standing(member, settings, cat.tiers, now)
    view.current_tier, view.next_tier = standing.current, standing.next
    view.missing, view.progress_percent = standing.missing, standing.progress_percent

    # Actions done in their current period: their award keys are exact, so a lookup on the unique index.
    keys = {}
    for a in cat.actions:
        if a.limit != "unlimited":
            keys[action_period_key(a.key, member.customer_id, a.limit, now)] = a.id  # type: ignore[arg-type]
    rows = _member_reads(shop, member, list(keys), pending_orders)
    done_ids = {keys[r.ref] for r in rows if r.tag == "d" and r.ref in keys}
    view.actions = [ActionRow(a, a.id in done_ids) for a in cat.actions]

    # UNION ALL promises no order across branches: each is re-sorted newest first here.
    view.codes = [CodeLine(r.ref, r.kind, r.at)
                  for r in sorted((r for r in rows if r.tag == "c"), key=lambda r: r.id, reverse=True)
                  if r.at is None or r.at > now]
    action_names = {a.key: a.name for a in cat.actions}
    for r in sorted((r for r in rows if r.tag == "h"), key=lambda r: (r.at, r.id), reverse=True):
        ref = r.extra or r.ref
        if r.kind == kinds.ACTION and r.ref:
            ref = action_names.get(r.ref, r.ref)
        view.history.append(HistoryLine(r.id, r.source, r.at, r.points, r.kind, r.status, ref, r.note))

    view.pending = [PendingOrder(int(r.ref), r.extra, r.points, r.at)
                    for r in sorted((r for r in rows if r.tag == "p"), key=lambda r: (r.at is None, r.at, r.id))]
    if member.referral_code:
        view.referral_link = referral_url(shop.domain, member.referral_code)
    return view
