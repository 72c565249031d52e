"""Webhook deliveries: store once (before acknowledging), claim, process exactly once, retry, replay."""

from __future__ import annotations

import logging
import threading
import time
import traceback
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import bindparam, func, or_, select, text, update

from app.extensions import db
from app.logs import delivery_context
from app.models import PENDING_STATUSES, WebhookDelivery, utcnow
from app.models.types import UTCDateTime
from app.services import analytics, shops, work
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


def receive_delivery(
    *,
    shop_domain: str,
    topic: str,
    webhook_id: str,
    event_id: str | None,
    triggered_at: datetime | None,
    api_version: str | None,
    body: str,
) -> int | None:
    """A verified webhook, stored (committed) and a drain asked for; returns the new id, None when known.

    Stored and committed before the drain request: from there nothing can lose it, and if Redis is down
    the sweeper asks again. An uninstall is marked on the shop at once instead ("stops all work for the
    shop at once", not behind whatever the queue holds), so no drain starts work for it after this.
    """
    uninstall = topic == "app/uninstalled"
    dispatcher = work.dispatcher()
    kick: Callable[[list[int]], Any] | None = None
    if not uninstall and dispatcher is not None:
        def kick(ids: list[int]) -> bool:
            return dispatcher.request("drain", tuple(ids), None)
    new_id, kicked = store_delivery(
        shop_domain=shop_domain, topic=topic, webhook_id=webhook_id, event_id=event_id,
        triggered_at=triggered_at, api_version=api_version, body=body, kick=kick,
    )
    if new_id is not None and uninstall:
        shops.mark_uninstalled(shop_domain, triggered_at)
        db.session.commit()
    if new_id is not None and not kicked:
        work.request("drain-now", new_id)
    return new_id


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


# One group commit (and so one connection) per database and process, found by engine without rendering its
# URL on every request; the engines of apps gone (tests make many) drop out of the weak map.
_committers: weakref.WeakKeyDictionary[Any, GroupCommit] = weakref.WeakKeyDictionary()
_committers_by_dsn: dict[str, GroupCommit] = {}
_committers_lock = threading.Lock()


def _group_commit(engine: Any) -> GroupCommit:
    """The process's group commit for this engine's database."""
    found = _committers.get(engine)
    if found is None:
        with _committers_lock:
            dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            found = _committers_by_dsn.get(dsn)
            if found is None:
                found = _committers_by_dsn[dsn] = GroupCommit(dsn)
            _committers[engine] = found
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


# Deliveries claimed per transaction. Two drains running side by side can meet on a member or an order
# (and a batch holds its rows' locks until its commit), so a delivery waits at most CONTENDED_LOCK_WAIT for a
# lock, well below PostgreSQL's deadlock_timeout (1 s): past that the savepoint it runs in is rolled back
# (which releases the locks taken since, so the other drain goes on) and it is left as it was, with no attempt
# counted, for the next claim (see _process). A deadlock thus costs one short wait instead of a failed
# delivery and its backoff. Measured with bench/engine: 20 beat 50 (longer-held locks, more contention).
#
# synchronous_commit stays on: the drain's transaction is not redone identically after a crash that lost it.
# A member enrolled on the order path gets a random referral code, and with an asynchronous commit other
# sessions (the write-back to Shopify's metafields) can read the code before it is durable; lost in a crash,
# the redo would give the member another code than the one Shopify shows.
DRAIN_BATCH = 20
CONTENDED_LOCK_WAIT = "20ms"
# Deliveries sharing one savepoint (see _process). Contention mostly strikes the last deliveries of a batch
# (the other drain has started on the next ids, often the same orders' next events), and a contended
# delivery makes its chunk run again: small chunks keep that rerun short.
SAVEPOINT_CHUNK = 5
# A drain whose whole batch was contended pauses this long before claiming again (the other side is
# committing); it never spins on the same rows.
CONTENDED_PAUSE = 0.05


@dataclass(frozen=True)
class BatchResult:
    claimed: int  # due deliveries claimed (0: nothing was due)
    handled: int  # of which processed, skipped, or failed into retry/failed
    contended: int  # of which left as they were: another transaction held a lock they needed
    # The handled ones by outcome, as committed: processed, skipped, retry (failed, tried again later),
    # failed (gave up after the last attempt).
    outcomes: Mapping[str, int] = field(default_factory=dict)


