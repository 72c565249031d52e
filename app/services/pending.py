"""Pending order points becoming spendable: `pending_released` = −n pending and +n available, per order.

An order's pending points share one release moment (Order.points_release_at = paid_at + pending_days
when they were booked); reductions during the pending period took them first (app.services.orders),
so what is left on the order is exactly what to release. Idempotent: the keys name the order's
knowledge version, and an order whose pending points are 0 is skipped under its lock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.order_knowledge import OrderKnowledge
from app.models import Order, Shop, utcnow
from app.services import due
from app.services.ledger import lock_member, post_entry

log = logging.getLogger(__name__)


def release_order(order_ref_id: int, now: datetime | None = None) -> int:
    """Releases one order's pending points if due (locks the order, then the member). No commit.
    Returns the points released."""
    now = now or utcnow()
    row = db.session.execute(
        select(Order).where(Order.id == order_ref_id).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None or (row.points_pending or 0) <= 0 or row.member_id is None:
        return 0
    if row.points_release_at is None or row.points_release_at > now:
        return 0
    member = lock_member(row.member_id)
    n = row.points_pending
    version = OrderKnowledge.from_dict(row.knowledge).version if row.knowledge else str(row.version)
    key = rules.pending_release_key(rules.order_change_key(row.order_id, version))
    common: dict[str, Any] = dict(kind=rules.PENDING_RELEASED, source=rules.SOURCE_ORDER, source_id=str(row.order_id),
                  order_ref_id=row.id, reason=f"Order {row.name or row.order_id}: pending period over",
                  snapshot={"released": n, "release_at": row.points_release_at.isoformat()}, now=now,
                  # Spendable from the end of the period, whenever the release is recorded.
                  occurred_at=row.points_release_at)
    post_entry(member, points=-n, status=rules.PENDING, idempotency_key=f"{key}:pending", **common)
    post_entry(member, points=n, status=rules.AVAILABLE, idempotency_key=key, emit="pending_released",
               emit_payload={"order_id": str(row.order_id), "order_name": row.name}, **common)
    row.points_pending = 0
    return n


def release_order_now(order_ref_id: int) -> int:
    """The timer's entry (app.services.due "release-order"): one order's pending points, if due. Commits.
    (The member is flagged for the write-back by post_entry; the minute's write-back sends it.)"""
    try:
        n = release_order(order_ref_id)
        if not n:
            early = db.session.execute(select(Order.points_release_at).where(
                Order.id == order_ref_id, Order.points_pending > 0)).scalar_one_or_none()
            if early is not None and early > utcnow():
                # Woken early: again just after the moment (a second on, so it is a schedule of its own).
                due.at("release-order", order_ref_id, due_at=early + timedelta(seconds=1))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return n


def release_due(now: datetime | None = None, *, shop: Shop | None = None, batch: int = 500) -> dict[str, int]:
    """Every order whose pending period is over: released, committed per batch. Returns counts."""
    now = now or utcnow()
    orders = points = 0
    last_id = 0
    while True:
        q = (select(Order.id).where(Order.points_pending > 0, Order.points_release_at <= now, Order.id > last_id)
             .order_by(Order.id).limit(batch))
        if shop is not None:
            q = q.where(Order.shop_id == shop.id)
        ids = list(db.session.execute(q).scalars())
        db.session.rollback()
        if not ids:
            break
        for oid in ids:
            try:
                n = release_order(oid, now)
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("could not release pending points of order row %s", oid)
                continue
            if n:
                orders += 1
                points += n
        last_id = ids[-1]
    return {"orders": orders, "points": points}
