"""REST webhook payloads, built from the stand-in's records exactly as Shopify sends them.

Money is a string with two decimals, except `refund_line_items[].subtotal` and `.total_tax`, which
Shopify sends as JSON numbers (use the `*_set` twins); ids are integers, timestamps carry the shop's
UTC offset. `order_rest_payload(order, shop)` is the body of orders/paid, orders/updated and
orders/cancelled; `refund_rest_payload(refund, order, shop)` the body of refunds/create.
"""

from __future__ import annotations

from decimal import Decimal

from .models import (
    Customer,
    LineItem,
    Order,
    Refund,
    Shop,
    fmt,
    gid,
    money_set,
    rest_time,
    unit_share,
)

__all__ = [
    "app_uninstalled_payload",
    "customer_delete_payload",
    "customer_rest_payload",
    "customers_data_request_payload",
    "customers_redact_payload",
    "line_item_rest_payload",
    "order_rest_payload",
    "refund_rest_payload",
    "shop_redact_payload",
    "shop_rest_payload",
]


def _address(address: dict | None, first_name: str | None = None, last_name: str | None = None) -> dict | None:
    if address is None:
        return None
    base = {
        "first_name": first_name,
        "last_name": last_name,
        "address1": None,
        "address2": None,
        "city": None,
        "province": None,
        "province_code": None,
        "country": None,
        "country_code": None,
        "zip": None,
        "phone": None,
        "company": None,
        "name": " ".join(p for p in (first_name, last_name) if p) or None,
        "latitude": None,
        "longitude": None,
    }
    base.update(address)
    return base


def customer_rest_payload(customer: Customer, shop: Shop) -> dict:
    """customers/create and customers/update body (and the `customer` object inside an order)."""
    tz = shop.tz_offset_minutes
    addresses = [
        {"id": a.get("id"), "customer_id": customer.id, **a, "default": i == 0}
        for i, a in enumerate(customer.addresses)
    ]
    return {
        "id": customer.id,
        "email": customer.email,
        "created_at": rest_time(customer.created_at, tz),
        "updated_at": rest_time(customer.updated_at, tz),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "state": customer.state,
        "note": customer.note,
        "verified_email": customer.verified_email,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": customer.phone,
        "email_marketing_consent": {
            "state": "subscribed" if customer.accepts_marketing else "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
        },
        "sms_marketing_consent": None,
        # REST (unlike GraphQL) sends tags as one comma-separated string
        "tags": ", ".join(customer.tags),
        "currency": shop.currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer.id),
        "addresses": addresses,
        "default_address": addresses[0] if addresses else None,
    }


def customer_delete_payload(customer: Customer) -> dict:
    """customers/delete carries almost nothing but the id."""
    return {
        "id": customer.id,
        "phone": None,
        "addresses": [],
        "tax_exemptions": [],
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "admin_graphql_api_id": gid("Customer", customer.id),
    }


def line_item_rest_payload(li: LineItem, currency: str) -> dict:
    return {
        "id": li.id,
        "admin_graphql_api_id": gid("LineItem", li.id),
        "current_quantity": li.current_quantity,
        "fulfillable_quantity": li.current_quantity,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": li.gift_card,
        "grams": 0,
        "name": li.title,
        "price": fmt(li.price),
        "price_set": money_set(li.price, currency),
        "product_exists": li.product_id is not None,
        "product_id": li.product_id,
        "properties": [],
        "quantity": li.quantity,
        "requires_shipping": not li.gift_card,
        "sku": li.sku,
        "taxable": li.taxable,
        "title": li.title,
        "total_discount": "0.00",
        "total_discount_set": money_set(Decimal(0), currency),
        "variant_id": li.variant_id,
        "variant_inventory_management": None,
        "variant_title": None,
        "vendor": None,
        "tax_lines": (
            [
                {
                    "channel_liable": False,
                    "price": fmt(li.tax),
                    "price_set": money_set(li.tax, currency),
                    "rate": 0.0,
                    "title": "Tax",
                }
            ]
            if li.tax
            else []
        ),
        "duties": [],
        # Code discounts are order-level applications allocated to lines, as Shopify reports them.
        "discount_allocations": (
            [
                {
                    "amount": fmt(li.discount),
                    "amount_set": money_set(li.discount, currency),
                    "discount_application_index": 0,
                }
            ]
            if li.discount
            else []
        ),
    }


