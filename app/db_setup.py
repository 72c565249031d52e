"""Binds the database and migrations to the app; SQLite gets foreign keys and working SAVEPOINTs."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event

from app.extensions import db, migrate


def init_app(app: Flask) -> None:
    import app.models as _models  # noqa: F401  (register the tables with the metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=app.root_path + "/../migrations", render_as_batch=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            _sqlite_fixups(db.engine)


def _sqlite_fixups(engine: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT (SQLAlchemy docs, "Serializable isolation /
    # Savepoints"): take BEGIN over ourselves. Foreign keys are off in SQLite unless asked for.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # An AUTOCOMMIT connection (the webhook receiver's one-statement insert) must stay without a
        # transaction: a BEGIN here would hold its insert until a COMMIT that autocommit never sends.
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN")
