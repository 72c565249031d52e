"""analytics: per-order facts (neighbours in the customer's sequence) and the shop's last full rebuild

Revision ID: 0006_analytics
Revises: 0004_admin
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_analytics"
down_revision = "0004_admin"
branch_labels = None
depends_on = None

_SHOP_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "analytics_orders",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("shop_id", _SHOP_ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_price", sa.Numeric(14, 2), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev2_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("member_before_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("member_after_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_analytics_orders_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_orders")),
    )
    op.create_index("ix_analytics_orders_shop_processed", "analytics_orders", ["shop_id", "processed_at"])
    op.create_index("ix_analytics_orders_shop_customer", "analytics_orders", ["shop_id", "customer_id"])
    op.create_table(
        "analytics_shops",
        sa.Column("shop_id", _SHOP_ID, autoincrement=False, nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_analytics_shops_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_analytics_shops")),
    )


def downgrade():
    op.drop_table("analytics_shops")
    op.drop_index("ix_analytics_orders_shop_customer", table_name="analytics_orders")
    op.drop_index("ix_analytics_orders_shop_processed", table_name="analytics_orders")
    op.drop_table("analytics_orders")
