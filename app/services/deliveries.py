"""Webhook deliveries: store once (before acknowledging), claim, process exactly once, retry, replay."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, text, update

from app.extensions import db
from app.models import PENDING_STATUSES, WebhookDelivery, utcnow
from app.models.types import UTCDateTime
from app.services.intake import GroupCommit

log = logging.getLogger(__name__)

_table = WebhookDelivery.__table__


_INSERT = text(
    "INSERT INTO webhook_deliveries (shop_domain, topic, webhook_id, event_id, triggered_at, api_version, body,"
    " status, attempts, created_at, updated_at)"
    " VALUES (:shop_domain, :topic, :webhook_id, :event_id, :triggered_at, :api_version, :body,"
    " 'received', 0, :now, :now)"
    " ON CONFLICT DO NOTHING RETURNING id"
).bindparams(bindparam("triggered_at", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))


def store_delivery(
    *,
    shop_domain: str,
    topic: str,
    webhook_id: str,
    event_id: str | None,
    triggered_at: datetime | None,
    api_version: str | None,
    body: str,
    kick: Callable[[list[int]], Any] | None = None,
) -> tuple[int | None, bool]:
    """Stores the delivery, committed, unless its webhook id or event id is known. Returns (the new id or
    None, whether `kick` was already called with it after the commit).

    The receiver's hot path, whose floor is the commit: no read before the insert, no ORM. On PostgreSQL the
    rows of concurrent requests share one commit (app.services.intake) and `kick`, the drain request, is
    made once for them; on SQLite each row is its own autocommitted statement and the caller kicks.
    """
    params: dict[str, Any] = {
        "shop_domain": shop_domain, "topic": topic, "webhook_id": webhook_id, "event_id": event_id,
        "triggered_at": triggered_at, "api_version": api_version, "body": body, "now": utcnow(),
    }
    engine = db.engine
    if engine.dialect.name == "postgresql":
        return _group_commit(engine).store(params, kick=kick)
    # One statement is its own transaction: in autocommit it is durable when this returns. The 200 is
    # sent only after it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        new_id = conn.execute(_INSERT, params).scalar_one_or_none()
    return (int(new_id) if new_id is not None else None), False


_committers: dict[Any, GroupCommit] = {}
_committers_lock = threading.Lock()


def _group_commit(engine: Any) -> GroupCommit:
    """The process's group commit for this engine's database (tests run apps on several)."""
    found = _committers.get(engine)
    if found is None:
        with _committers_lock:
            found = _committers.get(engine)
            if found is None:
                dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                found = _committers[engine] = GroupCommit(dsn)
    return found


def pending_count(due_only: bool = True) -> int:
    q = select(func.count()).select_from(_table).where(_table.c.status.in_(PENDING_STATUSES))
    if due_only:
        q = q.where(or_(_table.c.next_attempt_at.is_(None), _table.c.next_attempt_at <= utcnow()))
    return int(db.session.execute(q).scalar_one())


def backoff(attempts: int) -> timedelta:
    """5 s, 20 s, 80 s, 320 s, … capped at an hour."""
    return timedelta(seconds=min(3600, 5 * 4 ** max(0, attempts - 1)))


Handler = Callable[[WebhookDelivery], str]


# Deliveries claimed per transaction. Kept at 1: with two drains, a batch holds its members' row locks
# (and the analytics advisory locks) until its commit, and measured with bench/engine the drains then
# deadlock on shared members, PostgreSQL fails one delivery into retry-with-backoff and throughput
# collapses. Batching needs lock ordering across a batch first.
DRAIN_BATCH = 1


def process_batch(dispatch: Handler, max_attempts: int, batch: int = DRAIN_BATCH) -> int:
    """Claims up to `batch` due deliveries (SKIP LOCKED, so drains run side by side) and processes them in
    one transaction, each in a savepoint with its effects.

    The handlers' writes and the 'processed' marks commit together: a worker killed mid-way leaves every
    claimed row as it was, and the next drain does them again from the start. Returns how many were
    claimed (0 when nothing was due).
    """
    now = utcnow()
    rows = list(db.session.execute(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.status.in_(PENDING_STATUSES),
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
        )
        .order_by(WebhookDelivery.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).scalars())
    if not rows:
        db.session.rollback()
        return 0
    for row in rows:
        try:
            with db.session.begin_nested():
                outcome = dispatch(row)
            row.status = outcome
            row.processed_at = utcnow()
            row.last_error = None
            row.next_attempt_at = None
        except Exception as exc:  # a handler's failure is data: recorded on the row, retried with backoff
            log.exception("delivery %s (%s) failed", row.id, row.topic)
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000]
            if row.attempts >= max_attempts:
                row.status = "failed"
                row.next_attempt_at = None
            else:
                row.status = "retry"
                row.next_attempt_at = utcnow() + backoff(row.attempts)
    db.session.commit()
    return len(rows)


def process_next(dispatch: Handler, max_attempts: int) -> bool:
    """One delivery in its own transaction (a batch of one); False when nothing was due."""
    return process_batch(dispatch, max_attempts, batch=1) > 0


def drain(dispatch: Handler, max_attempts: int, limit: int | None = None) -> int:
    """Processes due deliveries until none is left (or `limit`); returns how many were handled."""
    done = 0
    while limit is None or done < limit:
        size = DRAIN_BATCH if limit is None else min(DRAIN_BATCH, limit - done)
        claimed = process_batch(dispatch, max_attempts, size)
        if not claimed:
            break
        done += claimed
    return done


def replay(ids: list[int] | None = None, *, failed: bool = False) -> int:
    """Puts deliveries back in the queue: the given ids, and/or every failed one. Returns how many."""
    conds: list[Any] = []
    if ids:
        conds.append(WebhookDelivery.id.in_(ids))
    if failed:
        conds.append(WebhookDelivery.status == "failed")
    if not conds:
        return 0
    result = db.session.execute(
        update(WebhookDelivery)
        .where(or_(*conds))
        .values(status="received", attempts=0, next_attempt_at=None, updated_at=utcnow())
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def failed_deliveries(limit: int = 100) -> list[WebhookDelivery]:
    return list(
        db.session.execute(
            select(WebhookDelivery).where(WebhookDelivery.status == "failed").order_by(WebhookDelivery.id.desc()).limit(limit)
        ).scalars()
    )
