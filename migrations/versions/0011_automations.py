"""automations: flows and their settings, enrollments and step runs (holdout included), webhook endpoints,
per-shop destinations, and the relay's deliveries of outbox events

Revision ID: 0011_automations
Revises: 0009_occurred_at
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0011_automations'
down_revision = '0009_occurred_at'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('automations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('holdout_percent', sa.Integer(), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_automations_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automations')),
    sa.UniqueConstraint('shop_id', 'key', name=op.f('uq_automations_shop_id_key'))
    )
    op.create_table('shop_integrations',
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('flow_enabled', sa.Boolean(), nullable=False),
    sa.Column('flow_triggers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('klaviyo_enabled', sa.Boolean(), nullable=False),
    sa.Column('klaviyo_private_key', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_integrations_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_shop_integrations'))
    )
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_webhook_endpoints_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_endpoints_shop', ['shop_id', 'id'], unique=False)

    op.create_table('automation_enrollments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow', sa.String(length=32), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('entry_key', sa.String(length=64), nullable=False),
    sa.Column('trigger_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.String(length=16), nullable=True),
    sa.Column('holdout', sa.Boolean(), nullable=False),
    sa.Column('variant', sa.String(length=1), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exit_reason', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_automation_enrollments_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_automation_enrollments_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_enrollments')),
    sa.UniqueConstraint('shop_id', 'flow', 'member_id', 'entry_key', name=op.f('uq_automation_enrollments_shop_id_flow_member_id_entry_key'))
    )
    with op.batch_alter_table('automation_enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_automation_enrollments_flow_active', ['shop_id', 'flow', 'position'], unique=False, postgresql_where=sa.text('exited_at IS NULL'), sqlite_where=sa.text('exited_at IS NULL'))
        batch_op.create_index('uq_automation_enrollments_active', ['shop_id', 'flow', 'member_id'], unique=True, postgresql_where=sa.text('exited_at IS NULL'), sqlite_where=sa.text('exited_at IS NULL'))

    op.create_table('automation_step_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enrollment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow', sa.String(length=32), nullable=False),
    sa.Column('step_key', sa.String(length=32), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('holdout', sa.Boolean(), nullable=False),
    sa.Column('variant', sa.String(length=1), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('incentive_points', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('error', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['enrollment_id'], ['automation_enrollments.id'], name=op.f('fk_automation_step_runs_enrollment_id_automation_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_automation_step_runs_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_automation_step_runs_redemption_id_redemptions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_automation_step_runs_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_step_runs')),
    sa.UniqueConstraint('enrollment_id', 'step_key', name=op.f('uq_automation_step_runs_enrollment_id_step_key'))
    )
    with op.batch_alter_table('automation_step_runs', schema=None) as batch_op:
        batch_op.create_index('ix_automation_step_runs_due', ['shop_id', 'status'], unique=False, postgresql_where=sa.text("status = 'due'"), sqlite_where=sa.text("status = 'due'"))
        batch_op.create_index('ix_automation_step_runs_results', ['shop_id', 'flow', 'step_key', 'due_at'], unique=False)

    op.create_table('event_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('destination', sa.String(length=48), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_event_deliveries_event_id_outbox_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_event_deliveries_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_deliveries')),
    sa.UniqueConstraint('event_id', 'destination', name=op.f('uq_event_deliveries_event_id_destination'))
    )
    with op.batch_alter_table('event_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_event_deliveries_due', ['next_attempt_at', 'id'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.create_index('ix_event_deliveries_log', ['shop_id', 'destination', 'id'], unique=False)
        batch_op.create_index('ix_event_deliveries_member', ['destination', 'member_id', 'id'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))



def downgrade():
    with op.batch_alter_table('event_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_event_deliveries_member', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_event_deliveries_log')
        batch_op.drop_index('ix_event_deliveries_due', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.drop_table('event_deliveries')
    with op.batch_alter_table('automation_step_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_step_runs_results')
        batch_op.drop_index('ix_automation_step_runs_due', postgresql_where=sa.text("status = 'due'"), sqlite_where=sa.text("status = 'due'"))

    op.drop_table('automation_step_runs')
    with op.batch_alter_table('automation_enrollments', schema=None) as batch_op:
        batch_op.drop_index('uq_automation_enrollments_active', postgresql_where=sa.text('exited_at IS NULL'), sqlite_where=sa.text('exited_at IS NULL'))
        batch_op.drop_index('ix_automation_enrollments_flow_active', postgresql_where=sa.text('exited_at IS NULL'), sqlite_where=sa.text('exited_at IS NULL'))

    op.drop_table('automation_enrollments')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_endpoints_shop')

    op.drop_table('webhook_endpoints')
    op.drop_table('shop_integrations')
    op.drop_table('automations')
