"""Webhook deliveries exactly as Shopify sent them: stored before they are acknowledged, processed once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import PrimaryKey, UTCDateTime, utcnow

# received: stored, waiting for a drain; retry: failed, waiting for next_attempt_at;
# processed / skipped (nothing to do, e.g. shop uninstalled or topic not handled) / failed (gave up).
PENDING_STATUSES = ("received", "retry")


class WebhookDelivery(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id"),
        # Shopify keeps X-Shopify-Event-Id across the re-deliveries of one event.
        UniqueConstraint("shop_domain", "topic", "event_id"),
        # Partial: only the rows a drain looks for, so processed deliveries cost the index nothing.
        # (Lookups by shop use the unique index above, whose first column is shop_domain.)
        Index("ix_webhook_deliveries_pending", "status", "next_attempt_at", "id",
              postgresql_where=text("status IN ('received', 'retry')"),
              sqlite_where=text("status IN ('received', 'retry')")),
        # The drain's claim (pending, ORDER BY id LIMIT 1): read in id order, it stops at the first due row
        # instead of sorting every pending one (10 ms a claim behind a backlog of 6,000, 0.03 ms with it).
        Index("ix_webhook_deliveries_pending_id", "id",
              postgresql_where=text("status IN ('received', 'retry')"),
              sqlite_where=text("status IN ('received', 'retry')")),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_domain: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str | None] = mapped_column(String(128))
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    api_version: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
