"""tenant registry

Revision ID: p0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "p0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("slug", sa.String(30), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("schema_name", sa.String(63), nullable=False, unique=True),
        sa.Column("role_name", sa.String(63), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("suspended_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="status"),
        schema="public",
    )
    op.create_table(
        "tenant_domains",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("public.tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False, unique=True),
        schema="public",
    )
    op.create_table(
        "schema_migration_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("schema_name", sa.String(63), nullable=False, index=True),
        sa.Column("from_revision", sa.String(64)),
        sa.Column("to_revision", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("schema_migration_runs", schema="public")
    op.drop_table("tenant_domains", schema="public")
    op.drop_table("tenants", schema="public")
