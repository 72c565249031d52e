"""Order events → what Regulars knows of each order, and the points that follow the order's latest state.

Every order event (orders/paid, orders/updated, orders/cancelled, refunds/create, and reconciliation's
copy of an order) goes through one path:

1. lock the order row (created on first sight), merge the event into what is known
   (app.loyalty.order_knowledge.merge_order_knowledge: an older payload or a duplicate changes nothing);
2. lock the member (always after the order: one lock order, so two drains never deadlock);
3. the first time the order earns, take the rule snapshot (rate, the member's tier *now*, the
   campaign multiplier at the order's time) and keep it on the order; every later change reuses it;
4. book `target − already given` as one entry per status (pending first for reductions), a
   `forgiven` entry under cap_at_zero, and the campaign bonus;
5. keep the member's order figures (orders_count, lifetime_spent, first/last order) and the order's
   own (subtotal, eligible amount, counted), then upgrade the tier at once if the member now qualifies;
6. tell the rewards and referrals services the order changed.

Guest orders (no customer) are recorded and earn nothing. A paid order from a customer who is not a
member yet enrolls them first (members.enroll_member, sign-up bonus included). The handlers call
this inside the drain's transaction: nothing here commits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.analytics import order_revenue
from app.loyalty.order_knowledge import (
    OrderKnowledge,
    OrderState,
    RefundState,
    knowledge_without_personal_data,
    merge_order_knowledge,
    without_personal_data,
)
from app.loyalty.orders import (
    RuleSnapshot,
    eligible_amount,
    order_points_change,
    points_for_amount,
    take_rule_snapshot,
)
from app.loyalty.text import clean_text
from app.models import Member, Order, Shop, WebhookDelivery, utcnow
from app.services import analytics, due, program, referrals, reward_codes, tiers
from app.services import members as members_service
from app.services.ledger import adopt_inserted, lock_member, post_entry
from app.shopify.orders import order_state_from_payload, refund_from_payload, shop_money

log = logging.getLogger(__name__)

REDACTED_BODY = '{"redacted": true}'
ORDER_TOPICS = ("orders/paid", "orders/updated", "orders/cancelled", "orders/create", "orders/edited")


def apply_order_event(shop: Shop, topic: str, payload: dict[str, Any], delivery: WebhookDelivery | None = None,
                      *, now: datetime | None = None) -> Order:
    """An order payload (REST shape): records the order's latest state and moves its points. No commit."""
    state = order_state_from_payload(payload)
    row = _apply(shop, state, payload, now or utcnow(), likely_new=topic in ("orders/paid", "orders/create"))
    _forget_delivery_if_redacted(row, delivery)
    return row


def apply_refund_event(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery | None = None,
                       *, now: datetime | None = None) -> Order:
    """refunds/create: the refund is folded into what is known of its order, whichever arrives first. No commit."""
    refund = refund_from_payload(payload)
    row = _apply(shop, refund, None, now or utcnow())
    _forget_delivery_if_redacted(row, delivery)
    return row


def _forget_delivery_if_redacted(row: Order, delivery: WebhookDelivery | None) -> None:
    # The stored copy of a late delivery for a redacted order holds what the order row no longer does.
    if delivery is not None and row.redacted_at is not None:
        delivery.body = REDACTED_BODY


# --- the one path ----------------------------------------------------------------------------------


_ORDER_COLUMNS = ("shop_id", "order_id", "cancelled", "test", "subtotal", "total_price", "eligible_amount",
                  "points_target", "points_given", "points_pending", "counted", "version", "created_at", "updated_at")
_LOCK_ORDER = (select(Order).where(Order.shop_id == bindparam("shop_id"), Order.order_id == bindparam("order_id"))
               .with_for_update())
_INSERT_ORDER = (pg_insert(Order.__table__)
                 .values({c: bindparam(c, type_=Order.__table__.c[c].type) for c in _ORDER_COLUMNS})
                 .on_conflict_do_nothing(index_elements=["shop_id", "order_id"]).returning(Order.__table__.c.id))


