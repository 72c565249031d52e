"""Points for orders: what is known of an order (merged from its webhooks), its eligible amount, the rule
snapshot, the target points and how a change of target is booked (pending first, then available)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from app.loyalty.campaigns import CampaignEffect
from app.loyalty.ledger import EARN_ORDER, REVERSE_ORDER, apply_reversal_policy
from app.loyalty.money import exact_product, floor_points, parse_money
from app.loyalty.referrals import Address
from app.loyalty.settings import ProgramSettings, ReversalPolicy
from app.loyalty.tiers import Tier

# The one home of the financial statuses under which an order is paid and counts (its points, tier spend, the
# dashboard's revenue, a referral's qualifying order); SQL filters take the tuple.
PAID_STATUSES = ("paid", "partially_refunded")
EARNING_STATUSES = frozenset(PAID_STATUSES)

# Only used to break a tie between two different payloads with the same updated_at: the one further
# along wins, so the result never depends on which of the two arrived first.
_STATUS_PROGRESS = {
    "pending": 1, "authorized": 2, "partially_paid": 3, "paid": 4, "partially_refunded": 5, "refunded": 6,
    "voided": 7,
}


# --- the domain's types (app.shopify.orders makes them from Shopify's payloads) ---------------------


def parse_datetime(value: object) -> datetime:
    """An ISO 8601 timestamp (``2024-05-01T10:00:00-04:00``) as an aware datetime (naive → UTC)."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"not a timestamp: {value!r}") from exc
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def _optional_datetime(value: object) -> datetime | None:
    return None if value in (None, "") else parse_datetime(value)


