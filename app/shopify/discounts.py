"""Reward codes as Shopify discounts: the Admin GraphQL documents that create and find them, the input made from
the domain's reward and quote, and their answers read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from app.loyalty.money import floor_money
from app.loyalty.rewards import Quote, RewardSpec

CREATE_MUTATIONS = {
    "discountCodeBasicCreate": (
        "mutation RegularsRewardCode($basicCodeDiscount: DiscountCodeBasicInput!) {"
        " discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {"
        " codeDiscountNode { id } userErrors { field message code } } }"
    ),
    "discountCodeFreeShippingCreate": (
        "mutation RegularsShippingCode($freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {"
        " discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {"
        " codeDiscountNode { id } userErrors { field message code } } }"
    ),
}
# A referred friend's welcome code: the same creation, named apart in Shopify's logs.
FRIEND_CODE_MUTATION = (
    "mutation RegularsFriendCode($basicCodeDiscount: DiscountCodeBasicInput!) {"
    " discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {"
    " codeDiscountNode { id } userErrors { field message code } } }"
)
FIND_BY_CODE = "query RegularsFindCode($code: String!) { codeDiscountNodeByCode(code: $code) { id } }"


@dataclass(frozen=True)
class DiscountRequest:
    """A Shopify Admin GraphQL discount creation: call ``mutation`` with ``variables``."""

    mutation: Literal["discountCodeBasicCreate", "discountCodeFreeShippingCreate"]
    input_name: Literal["basicCodeDiscount", "freeShippingCodeDiscount"]
    input: dict[str, Any]

    @property
    def variables(self) -> dict[str, Any]:
        return {self.input_name: self.input}


def _money(amount: Decimal) -> str:
    return str(floor_money(amount))


def discount_input(
    reward: RewardSpec,
    quote: Quote,
    code: str,
    customer_id: int,
    starts_at: datetime,
    ends_at: datetime,
) -> DiscountRequest:
    """The discount Shopify must create for a redemption: one use, only this customer, until ``ends_at``,
    with the reward's minimum subtotal. Free product: a fixed amount (the product's price) off that
    variant only, once — so a second unit is not free too."""
    common: dict[str, Any] = {
        "title": f"Regulars: {reward.name}",
        "code": code,
        "startsAt": starts_at.isoformat(),
        "endsAt": ends_at.isoformat(),
        # API 2026-10 takes `context` (customerSelection is deprecated there), with the same customers.add shape.
        "context": {"customers": {"add": [f"gid://shopify/Customer/{customer_id}"]}},
        "appliesOncePerCustomer": True,
        "usageLimit": 1,
    }
    if reward.minimum_subtotal > 0:
        common["minimumRequirement"] = {"subtotal": {"greaterThanOrEqualToSubtotal": _money(reward.minimum_subtotal)}}
    if reward.type == "free_shipping":
        return DiscountRequest(
            "discountCodeFreeShippingCreate", "freeShippingCodeDiscount", {**common, "destination": {"all": True}}
        )
    items: dict[str, Any] = {"all": True}
    if reward.type == "percentage":
        # Shopify's percentage is a Float fraction (0.15 for 15 %): a ratio, not money.
        value: dict[str, Any] = {"percentage": float(quote.value / 100)}
    else:
        value = {"discountAmount": {"amount": _money(quote.value), "appliesOnEachItem": False}}
        if reward.type == "free_product":
            items = {"products": {"productVariantsToAdd": [f"gid://shopify/ProductVariant/{reward.product_variant_id}"]}}
    common["customerGets"] = {"value": value, "items": items}
    return DiscountRequest("discountCodeBasicCreate", "basicCodeDiscount", common)


def friend_discount_input(code: str, amount: Decimal, starts_at: datetime, ends_at: datetime) -> DiscountRequest:
    """A referred friend's welcome code: ``amount`` off the order, one use."""
    return DiscountRequest("discountCodeBasicCreate", "basicCodeDiscount", {
        "title": "Regulars: referral welcome",
        "code": code,
        "startsAt": starts_at.isoformat(),
        "endsAt": ends_at.isoformat(),
        # The friend has no customer id yet; one use, and attribution checks "first order" server-side.
        "context": {"all": "ALL"},
        "customerGets": {"value": {"discountAmount": {"amount": _money(amount), "appliesOnEachItem": False}},
                         "items": {"all": True}},
        "appliesOncePerCustomer": True,
        "usageLimit": 1,
    })


@dataclass(frozen=True)
class Created:
    """Shopify's answer to a creation: the discount's id, or the userErrors that refused it."""

    discount_id: str | None
    errors: list[dict[str, Any]]

    @property
    def taken(self) -> bool:
        """The code exists already (an earlier attempt whose answer was lost may have made it)."""
        return any((e or {}).get("code") == "TAKEN" for e in self.errors)

    def refusal(self) -> str:
        return "; ".join(str((e or {}).get("message")) for e in self.errors)


def parse_created(data: dict[str, Any], request: DiscountRequest) -> Created:
    result = data.get(request.mutation) or {}
    node = result.get("codeDiscountNode")
    if node and node.get("id"):
        return Created(str(node["id"]), [])
    return Created(None, list(result.get("userErrors") or []))


def parse_found(data: dict[str, Any]) -> str | None:
    """FIND_BY_CODE's answer: the discount's id, None when no discount has the code."""
    found = data.get("codeDiscountNodeByCode")
    return str(found["id"]) if found and found.get("id") else None
