"""Request keys of the widget's POSTs: the first result is kept, so a double-submit or retry returns it again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
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
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.types import JsonDoc, PrimaryKey, utcnow

log = logging.getLogger(__name__)

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
# A claim still "started" after this long was abandoned (its process died, or its result could not be
# written): the next request with the key runs the work again, which the services' own keys make safe.
ABANDONED_AFTER = timedelta(seconds=30)


def _stored(shop_id: int, customer_id: int, key: str) -> Any:
    return db.session.execute(
        select(proxy_requests.c.id, proxy_requests.c.status, proxy_requests.c.result,
               proxy_requests.c.created_at).where(
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
                  status="started", result=None, created_at=utcnow())
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
        if row is not None and row.status == "done":
            db.session.commit()
            return dict(row.result or {})
        if row is None or not _take_over(row):
            db.session.commit()
            return dict(IN_PROGRESS)
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
    try:
        db.session.execute(
            proxy_requests.update()
            .where(proxy_requests.c.shop_id == shop_id, proxy_requests.c.customer_id == customer_id,
                   proxy_requests.c.request_key == key[:64])
            .values(status="done", result=result)
        )
        db.session.commit()
    except Exception:
        # The work is done and committed: its outcome is the shopper's answer whatever happens to this
        # note of it. A retry with the key finds the claim abandoned and gets the same outcome from the
        # services' own idempotency keys.
        db.session.rollback()
        log.exception("could not record the outcome of proxy request %s", key[:64])
    return result


def _take_over(row: Any) -> bool:
    """Claims an abandoned request (see ABANDONED_AFTER) for this request: at most one taker wins."""
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=utcnow().tzinfo)
    if utcnow() - created < ABANDONED_AFTER:
        return False
    result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]  # an UPDATE's result is a cursor's
        proxy_requests.update()
        .where(proxy_requests.c.id == row.id, proxy_requests.c.status == "started",
               proxy_requests.c.created_at == row.created_at)
        .values(created_at=utcnow())
    )
    taken = result.rowcount
    db.session.commit()
    return bool(taken)
