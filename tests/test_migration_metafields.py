"""0013_metafields: every member the old write-back wrote to Shopify (merchant-owned `regulars.*` values) is
marked to have those deleted and flagged for write-back, so the sync queue moves each to `$app` once; members
never written (nothing in Shopify) and redacted or deleted ones are left alone."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.conftest import make_config
from tests.test_migration_occurred_at import database  # noqa: F401  (the fixture: SQLite and PostgreSQL)

ROWS = """
INSERT INTO shops (id, domain, currency, money_format, settings, created_at, updated_at)
  VALUES (1, 'old.myshopify.com', 'USD', '', '{}', '2026-06-01 10:00:00', '2026-06-01 10:00:00');
INSERT INTO members (id, shop_id, customer_id, points_available, points_pending, lifetime_points, lifetime_spent,
  orders_count, created_at, updated_at, synced_at, sync_requested_at, redacted_at) VALUES
  (1, 1, 71, 0, 0, 0, 0, 0, '2026-06-01 10:00:00', '2026-06-01 10:00:00', '2026-06-02 10:00:00', NULL, NULL),
  (2, 1, 72, 0, 0, 0, 0, 0, '2026-06-01 10:00:00', '2026-06-01 10:00:00', NULL, NULL, NULL),
  (3, 1, 73, 0, 0, 0, 0, 0, '2026-06-01 10:00:00', '2026-06-01 10:00:00', '2026-06-02 10:00:00',
   '2026-06-03 09:00:00', NULL),
  (4, 1, 74, 0, 0, 0, 0, 0, '2026-06-01 10:00:00', '2026-06-01 10:00:00', '2026-06-02 10:00:00', NULL,
   '2026-06-04 10:00:00');
"""


def test_members_written_before_are_queued_to_move(database: str) -> None:  # noqa: F811
    app = create_app(make_config(database_url=database))
    with app.app_context():
        upgrade(revision="0011_automations")
        with db.engine.begin() as conn:
            for statement in filter(str.strip, ROWS.split(";")):
                conn.execute(text(statement))
        upgrade(revision="heads")
        with db.engine.connect() as conn:
            got = {row[0]: (bool(row[1]), row[2]) for row in conn.execute(text(
                "SELECT id, legacy_metafields, sync_requested_at FROM members ORDER BY id"))}
        db.engine.dispose()
    assert got[1][0] is True and got[1][1] is not None  # written before: queued
    assert got[2] == (False, None)  # never written: nothing to move
    assert got[3][0] is True and str(got[3][1])[:19] == "2026-06-03 09:00:00"  # already queued: kept as it was
    assert got[4] == (False, None)  # redacted: not written again
