"""The merchant's program catalogue: VIP tiers, rewards, custom actions and campaigns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JsonDoc, Money, PrimaryKey, ShopifyId, UTCDateTime, same_as_created, utcnow


class Tier(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tiers"
    __table_args__ = (UniqueConstraint("shop_id", "handle"),)

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    handle: Mapped[str] = mapped_column(String(64))
    # In the unit of the shop's tier_metric: points, money, or orders.
    threshold: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 3), default=Decimal("1"))
    entry_bonus: Mapped[int] = mapped_column(Integer, default=0)
    perks: Mapped[str | None] = mapped_column(Text)
    # The name per storefront language, {locale: name}; `name` where a language has none.
    names: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict, server_default=text("'{}'"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TierChange(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    to_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    # Names kept as they were, so history reads right after a tier is renamed or removed.
    from_name: Mapped[str | None] = mapped_column(String(64))
    to_name: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))  # up | down
    reason: Mapped[str] = mapped_column(Text)
    # When the member moved (the qualifying order's time, the evaluation's), and when it was recorded.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=same_as_created,
                                                  server_default=text("CURRENT_TIMESTAMP"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reward(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "rewards"
    # A deleted reward is never switched on, so `active` alone decides whether shoppers see it.
    __table_args__ = (CheckConstraint("deleted_at IS NULL OR NOT active", name="ck_rewards_deleted_is_off"),)

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    # fixed_amount | percentage | free_shipping | free_product | variable
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    # The name per storefront language, {locale: name}; `name` where a language has none.
    names: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict, server_default=text("'{}'"))
    points_cost: Mapped[int] = mapped_column(Integer)
    # Money off for fixed_amount, percent for percentage, money per point-block for variable.
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    minimum_subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # Only members of this tier (or higher) may redeem it.
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    product_variant_id: Mapped[int | None] = mapped_column(ShopifyId)
    variable_min_points: Mapped[int | None] = mapped_column(Integer)
    variable_max_points: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Soft delete: gone from every list; redemptions and the audit log still name it.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CustomAction(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "custom_actions"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    points: Mapped[int] = mapped_column(Integer)
    # once | per_day | per_month | unlimited
    limit: Mapped[str] = mapped_column(String(16), default="once")
    # The shopper may claim it from the widget on their word (newsletter, follow on social…).
    honour_system: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Campaign(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "campaigns"
    # A deleted campaign is never switched on; `active` false with no deleted_at is "paused".
    __table_args__ = (CheckConstraint("deleted_at IS NULL OR NOT active", name="ck_campaigns_deleted_is_off"),)

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # multiplier | bonus
    value: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    segment: Mapped[str | None] = mapped_column(String(64))
    # Share of eligible members kept out of the campaign to measure lift.
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
