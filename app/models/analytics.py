"""Analytics rollups kept ahead of the dashboard: one row per customer per shop, rebuilt from orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import Money, ShopifyId, UTCDateTime, utcnow


class CustomerStats(db.Model):  # type: ignore[name-defined,misc]
    """Lifetime order facts per customer (paid, not cancelled, not test), so the dashboard reads 200k rows,
    not 1M orders. Maintained by app.services.analytics (refresh_shop, refresh_customer)."""

    __tablename__ = "analytics_customers"
    __table_args__ = (
        Index("ix_analytics_customers_first", "shop_id", "first_order_at"),
        Index("ix_analytics_customers_last", "shop_id", "last_order_at"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ShopifyId, primary_key=True)
    is_member: Mapped[bool] = mapped_column(Boolean, default=False)
    first_order_at: Mapped[datetime] = mapped_column(UTCDateTime)
    second_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime] = mapped_column(UTCDateTime)
    orders_count: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[Decimal] = mapped_column(Money)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
