"""Analytics rollups kept ahead of the dashboard: per customer and per counted order, rebuilt from orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer
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


class OrderFacts(db.Model):  # type: ignore[name-defined,misc]
    """One row per counted order (paid or partially refunded, not cancelled, not test, with a customer and a
    date) with its neighbours in the customer's order sequence. Distinct-customer figures of any day range then
    become one pass over these rows: a customer is counted by their first order in the range (prev_at before
    it), a repeat customer by their second (prev_at inside, prev2_at before), and whether any of their orders
    in the range was a member's by member_before_at / member_after_at. Rebuilt per customer by
    app.services.analytics.refresh_customer, so it always agrees with orders."""

    __tablename__ = "analytics_orders"
    __table_args__ = (
        Index("ix_analytics_orders_shop_processed", "shop_id", "processed_at"),
        Index("ix_analytics_orders_shop_customer", "shop_id", "customer_id"),
    )

    # orders.id; no foreign key: the rollup is rebuilt from orders, and a key check per row would slow the
    # full rebuild of a million orders for no safety the rebuild does not already give.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ShopifyId)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    total_price: Mapped[Decimal] = mapped_column(Money)
    # The customer's first counted order (their cohort).
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The customer's previous and second-previous counted orders (ordered by processed_at, then id).
    prev_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prev2_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer's latest member order up to and including this one, and earliest from this one on.
    member_before_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    member_after_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnalyticsShop(db.Model):  # type: ignore[name-defined,misc]
    """When a shop's rollups were last rebuilt in full (the dashboard's "as of"); kept current per order since."""

    __tablename__ = "analytics_shops"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    rebuilt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
