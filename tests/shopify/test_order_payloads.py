"""Shopify's payloads → the domain's types: money in the shop's currency, ids from any of Shopify's forms."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.shopify.orders import address_from_payload, refund_from_payload, shop_money, shopify_id


def test_shop_money_prefers_the_shop_currency_set() -> None:
    payload = {"current_subtotal_price": "100.00",
               "current_subtotal_price_set": {"shop_money": {"amount": "59.90"}, "presentment_money": {"amount": "64.00"}}}
    assert shop_money(payload, "current_subtotal_price") == Decimal("59.90")
    assert shop_money({"total_tax": "1.20"}, "total_tax") == Decimal("1.20")
    assert shop_money({}, "total_tax", Decimal(0)) == 0
    with pytest.raises(ValueError):
        shop_money({}, "total_tax")


@pytest.mark.parametrize("raw", [820982911946154508, "820982911946154508", "gid://shopify/Order/820982911946154508"])
def test_shopify_ids_in_every_form_shopify_sends(raw: object) -> None:
    assert shopify_id(raw) == 820982911946154508


@pytest.mark.parametrize("bad", [True, None, "", "gid://shopify/Order/", "12a", 1.5])
def test_a_value_that_is_not_an_id_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        shopify_id(bad)


def test_a_refund_reads_its_shipping_from_the_adjustments_when_no_shipping_lines() -> None:
    refund = refund_from_payload({
        "id": "gid://shopify/Refund/5", "order_id": 7, "created_at": "2026-03-01T10:00:00Z",
        "refund_line_items": [{"line_item_id": 9, "quantity": 1, "subtotal_set": {"shop_money": {"amount": "18.00"}},
                               "total_tax_set": {"shop_money": {"amount": "1.60"}}}],
        "order_adjustments": [{"kind": "shipping_refund", "amount": "-4.95", "tax_amount": "-0.45"}],
    })
    assert (refund.refund_id, refund.order_id) == (5, 7)
    assert refund.lines_subtotal == Decimal("18.00") and refund.lines_tax == Decimal("1.60")
    assert (refund.shipping, refund.shipping_tax) == (Decimal("4.95"), Decimal("0.45"))


def test_an_empty_address_is_no_address() -> None:
    assert address_from_payload({"address1": " ", "city": ""}) is None
    assert address_from_payload({"address1": "1 Main St", "city": "Athens"}) is not None
