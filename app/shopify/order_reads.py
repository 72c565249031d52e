"""Orders read back through Admin GraphQL (the nightly reconciliation): the documents, their page sizes, and
each Order node mapped to the REST shape of the orders/updated webhook, so one parser (app.shopify.orders) reads both.
"""

from __future__ import annotations

from typing import Any

# Shopify refuses a query whose estimated cost exceeds 1000 (each connection costs `first` × its node):
# pages of 8 orders with up to 10 lines and 10 lines per refund stay under it (≈950). An order with more
# is read again on its own with larger connections (≈650).
PAGE_SIZE = 8
PAGE_LINES = 10
SINGLE_LINES = 100
SINGLE_REFUND_LINES = 50

_MONEY = "shopMoney { amount currencyCode }"
ORDER_FIELDS = f"""
fragment RegularsOrder on Order {{
  legacyResourceId name email createdAt updatedAt processedAt cancelledAt test
  displayFinancialStatus currencyCode clientIp discountCodes
  currentSubtotalPriceSet {{ {_MONEY} }}
  currentTotalPriceSet {{ {_MONEY} }}
  currentShippingPriceSet {{ {_MONEY} }}
  currentTotalTaxSet {{ {_MONEY} }}
  customer {{ legacyResourceId email firstName lastName }}
  shippingAddress {{ address1 address2 city zip countryCodeV2 }}
  lineItems(first: $lines) {{
    pageInfo {{ hasNextPage }}
    nodes {{ id isGiftCard quantity currentQuantity originalUnitPriceSet {{ {_MONEY} }} }}
  }}
  refunds {{
    legacyResourceId createdAt
    refundLineItems(first: $refundLines) {{
      pageInfo {{ hasNextPage }}
      nodes {{ quantity lineItem {{ id isGiftCard }} subtotalSet {{ {_MONEY} }} totalTaxSet {{ {_MONEY} }} }}
    }}
    refundShippingLines(first: 2) {{
      nodes {{ subtotalAmountSet {{ {_MONEY} }} taxAmountSet {{ {_MONEY} }} }}
    }}
  }}
}}
"""
ORDERS_QUERY = ORDER_FIELDS + """
query RegularsReconcile($first: Int!, $after: String, $query: String!, $lines: Int!, $refundLines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...RegularsOrder }
  }
}
"""
ORDER_QUERY = ORDER_FIELDS + """
query RegularsReconcileOne($id: ID!, $lines: Int!, $refundLines: Int!) {
  order(id: $id) { ...RegularsOrder }
}
"""


def truncated(node: dict[str, Any]) -> bool:
    """Whether a connection inside the node was cut at its page size."""
    if ((node.get("lineItems") or {}).get("pageInfo") or {}).get("hasNextPage"):
        return True
    return any(((r.get("refundLineItems") or {}).get("pageInfo") or {}).get("hasNextPage")
               for r in node.get("refunds") or [])


def legacy_id(value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).rsplit("/", 1)[-1]
    return int(text) if text.isascii() and text.isdigit() else None


def _money_set(bag: Any) -> dict[str, Any] | None:
    """A GraphQL MoneyBag as the REST `*_set` object."""
    if not isinstance(bag, dict) or not isinstance(bag.get("shopMoney"), dict):
        return None
    shop_money = bag["shopMoney"]
    return {"shop_money": {"amount": shop_money.get("amount"), "currency_code": shop_money.get("currencyCode")}}


def _amount(bag: Any) -> str | None:
    money = _money_set(bag)
    return money["shop_money"]["amount"] if money else None


def nodes(connection: Any) -> list[dict[str, Any]]:
    if isinstance(connection, list):
        return connection
    if not isinstance(connection, dict):
        return []
    if connection.get("nodes") is not None:
        return list(connection["nodes"])
    return [e["node"] for e in connection.get("edges") or []]


def _refund_payload(refund: dict[str, Any], order_id: int) -> dict[str, Any]:
    lines = []
    for rl in nodes(refund.get("refundLineItems")):
        line = rl.get("lineItem") or {}
        lines.append({
            "quantity": rl.get("quantity"),
            "line_item_id": legacy_id(line.get("id")),
            "subtotal_set": _money_set(rl.get("subtotalSet")),
            "total_tax_set": _money_set(rl.get("totalTaxSet")),
            "line_item": {"id": legacy_id(line.get("id")), "gift_card": bool(line.get("isGiftCard"))},
        })
    shipping = [
        {"subtotal_amount_set": _money_set(s.get("subtotalAmountSet")), "tax_amount_set": _money_set(s.get("taxAmountSet"))}
        for s in nodes(refund.get("refundShippingLines"))
    ]
    return {"id": legacy_id(refund.get("legacyResourceId")), "order_id": order_id,
            "created_at": refund.get("createdAt"), "refund_line_items": lines, "refund_shipping_lines": shipping}


def rest_payload_from_node(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL Order node in the REST shape of orders/updated (the fields the order path reads)."""
    order_id = legacy_id(node.get("legacyResourceId"))
    if order_id is None:
        raise ValueError("order node without legacyResourceId")
    customer = node.get("customer") or None
    address = node.get("shippingAddress") or None
    payload: dict[str, Any] = {
        "id": order_id,
        "name": node.get("name"),
        "email": node.get("email"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "test": bool(node.get("test")),
        "financial_status": str(node.get("displayFinancialStatus") or "").lower(),
        "currency": node.get("currencyCode"),
        "browser_ip": node.get("clientIp"),
        "current_subtotal_price": _amount(node.get("currentSubtotalPriceSet")),
        "current_subtotal_price_set": _money_set(node.get("currentSubtotalPriceSet")),
        "current_total_price": _amount(node.get("currentTotalPriceSet")),
        "current_total_tax": _amount(node.get("currentTotalTaxSet")),
        "current_total_tax_set": _money_set(node.get("currentTotalTaxSet")),
        "discount_codes": [{"code": c} for c in node.get("discountCodes") or []],
        "customer": None if not customer else {
            "id": legacy_id(customer.get("legacyResourceId") or customer.get("id")),
            "email": customer.get("email"), "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
        },
        "shipping_address": None if not address else {
            "address1": address.get("address1"), "address2": address.get("address2"), "city": address.get("city"),
            "zip": address.get("zip"), "country_code": address.get("countryCodeV2"),
        },
        "line_items": [
            {"id": legacy_id(li.get("id")), "gift_card": bool(li.get("isGiftCard")), "quantity": li.get("quantity"),
             "current_quantity": li.get("currentQuantity"), "price_set": _money_set(li.get("originalUnitPriceSet"))}
            for li in nodes(node.get("lineItems"))
        ],
        "refunds": [_refund_payload(r, order_id) for r in nodes(node.get("refunds"))],
    }
    if node.get("currentShippingPriceSet") is not None:
        payload["current_shipping_price_set"] = _money_set(node.get("currentShippingPriceSet"))
    return payload


def order_id_of(node: dict[str, Any]) -> int | None:
    return legacy_id(node.get("legacyResourceId"))


def single_order_variables(node: dict[str, Any]) -> dict[str, Any]:
    """ORDER_QUERY's variables for the node's order, read alone with the larger connections."""
    return {"id": f"gid://shopify/Order/{order_id_of(node)}", "lines": SINGLE_LINES, "refundLines": SINGLE_REFUND_LINES}
