"""Where outbox events go: merchants' webhook endpoints, per-shop destination settings, and each delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JsonDoc, PrimaryKey, UTCDateTime, utcnow


class WebhookEndpoint(db.Model):  # type: ignore[name-defined,misc]
    """A merchant's URL that receives signed events (POST /api/v1/webhook-endpoints)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_shop", "shop_id", "id"),)

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    # Event types it wants; empty = every type.
    events: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    # The signing secret (shown once, when created). Kept readable: it signs every delivery.
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShopIntegration(db.Model):  # type: ignore[name-defined,misc]
    """Per-shop destination settings: Shopify Flow on or off, Klaviyo's private key."""

    __tablename__ = "shop_integrations"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    # On: every Flow trigger is sent. Off: only those Flow's lifecycle callback says a workflow uses.
    flow_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # handle → whether an enabled workflow of the shop starts with it (Flow's trigger lifecycle callback).
    flow_triggers: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    klaviyo_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    klaviyo_private_key: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EventDelivery(db.Model):  # type: ignore[name-defined,misc]
    """One outbox event handed to one destination: pending until delivered, retried with backoff, dead
    after the last attempt (the dead letter the merchant sees and replays)."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "destination"),
        # The relay's claim: due pending deliveries, oldest first.
        Index("ix_event_deliveries_due", "next_attempt_at", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        # In order per member: is an earlier delivery to this destination still pending?
        Index("ix_event_deliveries_member", "destination", "member_id", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        # The delivery log per destination, newest first.
        Index("ix_event_deliveries_log", "shop_id", "destination", "id"),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(PrimaryKey)
    # "flow", "klaviyo" or "webhook:<endpoint id>"
    destination: Mapped[str] = mapped_column(String(48))
    # pending | delivered | skipped | dead
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
