"""loyalty engine: when an order's pending points are released, the member/kind index for reminders,
and the pending deliveries in id order for the drain's claim

Revision ID: 0002_engine
Revises: 0001_initial
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_engine"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("points_release_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_orders_pending_release", "orders", ["points_release_at"], unique=False,
        postgresql_where=sa.text("points_pending > 0"),
    )
    op.create_index("ix_outbox_events_member_kind", "outbox_events", ["member_id", "kind"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_pending_id", "webhook_deliveries", ["id"], unique=False,
        postgresql_where=sa.text("status IN ('received', 'retry')"),
        sqlite_where=sa.text("status IN ('received', 'retry')"),
    )


def downgrade():
    op.drop_index("ix_webhook_deliveries_pending_id", table_name="webhook_deliveries")
    op.drop_index("ix_outbox_events_member_kind", table_name="outbox_events")
    op.drop_index("ix_orders_pending_release", table_name="orders")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("points_release_at")
