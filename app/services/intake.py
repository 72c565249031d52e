"""Group commit for the webhook receiver on PostgreSQL: the deliveries that arrive while one commit is under
way are stored together by the next one.

The receiver's floor is the durable commit of each delivery (PERFORMANCE.md). One INSERT and one commit per
request makes PostgreSQL pay a transaction, a statement and a WAL flush per delivery, and the receiver one
round trip to PostgreSQL. Here the request threads of a worker process queue their rows; one of them (the
leader) stores every queued row with one `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING` in one
autocommitted transaction, hands the lead to the first row queued meanwhile, asks for drains once for the
batch (the caller's `kick`), then answers the others. No request waits on a timer: a request that finds
nobody writing writes at once (alone, when the worker is quiet), and a batch is whatever queued during the
previous commit.

What each request still gets, exactly as with a commit of its own:
- its 200 is sent only after the transaction holding its row has committed (synchronous_commit as set on
  the server, on by default): stored before acknowledged;
- its own answer: the new id, or None when its webhook id or event id was already stored (also when the
  duplicate sits in the same batch: the unique indexes decide, row by row, in batch order);
- an error of its own: when the batch fails for anything but a lost connection, each of its rows is tried
  again in a transaction of its own, so one bad row fails only its request.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

log = logging.getLogger(__name__)

_COLUMNS = ("shop_domain", "topic", "webhook_id", "event_id", "triggered_at", "api_version", "body")


@functools.lru_cache(maxsize=64)
def _insert_many(rows: int) -> str:
    """The INSERT of `rows` rows, in arrival order: ON CONFLICT keeps the first of two rows with the same key.

    A VALUES list per batch size (prepared once each; batch sizes stay below the threads per process)
    rather than one statement over arrays: psycopg dumps arrays of text in Python, which cost more per
    batch than the rest of the statement."""
    one = "(%s, %s, %s, %s, %s, %s, %s, 'received', 0, %s, %s)"
    return ("INSERT INTO webhook_deliveries (shop_domain, topic, webhook_id, event_id, triggered_at, api_version,"
            " body, status, attempts, created_at, updated_at) VALUES " + ", ".join([one] * rows)
            + " ON CONFLICT DO NOTHING RETURNING id, webhook_id")


# The leader's progress is bounded, so a follower can wait for its answer without a timer of its own: a
# connection attempt gives up after CONNECT_TIMEOUT, a statement after STATEMENT_TIMEOUT (then the batch's
# requests answer 500 and Shopify delivers again; ON CONFLICT makes a row that did commit harmless).
CONNECT_TIMEOUT = 3
STATEMENT_TIMEOUT_MS = 4000

Kick = Callable[[list[int]], Any]


def _values(batch: list[_Item], now: Any) -> list[Any]:
    """The parameters of `_insert_many(len(batch))`, row after row."""
    values: list[Any] = []
    for it in batch:
        values += [it.params[c] for c in _COLUMNS]
        values += (now, now)
    return values


def _held_lock() -> Any:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Item:
    params: dict[str, Any]
    kick: bool
    # Released once: when the item is answered, or handed the lead. A bare lock, not an Event: an Event is a
    # Condition around a lock, and making one per request showed in the receiver's profile.
    done: Any = field(default_factory=_held_lock)
    lead: bool = False
    finished: bool = False
    new_id: int | None = None
    kicked: bool = False
    error: BaseException | None = None


class GroupCommit:
    """One per database and process (deliveries._group_commit): a connection of its own (autocommit), used
    only by the current leader."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._lock = threading.Lock()
        self._queue: list[_Item] = []
        self._busy = False
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = os.getpid()
        self.batches = 0  # batches written and rows in them: for tests and the benchmark's curiosity
        self.rows = 0

    def store(self, params: dict[str, Any], *, kick: Kick | None = None) -> tuple[int | None, bool]:
        """Stores one delivery (the keys of `_COLUMNS` plus `now`), committed, unless its webhook id or event
        id is known. Returns (new id or None, whether `kick` was called with it).

        `kick` is what the caller does after its commit (ask for drains): the leader calls its own once with
        the new ids of the batch's rows that gave one, after the commit and before any of them is answered.
        """
        self._after_fork()
        item = _Item(params, kick is not None)
        with self._lock:
            self._queue.append(item)
            if not self._busy:
                self._busy = item.lead = True
        if not item.lead:
            item.done.acquire()  # until answered, or until handed the lead
        if item.lead and not item.finished:
            self._lead(kick)
        if item.error is not None:
            raise item.error
        return item.new_id, item.kicked

    # ------------------------------------------------------------------------------------ the leader
    def _lead(self, kick: Kick | None) -> None:
        """Writes everything queued (this request's row among it), hands the lead over as soon as the commit
        is done (the next batch's INSERT then overlaps this batch's drain request), asks for drains and
        answers the batch."""
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            try:
                self._write(batch)
            finally:
                self._hand_over()
            self._kick(batch, kick)
        except BaseException as exc:  # every waiter gets an answer, whatever happened
            for it in batch:
                if it.error is None:
                    it.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for it in batch:
                it.finished = True
                if not it.lead:  # a leader's lock was released when it was handed the lead (or never taken)
                    it.done.release()

    def _hand_over(self) -> None:
        with self._lock:
            if self._queue:
                # Rows queued during this commit: the first of them leads the next batch.
                nxt = self._queue[0]
                nxt.lead = True
                nxt.done.release()
            else:
                self._busy = False

    def _write(self, batch: list[_Item]) -> None:
        now = batch[0].params["now"]
        try:
            rows = self._execute(_insert_many(len(batch)), _values(batch, now)).fetchall()
        except psycopg.OperationalError:
            raise
        except psycopg.Error:
            # One row the database refuses must not fail the others: each alone, in its own transaction.
            log.warning("webhook batch of %d refused; storing its rows one by one", len(batch), exc_info=True)
            for it in batch:
                try:
                    row = self._execute(_insert_many(1), _values([it], now)).fetchone()
                    it.new_id = int(row[0]) if row is not None else None
                except psycopg.Error as exc:
                    it.error = exc
            return
        self.batches += 1
        self.rows += len(batch)
        new_ids = {str(webhook_id): int(new_id) for new_id, webhook_id in rows}
        for it in batch:
            # The first request of a webhook id gets the row; a duplicate of it in the same batch gets None.
            it.new_id = new_ids.pop(it.params["webhook_id"], None)

    def _kick(self, batch: list[_Item], kick: Kick | None) -> None:
        """After the commit, before any answer: one call for the batch's new rows that want a drain."""
        wanting = [it for it in batch if it.kick and it.new_id is not None]
        if kick is None or not wanting:
            return
        try:
            kick([it.new_id for it in wanting if it.new_id is not None])
        except Exception:  # the rows are stored: each request asks again, and the sweeper is behind that
            log.warning("drain request for a webhook batch failed", exc_info=True)
            return
        for it in wanting:
            it.kicked = True

    def _execute(self, sql: str, params: Any) -> psycopg.Cursor[Any]:
        """On the leader's connection; a dead connection (PostgreSQL restarted, connections cut) is replaced
        and the statement tried once more. ON CONFLICT makes the second try safe."""
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.dsn, autocommit=True, prepare_threshold=0,
                                             connect_timeout=CONNECT_TIMEOUT,
                                             options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
            try:
                return self._conn.execute(sql, params)
            except psycopg.OperationalError:
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _after_fork(self) -> None:
        if self._pid != os.getpid():
            # A forked child (gunicorn --preload) owns neither the parent's socket nor its waiters.
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._queue, self._busy, self._conn = [], False, None
