"""Soft delete for rewards and campaigns: `deleted_at` set by the admin's Delete; history keeps the rows.

A deleted row is never switched on (a CHECK says so), so `active` stays the one test of whether shoppers
and the engine see a reward or campaign at all.

Revision ID: 0014_admin_api
Revises: 0013_metafields
"""
from alembic import op
import sqlalchemy as sa

revision = "0014_admin_api"
down_revision = "0013_metafields"
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode: SQLite (development) cannot add a constraint in place; PostgreSQL gets plain ALTERs.
    for table in ("rewards", "campaigns"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
            batch.create_check_constraint(f"ck_{table}_deleted_is_off", "deleted_at IS NULL OR NOT active")


def downgrade():
    for table in ("rewards", "campaigns"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"ck_{table}_deleted_is_off", type_="check")
            batch.drop_column("deleted_at")
