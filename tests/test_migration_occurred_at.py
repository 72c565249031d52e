"""0009_occurred_at fills the new column of rows that exist: an order's first earning is dated by its payment,
everything else by when it was recorded. On PostgreSQL the ledger's append-only trigger stays in force."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from tests.conftest import PG_ADMIN_URL, _unavailable, make_config

ROWS = """
INSERT INTO shops (id, domain, currency, money_format, settings, created_at, updated_at)
  VALUES (1, 'old.myshopify.com', 'USD', '', '{}', '2026-06-01 10:00:00', '2026-06-01 10:00:00');
INSERT INTO members (id, shop_id, customer_id, points_available, points_pending, lifetime_points, lifetime_spent,
  orders_count, created_at, updated_at) VALUES (1, 1, 77, 0, 0, 0, 0, 0, '2026-06-01 10:00:00', '2026-06-01 10:00:00');
INSERT INTO orders (id, shop_id, order_id, cancelled, test, subtotal, total_price, eligible_amount, points_target,
  points_given, points_pending, counted, version, paid_at, created_at, updated_at)
  VALUES (1, 1, 900, false, false, 10, 10, 10, 50, 50, 0, true, 1, '2025-12-24 08:00:00', '2026-06-01 10:00:00',
          '2026-06-01 10:00:00');
INSERT INTO ledger_entries (id, shop_id, member_id, points, kind, source, status, idempotency_key, forgiven_points,
  order_ref_id, created_at) VALUES
  (1, 1, 1, 50, 'earn_order', 'order', 'available', 'order:900:v1', 0, 1, '2026-06-01 10:00:00'),
  (2, 1, 1, -20, 'reverse_order', 'refund', 'available', 'order:900:v2', 0, 1, '2026-06-02 11:00:00'),
  (3, 1, 1, 100, 'signup', 'action', 'available', 'signup:77', 0, NULL, '2026-06-01 10:00:00');
INSERT INTO tier_changes (id, shop_id, member_id, direction, reason, created_at)
  VALUES (1, 1, 1, 'up', 'test', '2026-06-01 10:00:05');
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.db"
        return
    name = f"regulars_mig_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _unavailable("PostgreSQL", str(exc).splitlines()[0])
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_existing_rows_get_when_they_happened(database: str) -> None:
    app = create_app(make_config(database_url=database))
    with app.app_context():
        upgrade(revision="0007_merge")
        with db.engine.begin() as conn:
            for statement in filter(str.strip, ROWS.split(";")):
                conn.execute(text(statement))
        upgrade(revision="heads")
        with db.engine.connect() as conn:
            got = dict(conn.execute(text("SELECT id, occurred_at FROM ledger_entries ORDER BY id")).all())
            tier = conn.execute(text("SELECT occurred_at FROM tier_changes")).scalar_one()
        db.engine.dispose()

    def day(value: object) -> str:
        return str(value)[:19]

    assert day(got[1]) == "2025-12-24 08:00:00"  # the order's first earning: when it was paid
    assert day(got[2]) == "2026-06-02 11:00:00"  # a later change of the order: when it was recorded
    assert day(got[3]) == "2026-06-01 10:00:00"
    assert day(tier) == "2026-06-01 10:00:05"
    if database.startswith("postgresql"):
        engine = create_engine(database)
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("UPDATE ledger_entries SET occurred_at = now()"))
        engine.dispose()
