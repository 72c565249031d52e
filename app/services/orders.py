"""Order events: what Regulars knows of each order (points are the loyalty engine's part)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Order, Shop, WebhookDelivery, utcnow
from app.services.members import parse_shopify_time


def _money(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("0")
    return amount if amount.is_finite() else Decimal("0")


def _order_row(shop: Shop, order_id: int) -> Order:
    row = db.session.execute(
        select(Order).where(Order.shop_id == shop.id, Order.order_id == order_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = Order(shop_id=shop.id, order_id=order_id, created_at=utcnow())
        db.session.add(row)
    return row


def apply_order_event(shop: Shop, topic: str, payload: dict[str, Any], delivery: WebhookDelivery) -> Order:
    """Records the order's latest state; a payload older than what is known changes nothing."""
    order_id = int(payload["id"])
    row = _order_row(shop, order_id)
    updated_at = parse_shopify_time(payload.get("updated_at"))
    if row.shopify_updated_at and updated_at and updated_at <= row.shopify_updated_at:
        return row
    customer = payload.get("customer") or {}
    row.name = payload.get("name")
    row.customer_id = int(customer["id"]) if customer.get("id") else None
    row.email = payload.get("email")
    row.currency = payload.get("currency")
    row.financial_status = payload.get("financial_status")
    row.cancelled = bool(payload.get("cancelled_at"))
    row.test = bool(payload.get("test"))
    row.shopify_updated_at = updated_at
    row.processed_at = parse_shopify_time(payload.get("processed_at") or payload.get("created_at"))
    row.subtotal = _money(payload.get("current_subtotal_price"))
    row.total_price = _money(payload.get("current_total_price") or payload.get("total_price"))
    db.session.flush()
    return row


def apply_refund_event(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    """refunds/create: the order's own orders/updated carries the new totals; nothing else to record yet."""
    int(payload["order_id"])