def refund_rest_payload(refund: Refund, order: Order, shop: Shop) -> dict:
    """refunds/create body (and each entry of an order's `refunds`)."""
    tz = shop.tz_offset_minutes
    cur = order.currency
    by_id = {li.id: li for li in order.lines}
    at = rest_time(refund.created_at, tz)
    adjustments = []
    shipping_lines = []
    if refund.shipping:
        # Shipping refunds show up as a negative `shipping_refund` order adjustment (and, in newer
        # versions, as refund_shipping_lines).
        adjustments.append(
            {
                "id": refund.adjustment_id,
                "order_id": order.id,
                "refund_id": refund.id,
                "amount": fmt(-refund.shipping),
                "tax_amount": "0.00",
                "kind": "shipping_refund",
                "reason": "Shipping refund",
                "amount_set": money_set(-refund.shipping, cur),
                "tax_amount_set": money_set(Decimal(0), cur),
            }
        )
        shipping_lines.append(
            {
                "id": refund.adjustment_id,
                "shipping_line_id": order.shipping_line_id,
                "subtotal_amount_set": money_set(refund.shipping, cur),
            }
        )
    return {
        "id": refund.id,
        "order_id": order.id,
        "created_at": at,
        "note": refund.note,
        "user_id": None,
        "processed_at": at,
        "restock": refund.restock,
        "duties": [],
        "total_duties_set": money_set(Decimal(0), cur),
        "additional_fees": [],
        "total_additional_fees_set": money_set(Decimal(0), cur),
        "return": None,
        "admin_graphql_api_id": gid("Refund", refund.id),
        "refund_line_items": [
            {
                "id": rl.id,
                "quantity": rl.quantity,
                "line_item_id": rl.line_item_id,
                "location_id": None,
                "restock_type": rl.restock_type,
                # Shopify really sends these two as JSON numbers.
                "subtotal": float(rl.subtotal),
                "total_tax": float(rl.total_tax),
                "subtotal_set": money_set(rl.subtotal, cur),
                "total_tax_set": money_set(rl.total_tax, cur),
                "line_item": line_item_rest_payload(by_id[rl.line_item_id], cur),
            }
            for rl in refund.lines
        ],
        "transactions": [
            {
                "id": refund.transaction_id,
                "admin_graphql_api_id": gid("OrderTransaction", refund.transaction_id),
                "amount": fmt(refund.amount),
                "authorization": None,
                "created_at": at,
                "currency": cur,
                "device_id": None,
                "error_code": None,
                "gateway": "bogus",
                "kind": "refund",
                "location_id": None,
                "message": "Bogus Gateway: Forced success",
                "order_id": order.id,
                "parent_id": order.transaction_id,
                "processed_at": at,
                "receipt": {},
                "source_name": "web",
                "status": "success",
                "test": order.test,
                "user_id": None,
            }
        ]
        if refund.amount
        else [],
        "order_adjustments": adjustments,
        "refund_shipping_lines": shipping_lines,
    }


