"""One handler per subscribed webhook topic, named for it; the drain calls `dispatch` for each stored delivery.

The receiver (app.webhooks) only stores deliveries; this table is what they mean, so the drain job reaches
it through the services layer. Handlers run inside the drain's transaction and never commit: their writes
and the delivery's 'processed' mark commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.models import Shop, WebhookDelivery
from app.services import members, orders, privacy, shops
from app.shopify.adapter import decode_payload

TopicHandler = Callable[[Shop | None, dict[str, Any], WebhookDelivery], None]


def orders_paid(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    orders.apply_order_event(shop, "orders/paid", payload, delivery)  # type: ignore[arg-type]


def orders_updated(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    orders.apply_order_event(shop, "orders/updated", payload, delivery)  # type: ignore[arg-type]


def orders_cancelled(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    orders.apply_order_event(shop, "orders/cancelled", payload, delivery)  # type: ignore[arg-type]


def refunds_create(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    orders.apply_refund_event(shop, payload, delivery)  # type: ignore[arg-type]


def customers_create(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    members.customer_created(shop, payload, delivery)  # type: ignore[arg-type]


def customers_update(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    members.customer_updated(shop, payload, delivery)  # type: ignore[arg-type]


def customers_delete(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    members.customer_deleted(shop, payload, delivery)  # type: ignore[arg-type]


def app_uninstalled(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    shops.mark_uninstalled(delivery.shop_domain, delivery.triggered_at)


def customers_data_request(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    privacy.customer_data_request(shop, payload, delivery)


def customers_redact(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    privacy.redact_customer(shop, payload, delivery)


def shop_redact(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    privacy.redact_shop(delivery.shop_domain, delivery)


HANDLERS: dict[str, TopicHandler] = {
    "orders/paid": orders_paid,
    "orders/updated": orders_updated,
    "orders/cancelled": orders_cancelled,
    "refunds/create": refunds_create,
    "customers/create": customers_create,
    "customers/update": customers_update,
    "customers/delete": customers_delete,
    "app/uninstalled": app_uninstalled,
    "customers/data_request": customers_data_request,
    "customers/redact": customers_redact,
    "shop/redact": shop_redact,
}
# Handled even when the shop has uninstalled (or was never seen): privacy duties outlive the install.
_ALWAYS = frozenset({"app/uninstalled", "customers/data_request", "customers/redact", "shop/redact"})


def dispatch(delivery: WebhookDelivery) -> str:
    """Runs the topic's handler; returns the delivery's outcome: 'processed' or 'skipped'."""
    handler = HANDLERS.get(delivery.topic)
    if handler is None:
        return "skipped"
    shop = shops.get_shop(delivery.shop_domain)
    if delivery.topic not in _ALWAYS and (shop is None or not shop.active):
        # Uninstalled (or unknown) shops get no work done; the delivery stays on record.
        return "skipped"
    handler(shop, decode_payload(delivery.body), delivery)
    return "processed"
