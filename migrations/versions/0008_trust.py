"""orders.redacted_at: an order named by customers/redact stays without personal data whatever arrives later

Revision ID: 0008_trust
Revises: 0007_merge
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_trust"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("orders", sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("orders", "redacted_at")