def order_rest_payload(order: Order, shop: Shop, customer: Customer | None = None) -> dict:
    """orders/paid, orders/updated, orders/cancelled body: the REST Order resource."""
    tz = shop.tz_offset_minutes
    cur = order.currency
    shipping_address = _address(order.shipping_address)
    current_shipping = order.total_shipping - order.refunded_shipping
    current_discounts = order.total_discounts - sum(
        (
            unit_share(li.discount, 0, li.refunded_quantity + li.removed_quantity, li.quantity)
            for li in order.lines
        ),
        Decimal(0),
    )
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "app_id": 580111,
        "browser_ip": order.browser_ip,
        "buyer_accepts_marketing": False,
        "cancel_reason": order.cancel_reason,
        "cancelled_at": rest_time(order.cancelled_at, tz),
        "cart_token": None,
        "checkout_id": None,
        "checkout_token": None,
        "client_details": {
            "accept_language": None,
            "browser_height": None,
            "browser_ip": order.browser_ip,
            "browser_width": None,
            "session_hash": None,
            "user_agent": None,
        },
        "closed_at": rest_time(order.closed_at, tz),
        "confirmed": True,
        "contact_email": order.email,
        "created_at": rest_time(order.created_at, tz),
        "currency": cur,
        "current_subtotal_price": fmt(order.current_subtotal_price),
        "current_subtotal_price_set": money_set(order.current_subtotal_price, cur),
        "current_shipping_price_set": money_set(current_shipping, cur),
        "current_total_discounts": fmt(current_discounts),
        "current_total_discounts_set": money_set(current_discounts, cur),
        "current_total_duties_set": None,
        "current_total_price": fmt(order.current_total_price),
        "current_total_price_set": money_set(order.current_total_price, cur),
        "current_total_tax": fmt(order.current_total_tax),
        "current_total_tax_set": money_set(order.current_total_tax, cur),
        "customer_locale": "en",
        "discount_codes": [
            {"code": dc.code, "amount": fmt(dc.amount), "type": dc.type} for dc in order.discount_codes
        ],
        "discount_applications": [
            {
                "target_type": "shipping_line" if dc.type == "shipping" else "line_item",
                "type": "discount_code",
                "value": fmt(dc.amount),
                "value_type": "fixed_amount",
                "allocation_method": "across",
                "target_selection": "all",
                "code": dc.code,
            }
            for dc in order.discount_codes
        ],
        "email": order.email,
        "estimated_taxes": False,
        "financial_status": order.financial_status,
        "fulfillment_status": None,
        "landing_site": None,
        "name": order.name,
        "note": order.note,
        "note_attributes": [],
        "number": order.number - 1000,
        "order_number": order.number,
        "payment_gateway_names": ["bogus"],
        "phone": None,
        "presentment_currency": cur,
        "processed_at": rest_time(order.processed_at, tz),
        "source_name": "web",
        "subtotal_price": fmt(order.subtotal_price),
        "subtotal_price_set": money_set(order.subtotal_price, cur),
        "tags": ", ".join(order.tags),
        "tax_lines": [],
        "taxes_included": False,
        "test": order.test,
        "token": f"{order.id:x}",
        "total_discounts": fmt(order.total_discounts),
        "total_discounts_set": money_set(order.total_discounts, cur),
        "total_line_items_price": fmt(order.total_line_items_price),
        "total_line_items_price_set": money_set(order.total_line_items_price, cur),
        "total_outstanding": "0.00" if order.paid else fmt(order.total_price),
        "total_price": fmt(order.total_price),
        "total_price_set": money_set(order.total_price, cur),
        "total_shipping_price_set": money_set(order.total_shipping, cur),
        "total_tax": fmt(order.tax),
        "total_tax_set": money_set(order.tax, cur),
        "total_tip_received": "0.00",
        "total_weight": 0,
        "updated_at": rest_time(order.updated_at, tz),
        "user_id": None,
        "billing_address": _address(order.billing_address),
        "customer": customer_rest_payload(customer, shop) if customer is not None else None,
        "fulfillments": [],
        "line_items": [line_item_rest_payload(li, cur) for li in order.lines],
        "payment_terms": None,
        "refunds": [refund_rest_payload(r, order, shop) for r in order.refunds],
        "shipping_address": shipping_address,
        "shipping_lines": [
            {
                "id": order.shipping_line_id,
                "code": "Standard",
                "discounted_price": fmt(order.total_shipping),
                "discounted_price_set": money_set(order.total_shipping, cur),
                "price": fmt(order.shipping),
                "price_set": money_set(order.shipping, cur),
                "source": "shopify",
                "title": "Standard",
                "tax_lines": [],
                "discount_allocations": [],
            }
        ]
        if order.shipping
        else [],
    }


def shop_rest_payload(shop: Shop) -> dict:
    """The Shop resource: app/uninstalled's body."""
    return {
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "domain": shop.domain,
        "province": None,
        "country": "US",
        "address1": None,
        "zip": None,
        "city": None,
        "source": None,
        "phone": None,
        "latitude": None,
        "longitude": None,
        "primary_locale": "en",
        "address2": None,
        "created_at": rest_time(shop.created_at, shop.tz_offset_minutes),
        "updated_at": rest_time(shop.created_at, shop.tz_offset_minutes),
        "country_code": "US",
        "country_name": "United States",
        "currency": shop.currency,
        "customer_email": shop.email,
        "timezone": "(GMT-05:00) Eastern Time (US & Canada)",
        "iana_timezone": "America/New_York",
        "shop_owner": "Dev Store Owner",
        "money_format": shop.money_format,
        "money_with_currency_format": f"{shop.money_format} {shop.currency}",
        "weight_unit": "kg",
        "plan_name": "partner_test",
        "plan_display_name": "Developer Preview",
        "password_enabled": True,
        "myshopify_domain": shop.domain,
        "enabled_presentment_currencies": [shop.currency],
        "setup_required": False,
        "pre_launch_enabled": False,
        "has_storefront": True,
    }


def customers_data_request_payload(
    shop: Shop, customer: Customer, order_ids: list[int], request_id: int
) -> dict:
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "orders_requested": order_ids,
        "customer": {"id": customer.id, "email": customer.email, "phone": customer.phone},
        "data_request": {"id": request_id},
    }


def customers_redact_payload(shop: Shop, customer: Customer, order_ids: list[int]) -> dict:
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "customer": {"id": customer.id, "email": customer.email, "phone": customer.phone},
        "orders_to_redact": order_ids,
    }


def shop_redact_payload(shop: Shop) -> dict:
    return {"shop_id": shop.id, "shop_domain": shop.domain}


def app_uninstalled_payload(shop: Shop) -> dict:
    return shop_rest_payload(shop)
