"""Column types shared by the models: ids, money, JSON and timezone-aware UTC timestamps on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from app import clock

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
PrimaryKey = BigInteger().with_variant(Integer(), "sqlite")
# Shopify ids exceed 2^53 but fit a signed 64-bit integer.
ShopifyId = BigInteger()
Money = Numeric(14, 2, asdecimal=True)
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware UTC datetime (SQLite would drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The app clock's time (app.clock: real time unless a test or the demo moved it)."""
    return clock.now()


def same_as_created(context: Any) -> datetime:
    """Default of an `occurred_at` column: an entry written without saying when it happened happened when
    it was recorded (its created_at as given, else now)."""
    given = context.get_current_parameters().get("created_at") if context is not None else None
    return given if isinstance(given, datetime) else utcnow()
