"""Redemptions: points spent on a reward and the one-use Shopify discount code issued for it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import Money, PrimaryKey, ShopifyId, UTCDateTime, utcnow


class Redemption(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("shop_id", "idempotency_key"),
        UniqueConstraint("shop_id", "code"),
        Index("ix_redemptions_member", "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    reward_id: Mapped[int | None] = mapped_column(ForeignKey("rewards.id", ondelete="SET NULL"))
    reward_name: Mapped[str] = mapped_column(String(128))
    reward_type: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    points: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    code: Mapped[str] = mapped_column(String(64))
    discount_gid: Mapped[str | None] = mapped_column(String(128))
    # pending (debited, code being created) | issued | failed (debit reversed) | used | expired | refunded
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    used_order_id: Mapped[int | None] = mapped_column(ShopifyId)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
