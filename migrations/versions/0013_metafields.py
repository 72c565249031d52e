"""App-owned metafields: the write-back moves from the merchant-owned `regulars` namespace to `$app`.

Every member the write-back ever wrote (synced_at set) still has `regulars.points`, `regulars.tier` and
`regulars.referral_url` on their Shopify customer. They are marked `legacy_metafields` and flagged for
write-back, so the sync queue (within Shopify's rate limits, 200 members a run) writes their `$app` values
from the ledger and deletes the three old ones, once each.

Revision ID: 0013_metafields
Revises: 0011_automations
"""
from alembic import op
import sqlalchemy as sa

revision = "0013_metafields"
down_revision = "0011_automations"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("members", sa.Column("legacy_metafields", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        "UPDATE members SET legacy_metafields = true, sync_requested_at = COALESCE(sync_requested_at, CURRENT_TIMESTAMP)"
        " WHERE synced_at IS NOT NULL AND redacted_at IS NULL AND deleted_at IS NULL"
    )


def downgrade():
    op.drop_column("members", "legacy_metafields")
