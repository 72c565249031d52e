"""Points for orders: an order's eligible amount (or why it earns nothing), the rule snapshot it was first awarded
under, its target points and how a change of target is booked (pending first, then available). What is known of
the order comes from app.loyalty.order_knowledge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from app.loyalty.campaigns import CampaignEffect
from app.loyalty.ledger import EARN_ORDER, REVERSE_ORDER, apply_reversal_policy
from app.loyalty.money import exact_product, floor_points, parse_money
from app.loyalty.order_knowledge import (
    EARNING_STATUSES,
    OrderKnowledge,
    RefundState,
    jsonable,
    optional_datetime,
    optional_id,
)
from app.loyalty.settings import ProgramSettings, ReversalPolicy
from app.loyalty.tiers import Tier


class EligibilitySettings(Protocol):
    """What decides an order's eligible amount: ``ProgramSettings`` or a ``RuleSnapshot``."""

    @property
    def include_shipping(self) -> bool: ...

    @property
    def include_taxes(self) -> bool: ...

    @property
    def allow_test_orders(self) -> bool: ...


def _refunded_quantity(line_item_id: int, refunds: Iterable[RefundState]) -> int:
    return sum(line.quantity for r in refunds for line in r.lines if line.line_item_id == line_item_id)


def eligible_amount(knowledge: OrderKnowledge | None, settings: EligibilitySettings) -> Decimal:
    """The money an order earns on, never below 0; 0 when the order does not earn (not paid, cancelled,
    voided, refunded, or a test order the shop does not allow).

    = current subtotal
      − gift-card lines still in the order (net of their refunds)
      − subtotals of refunds known from refunds/create but not yet listed in the payload (the listed
        ones are already inside current_subtotal)
      (+ shipping net of shipping refunds, if ``include_shipping``)
      (+ current tax net of unlisted refunds' tax, if ``include_taxes``).
    A refund of shipping alone changes nothing unless shipping is included.
    """
    if knowledge is None or knowledge.order is None:
        return Decimal(0)
    order = knowledge.order
    if not order.earns(settings.allow_test_orders):
        return Decimal(0)
    extra = knowledge.extra_refunds
    amount = order.subtotal - sum((r.lines_subtotal for r in extra), Decimal(0))
    for gift in order.gift_card_lines:
        in_order = (
            gift.current_quantity
            if gift.current_quantity is not None
            else gift.quantity - _refunded_quantity(gift.line_item_id, order.refunds)
        )
        remaining = max(in_order - _refunded_quantity(gift.line_item_id, extra), 0)
        amount -= gift.price * remaining
    if settings.include_shipping:
        refunded = extra if order.shipping_is_current else order.refunds + extra
        amount += max(order.shipping - sum((r.shipping for r in refunded), Decimal(0)), Decimal(0))
    if settings.include_taxes:
        extra_tax = sum((r.lines_tax + r.shipping_tax for r in extra), Decimal(0))
        amount += max(order.tax - extra_tax, Decimal(0))
    return max(amount, Decimal(0))


NoPointsReason = Literal["processing", "test_order", "cancelled", "refunded", "not_paid", "gift_card",
                         "nothing_eligible"]


def why_no_points(knowledge: OrderKnowledge | None, settings: EligibilitySettings) -> NoPointsReason:
    """Why an order is worth no points, in the words a shopper is told (the first that applies).

    `processing`: its payload has not arrived yet. `gift_card`: what is left of it is gift cards only.
    `nothing_eligible`: it earns, on an amount too small for one point (or no amount at all).
    """
    if knowledge is None or knowledge.order is None:
        return "processing"
    order = knowledge.order
    if order.test and not settings.allow_test_orders:
        return "test_order"
    if order.cancelled_at is not None or order.financial_status == "voided":
        return "cancelled"
    if order.financial_status == "refunded":
        return "refunded"
    if order.financial_status not in EARNING_STATUSES:
        return "not_paid"
    if order.gift_card_lines and eligible_amount(knowledge, settings) == 0 and order.subtotal > 0:
        return "gift_card"
    return "nothing_eligible"


@dataclass(frozen=True)
class RuleSnapshot:
    """The rules an order was first awarded under, reused for every later change of that order."""

    rate: Decimal
    tier_multiplier: Decimal = Decimal(1)
    tier_id: int | None = None
    tier_name: str | None = None
    campaign_multiplier: Decimal = Decimal(1)
    campaign_id: int | None = None
    taken_at: datetime | None = None
    include_shipping: bool = False
    include_taxes: bool = False
    allow_test_orders: bool = False

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = jsonable(self)
        return result

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleSnapshot:
        return cls(
            rate=parse_money(d["rate"]),
            tier_multiplier=parse_money(d.get("tier_multiplier", "1")),
            tier_id=optional_id(d.get("tier_id")),
            tier_name=d.get("tier_name"),
            campaign_multiplier=parse_money(d.get("campaign_multiplier", "1")),
            campaign_id=optional_id(d.get("campaign_id")),
            taken_at=optional_datetime(d.get("taken_at")),
            include_shipping=bool(d.get("include_shipping", False)),
            include_taxes=bool(d.get("include_taxes", False)),
            allow_test_orders=bool(d.get("allow_test_orders", False)),
        )