def lock_order(shop_id: int, order_id: int, *, likely_new: bool = False) -> Order:
    """The order row, locked FOR UPDATE; inserted first when unknown (ON CONFLICT DO NOTHING: when a
    concurrent drain created it first, its row is locked and read instead). `likely_new` (orders/paid,
    orders/create) tries the insert first: one statement instead of two for the usual first sight."""
    key = {"shop_id": shop_id, "order_id": order_id}
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if not (likely_new and postgres):
        found: Order | None = db.session.execute(
            _LOCK_ORDER, key, execution_options={"populate_existing": True}).scalar_one_or_none()
        if found is not None:
            return found
    now = utcnow()
    values = dict(key, cancelled=False, test=False, subtotal=Decimal(0), total_price=Decimal(0),
                  eligible_amount=Decimal(0), points_target=0, points_given=0, points_pending=0, counted=False,
                  version=0, created_at=now, updated_at=now)
    if postgres:
        new_id = db.session.execute(_INSERT_ORDER, values).scalar_one_or_none()
        if new_id is not None:
            # Our own insert: the row is ours (and locked) until commit; no need to read it back.
            row: Order = adopt_inserted(Order, {**values, "id": new_id})
            return row
        return db.session.execute(  # type: ignore[no-any-return]
            _LOCK_ORDER, key, execution_options={"populate_existing": True}).scalar_one()
    db.session.add(Order(**values))
    db.session.flush()
    return db.session.execute(_LOCK_ORDER, key).scalar_one()  # type: ignore[no-any-return]


def _analytics_facts(row: Order) -> tuple[Any, ...]:
    """What the dashboard's rollup reads of an order: it is refreshed only when one of these moved."""
    return (row.financial_status, row.cancelled, row.test, row.customer_id, row.processed_at, row.total_price,
            row.member_id)


def _apply(shop: Shop, event: OrderState | RefundState, payload: dict[str, Any] | None, now: datetime,
           *, likely_new: bool = False) -> Order:
    # Autoflush off: the order and member rows are written once, at the flush below, instead of once
    # per query that happens to run in between. Reads that need pending changes flush themselves.
    with db.session.no_autoflush:
        row = lock_order(shop.id, event.order_id, likely_new=likely_new)
        if row.redacted_at is not None and isinstance(event, OrderState):
            event = without_personal_data(event)  # _forget_buyer below clears what the payload itself holds
        known = OrderKnowledge.from_dict(row.knowledge) if row.knowledge else None
        if ((known is None or known.order is None) and isinstance(event, OrderState)
                and row.shopify_updated_at is not None and event.updated_at < row.shopify_updated_at):
            # What was known was redacted (customers/redact); its age still guards against stale payloads.
            return row
        merged = merge_order_knowledge(known, event)
        if known is not None and merged == known:
            return row  # a duplicate, or older than what was applied: nothing changes
        new_refunds = len(_all_refund_ids(merged)) > len(_all_refund_ids(known))
        before = _analytics_facts(row)
        row.knowledge = merged.to_dict()
        row.version = (row.version or 0) + 1
        if isinstance(event, OrderState) and merged.order is event:
            _copy_order_fields(row, event, payload or {})
        elif merged.order is not None:
            _net_of_extra_refunds(row, merged)
        source = rules.SOURCE_REFUND if isinstance(event, RefundState) or new_refunds else rules.SOURCE_ORDER
        settle_order(shop, row, merged, now, source=source, customer=(payload or {}).get("customer"),
                     at=_change_time(event))
        if row.redacted_at is not None or _member_redacted(row):
            _forget_buyer(row, merged, now)
    db.session.flush()
    if row.discount_codes:
        # Reward codes and friend codes are discount codes: an order without any can neither use a reward
        # nor be (or have been) a referral, so those services are asked only about orders with codes.
        reward_codes.mark_codes_used(shop, row)
        referrals.on_order_changed(shop, row, now)
    if _analytics_facts(row) != before:
        # The dashboard's per-customer rollup follows the order in the same transaction (both customers
        # when an order moved from one to another); in the drain once per customer per batch, at its end.
        for customer_id in {before[3], row.customer_id} - {None}:
            analytics.customer_changed(shop.id, customer_id)
    return row


