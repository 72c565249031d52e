"""Order money arithmetic: partial refunds and edits add up to the cent, as Shopify's do."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstore import DevStore
from devstore.models import allocate, unit_share

SHOP = "math.myshopify.com"
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)
lines = st.lists(
    st.fixed_dictionaries({"price": prices, "quantity": st.integers(1, 5), "gift_card": st.booleans()}),
    min_size=1,
    max_size=4,
)


def test_allocate_and_unit_share_are_exact() -> None:
    assert allocate(Decimal("10.00"), [Decimal(1)] * 3) == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert allocate(Decimal("1.00"), [Decimal("5"), Decimal("15")]) == [Decimal("0.25"), Decimal("0.75")]
    assert allocate(Decimal("0.00"), [Decimal(1)]) == [Decimal("0.00")]
    parts = [unit_share(Decimal("1.00"), done, 1, 3) for done in range(3)]
    assert sum(parts) == Decimal("1.00") and parts == [Decimal("0.33"), Decimal("0.34"), Decimal("0.33")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order_lines=lines,
    discount_pct=st.integers(0, 60),
    tax=st.decimals(min_value=Decimal("0"), max_value=Decimal("40"), places=2),
    steps=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5), st.booleans()), max_size=8),
    data=st.data(),
)
def test_refunds_add_up(order_lines, discount_pct, tax, steps, data) -> None:
    store = DevStore(app_url=None)
    store.add_shop(SHOP)
    customer = store.create_customer(SHOP, "m@example.com")
    base = sum((line["price"] * line["quantity"] for line in order_lines if not line["gift_card"]), Decimal(0))
    discount = (base * discount_pct / 100).quantize(Decimal("0.01"))
    codes = [{"code": "PCT", "amount": str(discount)}] if discount else []
    order = store.create_order(
        SHOP, customer["id"], [{**line, "price": str(line["price"]), "title": "x"} for line in order_lines],
        shipping="4.99", tax=str(tax), discount_codes=codes,
    )
    total_lines = sum((line["price"] * line["quantity"] for line in order_lines), Decimal(0))
    assert Decimal(order["subtotal_price"]) == total_lines - discount
    stamps = [datetime.fromisoformat(order["updated_at"])]

    refunded_subtotal = Decimal(0)
    for index, qty, with_shipping in steps:
        current = store.get_order(SHOP, order["id"])
        li = current["line_items"][index % len(current["line_items"])]
        qty = min(qty, li["current_quantity"])
        if qty == 0:
            continue
        refund = store.refund(SHOP, order["id"], [{"line_item_id": li["id"], "quantity": qty}],
                              shipping="4.99" if with_shipping and not any(
                                  r["order_adjustments"] for r in current["refunds"]) else "0.00")
        refunded_subtotal += Decimal(refund["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"])
        after = store.get_order(SHOP, order["id"])
        stamps.append(datetime.fromisoformat(after["updated_at"]))
        assert Decimal(after["current_subtotal_price"]) == Decimal(order["subtotal_price"]) - refunded_subtotal
        assert Decimal(after["current_subtotal_price"]) >= 0
        assert after["financial_status"] in ("partially_refunded", "refunded")

    # Refund whatever is left: everything comes back to exactly zero.
    current = store.get_order(SHOP, order["id"])
    rest = [{"line_item_id": li["id"], "quantity": li["current_quantity"]}
            for li in current["line_items"] if li["current_quantity"]]
    shipping_left = "0.00" if any(r["order_adjustments"] for r in current["refunds"]) else "4.99"
    if rest or shipping_left != "0.00":
        store.refund(SHOP, order["id"], rest, shipping=shipping_left)
    final = store.get_order(SHOP, order["id"])
    assert final["current_subtotal_price"] == "0.00"
    assert final["current_total_tax"] == "0.00"
    assert final["current_total_price"] == "0.00"
    assert final["financial_status"] == "refunded"
    paid_back = sum(Decimal(t["amount"]) for r in final["refunds"] for t in r["transactions"])
    assert paid_back == Decimal(final["total_price"])
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))


def test_money_refuses_floats() -> None:
    store = DevStore()
    store.add_shop(SHOP)
    with pytest.raises(TypeError):
        store.create_order(SHOP, None, [{"title": "x", "price": 19.95}])