def _stored_id(value: object) -> int:
    """An id of the domain's own stored JSON (an int; a numeric string read back the same)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValueError(f"not an id: {value!r}")
    return int(value)


def _optional_id(value: object) -> int | None:
    return None if value in (None, "") else _stored_id(value)


def _int(value: object, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not a whole number: {value!r}")
    return int(value)


@dataclass(frozen=True)
class RefundLine:
    """One refunded line: ``subtotal`` is what the shopper paid for those units, before tax."""

    line_item_id: int | None
    quantity: int
    subtotal: Decimal
    total_tax: Decimal = Decimal(0)
    gift_card: bool = False


@dataclass(frozen=True)
class RefundState:
    """A refund as Shopify sends it in refunds/create or in an order's ``refunds`` list."""

    refund_id: int
    order_id: int
    created_at: datetime | None
    lines: tuple[RefundLine, ...] = ()
    shipping: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)

    @property
    def lines_subtotal(self) -> Decimal:
        return sum((line.subtotal for line in self.lines), Decimal(0))

    @property
    def lines_tax(self) -> Decimal:
        return sum((line.total_tax for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class GiftCardLine:
    """A gift card bought in the order: never earns points."""

    line_item_id: int
    price: Decimal
    quantity: int
    current_quantity: int | None = None


@dataclass(frozen=True)
class OrderState:
    """What one order payload (orders/paid, orders/updated, orders/cancelled) says about the order.

    ``subtotal`` is Shopify's ``current_subtotal_price`` (after discounts, refunds and edits; no shipping,
    taxes, duties or tips); ``tax`` is ``current_total_tax``; ``shipping`` is
    ``current_shipping_price_set`` when the payload has it (``shipping_is_current``), else
    ``total_shipping_price_set`` (gross of the refunds). ``paid_at`` is ``processed_at`` (else
    ``created_at``). ``refunds`` are the refunds the payload lists, by id.
    """

    order_id: int
    updated_at: datetime
    financial_status: str
    subtotal: Decimal
    customer_id: int | None = None
    email: str | None = None
    cancelled_at: datetime | None = None
    test: bool = False
    paid_at: datetime | None = None
    shipping: Decimal = Decimal(0)
    shipping_is_current: bool = False
    tax: Decimal = Decimal(0)
    gift_card_lines: tuple[GiftCardLine, ...] = ()
    refunds: tuple[RefundState, ...] = ()
    discount_codes: tuple[str, ...] = ()
    browser_ip: str | None = None
    shipping_address: Address | None = None

    def earns(self, allow_test_orders: bool) -> bool:
        """Only paid or partially refunded, not cancelled, and not a test order unless allowed."""
        if self.cancelled_at is not None or self.financial_status not in EARNING_STATUSES:
            return False
        return allow_test_orders or not self.test


# --- knowledge -------------------------------------------------------------------------------------

OrderEvent = OrderState | RefundState


def _jsonable(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _canonical(value: object) -> str:
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class OrderKnowledge:
    """Everything known of one order: the newest payload by ``updated_at`` and the refunds seen through
    refunds/create (sorted by id). Built only by ``merge_order_knowledge``; store it with ``to_dict``."""

    order_id: int
    order: OrderState | None = None
    refunds: tuple[RefundState, ...] = ()

    @property
    def extra_refunds(self) -> tuple[RefundState, ...]:
        """Refunds seen via refunds/create that the newest payload does not list yet."""
        listed = {r.refund_id for r in self.order.refunds} if self.order else set()
        return tuple(r for r in self.refunds if r.refund_id not in listed)

    @property
    def version(self) -> str:
        """A short fingerprint: equal knowledge, equal version (use it in ``ledger.order_change_key``)."""
        return hashlib.sha256(_canonical(self).encode()).hexdigest()[:20]

    @property
    def paid_at(self) -> datetime | None:
        return self.order.paid_at if self.order else None

    @property
    def customer_id(self) -> int | None:
        return self.order.customer_id if self.order else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: Decimals and datetimes as strings, ids as ints."""
        result: dict[str, Any] = _jsonable(self)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderKnowledge:
        return cls(
            order_id=_stored_id(data["order_id"]),
            order=None if data.get("order") is None else _order_from_dict(data["order"]),
            refunds=tuple(_refund_from_dict(r) for r in data.get("refunds") or ()),
        )


def _refund_from_dict(d: Mapping[str, Any]) -> RefundState:
    return RefundState(
        refund_id=_stored_id(d["refund_id"]),
        order_id=_stored_id(d["order_id"]),
        created_at=_optional_datetime(d.get("created_at")),
        lines=tuple(
            RefundLine(
                line_item_id=_optional_id(x.get("line_item_id")),
                quantity=_int(x.get("quantity")),
                subtotal=parse_money(x["subtotal"]),
                total_tax=parse_money(x.get("total_tax", "0")),
                gift_card=bool(x.get("gift_card", False)),
            )
            for x in d.get("lines") or ()
        ),
        shipping=parse_money(d.get("shipping", "0")),
        shipping_tax=parse_money(d.get("shipping_tax", "0")),
    )


def _order_from_dict(d: Mapping[str, Any]) -> OrderState:
    address = d.get("shipping_address")
    return OrderState(
        order_id=_stored_id(d["order_id"]),
        updated_at=parse_datetime(d["updated_at"]),
        financial_status=str(d["financial_status"]),
        subtotal=parse_money(d["subtotal"]),
        customer_id=_optional_id(d.get("customer_id")),
        email=d.get("email"),
        cancelled_at=_optional_datetime(d.get("cancelled_at")),
        test=bool(d.get("test", False)),
        paid_at=_optional_datetime(d.get("paid_at")),
        shipping=parse_money(d.get("shipping", "0")),
        shipping_is_current=bool(d.get("shipping_is_current", False)),
        tax=parse_money(d.get("tax", "0")),
        gift_card_lines=tuple(
            GiftCardLine(
                line_item_id=_stored_id(g["line_item_id"]),
                price=parse_money(g["price"]),
                quantity=_int(g["quantity"]),
                current_quantity=None if g.get("current_quantity") is None else _int(g["current_quantity"]),
            )
            for g in d.get("gift_card_lines") or ()
        ),
        refunds=tuple(_refund_from_dict(r) for r in d.get("refunds") or ()),
        discount_codes=tuple(d.get("discount_codes") or ()),
        browser_ip=d.get("browser_ip"),
        shipping_address=None if address is None else Address(**address),
    )


def _order_supersedes(new: OrderState, old: OrderState) -> bool:
    if new.updated_at != old.updated_at:
        return new.updated_at > old.updated_at
    if new == old:
        return False
    # Same age, different content (e.g. orders/updated and orders/cancelled stamped alike): take the
    # one further along, then an arbitrary but fixed order, so arrival order never matters.
    def rank(o: OrderState) -> tuple[int, bool, int, str]:
        return (len(o.refunds), o.cancelled_at is not None, _STATUS_PROGRESS.get(o.financial_status, 0), _canonical(o))

    return rank(new) > rank(old)


def without_personal_data(state: OrderState) -> OrderState:
    """The order's state with who bought it forgotten (email, browser IP, shipping address); its amounts and
    customer id kept. What a redacted customer's orders may hold (loyalty-rules.md, Privacy)."""
    if state.email is None and state.browser_ip is None and state.shipping_address is None:
        return state
    return replace(state, email=None, browser_ip=None, shipping_address=None)


def knowledge_without_personal_data(knowledge: OrderKnowledge) -> OrderKnowledge:
    if knowledge.order is None:
        return knowledge
    return replace(knowledge, order=without_personal_data(knowledge.order))


def merge_order_knowledge(known: OrderKnowledge | None, event: OrderEvent) -> OrderKnowledge:
    """Fold one order event into what is known of the order. Pure, idempotent and commutative: any
    permutation of the same events, with any duplicates, ends in the same knowledge.

    An order payload replaces the stored one only if its ``updated_at`` is newer; an older one, or
    the same payload again, changes nothing. Two *different* payloads stamped with the same
    ``updated_at`` are settled by a fixed rule (more refunds listed, then cancelled, then the further
    financial status, then content) so their arrival order cannot matter. A refund is added by id
    (refunds never change in Shopify; two versions of one id are settled by content too). Raises
    ``ValueError`` for an event of another order.
    """
    if known is None:
        known = OrderKnowledge(event.order_id)
    if event.order_id != known.order_id:
        raise ValueError(f"event of order {event.order_id} merged into order {known.order_id}")
    if isinstance(event, OrderState):
        if known.order is None or _order_supersedes(event, known.order):
            return OrderKnowledge(known.order_id, event, known.refunds)
        return known
    by_id = {r.refund_id: r for r in known.refunds}
    existing = by_id.get(event.refund_id)
    if existing == event or (existing is not None and _canonical(existing) >= _canonical(event)):
        return known
    by_id[event.refund_id] = event
    return OrderKnowledge(known.order_id, known.order, tuple(sorted(by_id.values(), key=lambda r: r.refund_id)))


def merge_all(events: Iterable[OrderEvent], known: OrderKnowledge | None = None) -> OrderKnowledge | None:
    """Fold many events (e.g. when rebuilding from stored deliveries)."""
    for event in events:
        known = merge_order_knowledge(known, event)
    return known


# --- eligible amount and points --------------------------------------------------------------------


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
        result: dict[str, Any] = _jsonable(self)
        return result

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleSnapshot:
        return cls(
            rate=parse_money(d["rate"]),
            tier_multiplier=parse_money(d.get("tier_multiplier", "1")),
            tier_id=_optional_id(d.get("tier_id")),
            tier_name=d.get("tier_name"),
            campaign_multiplier=parse_money(d.get("campaign_multiplier", "1")),
            campaign_id=_optional_id(d.get("campaign_id")),
            taken_at=_optional_datetime(d.get("taken_at")),
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
