"""An independent oracle of the points ledger, computed from the events the store sent, by loyalty-rules.md.

Deliberately shares no code with app/: it reads the Shopify payloads the way the rules page words them,
so a bug in the engine cannot hide behind the same bug here. Scope: the program at its defaults (5 points
per currency unit, sign-up bonus 100, no tiers, no campaigns, test orders earn nothing) with
pending_days given by the run (the run uses 0, so every point is available at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

RATE = Decimal("5")
SIGNUP_POINTS = 100
EARNING_STATUSES = frozenset({"paid", "partially_refunded"})
ORDER_TOPICS = frozenset({"orders/paid", "orders/updated", "orders/cancelled", "orders/create", "orders/edited"})


@dataclass
class MemberExpectation:
    customer_id: int
    signup: int = 0
    orders: dict[int, int] = field(default_factory=dict)  # order id → target points
    redacted: bool = False

    @property
    def total(self) -> int:
        return self.signup + sum(self.orders.values())


def _when(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal("0")


def _shop_money(payload: Mapping[str, Any], key: str) -> Decimal:
    """`<key>_set.shop_money.amount` (the shop's currency), falling back to the plain field."""
    money_set = payload.get(f"{key}_set") or {}
    shop_money = money_set.get("shop_money") or {}
    if "amount" in shop_money:
        return _money(shop_money["amount"])
    return _money(payload.get(key))


def eligible_amount(order: Mapping[str, Any]) -> Decimal:
    """Current subtotal minus gift-card items still on the order (gift cards are never discounted)."""
    gift_cards = sum(
        (_money(li.get("price")) * int(li.get("current_quantity", li.get("quantity", 0)))
         for li in order.get("line_items") or [] if li.get("gift_card")),
        Decimal("0"),
    )
    return max(Decimal("0"), _shop_money(order, "current_subtotal_price") - gift_cards)


def order_target(order: Mapping[str, Any]) -> int:
    """What the order is worth in its latest known state."""
    if order.get("test") or order.get("cancelled_at"):
        return 0
    if order.get("financial_status") not in EARNING_STATUSES:
        return 0
    return int((eligible_amount(order) * RATE).to_integral_value(rounding=ROUND_FLOOR))


def expected_ledger(events: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[int, MemberExpectation]:
    """(topic, payload) of every authentic event, in any order, with any duplicates → points per customer.

    The latest payload of an order (by its updated_at) decides its worth; refunds/create only announces
    what the order's next payload carries, so it is not needed for the totals.
    """
    latest: dict[int, tuple[datetime, Mapping[str, Any]]] = {}
    members: dict[int, MemberExpectation] = {}

    def member(cid: int) -> MemberExpectation:
        return members.setdefault(cid, MemberExpectation(cid))

    for topic, payload in events:
        if topic == "customers/create":
            member(int(payload["id"])).signup = SIGNUP_POINTS
        elif topic == "customers/redact":
            member(int(payload["customer"]["id"])).redacted = True
        elif topic in ORDER_TOPICS:
            at = _when(payload["updated_at"])
            known = latest.get(int(payload["id"]))
            if known is None or at > known[0]:
                latest[int(payload["id"])] = (at, payload)
    for order_id, (_at, order) in latest.items():
        customer = order.get("customer") or {}
        if customer.get("id") is None:
            continue
        member(int(customer["id"])).orders[order_id] = order_target(order)
    return members