def _contended(exc: BaseException) -> bool:
    """A lock wait past CONTENDED_LOCK_WAIT, a deadlock or a serialization failure: another transaction's
    doing, not the delivery's; trying again later succeeds."""
    orig = getattr(exc, "orig", None)
    return isinstance(orig, (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected,
                             psycopg.errors.SerializationFailure))


def process_batch(dispatch: Handler, max_attempts: int, batch: int = DRAIN_BATCH, *,
                  defer_refreshes: bool = True) -> BatchResult:
    """Claims up to `batch` due deliveries (SKIP LOCKED, so drains run side by side) and processes them in
    one transaction, isolated from each other by savepoints (see _process).

    The handlers' writes and the 'processed' marks commit together: a worker killed mid-way leaves every
    claimed row as it was, and the next drain does them again from the start. A handler's exception marks
    only its delivery retry/failed (attempt counted, backoff); a delivery that met another transaction's
    locks (see CONTENDED_LOCK_WAIT) is left untouched and claimed again next time. The dashboard's rollup is
    refreshed once per customer at the end of the batch, before the commit (analytics.deferred_refreshes);
    should that fail, the batch is rolled back and done again with each delivery refreshing its own
    customers (`defer_refreshes=False`), so that the failure is the delivery's, marked on it alone.
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
        return BatchResult(0, 0, 0)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        db.session.execute(text(f"SET LOCAL lock_timeout = '{CONTENDED_LOCK_WAIT}'"))
    refreshing = False
    try:
        with shops.cached_lookups(), analytics.deferred_refreshes() if defer_refreshes else nullcontext():
            done, failures, contended = _process(rows, dispatch, max_attempts)
            # Marked together at the end: one flush writes them all (an executemany), in this transaction.
            at = utcnow()
            for row, outcome in done:
                row.status = outcome
                row.processed_at = at
                row.last_error = None
                row.next_attempt_at = None
            if postgres:
                # The rollup refresh below waits for a full rebuild of the shop's rollup as before (seconds,
                # not a deadlock: it takes the customers' locks in one order, and a rebuild holds no row of ours).
                db.session.execute(text("SET LOCAL lock_timeout = 0"))
            refreshing = True
            # Read before the commit, which expires the rows (reading them after would reload each one).
            outcomes = Counter(outcome for _, outcome in done)
            outcomes.update(row.status for row in failures)
            lines = ([(row.id, row.webhook_id, row.topic, row.shop_domain, outcome) for row, outcome in done]
                     if log.isEnabledFor(logging.INFO) else [])
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        if not _contended(exc):
            if refreshing and defer_refreshes:
                log.exception("rollup refresh of a batch of %d deliveries failed; again one by one", len(rows))
                return process_batch(dispatch, max_attempts, batch, defer_refreshes=False)
            raise
        # Only the end-of-batch refresh runs outside the deliveries' savepoints: met a deadlock after all.
        # Everything was rolled back, every claimed delivery is as it was; the next claim does them again.
        log.warning("batch of %d deliveries rolled back on contention: %s", len(rows), getattr(exc, "orig", exc))
        return BatchResult(len(rows), 0, len(rows))
    # One INFO line per delivery once its outcome is durable: what an operator follows a webhook id by.
    for delivery_id, webhook_id, topic, shop_domain, outcome in lines:
        with delivery_context(delivery_id, webhook_id, topic, shop_domain):
            log.info("delivery %s (%s) %s", delivery_id, topic, outcome, extra={"outcome": outcome})
    return BatchResult(len(rows), len(rows) - contended, contended, dict(outcomes))


def _process(rows: list[WebhookDelivery], dispatch: Handler,
             max_attempts: int) -> tuple[list[tuple[WebhookDelivery, str]], list[WebhookDelivery], int]:
    """Runs the claimed deliveries' handlers; returns (the handled ones with their outcome, the failed ones,
    how many were left untouched on contention). Failed ones are marked on their row.

    Optimistic: one savepoint per chunk of SAVEPOINT_CHUNK deliveries rather than one per delivery (two
    statements per delivery are most of a batch's overhead). When a delivery breaks its chunk, the chunk's
    savepoint is rolled back, which undoes the whole chunk, and the chunk runs again with that delivery left
    out (contended) or in a savepoint of its own (a handler's exception: recorded if it happens again). Each
    rerun has one delivery fewer to break it, so a chunk runs at most SAVEPOINT_CHUNK + 1 times."""
    left: set[int] = set()  # contended: left as they were, for the next claim
    alone: set[int] = set()  # broke their chunk once: from then on in a savepoint of their own
    done: list[tuple[WebhookDelivery, str]] = []
    failures: list[WebhookDelivery] = []
    for start in range(0, len(rows), SAVEPOINT_CHUNK):
        chunk = range(start, min(start + SAVEPOINT_CHUNK, len(rows)))
        while True:
            handled: list[tuple[WebhookDelivery, str]] = []
            failed: list[WebhookDelivery] = []  # kept only if the chunk's savepoint holds (else run again)
            broke: int | None = None
            try:
                with db.session.begin_nested():
                    for i in chunk:
                        row = rows[i]
                        if i in left:
                            continue
                        if i in alone:
                            try:
                                with db.session.begin_nested(), _context(row):
                                    outcome = dispatch(row)
                            except Exception as exc:
                                if _contended(exc):
                                    left.add(i)
                                    _log_contended(row, exc)
                                else:
                                    _record_failure(row, exc, max_attempts)
                                    failed.append(row)
                                continue
                        else:
                            broke = i
                            with _context(row):
                                outcome = dispatch(row)
                                db.session.flush()  # so that a failing write is this delivery's, not the next one's
                            broke = None
                        handled.append((row, outcome))
            except Exception as exc:
                if broke is None:
                    raise  # not a delivery's doing (the savepoint itself failed): the caller rolls back
                if _contended(exc):
                    left.add(broke)
                    _log_contended(rows[broke], exc)
                else:
                    alone.add(broke)
                continue
            done.extend(handled)
            failures.extend(failed)
            break
    return done, failures, len(left)


def _context(row: WebhookDelivery) -> Any:
    """The delivery's ids on every line its handler logs (app.logs)."""
    return delivery_context(row.id, row.webhook_id, row.topic, row.shop_domain)


def _log_contended(row: WebhookDelivery, exc: Exception) -> None:
    with _context(row):
        log.debug("delivery %s (%s) contended, left for the next claim: %s", row.id, row.topic,
                  type(getattr(exc, "orig", exc)).__name__)


def _record_failure(row: WebhookDelivery, exc: Exception, max_attempts: int) -> None:
    """A handler's failure is data: recorded on the row, retried with backoff, failed after the last attempt."""
    with _context(row):
        log.exception("delivery %s (%s) failed", row.id, row.topic)  # called while handling `exc`
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000]
    if row.attempts >= max_attempts:
        row.status = "failed"
        row.next_attempt_at = None
    else:
        row.status = "retry"
        row.next_attempt_at = utcnow() + backoff(row.attempts)


def process_next(dispatch: Handler, max_attempts: int) -> bool:
    """One delivery in its own transaction (a batch of one); False when nothing was due."""
    return process_batch(dispatch, max_attempts, batch=1).claimed > 0


def drain(dispatch: Handler, max_attempts: int, limit: int | None = None,
          on_batch: Callable[[BatchResult], Any] | None = None) -> int:
    """Processes due deliveries until none is left (or `limit` were handled); returns how many were handled.
    `on_batch` is told each batch's result after its commit (the job layer counts outcomes with it).

    Deliveries left on contention are claimed again by the next batch (they come first: lowest ids); a batch
    in which every delivery was contended is followed by a short pause instead of an immediate new claim."""
    done = 0
    while limit is None or done < limit:
        size = DRAIN_BATCH if limit is None else min(DRAIN_BATCH, limit - done)
        result = process_batch(dispatch, max_attempts, size)
        if not result.claimed:
            break
        if on_batch is not None:
            on_batch(result)
        done += result.handled
        if not result.handled:
            time.sleep(CONTENDED_PAUSE)
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