def take_rule_snapshot(
    settings: ProgramSettings, tier: Tier | None, campaign: CampaignEffect | None, now: datetime
) -> RuleSnapshot:
    """Snapshot the rate, the member's tier (the one the order was placed in) and the campaign multiplier."""
    return RuleSnapshot(
        rate=settings.points_per_currency_unit,
        tier_multiplier=tier.multiplier if tier else Decimal(1),
        tier_id=tier.id if tier else None,
        tier_name=tier.name if tier else None,
        campaign_multiplier=campaign.multiplier if campaign else Decimal(1),
        campaign_id=campaign.multiplier_campaign_id if campaign else None,
        taken_at=now,
        include_shipping=settings.include_shipping,
        include_taxes=settings.include_taxes,
        allow_test_orders=settings.allow_test_orders,
    )


def points_for_amount(amount: Decimal, snapshot: RuleSnapshot) -> int:
    """floor(amount × rate × tier multiplier × campaign multiplier), exact in Decimal."""
    return floor_points(exact_product(amount, snapshot.rate, snapshot.tier_multiplier, snapshot.campaign_multiplier))


def target_points(knowledge: OrderKnowledge | None, snapshot: RuleSnapshot) -> int:
    """What the order is worth now, under the rules it was first awarded with."""
    return points_for_amount(eligible_amount(knowledge, snapshot), snapshot)


@dataclass(frozen=True)
class OrderPointsChange:
    """How to book ``target − already_given`` for one order.

    ``pending`` / ``available`` are the signed points of the ``earn_order`` (delta > 0) or
    ``reverse_order`` (delta < 0) entry by status — book one entry per non-zero status.
    ``forgiven`` (≥ 0, cap_at_zero only) is booked as a separate ``forgiven`` entry of +forgiven
    available, so the order's own entries still sum to its target while the balance stops at zero.
    ``release_at`` is when the pending part becomes available (None when nothing is pending).
    """

    pending: int = 0
    available: int = 0
    forgiven: int = 0
    release_at: datetime | None = None

    @property
    def delta(self) -> int:
        return self.pending + self.available

    @property
    def balance_change(self) -> int:
        return self.pending + self.available + self.forgiven

    @property
    def kind(self) -> Literal["earn_order", "reverse_order"] | None:
        if self.delta > 0:
            return EARN_ORDER
        if self.delta < 0:
            return REVERSE_ORDER
        return None


def pending_until(paid_at: datetime | None, now: datetime, pending_days: int) -> datetime:
    """When points of an order paid at ``paid_at`` (unknown → ``now``) become available."""
    return (paid_at or now) + timedelta(days=pending_days)


def order_points_change(
    target: int,
    already_given: int,
    pending_of_order: int,
    now: datetime,
    paid_at: datetime | None,
    pending_days: int,
    *,
    reversal_policy: ReversalPolicy = "allow_negative",
    available_balance: int | None = None,
) -> OrderPointsChange:
    """Book the move of an order from ``already_given`` to ``target`` points.

    ``already_given`` = sum of the order's earn_order and reverse_order entries (not its forgiven
    entries); ``pending_of_order`` = its points still pending. An increase is pending until
    ``paid_at + pending_days`` (available at once with 0 days or once that moment has passed). A
    reduction takes the order's pending points first, then available ones under ``reversal_policy``;
    ``cap_at_zero`` needs the member's ``available_balance``.
    """
    delta = target - already_given
    if delta == 0:
        return OrderPointsChange()
    if delta > 0:
        release_at = pending_until(paid_at, now, pending_days)
        if pending_days <= 0 or now >= release_at:
            return OrderPointsChange(available=delta)
        return OrderPointsChange(pending=delta, release_at=release_at)
    if reversal_policy == "cap_at_zero" and available_balance is None:
        raise ValueError("cap_at_zero needs the member's available balance")
    decision = apply_reversal_policy(reversal_policy, available_balance or 0, pending_of_order, -delta)
    return OrderPointsChange(
        pending=-decision.pending_taken,
        available=-(decision.available_taken + decision.forgiven),
        forgiven=decision.forgiven,
    )