def _member_redacted(row: Order) -> bool:
    """Whether the order's member was redacted (customers/redact); the member is locked by now, so this is read
    from the session without a query."""
    member = db.session.get(Member, row.member_id) if row.member_id is not None else None
    return member is not None and member.redacted_at is not None


def _forget_buyer(row: Order, knowledge: OrderKnowledge, now: datetime) -> None:
    """A redacted customer stays redacted: whatever payload arrives later, of any date, the order keeps its
    amounts and points and nothing of who bought it (email, IP, address)."""
    row.email = None
    row.browser_ip = None
    row.address_fingerprint = None
    if row.knowledge is not None:
        row.knowledge = knowledge_without_personal_data(knowledge).to_dict()
    row.redacted_at = row.redacted_at or now


def _change_time(event: OrderState | RefundState) -> datetime | None:
    """When the change an event reports happened in Shopify: the refund's time, the cancellation's, else the
    order's last update. (An order's first earning is dated by its payment instead, in settle_order.)"""
    if isinstance(event, RefundState):
        return event.created_at
    return event.cancelled_at or event.updated_at


def _all_refund_ids(knowledge: OrderKnowledge | None) -> set[int]:
    if knowledge is None:
        return set()
    ids = {r.refund_id for r in knowledge.refunds}
    if knowledge.order is not None:
        ids.update(r.refund_id for r in knowledge.order.refunds)
    return ids


def _copy_order_fields(row: Order, state: OrderState, payload: dict[str, Any]) -> None:
    """The newest payload's own figures, for analytics and for the rewards/referrals services."""
    row.name = clean_text(str(payload.get("name")))[:64] if payload.get("name") else row.name
    row.customer_id = state.customer_id
    row.email = state.email[:320] if state.email else None
    currency = payload.get("currency")
    row.currency = str(currency)[:3] if currency else row.currency
    row.financial_status = state.financial_status[:32] or None
    row.cancelled = state.cancelled_at is not None
    row.test = state.test
    row.shopify_updated_at = state.updated_at
    row.processed_at = state.paid_at
    row.subtotal = state.subtotal
    row.total_price = order_revenue(_money(payload, "current_total_price") or _money(payload, "total_price")
                                    or Decimal(0))
    row.discount_codes = list(state.discount_codes)
    row.browser_ip = state.browser_ip[:64] if state.browser_ip else None
    row.address_fingerprint = members_service.address_fingerprint(payload.get("shipping_address"))


def _net_of_extra_refunds(row: Order, knowledge: OrderKnowledge) -> None:
    """A refund seen before the order payload that lists it: the revenue figures drop by it now."""
    assert knowledge.order is not None
    extra = knowledge.extra_refunds
    row.subtotal = knowledge.order.subtotal - sum((r.lines_subtotal for r in extra), Decimal(0))


def _money(payload: dict[str, Any], field: str) -> Decimal | None:
    try:
        return shop_money(payload, field)
    except ValueError:
        return None


