"""Loyalty members: one per Shopify customer per shop, with balances cached under lock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import Money, PrimaryKey, ShopifyId, UTCDateTime, utcnow


class Member(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id"),
        UniqueConstraint("shop_id", "referral_code"),
        Index("ix_members_shop_email", "shop_id", "email_normalized"),
        Index("ix_members_shop_tier", "shop_id", "tier_id"),
        Index("ix_members_sync_pending", "sync_requested_at"),
        # The admin's member list pages through these sorts instead of sorting 200k rows (0004_admin).
        Index("ix_members_shop_balance", "shop_id", text("points_available DESC"), text("id DESC")),
        Index("ix_members_shop_spent", "shop_id", text("lifetime_spent DESC"), text("id DESC")),
        Index("ix_members_shop_last_order", "shop_id", text("last_order_at DESC NULLS LAST"), text("id DESC")),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ShopifyId)
    email: Mapped[str | None] = mapped_column(String(320))
    # Normalised for referral self-dealing checks (case, +tags, Gmail dots).
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    # Hash of the normalised default address, for the same-address referral signal without keeping it twice.
    address_fingerprint: Mapped[str | None] = mapped_column(String(64))
    birthday_month: Mapped[int | None] = mapped_column(SmallInteger)
    birthday_day: Mapped[int | None] = mapped_column(SmallInteger)
    birthday_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customer_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the customer joined the program; None = a known customer who is not a member.
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referral_code: Mapped[str | None] = mapped_column(String(16))
    referred_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # First day the member was found below their tier's threshold (downgrade grace starts here).
    tier_below_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Cached balances: written only in the same transaction as the ledger entry, under the member row lock.
    points_available: Mapped[int] = mapped_column(Integer, default=0)
    points_pending: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_points: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_spent: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last earning or redeeming, for inactivity expiry.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Metafield/tag write-back: set when something Shopify shows changed; cleared by the sync job.
    sync_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Still holds the merchant-owned `regulars.*` metafields of before the app-owned ones (0013_metafields):
    # the next write-back deletes them once.
    legacy_metafields: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email or f"Customer {self.customer_id}"
