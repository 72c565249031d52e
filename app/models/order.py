"""What Regulars knows of each Shopify order: its latest state, its points, the rules snapshot it earned with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JsonDoc, Money, PrimaryKey, ShopifyId, UTCDateTime, utcnow


class Order(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_id"),
        Index("ix_orders_shop_customer", "shop_id", "customer_id"),
        Index("ix_orders_shop_processed", "shop_id", "processed_at"),
        Index("ix_orders_member", "member_id"),
        # The pending-release job looks only at orders that still hold pending points.
        Index("ix_orders_pending_release", "points_release_at", postgresql_where=text("points_pending > 0")),
        # Dashboard period figures: an index-only scan of paid orders by date (0004_admin).
        Index("ix_orders_analytics", "shop_id", "processed_at",
              postgresql_include=["customer_id", "total_price", "member_id"],
              postgresql_where=text("financial_status IN ('paid', 'partially_refunded') AND NOT cancelled"
                                    " AND NOT test AND customer_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ShopifyId)
    name: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ShopifyId)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(320))
    currency: Mapped[str | None] = mapped_column(String(3))
    financial_status: Mapped[str | None] = mapped_column(String(32))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    # Shopify's updated_at of the newest payload applied: older payloads change nothing.
    shopify_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Revenue figures for analytics (current, i.e. net of refunds).
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total_price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    eligible_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # The domain's merged knowledge of the order (newest payload + refunds seen), JSON-safe.
    knowledge: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    # Rules snapshot taken when first awarded; reused for every later change of this order.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    points_target: Mapped[int] = mapped_column(Integer, default=0)
    # Sum of this order's ledger entries plus forgiven points: what the order already counts as having given.
    points_given: Mapped[int] = mapped_column(Integer, default=0)
    points_pending: Mapped[int] = mapped_column(Integer, default=0)
    # When this order's pending points become available (paid_at + pending_days at the time of booking).
    points_release_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discount_codes: Mapped[list[str] | None] = mapped_column(JsonDoc)
    browser_ip: Mapped[str | None] = mapped_column(String(64))
    address_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # customers/redact named this order (or its customer): no later payload brings its personal data back.
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counted once in the member's order stats (orders_count / lifetime_spent).
    counted: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
