"""Request keys of the widget's POSTs: the first result is kept, so a double-submit or retry returns it again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.types import JsonDoc, PrimaryKey

proxy_requests = Table(
    "proxy_requests",
    db.metadata,
    Column("id", PrimaryKey, primary_key=True),
    Column("shop_id", BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("shops.id", ondelete="CASCADE"),
           nullable=False),
    Column("customer_id", BigInteger(), nullable=False),
    Column("request_key", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", JsonDoc),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("shop_id", "customer_id", "request_key"),
    extend_existing=True,
)

IN_PROGRESS = {"outcome": "in_progress"}


def _stored(shop_id: int, customer_id: int, key: str) -> Any:
    return db.session.execute(
        select(proxy_requests.c.status, proxy_requests.c.result).where(
            proxy_requests.c.shop_id == shop_id,
            proxy_requests.c.customer_id == customer_id,
            proxy_requests.c.request_key == key,
        )
    ).first()


def _release(shop_id: int, customer_id: int, key: str) -> None:
    db.session.execute(proxy_requests.delete().where(
        proxy_requests.c.shop_id == shop_id, proxy_requests.c.customer_id == customer_id,
        proxy_requests.c.request_key == key[:64]))
    db.session.commit()


def run_once(shop_id: int, customer_id: int, key: str, action: str,
             work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Runs `work` for the first request with this key and keeps its result (a small JSON outcome).

    The key is claimed in its own committed row before the work starts, so a concurrent duplicate sees the
    claim and does not run the work a second time (the services below are idempotent too, by their own keys).
    """
    values = dict(shop_id=shop_id, customer_id=customer_id, request_key=key[:64], action=action,
                  status="started", result=None, created_at=datetime.now(UTC))
    try:
        if db.engine.dialect.name == "postgresql":
            claimed = db.session.execute(
                pg_insert(proxy_requests).values(**values).on_conflict_do_nothing().returning(proxy_requests.c.id)
            ).first() is not None
        else:
            db.session.execute(proxy_requests.insert().values(**values))
            claimed = True
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        claimed = False
    if not claimed:
        row = _stored(shop_id, customer_id, key[:64])
        db.session.commit()
        if row is None or row.status != "done":
            return dict(IN_PROGRESS)
        return dict(row.result or {})
    try:
        result = work()
    except Exception:
        db.session.rollback()
        # Unexpected failure: free the key so the shopper's retry runs the work again.
        _release(shop_id, customer_id, key)
        raise
    if 400 <= int(result.get("status", 200)) < 500:
        # Refused (not a member, unknown reward, too few points…): nothing was done, so nothing is kept either;
        # a retry is refused again, or runs once the reason is gone. (A 502, Shopify failing after the debit
        # and its reversal were booked, is kept: its retry answers the same.)
        db.session.rollback()
        _release(shop_id, customer_id, key)
        return result
    db.session.execute(
        proxy_requests.update()
        .where(proxy_requests.c.shop_id == shop_id, proxy_requests.c.customer_id == customer_id,
               proxy_requests.c.request_key == key[:64])
        .values(status="done", result=result)
    )
    db.session.commit()
    return result
