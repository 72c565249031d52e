"""Texts in the merchant's words: per-language overrides of shopper-facing texts on the shop, and per-language
names of rewards and tiers ({locale: text}). Empty objects by default: the catalogues' texts and the names as typed.

Revision ID: 0015_i18n
Revises: 0014_admin_api
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0015_i18n"
down_revision = "0014_admin_api"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.add_column("shops", sa.Column("text_overrides", _JSON, server_default=sa.text("'{}'"), nullable=False))
    op.add_column("rewards", sa.Column("names", _JSON, server_default=sa.text("'{}'"), nullable=False))
    op.add_column("tiers", sa.Column("names", _JSON, server_default=sa.text("'{}'"), nullable=False))


def downgrade():
    op.drop_column("tiers", "names")
    op.drop_column("rewards", "names")
    op.drop_column("shops", "text_overrides")
