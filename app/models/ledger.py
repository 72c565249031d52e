"""The points ledger: append-only entries, one per change of a member's points."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JsonDoc, PrimaryKey, UTCDateTime, same_as_created, utcnow


class LedgerEntry(db.Model):  # type: ignore[name-defined,misc]
    """Never updated or deleted (a PostgreSQL trigger enforces it); corrections are new entries.

    Two times: `occurred_at`, when it happened (the order's processed_at, the refund's time, the action's or
    redemption's time, the moment pending points became spendable), which windows and periods use (tiers,
    expiry, analytics, history), so a late webhook or a backfill lands where it belongs; and `created_at`,
    when it was recorded."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("shop_id", "idempotency_key"),
        Index("ix_ledger_entries_member", "member_id", "id"),
        Index("ix_ledger_entries_order", "order_ref_id"),
        # A member's history, newest first by when it happened.
        Index("ix_ledger_entries_member_occurred", "member_id", "occurred_at"),
        # Points issued / redeemed / expired by period (0004_admin, by occurred_at since 0009_occurred_at).
        Index("ix_ledger_entries_shop_occurred_kind", "shop_id", "occurred_at", postgresql_include=["kind", "points"]),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer)
    # What happened (app.loyalty.ledger kinds: earn_order, reverse_order, pending_released, redeem, …).
    kind: Mapped[str] = mapped_column(String(32))
    # Where it came from: order, refund, reward, referral, admin, expiry, import, action, signup, …
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(64))
    # available or pending (earned, not yet spendable).
    status: Mapped[str] = mapped_column(String(16), default="available")
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # The rules the amount was computed with (rate, multipliers, tier), reused for later changes.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    # Points a cap_at_zero reversal did not take back.
    forgiven_points: Mapped[int] = mapped_column(Integer, default=0)
    order_ref_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(255))
    # Shown to the shopper (admin adjustments may carry one).
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=same_as_created,
                                                  server_default=text("CURRENT_TIMESTAMP"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
