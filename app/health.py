"""GET /healthz: 200 when the database and (if configured) Redis answer."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text

from app.extensions import db
from app.jobs import current_jobs


def init_app(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        checks: dict[str, str] = {}
        ok = True
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            ok = False
            checks["database"] = f"error: {type(exc).__name__}"
        finally:
            db.session.rollback()
        jobs = current_jobs()
        if not jobs.in_process:
            try:
                jobs.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                ok = False
                checks["redis"] = f"error: {type(exc).__name__}"
        return jsonify({"ok": ok, **checks}), 200 if ok else 503
