"""Binds the database and migrations to the app. SQLite gets foreign keys, WAL, a busy timeout, and write
transactions that take SQLite's write lock when they start writing (BEGIN IMMEDIATE), never by upgrading a
read transaction: that upgrade fails at once with "database is locked", whatever the busy timeout."""

from __future__ import annotations

import re
import threading
from typing import Any

from flask import Flask
from sqlalchemy import event

from app.extensions import db, migrate

# How long a statement waits for another connection's write transaction before giving up. The embedded
# default keeps write transactions short (milliseconds; a drain batch is the longest), so this is only
# reached when something holds the lock far longer than any request should take.
SQLITE_BUSY_TIMEOUT_MS = 20000

_WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER"})
_FIRST_WORD = re.compile(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*([A-Za-z]+)", re.S)


def init_app(app: Flask) -> None:
    import app.models as _models  # noqa: F401  (register the tables with the metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=app.root_path + "/../migrations", render_as_batch=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            sqlite_fixups(db.engine)


def _writes(statement: str, context: Any) -> bool:
    """Whether a statement needs the write lock: a data or schema change, a savepoint (work that will
    write), or a SELECT … FOR UPDATE (SQLite's compiler drops the clause; the lock it asks for is this)."""
    m = _FIRST_WORD.match(statement)
    verb = m.group(1).upper() if m else ""
    if verb in _WRITE_VERBS:
        return True
    if verb == "WITH":
        return bool(re.search(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", statement, re.I))
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


def sqlite_fixups(engine: Any) -> None:
    """Transactions on SQLite as the app needs them (see the module docstring).

    pysqlite's own transaction handling breaks SAVEPOINT (SQLAlchemy docs, "Serializable isolation /
    Savepoints"), so the driver is put in autocommit and the transaction is begun here. Reads before a
    transaction's first write run each in their own snapshot, as every statement does under PostgreSQL's
    READ COMMITTED; the first write (or FOR UPDATE, or savepoint) begins `BEGIN IMMEDIATE`, which waits
    for the write lock under the busy timeout, and everything after it sees one consistent state until
    COMMIT. Writers are thus serialised at their start and never fail on an upgrade or a stale snapshot.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    writers = _WriterQueue()

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_on_first_write(conn: Any, cursor: Any, statement: str, _params: Any, context: Any,
                              _many: bool) -> None:
        dbapi_conn = conn.connection.dbapi_connection
        if dbapi_conn is None:
            return
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # An AUTOCOMMIT connection (the webhook receiver's one-statement insert) stays without a
            # transaction: the statement is its own, and queues for the lock like any other writer.
            if _writes(statement, context):
                writers.enter(dbapi_conn)
            return
        if dbapi_conn.in_transaction:
            return
        if _writes(statement, context):
            writers.enter(dbapi_conn)
            cursor.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "after_cursor_execute")
    def _autocommit_done(conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any,
                         _many: bool) -> None:
        dbapi_conn = conn.connection.dbapi_connection
        if dbapi_conn is not None and not dbapi_conn.in_transaction:
            writers.leave(dbapi_conn)

    @event.listens_for(engine, "handle_error")
    def _failed(ctx: Any) -> None:
        dbapi_conn = getattr(ctx.connection, "connection", None) if ctx.connection is not None else None
        raw = getattr(dbapi_conn, "dbapi_connection", None)
        if raw is not None and not raw.in_transaction:
            writers.leave(raw)

    # The end of a write transaction (commit, rollback, or the pool's reset) lets the next writer in.
    dialect = engine.dialect
    for name in ("do_commit", "do_rollback"):
        original = getattr(dialect, name)

        def ended(dbapi_conn: Any, _original: Any = original) -> None:
            try:
                _original(dbapi_conn)
            finally:
                # Called with the pool's proxy of the connection; the writer entered with the connection itself.
                writers.leave(getattr(dbapi_conn, "dbapi_connection", dbapi_conn))

        setattr(dialect, name, ended)


class _WriterQueue:
    """The writers of one process wait for each other here, woken the moment the lock is free, instead of in
    SQLite's busy handler, which polls with sleeps growing to 100 ms: under a burst a waiting writer could
    lose every race for seconds. SQLite's own lock (and its busy timeout) still orders other processes.
    A thread that already writes on another connection (never done here) would wait at most the busy
    timeout, as SQLite would make it wait anyway."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None  # id() of the DBAPI connection inside

    def enter(self, dbapi_conn: Any) -> None:
        if self._holder == id(dbapi_conn):
            return
        if self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            self._holder = id(dbapi_conn)

    def leave(self, dbapi_conn: Any) -> None:
        if self._holder == id(dbapi_conn):
            self._holder = None
            self._lock.release()