def settle_order(shop: Shop, row: Order, knowledge: OrderKnowledge, now: datetime, *, source: str = "order",
                 customer: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Moves the locked order's points and figures to what `knowledge` says (the other services are told
    by the caller, after the flush). `at` is when the change happened in Shopify (refund, cancellation,
    edit); the order's first earning is dated by its payment. Entries are recorded at `now`. No commit."""
    settings = program.settings_for(shop)
    state = knowledge.order
    if state is None:
        # Only refunds known so far (they came first, or the order's state was redacted): the order's
        # worth cannot be computed without its payload, which is on its way. Nothing moves until then.
        return
    member = _member_of(shop, row, knowledge, customer)

    snapshot = RuleSnapshot.from_dict(row.snapshot) if row.snapshot else None
    amount = eligible_amount(knowledge, snapshot or settings)
    first_award = False
    if (snapshot is None and state is not None and member is not None and member.deleted_at is None
            and settings.enabled and amount > 0):
        paid = state.paid_at or now
        if member.enrolled_at is None:
            members_service.enroll_member(shop, member, settings, now, how="first_order", at=paid)
        # The order that lifts a member earns at the tier it was placed in: snapshot before upgrading.
        at = paid
        effect, bonuses = program.campaign_effect(shop, member, at)
        snapshot = take_rule_snapshot(settings, program.catalogue(shop).tier(member.tier_id), effect, now)
        row.snapshot = {**snapshot.to_dict(), "campaign_bonuses": {str(k): v for k, v in bonuses.items()}}
        row.paid_at = state.paid_at or now
        amount = eligible_amount(knowledge, snapshot)
        first_award = True
    # When what this change books happened: the payment for the first earning, else the change itself.
    occurred = (row.paid_at if first_award else at) or now

    target = points_for_amount(amount, snapshot) if snapshot is not None else 0
    previous_target = row.points_target or 0
    row.points_target = target
    earned_more = False
    if member is not None and snapshot is not None:
        earned_more = _book_points(row, member, knowledge, snapshot, settings, target, amount, now, source,
                                   occurred)
        _campaign_bonus(row, member, target, previous_target, first_award, now, occurred)

    stats_up = _order_figures(row, member, knowledge, snapshot or settings, amount)
    if member is not None and member.enrolled_at is not None and (earned_more or stats_up):
        tiers.upgrade_if_qualified(shop, member, settings, now, reason=f"order {row.name or row.order_id}",
                                   at=occurred)


def _member_of(shop: Shop, row: Order, knowledge: OrderKnowledge, customer: dict[str, Any] | None) -> Member | None:
    """The order's member, locked (after the order). Created for a customer seen for the first time."""
    customer_id = knowledge.customer_id
    if row.member_id is not None:
        member = lock_member(row.member_id)
        # A customer changed on an order that never earned: follow Shopify.
        if customer_id is not None and member.customer_id != customer_id and not row.snapshot:
            row.member_id = None
        else:
            return member
    if customer_id is None or knowledge.order is None:
        return None
    member, created = members_service.get_or_create_member(shop.id, customer_id)
    if isinstance(customer, dict) and (created or member.email is None):
        members_service.apply_customer_fields(member, customer)
    row.member_id = member.id
    return member


def _book_points(row: Order, member: Member, knowledge: OrderKnowledge, snapshot: RuleSnapshot,
                 settings: Any, target: int, amount: Decimal, now: datetime, source: str,
                 occurred: datetime) -> bool:
    """One entry per non-zero status for `target − already given`, plus `forgiven` under cap_at_zero."""
    given = row.points_given or 0
    change = order_points_change(
        target, given, row.points_pending or 0, now, knowledge.paid_at, settings.pending_days,
        reversal_policy=settings.reversal_policy, available_balance=member.points_available or 0,
    )
    if change.delta == 0 and change.forgiven == 0:
        return False
    kind = change.kind
    assert kind is not None
    key = rules.order_change_key(row.order_id, knowledge.version)
    note = {**(row.snapshot or {}), "eligible_amount": str(amount), "target": target, "given_before": given}
    common: dict[str, Any] = dict(kind=kind, source=source, source_id=str(row.order_id), snapshot=note,
                                  order_ref_id=row.id, reason=f"Order {row.name or row.order_id}", now=now,
                                  occurred_at=occurred)
    event = "points_earned" if kind == rules.EARN_ORDER else "points_reversed"
    extra = {"order_id": str(row.order_id), "order_name": row.name}
    if change.pending:
        post_entry(member, points=change.pending, status=rules.PENDING, idempotency_key=f"{key}:pending",
                   available_at=change.release_at, emit=event, emit_payload=extra, **common)
        event = ""
    if change.available:
        post_entry(member, points=change.available, status=rules.AVAILABLE, idempotency_key=key,
                   emit=event or None, emit_payload=extra, **common)
    if change.forgiven:
        post_entry(member, points=change.forgiven, kind=rules.FORGIVEN, source=source,
                   idempotency_key=rules.forgiven_key(key), source_id=str(row.order_id), snapshot=note,
                   order_ref_id=row.id, forgiven_points=change.forgiven,
                   reason="Not taken back: the balance stops at zero (cap_at_zero)", now=now,
                   occurred_at=occurred)
    row.points_given = given + change.delta
    row.points_pending = (row.points_pending or 0) + change.pending
    if change.pending > 0:
        row.points_release_at = change.release_at
        if change.release_at is not None:
            # Spendable at that moment, not at the next sweep.
            due.at("release-order", row.id, due_at=change.release_at)
    return change.delta > 0


