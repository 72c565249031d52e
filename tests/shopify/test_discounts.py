"""A redemption's Shopify discount: the input made from the reward and its quote, and Shopify's answers read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.loyalty.rewards import Quote, RewardSpec
from app.shopify.discounts import DiscountRequest, discount_input, parse_created, parse_found

FIVE_OFF = RewardSpec(1, "fixed_amount", "5.00 off", points_cost=500, value=Decimal("5.00"))
TEN_PERCENT = RewardSpec(2, "percentage", "10% off", points_cost=800, value=Decimal(10), minimum_subtotal=Decimal(30))
SHIPPING = RewardSpec(3, "free_shipping", "Free shipping", points_cost=300)
MUG = RewardSpec(4, "free_product", "Free mug", points_cost=1500, value=Decimal("12.00"), product_variant_id=44_000_000_000_001)
CUSTOMER = 7000000000000001
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_fixed_amount_discount_input() -> None:
    request = discount_input(FIVE_OFF, Quote(1, 500, Decimal("5.00")), "REG-ABCDEFGHJK", CUSTOMER, NOW, NOW + timedelta(days=90))
    assert request.mutation == "discountCodeBasicCreate"
    d = request.variables["basicCodeDiscount"]
    assert d["code"] == "REG-ABCDEFGHJK"
    assert d["customerGets"] == {"value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
                                 "items": {"all": True}}
    assert d["context"] == {"customers": {"add": ["gid://shopify/Customer/7000000000000001"]}}
    assert "customerSelection" not in d  # deprecated in API 2026-10
    assert (d["usageLimit"], d["appliesOncePerCustomer"]) == (1, True)
    assert d["endsAt"] == "2026-07-30T00:00:00+00:00"
    assert "minimumRequirement" not in d


def test_percentage_discount_input_uses_a_fraction_and_the_minimum_subtotal() -> None:
    d = discount_input(TEN_PERCENT, Quote(2, 800, Decimal(10)), "REG-X", CUSTOMER, NOW, NOW).input
    assert d["customerGets"]["value"] == {"percentage": 0.1}
    assert d["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "30.00"}}


def test_free_shipping_and_free_product_inputs() -> None:
    request = discount_input(SHIPPING, Quote(3, 300, Decimal(0)), "REG-S", CUSTOMER, NOW, NOW)
    assert request.mutation == "discountCodeFreeShippingCreate"
    assert request.variables["freeShippingCodeDiscount"]["destination"] == {"all": True}
    product = discount_input(MUG, Quote(4, 1500, Decimal("12.00")), "REG-P", CUSTOMER, NOW, NOW).input
    assert product["customerGets"]["items"] == {"products": {"productVariantsToAdd": ["gid://shopify/ProductVariant/44000000000001"]}}
    assert product["customerGets"]["value"]["discountAmount"]["amount"] == "12.00"


def test_an_answer_gives_the_discount_id_or_the_refusal() -> None:
    request = DiscountRequest("discountCodeBasicCreate", "basicCodeDiscount", {})
    ok = parse_created({"discountCodeBasicCreate": {"codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/9"},
                                                    "userErrors": []}}, request)
    assert (ok.discount_id, ok.taken) == ("gid://shopify/DiscountCodeNode/9", False)
    taken = parse_created({"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
        {"field": ["code"], "message": "Code must be unique", "code": "TAKEN"}]}}, request)
    assert (taken.discount_id, taken.taken, taken.refusal()) == (None, True, "Code must be unique")
    assert parse_found({"codeDiscountNodeByCode": {"id": "gid://shopify/DiscountCodeNode/9"}}) == \
        "gid://shopify/DiscountCodeNode/9"
    assert parse_found({"codeDiscountNodeByCode": None}) is None
