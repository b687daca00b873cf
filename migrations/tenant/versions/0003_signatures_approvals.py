"""signatures, approvals, totp

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 't0003'
down_revision = 't0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('approval_chains',
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_chains')),
    sa.UniqueConstraint('kind', name=op.f('uq_approval_chains_kind'))
    )
    op.create_table('approval_steps',
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('same_region', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('condition_field', sa.String(length=60), nullable=True),
    sa.Column('condition_op', sa.String(length=5), nullable=True),
    sa.Column('condition_value', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('sla_hours', sa.SmallInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("condition_op IS NULL OR condition_op IN ('gt', 'gte', 'lt', 'lte', 'eq')", name=op.f('ck_approval_steps_op')),
    sa.CheckConstraint('sla_hours IS NULL OR sla_hours > 0', name=op.f('ck_approval_steps_sla')),
    sa.ForeignKeyConstraint(['chain_id'], ['approval_chains.id'], name=op.f('fk_approval_steps_chain_id_approval_chains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_steps'))
    )
    op.create_table('approval_requests',
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('entity_type', sa.String(length=60), nullable=True),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('requester_id', sa.BigInteger(), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('facts', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('route', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('current_index', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='in_review', nullable=False),
    sa.Column('version', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('step_started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("status IN ('in_review', 'approved', 'rejected', 'returned', 'withdrawn')", name=op.f('ck_approval_requests_status')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_approval_requests_region_id_regions')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_approval_requests_requester_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_requests'))
    )
    op.create_index('ix_approval_requests_open', 'approval_requests', ['status', 'kind'], unique=False)
    op.create_table('delegations',
    sa.Column('from_user_id', sa.BigInteger(), nullable=False),
    sa.Column('to_user_id', sa.BigInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_delegations_window')),
    sa.CheckConstraint('from_user_id <> to_user_id', name=op.f('ck_delegations_not_self')),
    sa.ForeignKeyConstraint(['from_user_id'], ['users.id'], name=op.f('fk_delegations_from_user_id_users')),
    sa.ForeignKeyConstraint(['to_user_id'], ['users.id'], name=op.f('fk_delegations_to_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegations'))
    )
    op.create_index(op.f('ix_delegations_from_user_id'), 'delegations', ['from_user_id'], unique=False)
    op.create_index(op.f('ix_delegations_to_user_id'), 'delegations', ['to_user_id'], unique=False)
    op.create_table('signatures',
    sa.Column('signer_id', sa.BigInteger(), nullable=False),
    sa.Column('signer_name', sa.String(length=100), nullable=False),
    sa.Column('signer_email', sa.String(length=254), nullable=False),
    sa.Column('on_behalf_of_id', sa.BigInteger(), nullable=True),
    sa.Column('meaning', sa.String(length=20), nullable=False),
    sa.Column('entity_type', sa.String(length=60), nullable=False),
    sa.Column('entity_id', sa.String(length=60), nullable=False),
    sa.Column('record_version', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.Column('second_factor', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("meaning IN ('approved', 'rejected', 'returned', 'reviewed', 'confirmed', 'disputed')", name=op.f('ck_signatures_meaning')),
    sa.ForeignKeyConstraint(['on_behalf_of_id'], ['users.id'], name=op.f('fk_signatures_on_behalf_of_id_users')),
    sa.ForeignKeyConstraint(['signer_id'], ['users.id'], name=op.f('fk_signatures_signer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signatures'))
    )
    op.create_index('ix_signatures_entity', 'signatures', ['entity_type', 'entity_id'], unique=False)
    op.create_table('approval_decisions',
    sa.Column('request_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.SmallInteger(), nullable=False),
    sa.Column('step_index', sa.SmallInteger(), nullable=False),
    sa.Column('step_name', sa.String(length=100), nullable=False),
    sa.Column('approver_id', sa.BigInteger(), nullable=False),
    sa.Column('on_behalf_of_id', sa.BigInteger(), nullable=True),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('signature_id', sa.BigInteger(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("decision IN ('approve', 'reject', 'return')", name=op.f('ck_approval_decisions_decision')),
    sa.ForeignKeyConstraint(['approver_id'], ['users.id'], name=op.f('fk_approval_decisions_approver_id_users')),
    sa.ForeignKeyConstraint(['on_behalf_of_id'], ['users.id'], name=op.f('fk_approval_decisions_on_behalf_of_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['approval_requests.id'], name=op.f('fk_approval_decisions_request_id_approval_requests')),
    sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'], name=op.f('fk_approval_decisions_signature_id_signatures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_decisions'))
    )
    op.create_index(op.f('ix_approval_decisions_request_id'), 'approval_decisions', ['request_id'], unique=False)
    op.add_column('users', sa.Column('totp_secret', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('users', 'totp_secret')
    op.drop_index(op.f('ix_approval_decisions_request_id'), table_name='approval_decisions')
    op.drop_table('approval_decisions')
    op.drop_index('ix_signatures_entity', table_name='signatures')
    op.drop_table('signatures')
    op.drop_index(op.f('ix_delegations_to_user_id'), table_name='delegations')
    op.drop_index(op.f('ix_delegations_from_user_id'), table_name='delegations')
    op.drop_table('delegations')
    op.drop_index('ix_approval_requests_open', table_name='approval_requests')
    op.drop_table('approval_requests')
    op.drop_table('approval_steps')
    op.drop_table('approval_chains')
