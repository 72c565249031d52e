"""What is known of an order: the domain's order and refund types (app.shopify.orders makes them from Shopify's
payloads), the paid statuses under which an order counts, and the knowledge merged from its webhooks (pure,
idempotent, commutative), stored as JSON and forgotten of personal data on redaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.loyalty.money import parse_money
from app.loyalty.referrals import Address

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


def optional_datetime(value: object) -> datetime | None:
    return None if value in (None, "") else parse_datetime(value)


def _stored_id(value: object) -> int:
    """An id of the domain's own stored JSON (an int; a numeric string read back the same)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValueError(f"not an id: {value!r}")
    return int(value)


def optional_id(value: object) -> int | None:
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


def jsonable(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


def _canonical(value: object) -> str:
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"))


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
        result: dict[str, Any] = jsonable(self)
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
        created_at=optional_datetime(d.get("created_at")),
        lines=tuple(
            RefundLine(
                line_item_id=optional_id(x.get("line_item_id")),
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
        customer_id=optional_id(d.get("customer_id")),
        email=d.get("email"),
        cancelled_at=optional_datetime(d.get("cancelled_at")),
        test=bool(d.get("test", False)),
        paid_at=optional_datetime(d.get("paid_at")),
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
