"""The embedded default (SQLite, jobs in-process) keeps the same promise: stored before acknowledged, once."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.models import Shop, utcnow
from tests.conftest import make_config
from tests.helpers import post_webhook


def test_sqlite_delivery_is_committed_and_processed(tmp_path):
    url = f"sqlite:///{tmp_path}/regulars.db"
    app = create_app(make_config(database_url=url))
    with app.app_context():
        upgrade(revision="heads")
        db.session.add(Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="t"))
        db.session.commit()
    client = app.test_client()
    payload = {"id": 31, "email": "lite@x.y", "created_at": "2026-11-01T10:00:00Z"}
    assert post_webhook(client, "customers/create", payload, webhook_id="w1", event_id="e1").status_code == 200
    assert post_webhook(client, "customers/create", payload, webhook_id="w1", event_id="e1").status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    # Read with a separate connection: what the app acknowledged is on disk.
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT status FROM webhook_deliveries")).all()
        members = conn.execute(text("SELECT email FROM members")).scalars().all()
    eng.dispose()
    assert [r[0] for r in rows] == ["processed"]
    assert members == ["lite@x.y"]
