"""Two times on every ledger entry (and tier change): occurred_at, when it happened, beside created_at, when
it was recorded. Existing rows get the best time known: an order's first earning its payment time
(orders.paid_at, never later than when it was recorded), everything else the time it was recorded. Period
indexes move from created_at to occurred_at, which windows and analytics now read.

Revision ID: 0009_occurred_at
Revises: 0008_trust
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_occurred_at"
down_revision = "0008_trust"
branch_labels = None
depends_on = None


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    op.add_column("ledger_entries", sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tier_changes", sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    if pg:
        # The ledger is append-only (0001's trigger); filling a new column is the one sanctioned update, made
        # under the same transaction-local flag shop/redact uses.
        op.execute("SELECT set_config('regulars.allow_ledger_delete', 'on', true)")
        least = "LEAST(o.paid_at, e.created_at)"
    else:
        least = "MIN(o.paid_at, e.created_at)"
    op.execute(
        "UPDATE ledger_entries SET occurred_at = COALESCE(("
        f" SELECT {least} FROM orders o, ledger_entries e"
        "  WHERE e.id = ledger_entries.id AND o.id = e.order_ref_id AND o.paid_at IS NOT NULL"
        "    AND e.kind IN ('earn_order', 'campaign_bonus') AND e.idempotency_key NOT LIKE '%\\:withdrawn'"
        " ), created_at)"
    )
    op.execute("UPDATE tier_changes SET occurred_at = created_at")
    if pg:
        op.execute("SELECT set_config('regulars.allow_ledger_delete', 'off', true)")
        op.execute("ALTER TABLE ledger_entries ALTER COLUMN occurred_at SET DEFAULT CURRENT_TIMESTAMP")
        op.execute("ALTER TABLE ledger_entries ALTER COLUMN occurred_at SET NOT NULL")
        op.execute("ALTER TABLE tier_changes ALTER COLUMN occurred_at SET DEFAULT CURRENT_TIMESTAMP")
        op.execute("ALTER TABLE tier_changes ALTER COLUMN occurred_at SET NOT NULL")
        op.execute("DROP INDEX IF EXISTS ix_ledger_entries_shop_created_kind")
        op.execute("CREATE INDEX ix_ledger_entries_shop_occurred_kind ON ledger_entries (shop_id, occurred_at) "
                   "INCLUDE (kind, points)")
    else:
        for table in ("ledger_entries", "tier_changes"):
            with op.batch_alter_table(table) as batch_op:
                batch_op.alter_column("occurred_at", existing_type=sa.DateTime(timezone=True), nullable=False,
                                      server_default=sa.text("CURRENT_TIMESTAMP"))
        op.create_index("ix_ledger_entries_shop_occurred_kind", "ledger_entries", ["shop_id", "occurred_at"])
    op.drop_index("ix_ledger_entries_shop_created", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_member_occurred", "ledger_entries", ["member_id", "occurred_at"])


def downgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_ledger_entries_member_occurred", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_shop_created", "ledger_entries", ["shop_id", "created_at"])
    if pg:
        op.execute("DROP INDEX IF EXISTS ix_ledger_entries_shop_occurred_kind")
        op.execute("CREATE INDEX ix_ledger_entries_shop_created_kind ON ledger_entries (shop_id, created_at) "
                   "INCLUDE (kind, points)")
    else:
        op.drop_index("ix_ledger_entries_shop_occurred_kind", table_name="ledger_entries")
    with op.batch_alter_table("tier_changes") as batch_op:
        batch_op.drop_column("occurred_at")
    with op.batch_alter_table("ledger_entries") as batch_op:
        batch_op.drop_column("occurred_at")
