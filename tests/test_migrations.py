"""The Alembic revisions build exactly the schema the models declare (tests run the migrations, not create_all)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from app.extensions import db


def test_one_head(pg_app):
    with pg_app.app_context():
        config = pg_app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"migrations have several heads, merge them: {heads}"


def test_models_match_migrations(pg_url):
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, db.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_ledger_is_append_only_in_the_database(pg_url):
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO shops (domain, currency, money_format, settings, created_at, updated_at) "
                          "VALUES ('t.myshopify.com', 'USD', '', '{}', now(), now())"))
        conn.execute(text("INSERT INTO members (shop_id, customer_id, points_available, points_pending, lifetime_points,"
                          " lifetime_spent, orders_count, created_at, updated_at) SELECT id, 1, 0, 0, 0, 0, 0, now(), now() FROM shops"))
        conn.execute(text("INSERT INTO ledger_entries (shop_id, member_id, points, kind, source, status, idempotency_key,"
                          " forgiven_points, created_at) SELECT shop_id, id, 10, 'admin_adjustment', 'admin', 'available', 'k1', 0, now() FROM members"))
    for statement in ("UPDATE ledger_entries SET points = 1000", "DELETE FROM ledger_entries"):
        try:
            with engine.begin() as conn:
                conn.execute(text(statement))
        except Exception as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{statement} was allowed")
    # A duplicate idempotency key in the same shop is refused by the database too.
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO ledger_entries (shop_id, member_id, points, kind, source, status, idempotency_key,"
                              " forgiven_points, created_at) SELECT shop_id, id, 10, 'admin_adjustment', 'admin', 'available', 'k1', 0, now() FROM members"))
    except Exception as exc:
        assert "uq_ledger_entries_shop_id" in str(exc)
    else:
        raise AssertionError("duplicate idempotency key accepted")
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE shops, members, ledger_entries CASCADE"))
    engine.dispose()

