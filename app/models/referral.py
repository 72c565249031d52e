"""Referrals: a friend invited by an advocate, their one-use code, and the attribution and review trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JsonDoc, PrimaryKey, ShopifyId, UTCDateTime, utcnow


class Referral(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("shop_id", "friend_code"),
        Index("ix_referrals_advocate", "advocate_member_id", "id"),
        Index("ix_referrals_shop_status", "shop_id", "status"),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    advocate_member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    friend_email: Mapped[str | None] = mapped_column(String(320))
    friend_email_normalized: Mapped[str | None] = mapped_column(String(320))
    friend_code: Mapped[str] = mapped_column(String(64))
    friend_discount_gid: Mapped[str | None] = mapped_column(String(128))
    # invited → pending (paid order seen, waiting period) → completed | withdrawn;
    # blocked (fraud signal that blocks) | review (merchant decides) → completed | rejected
    status: Mapped[str] = mapped_column(String(16), default="invited")
    order_id: Mapped[int | None] = mapped_column(ShopifyId)
    friend_customer_id: Mapped[int | None] = mapped_column(ShopifyId)
    signals: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDoc)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    order_paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
