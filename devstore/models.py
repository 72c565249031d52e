"""The stand-in's records (shops, customers, orders, refunds, discounts, tokens) and their money and time arithmetic."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")

# Shopify ids are 64-bit; starting every kind above 2**53 makes any float/JS-number mangling in the app
# show up at once instead of years later. The leading digits tell the kind apart when reading logs.
_ID_BASES = {
    "Shop": 10,
    "Customer": 11,
    "Order": 12,
    "LineItem": 13,
    "Refund": 14,
    "RefundLineItem": 15,
    "OrderTransaction": 16,
    "OrderAdjustment": 17,
    "DiscountCodeNode": 18,
    "DiscountRedeemCode": 19,
    "Metafield": 20,
    "MailingAddress": 21,
    "ShippingLine": 22,
    "RefundShippingLine": 23,
}
assert all(base * 10**15 > 2**53 for base in _ID_BASES.values())


class IdSource:
    """Per-kind id counters (not thread-safe on their own: the store's lock guards them)."""

    def __init__(self) -> None:
        self._counters = {kind: itertools.count(1) for kind in _ID_BASES}

    def next(self, kind: str) -> int:
        return _ID_BASES[kind] * 10**15 + next(self._counters[kind])


def gid(kind: str, id_: int) -> str:
    return f"gid://shopify/{kind}/{id_}"


def parse_gid(value: str | int, kind: str | None = None) -> int:
    """`gid://shopify/Customer/123` (or a bare id) → 123; raises ValueError for another kind."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    prefix = "gid://shopify/"
    if not text.startswith(prefix):
        raise ValueError(f"not a global id: {text!r}")
    found_kind, _, rest = text[len(prefix) :].partition("/")
    if kind is not None and found_kind != kind:
        raise ValueError(f"expected a {kind} id, got {text!r}")
    return int(rest.split("?")[0])


def money(value: Any) -> Decimal:
    """Parse a money amount given as str/int/Decimal (never float: that is how cents get lost)."""
    if isinstance(value, float):
        raise TypeError("pass money as a string like '19.95', not a float")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(amount: Decimal) -> str:
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def money_set(amount: Decimal, currency: str) -> dict:
    """REST `*_set`: the same amount in shop and presentment currency (the stand-in has one currency)."""
    entry = {"amount": fmt(amount), "currency_code": currency}
    return {"shop_money": dict(entry), "presentment_money": dict(entry)}


def gql_money_bag(amount: Decimal, currency: str) -> dict:
    """GraphQL `MoneyBag`."""
    entry = {"amount": fmt(amount), "currencyCode": currency}
    return {"shopMoney": dict(entry), "presentmentMoney": dict(entry)}


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` proportionally, in cents, the rounding remainder on the largest weight."""
    if not weights:
        return []
    weight_sum = sum(weights, Decimal(0))
    if weight_sum <= 0 or total == 0:
        return [Decimal("0.00") for _ in weights]
    shares = [(total * w / weight_sum).quantize(CENT, rounding=ROUND_HALF_EVEN) for w in weights]
    largest = max(range(len(weights)), key=lambda i: weights[i])
    shares[largest] += total - sum(shares, Decimal(0))
    return shares


def unit_share(total: Decimal, done: int, take: int, of: int) -> Decimal:
    """The part of a line's `total` (discount, tax) belonging to units done+1..done+take of `of` units.

    Cumulative rounding makes the parts of successive partial refunds add up to exactly `total`.
    """
    if of <= 0:
        return Decimal("0.00")

    def upto(units: int) -> Decimal:
        return (total * units / of).quantize(CENT, rounding=ROUND_HALF_UP)

    return upto(done + take) - upto(done)


# --- time -------------------------------------------------------------------------------------------


def to_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rest_time(value: datetime | None, offset_minutes: int) -> str | None:
    """REST payload timestamps are in the shop's time zone with an offset, e.g. 2024-01-09T17:04:11-05:00."""
    if value is None:
        return None
    local = value.astimezone(timezone(timedelta(minutes=offset_minutes)))
    return local.replace(microsecond=0).isoformat()


def gql_time(value: datetime | None) -> str | None:
    """GraphQL `DateTime` is UTC with a Z, e.g. 2024-01-09T22:04:11Z."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- records ----------------------------------------------------------------------------------------


@dataclass
class Metafield:
    id: int
    namespace: str
    key: str
    type: str
    value: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Customer:
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    created_at: datetime
    updated_at: datetime
    phone: str | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    state: str = "enabled"
    verified_email: bool = True
    accepts_marketing: bool = False
    addresses: list[dict] = field(default_factory=list)
    metafields: dict[tuple[str, str], Metafield] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class LineItem:
    id: int
    title: str
    price: Decimal
    quantity: int
    gift_card: bool = False
    sku: str | None = None
    variant_id: int | None = None
    product_id: int | None = None
    taxable: bool = True
    discount: Decimal = Decimal("0.00")  # this line's share of the order's discount codes
    tax: Decimal = Decimal("0.00")
    refunded_quantity: int = 0
    removed_quantity: int = 0  # taken away by an order edit (not a refund)
    removed_value: Decimal = Decimal("0.00")

    @property
    def total(self) -> Decimal:
        return self.price * self.quantity

    @property
    def current_quantity(self) -> int:
        return self.quantity - self.refunded_quantity - self.removed_quantity


@dataclass
class RefundLine:
    id: int
    line_item_id: int
    quantity: int
    subtotal: Decimal
    total_tax: Decimal
    restock_type: str = "no_restock"


@dataclass
class Refund:
    id: int
    order_id: int
    created_at: datetime
    note: str | None
    restock: bool
    lines: list[RefundLine]
    shipping: Decimal
    transaction_id: int
    adjustment_id: int | None
    shipping_line_id: int | None

    @property
    def subtotal(self) -> Decimal:
        return sum((rl.subtotal for rl in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sum((rl.total_tax for rl in self.lines), Decimal("0.00"))

    @property
    def amount(self) -> Decimal:
        return self.subtotal + self.tax + self.shipping


@dataclass
class AppliedCode:
    code: str
    amount: Decimal
    type: str  # fixed_amount | percentage | shipping (REST discount_codes[].type)


@dataclass
class Order:
    id: int
    number: int
    customer_id: int | None
    email: str | None
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    currency: str
    lines: list[LineItem]
    shipping: Decimal
    shipping_discount: Decimal
    tax: Decimal
    discount_codes: list[AppliedCode]
    financial_status: str  # pending | paid | partially_refunded | refunded | voided
    test: bool = False
    browser_ip: str | None = None
    shipping_address: dict | None = None
    billing_address: dict | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    refunds: list[Refund] = field(default_factory=list)
    shipping_line_id: int = 0
    transaction_id: int = 0

    @property
    def name(self) -> str:
        return f"#{self.number}"

    # Shopify's subtotal includes gift-card lines and is after line-level discounts.
    @property
    def total_line_items_price(self) -> Decimal:
        return sum((li.total for li in self.lines), Decimal("0.00"))

    @property
    def line_discounts(self) -> Decimal:
        return sum((li.discount for li in self.lines), Decimal("0.00"))

    @property
    def subtotal_price(self) -> Decimal:
        return self.total_line_items_price - self.line_discounts

    @property
    def total_discounts(self) -> Decimal:
        return self.line_discounts + self.shipping_discount

    @property
    def refunded_subtotal(self) -> Decimal:
        return sum((r.subtotal for r in self.refunds), Decimal("0.00"))

    @property
    def removed_subtotal(self) -> Decimal:
        return sum((li.removed_value for li in self.lines), Decimal("0.00"))

    @property
    def current_subtotal_price(self) -> Decimal:
        return self.subtotal_price - self.refunded_subtotal - self.removed_subtotal

    @property
    def total_shipping(self) -> Decimal:
        return self.shipping - self.shipping_discount

    @property
    def refunded_shipping(self) -> Decimal:
        return sum((r.shipping for r in self.refunds), Decimal("0.00"))

    @property
    def current_total_tax(self) -> Decimal:
        refunded = sum((r.tax for r in self.refunds), Decimal("0.00"))
        removed = sum(
            (unit_share(li.tax, 0, li.removed_quantity, li.quantity) for li in self.lines), Decimal("0.00")
        )
        return self.tax - refunded - removed

    @property
    def total_price(self) -> Decimal:
        return self.subtotal_price + self.total_shipping + self.tax

    @property
    def total_refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal("0.00"))

    @property
    def current_total_price(self) -> Decimal:
        return self.current_subtotal_price + self.total_shipping - self.refunded_shipping + self.current_total_tax

    @property
    def paid(self) -> bool:
        return self.financial_status in ("paid", "partially_refunded", "refunded")


@dataclass
class Discount:
    """A code discount the app created through the Admin API."""

    id: int
    code_id: int
    code: str
    kind: str  # DiscountCodeBasic | DiscountCodeFreeShipping
    title: str
    value_type: str | None  # amount | percentage (None for free shipping)
    value: Decimal | None  # amount in shop currency, or a fraction 0..1 for percentage
    customer_ids: list[int]  # empty = all customers
    usage_limit: int | None
    applies_once_per_customer: bool
    starts_at: datetime
    ends_at: datetime | None
    minimum_subtotal: Decimal | None
    created_at: datetime
    updated_at: datetime
    usage_count: int = 0
    used_by_orders: list[int] = field(default_factory=list)
    deleted: bool = False

    def status(self, now: datetime) -> str:
        if self.starts_at > now:
            return "SCHEDULED"
        if (self.ends_at is not None and self.ends_at <= now) or (
            self.usage_limit is not None and self.usage_count >= self.usage_limit
        ):
            return "EXPIRED"
        return "ACTIVE"


@dataclass
class AccessToken:
    token: str
    shop: str
    scope: str
    mode: str  # offline | online
    issued_at: datetime
    expires_at: datetime | None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    revoked: bool = False


@dataclass
class Shop:
    id: int
    domain: str
    name: str
    currency: str
    money_format: str
    email: str
    tz_offset_minutes: int
    created_at: datetime
    installed: bool = True
    customers: dict[int, Customer] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    discounts: dict[int, Discount] = field(default_factory=dict)
    next_order_number: int = 1001
    # fault injection, consumed one request at a time
    throttle_next: int = 0
    fail_statuses: list[int] = field(default_factory=list)
    discount_failures: list[dict] = field(default_factory=list)
    # flowTriggerReceive calls, in order: {"handle", "payload", "at"}
    flow_triggers: list[dict] = field(default_factory=list)
    # GraphQL leaky bucket
    bucket_available: float = 2000.0
    bucket_at: float = 0.0