def _campaign_bonus(row: Order, member: Member, target: int, previous_target: int, first_award: bool,
                    now: datetime, occurred: datetime) -> None:
    """Fixed campaign bonuses: booked (available) when the order is first awarded, withdrawn once if the
    order later stops earning (cancelled or refunded to zero)."""
    bonuses = (row.snapshot or {}).get("campaign_bonuses") or {}
    if not bonuses:
        return
    for cid, points in sorted(bonuses.items()):
        key = rules.campaign_bonus_key(int(cid), row.order_id)
        common: dict[str, Any] = dict(kind=rules.CAMPAIGN_BONUS, source=rules.SOURCE_CAMPAIGN, source_id=str(cid),
                                      order_ref_id=row.id, now=now, occurred_at=occurred,
                                      snapshot={"campaign_id": int(cid), "bonus": points, "order_id": str(row.order_id)})
        if first_award and target > 0:
            post_entry(member, points=int(points), idempotency_key=key, reason="Campaign bonus",
                       emit="points_earned", **common)
        elif target == 0 and previous_target > 0:
            post_entry(member, points=-int(points), idempotency_key=f"{key}:withdrawn",
                       reason="Campaign bonus withdrawn: the order no longer earns", **common)


def _order_figures(row: Order, member: Member | None, knowledge: OrderKnowledge, eligibility: Any,
                   amount: Decimal) -> bool:
    """Order counted / eligible amount, and the member's orders_count, lifetime_spent, first/last order.
    Returns True when the member's figures went up (a tier may now be reached)."""
    state = knowledge.order
    counts = (state is not None and state.earns(eligibility.allow_test_orders)
              and not (amount == 0 and _all_refund_ids(knowledge)))
    new_amount = amount if counts else Decimal(0)
    old_counted, old_amount = bool(row.counted), Decimal(row.eligible_amount or 0)
    row.counted, row.eligible_amount = counts, new_amount
    if counts and row.paid_at is None and state is not None:
        row.paid_at = state.paid_at
    if member is None or (old_counted == counts and old_amount == new_amount):
        return False
    member.orders_count = (member.orders_count or 0) + int(counts) - int(old_counted)
    member.lifetime_spent = Decimal(member.lifetime_spent or 0) + new_amount - old_amount
    at = row.paid_at or row.processed_at
    if counts and at is not None:
        member.first_order_at = min(member.first_order_at or at, at)
        member.last_order_at = max(member.last_order_at or at, at)
    elif old_counted and not counts:
        db.session.flush()
        first, last = db.session.execute(
            select(func.min(Order.paid_at), func.max(Order.paid_at))
            .where(Order.member_id == member.id, Order.counted.is_(True))
        ).one()
        member.first_order_at, member.last_order_at = first, last
    return (int(counts) > int(old_counted)) or new_amount > old_amount


