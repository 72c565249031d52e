"""Shops that installed Regulars: their Shopify tokens, install state and program settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JsonDoc, PrimaryKey, UTCDateTime, utcnow


class Shop(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    # "example.myshopify.com", lower case; the tenant key every other table hangs off.
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    money_format: Mapped[str] = mapped_column(String(64), default="${{amount}}")
    access_token: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[str | None] = mapped_column(Text)
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Per-shop program settings (loyalty-rules.md); app.loyalty.settings owns defaults and validation.
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # The merchant's own shopper-facing texts: {locale: {text key: text}} (app/services/texts.py validates).
    text_overrides: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict, server_default=text("'{}'"))
    setup_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Secret other apps use to sign POST /api/v1/actions.
    action_secret: Mapped[str | None] = mapped_column(String(128))
    last_reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def active(self) -> bool:
        return self.uninstalled_at is None and self.installed_at is not None

    @property
    def handle(self) -> str:
        return self.domain.removesuffix(".myshopify.com")
