"""jobs and documents

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 't0002'
down_revision = 't0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='requested', nullable=False),
    sa.Column('progress', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('message', sa.String(length=300), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.SmallInteger(), server_default='3', nullable=False),
    sa.Column('requested_by_id', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('hospital_id', sa.BigInteger(), nullable=True),
    sa.Column('entity_type', sa.String(length=60), nullable=True),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('document_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("status IN ('requested', 'running', 'done', 'failed')", name=op.f('ck_jobs_status')),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name=op.f('ck_jobs_progress')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_jobs_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_jobs_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_jobs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('request_id', name=op.f('uq_jobs_request_id'))
    )
    op.create_index('ix_jobs_open', 'jobs', ['status', 'requested_at'], unique=False, postgresql_where=sa.text("status::text = ANY (ARRAY['requested'::text, 'running'::text])"))
    op.create_table('documents',
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=400), nullable=False),
    sa.Column('job_id', sa.BigInteger(), nullable=True),
    sa.Column('entity_type', sa.String(length=60), nullable=True),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('hospital_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("kind IN ('pdf', 'csv', 'xlsx', 'txt')", name=op.f('ck_documents_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_documents_created_by_id_users')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_documents_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_documents_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_documents_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('job_id', name=op.f('uq_documents_job_id')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_documents_storage_key'))
    )
    op.create_foreign_key(op.f('fk_jobs_document_id_documents'), 'jobs', 'documents', ['document_id'], ['id'])


def downgrade() -> None:
    op.drop_constraint(op.f('fk_jobs_document_id_documents'), 'jobs', type_='foreignkey')
    op.drop_table('documents')
    op.drop_index('ix_jobs_open', table_name='jobs', postgresql_where=sa.text("status::text = ANY (ARRAY['requested'::text, 'running'::text])"))
    op.drop_table('jobs')
