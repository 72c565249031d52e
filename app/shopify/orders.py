"""Shopify's order and refund payloads (webhooks, REST shapes) → the domain's own types (app.loyalty.order_knowledge).

The domain never sees a Shopify dict or a gid: money is read in the shop's currency from the `*_set` fields,
ids from ints, numeric strings or gids, here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.loyalty.money import parse_money
from app.loyalty.order_knowledge import GiftCardLine, OrderState, RefundLine, RefundState, parse_datetime
from app.loyalty.referrals import Address


def optional_datetime(value: object) -> datetime | None:
    return None if value in (None, "") else parse_datetime(value)


def whole_number(value: object, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not a whole number: {value!r}")
    return int(value)


def shopify_id(value: object) -> int:
    """A Shopify id (int, numeric string or ``gid://shopify/Order/123``) as an int; ids exceed 2^53."""
    if isinstance(value, bool):
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.rsplit("/", 1)[-1].strip()
        if text.isascii() and text.isdigit():
            return int(text)
    raise ValueError(f"not an id: {value!r}")




def refund_from_payload(payload: Mapping[str, Any], order_id: int | None = None) -> RefundState:
    """Parse a refunds/create payload (or one entry of an order's ``refunds``).

    Shipping refunded is read from ``refund_shipping_lines`` when present, else from the
    ``order_adjustments`` of kind ``shipping_refund`` (Shopify sends those amounts negative).
    """
    oid = _optional_shopify_id(payload.get("order_id"))
    if oid is None:
        if order_id is None:
            raise ValueError("refund without order_id")
        oid = order_id
    lines = []
    for item in payload.get("refund_line_items") or ():
        line_item = item.get("line_item") or {}
        lines.append(
            RefundLine(
                line_item_id=_optional_shopify_id(item.get("line_item_id") or line_item.get("id")),
                quantity=whole_number(item.get("quantity")),
                subtotal=shop_money(item, "subtotal", Decimal(0)),
                total_tax=shop_money(item, "total_tax", Decimal(0)),
                gift_card=bool(line_item.get("gift_card", False)),
            )
        )
    shipping = shipping_tax = Decimal(0)
    shipping_lines = payload.get("refund_shipping_lines") or ()
    if shipping_lines:
        for s in shipping_lines:
            shipping += abs(shop_money(s, "subtotal_amount", Decimal(0)))
            shipping_tax += abs(shop_money(s, "tax_amount", Decimal(0)))
    else:
        for adj in payload.get("order_adjustments") or ():
            if adj.get("kind") == "shipping_refund":
                shipping += abs(shop_money(adj, "amount", Decimal(0)))
                shipping_tax += abs(shop_money(adj, "tax_amount", Decimal(0)))
    return RefundState(
        refund_id=shopify_id(payload.get("id")),
        order_id=oid,
        created_at=optional_datetime(payload.get("created_at")),
        lines=tuple(lines),
        shipping=shipping,
        shipping_tax=shipping_tax,
    )




def order_state_from_payload(payload: Mapping[str, Any]) -> OrderState:
    """Parse a Shopify REST order payload. Raises ``ValueError`` without an ``id`` or ``updated_at``,
    or with a money field that is not a finite decimal string."""
    order_id = shopify_id(payload.get("id"))
    customer = payload.get("customer") or {}
    email = payload.get("email") or payload.get("contact_email") or customer.get("email") or None
    if "current_shipping_price_set" in payload:
        shipping, current = shop_money(payload, "current_shipping_price", Decimal(0)), True
    else:
        shipping, current = shop_money(payload, "total_shipping_price", Decimal(0)), False
    if payload.get("current_subtotal_price_set") is not None or payload.get("current_subtotal_price") is not None:
        subtotal = shop_money(payload, "current_subtotal_price")
    else:
        subtotal = shop_money(payload, "subtotal_price")
    gift_lines = []
    for item in payload.get("line_items") or ():
        if item.get("gift_card"):
            cq = item.get("current_quantity")
            gift_lines.append(
                GiftCardLine(
                    line_item_id=shopify_id(item.get("id")),
                    price=shop_money(item, "price"),
                    quantity=whole_number(item.get("quantity")),
                    current_quantity=None if cq is None else whole_number(cq),
                )
            )
    refunds = sorted(
        (refund_from_payload(r, order_id) for r in payload.get("refunds") or ()), key=lambda r: r.refund_id
    )
    client = payload.get("client_details") or {}
    browser_ip = payload.get("browser_ip") or client.get("browser_ip") or None
    return OrderState(
        order_id=order_id,
        updated_at=parse_datetime(payload.get("updated_at")),
        financial_status=str(payload.get("financial_status") or "").lower(),
        subtotal=subtotal,
        customer_id=_optional_shopify_id(customer.get("id")),
        email=str(email) if email else None,
        cancelled_at=optional_datetime(payload.get("cancelled_at")),
        test=bool(payload.get("test", False)),
        paid_at=optional_datetime(payload.get("processed_at") or payload.get("created_at")),
        shipping=shipping,
        shipping_is_current=current,
        tax=shop_money(payload, "current_total_tax", shop_money(payload, "total_tax", Decimal(0))),
        gift_card_lines=tuple(gift_lines),
        refunds=tuple(refunds),
        discount_codes=tuple(str(d.get("code")) for d in payload.get("discount_codes") or () if d.get("code")),
        browser_ip=str(browser_ip) if browser_ip else None,
        shipping_address=address_from_payload(payload.get("shipping_address")),
    )


def _optional_shopify_id(value: object) -> int | None:
    return None if value in (None, "") else shopify_id(value)


def shop_money(payload: Mapping[str, Any], field: str, default: Decimal | None = None) -> Decimal:
    """Read ``field`` of a Shopify REST payload in the shop's currency.

    Prefers ``<field>_set.shop_money.amount`` (always the shop currency) and falls back to the plain
    ``<field>`` string. Missing both: ``default`` if given, else ``ValueError``.
    """
    money_set = payload.get(f"{field}_set")
    if isinstance(money_set, Mapping):
        shop = money_set.get("shop_money")
        if isinstance(shop, Mapping) and shop.get("amount") is not None:
            return parse_money(shop["amount"])
    if payload.get(field) is not None:
        return parse_money(payload[field])
    if default is not None:
        return default
    raise ValueError(f"missing money field {field!r}")


def address_from_payload(data: Mapping[str, Any] | None) -> Address | None:
    """An Address from a Shopify address object; None when missing or empty."""
    if not data:
        return None
    address = Address(
        address1=str(data.get("address1") or ""),
        address2=str(data.get("address2") or ""),
        city=str(data.get("city") or ""),
        zip=str(data.get("zip") or ""),
        country_code=str(data.get("country_code") or ""),
    )
    return address if address.normalized().replace("|", "") else None
