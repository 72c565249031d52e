"""Join the engine, widget and analytics branches of the schema into one line.

Revision ID: 0007_merge
Revises: 0002_engine, 0005_widget, 0006_analytics
"""

revision = "0007_merge"
down_revision = ("0002_engine", "0005_widget", "0006_analytics")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
