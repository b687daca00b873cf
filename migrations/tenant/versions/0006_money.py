"""money: special prices, rebates, invoices and collections, reconciliation statements

Revision ID: t0006
Revises: t0005
Create Date: 2026-12-02 09:31:22.528041

One function per area, so that each area's tables are read (and changed) together.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 't0006'
down_revision = 't0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _special_prices()
    _rebates()
    _invoices_and_payments()
    _statements()
    _orders_and_hospitals()
    _two_invoice()


def _special_prices() -> None:
    """特价申请: requests and their lines (pricing)."""
    op.create_table('price_requests',
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('hospital_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='in_review', nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('tender_ref', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('total_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('max_discount_pct', sa.Numeric(precision=7, scale=2), server_default='0', nullable=False),
    sa.Column('requested_by_id', sa.BigInteger(), nullable=True),
    sa.Column('approval_request_id', sa.BigInteger(), nullable=True),
    sa.Column('evidence_ids', postgresql.ARRAY(sa.BigInteger()), server_default='{}', nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('in_review', 'returned', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_price_requests_status')),
    sa.CheckConstraint('valid_until >= valid_from', name=op.f('ck_price_requests_validity')),
    sa.ForeignKeyConstraint(['approval_request_id'], ['approval_requests.id'], name=op.f('fk_price_requests_approval_request_id_approval_requests')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_price_requests_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_price_requests_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_price_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_requests')),
    sa.UniqueConstraint('number', name=op.f('uq_price_requests_number'))
    )
    op.create_index('ix_price_requests_cover', 'price_requests', ['dealer_id', 'hospital_id', 'status', 'valid_until'], unique=False)
    op.create_index('ix_price_requests_dealer_id_desc', 'price_requests', ['dealer_id', 'id'], unique=False)
    op.create_index(op.f('ix_price_requests_hospital_id'), 'price_requests', ['hospital_id'], unique=False)
    op.create_table('price_request_lines',
    sa.Column('price_request_id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('quantity_cap', sa.Integer(), nullable=False),
    sa.Column('requested_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('reference_price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('band_floor', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint('quantity_cap > 0', name=op.f('ck_price_request_lines_quantity_cap')),
    sa.CheckConstraint('requested_price > 0', name=op.f('ck_price_request_lines_requested_price')),
    sa.ForeignKeyConstraint(['price_request_id'], ['price_requests.id'], name=op.f('fk_price_request_lines_price_request_id_price_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_price_request_lines_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_request_lines')),
    sa.UniqueConstraint('price_request_id', 'sku_id', name=op.f('uq_price_request_lines_price_request_id_sku_id'))
    )
    op.create_index(op.f('ix_price_request_lines_sku_id'), 'price_request_lines', ['sku_id'], unique=False)
    # what orders used of each special price is read from their lines (price source)
    op.create_index('ix_order_lines_price_request', 'order_lines', ['price_source_id'], unique=False,
                    postgresql_where=sa.text("price_source_type::text = 'price_request_lines'::text"))

def _rebates() -> None:
    """Rebate policies, periods, settlement runs, the append-only ledger, claims, price protection."""
    op.create_table('rebate_periods',
    sa.Column('key', sa.String(length=10), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='open', nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("period IN ('month', 'quarter', 'year')", name=op.f('ck_rebate_periods_period')),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_rebate_periods_status')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_rebate_periods_dates')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_rebate_periods_closed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rebate_periods')),
    sa.UniqueConstraint('key', name=op.f('uq_rebate_periods_key'))
    )
    op.create_table('rebate_policies',
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('version', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('supersedes_id', sa.BigInteger(), nullable=True),
    sa.Column('period', sa.String(length=10), server_default='quarter', nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('kind', sa.String(length=20), server_default='volume', nullable=False),
    sa.Column('basis', sa.String(length=20), server_default='purchase', nullable=False),
    sa.Column('method', sa.String(length=20), server_default='retroactive', nullable=False),
    sa.Column('tiers', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('dealer_tiers', postgresql.ARRAY(sa.String(length=10)), nullable=True),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('product_line_ids', postgresql.ARRAY(sa.BigInteger()), nullable=True),
    sa.Column('priority', sa.SmallInteger(), server_default='100', nullable=False),
    sa.Column('cap_rate', sa.Numeric(precision=7, scale=4), nullable=True),
    sa.Column('cap_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('usable_as', postgresql.ARRAY(sa.String(length=12)), server_default='{offset,free_goods}', nullable=False),
    sa.Column('expires_after_days', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("basis IN ('purchase', 'sell_out')", name=op.f('ck_rebate_policies_basis')),
    sa.CheckConstraint("kind IN ('volume', 'growth', 'collection', 'mix')", name=op.f('ck_rebate_policies_kind')),
    sa.CheckConstraint("method IN ('retroactive', 'incremental')", name=op.f('ck_rebate_policies_method')),
    sa.CheckConstraint("period IN ('month', 'quarter', 'year')", name=op.f('ck_rebate_policies_period')),
    sa.CheckConstraint("status IN ('draft', 'published', 'retired')", name=op.f('ck_rebate_policies_status')),
    sa.CheckConstraint('cap_amount IS NULL OR cap_amount > 0', name=op.f('ck_rebate_policies_cap_amount')),
    sa.CheckConstraint('cap_rate IS NULL OR (cap_rate > 0 AND cap_rate <= 1)', name=op.f('ck_rebate_policies_cap_rate')),
    sa.CheckConstraint('expires_after_days IS NULL OR expires_after_days > 0', name=op.f('ck_rebate_policies_expiry')),
    sa.CheckConstraint('valid_until IS NULL OR valid_until >= valid_from', name=op.f('ck_rebate_policies_validity')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_rebate_policies_published_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_rebate_policies_region_id_regions')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['rebate_policies.id'], name=op.f('fk_rebate_policies_supersedes_id_rebate_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rebate_policies')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_rebate_policies_code_version'))
    )
    # a code has at most one draft and one published version at a time
    op.create_index('uq_rebate_policies_draft', 'rebate_policies', ['code'], unique=True,
                    postgresql_where=sa.text("status::text = 'draft'::text"))
    op.create_index('uq_rebate_policies_published', 'rebate_policies', ['code'], unique=True,
                    postgresql_where=sa.text("status::text = 'published'::text"))
    op.create_table('rebate_settlement_runs',
    sa.Column('period_key', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='requested', nullable=False),
    sa.Column('job_id', sa.BigInteger(), nullable=True),
    sa.Column('requested_by_id', sa.BigInteger(), nullable=True),
    sa.Column('settled_entries', sa.Integer(), server_default='0', nullable=False),
    sa.Column('adjusted_entries', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=16, scale=2), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("status IN ('requested', 'running', 'done', 'failed')", name=op.f('ck_rebate_settlement_runs_status')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_rebate_settlement_runs_job_id_jobs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_rebate_settlement_runs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rebate_settlement_runs'))
    )
    op.create_index(op.f('ix_rebate_settlement_runs_period_key'), 'rebate_settlement_runs', ['period_key'], unique=False)
    op.create_table('rebate_ledger_entries',
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('policy_id', sa.BigInteger(), nullable=True),
    sa.Column('period_key', sa.String(length=10), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('base_amount', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('rate', sa.Numeric(precision=7, scale=4), nullable=True),
    sa.Column('tier_index', sa.SmallInteger(), nullable=True),
    sa.Column('explanation', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('ref_type', sa.String(length=40), nullable=True),
    sa.Column('ref_id', sa.BigInteger(), nullable=True),
    sa.Column('settlement_run_id', sa.BigInteger(), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("kind IN ('accrued', 'settled', 'adjusted', 'used', 'released', 'expired', 'claim', 'price_protection')", name=op.f('ck_rebate_ledger_entries_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rebate_ledger_entries_created_by_id_users')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_rebate_ledger_entries_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['policy_id'], ['rebate_policies.id'], name=op.f('fk_rebate_ledger_entries_policy_id_rebate_policies')),
    sa.ForeignKeyConstraint(['settlement_run_id'], ['rebate_settlement_runs.id'], name=op.f('fk_rebate_ledger_entries_settlement_run_id_rebate_settlement_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rebate_ledger_entries'))
    )
    op.create_index('ix_rebate_ledger_dealer', 'rebate_ledger_entries', ['dealer_id', 'id'], unique=False)
    op.create_index('ix_rebate_ledger_period', 'rebate_ledger_entries', ['period_key', 'policy_id', 'dealer_id'], unique=False)
    op.create_index('ix_rebate_ledger_ref', 'rebate_ledger_entries', ['ref_type', 'ref_id'], unique=False)
    # one first settlement per period × policy version × dealer; changes are 'adjusted' rows
    op.create_index('uq_rebate_ledger_settled', 'rebate_ledger_entries', ['period_key', 'policy_id', 'dealer_id'],
                    unique=True, postgresql_where=sa.text("kind::text = 'settled'::text"))
    op.create_table('rebate_claims',
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('program', sa.String(length=200), nullable=False),
    sa.Column('activity_on', sa.Date(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('approved_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='in_review', nullable=False),
    sa.Column('requested_by_id', sa.BigInteger(), nullable=True),
    sa.Column('approval_request_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('in_review', 'returned', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_rebate_claims_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_rebate_claims_amount')),
    sa.CheckConstraint('approved_amount IS NULL OR approved_amount >= 0', name=op.f('ck_rebate_claims_approved_amount')),
    sa.ForeignKeyConstraint(['approval_request_id'], ['approval_requests.id'], name=op.f('fk_rebate_claims_approval_request_id_approval_requests')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_rebate_claims_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_rebate_claims_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rebate_claims')),
    sa.UniqueConstraint('number', name=op.f('uq_rebate_claims_number'))
    )
    op.create_index('ix_rebate_claims_dealer_id_desc', 'rebate_claims', ['dealer_id', 'id'], unique=False)
    op.create_table('price_protections',
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('old_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('new_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='in_review', nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('requested_by_id', sa.BigInteger(), nullable=True),
    sa.Column('approval_request_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('in_review', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_price_protections_status')),
    sa.CheckConstraint('new_price >= 0 AND old_price > new_price', name=op.f('ck_price_protections_prices')),
    sa.ForeignKeyConstraint(['approval_request_id'], ['approval_requests.id'], name=op.f('fk_price_protections_approval_request_id_approval_requests')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_price_protections_requested_by_id_users')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_price_protections_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_protections')),
    sa.UniqueConstraint('number', name=op.f('uq_price_protections_number'))
    )
    op.create_index(op.f('ix_price_protections_sku_id'), 'price_protections', ['sku_id'], unique=False)
    op.create_table('price_protection_lines',
    sa.Column('price_protection_id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('lots', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint('quantity > 0 AND amount >= 0', name=op.f('ck_price_protection_lines_figures')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_price_protection_lines_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['price_protection_id'], ['price_protections.id'], name=op.f('fk_price_protection_lines_price_protection_id_price_protections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_protection_lines')),
    sa.UniqueConstraint('price_protection_id', 'dealer_id', name=op.f('uq_price_protection_lines_price_protection_id_dealer_id'))
    )
    # the ledger is append-only, like the stock ledger (public.forbid_ledger_change, p0003)
    op.execute("CREATE TRIGGER rebate_ledger_entries_append_only BEFORE UPDATE OR DELETE ON rebate_ledger_entries "
               "FOR EACH ROW EXECUTE FUNCTION public.forbid_ledger_change()")

def _invoices_and_payments() -> None:
    """Invoices and credit notes with their lines, payments, applications (核销), reminders."""
    op.create_table('invoices',
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('shipment_id', sa.BigInteger(), nullable=True),
    sa.Column('return_id', sa.BigInteger(), nullable=True),
    sa.Column('related_invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('net_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tax_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('settled_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('tax_invoice_no', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('issued_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'credit_note') = (reason IS NOT NULL)", name=op.f('ck_invoices_credit_reason')),
    sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name=op.f('ck_invoices_kind')),
    sa.CheckConstraint("reason IS NULL OR reason IN ('return', 'rebate_offset', 'price_adjustment', 'other')", name=op.f('ck_invoices_reason')),
    sa.CheckConstraint("status IN ('open', 'settled', 'void')", name=op.f('ck_invoices_status')),
    sa.CheckConstraint('amount >= 0 AND net_amount >= 0 AND tax_amount >= 0 AND net_amount + tax_amount = amount', name=op.f('ck_invoices_amounts')),
    sa.CheckConstraint('settled_amount >= 0 AND settled_amount <= amount', name=op.f('ck_invoices_settled')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_invoices_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_invoices_issued_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_invoices_order_id_orders')),
    sa.ForeignKeyConstraint(['related_invoice_id'], ['invoices.id'], name=op.f('fk_invoices_related_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['return_id'], ['returns.id'], name=op.f('fk_invoices_return_id_returns')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_invoices_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number'))
    )
    op.create_index('ix_invoices_dealer_issued', 'invoices', ['dealer_id', 'issued_on', 'id'], unique=False)
    op.create_index('ix_invoices_dealer_id_desc', 'invoices', ['dealer_id', 'id'], unique=False)
    op.create_index('ix_invoices_dealer_open', 'invoices', ['dealer_id', 'due_on'], unique=False, postgresql_where=sa.text("status::text = 'open'::text"))
    op.create_index('ix_invoices_issued_on', 'invoices', ['issued_on'], unique=False)
    op.create_index('ix_invoices_open_due', 'invoices', ['status', 'due_on'], unique=False, postgresql_where=sa.text("status::text = 'open'::text"))
    op.create_index(op.f('ix_invoices_order_id'), 'invoices', ['order_id'], unique=False)
    op.create_index(op.f('ix_invoices_related_invoice_id'), 'invoices', ['related_invoice_id'], unique=False)
    op.create_index(op.f('ix_invoices_return_id'), 'invoices', ['return_id'], unique=False)
    op.create_index('uq_invoices_shipment', 'invoices', ['shipment_id'], unique=True, postgresql_where=sa.text("kind::text = 'invoice'::text AND status::text <> 'void'::text"))
    op.create_table('invoice_lines',
    sa.Column('invoice_id', sa.BigInteger(), nullable=False),
    sa.Column('line_no', sa.SmallInteger(), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=True),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('tax_rate', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('net_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tax_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('order_line_id', sa.BigInteger(), nullable=True),
    sa.Column('shipment_line_id', sa.BigInteger(), nullable=True),
    sa.Column('return_line_id', sa.BigInteger(), nullable=True),
    sa.Column('lot_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint('amount >= 0 AND net_amount >= 0 AND tax_amount >= 0 AND net_amount + tax_amount = amount', name=op.f('ck_invoice_lines_amounts')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_invoice_lines_lot_id_lots')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_invoice_lines_order_line_id_order_lines')),
    sa.ForeignKeyConstraint(['return_line_id'], ['return_lines.id'], name=op.f('fk_invoice_lines_return_line_id_return_lines')),
    sa.ForeignKeyConstraint(['shipment_line_id'], ['shipment_lines.id'], name=op.f('fk_invoice_lines_shipment_line_id_shipment_lines')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_invoice_lines_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines')),
    sa.UniqueConstraint('invoice_id', 'line_no', name=op.f('uq_invoice_lines_invoice_id_line_no'))
    )
    op.create_index('ix_invoice_lines_order_line', 'invoice_lines', ['order_line_id'], unique=False)
    op.create_table('payments',
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('applied_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='unapplied', nullable=False),
    sa.Column('bank_ref', sa.String(length=60), nullable=True),
    sa.Column('reference', sa.String(length=300), nullable=True),
    sa.Column('payer_name', sa.String(length=200), nullable=True),
    sa.Column('payer_account', sa.String(length=40), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.Column('source', sa.String(length=10), server_default='manual', nullable=False),
    sa.Column('import_run_id', sa.BigInteger(), nullable=True),
    sa.Column('recorded_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("source IN ('manual', 'import')", name=op.f('ck_payments_source')),
    sa.CheckConstraint("status IN ('unapplied', 'partial', 'applied')", name=op.f('ck_payments_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount')),
    sa.CheckConstraint('applied_amount >= 0 AND applied_amount <= amount', name=op.f('ck_payments_applied')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_payments_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['import_run_id'], ['import_runs.id'], name=op.f('fk_payments_import_run_id_import_runs')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payments_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('number', name=op.f('uq_payments_number'))
    )
    op.create_index('ix_payments_dealer_received', 'payments', ['dealer_id', 'received_on', 'id'], unique=False)
    op.create_index('ix_payments_dealer_id_desc', 'payments', ['dealer_id', 'id'], unique=False)
    op.create_index('ix_payments_dealer_open', 'payments', ['dealer_id'], unique=False, postgresql_where=sa.text("status::text <> 'applied'::text"))
    op.create_index('ix_payments_received_on', 'payments', ['received_on'], unique=False)
    op.create_index('uq_payments_bank_ref', 'payments', ['bank_ref'], unique=True, postgresql_where=sa.text('bank_ref IS NOT NULL'))
    op.create_table('invoice_applications',
    sa.Column('invoice_id', sa.BigInteger(), nullable=False),
    sa.Column('payment_id', sa.BigInteger(), nullable=True),
    sa.Column('credit_note_id', sa.BigInteger(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('applied_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('applied_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reversal_of_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("method IN ('auto', 'manual')", name=op.f('ck_invoice_applications_method')),
    sa.CheckConstraint('(payment_id IS NULL) <> (credit_note_id IS NULL)', name=op.f('ck_invoice_applications_source')),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_invoice_applications_amount')),
    sa.CheckConstraint('(amount < 0) = (reversal_of_id IS NOT NULL)', name=op.f('ck_invoice_applications_reversal')),
    sa.ForeignKeyConstraint(['applied_by_id'], ['users.id'], name=op.f('fk_invoice_applications_applied_by_id_users')),
    sa.ForeignKeyConstraint(['credit_note_id'], ['invoices.id'], name=op.f('fk_invoice_applications_credit_note_id_invoices')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_applications_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_invoice_applications_payment_id_payments')),
    sa.ForeignKeyConstraint(['reversal_of_id'], ['invoice_applications.id'], name=op.f('fk_invoice_applications_reversal_of_id_invoice_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_applications')),
    sa.UniqueConstraint('reversal_of_id', name=op.f('uq_invoice_applications_reversal_of_id'))
    )
    op.create_index('ix_invoice_applications_credit_note', 'invoice_applications', ['credit_note_id'], unique=False)
    op.create_index(op.f('ix_invoice_applications_invoice_id'), 'invoice_applications', ['invoice_id'], unique=False)
    op.create_index('ix_invoice_applications_payment', 'invoice_applications', ['payment_id'], unique=False)
    op.create_table('payment_reminders',
    sa.Column('invoice_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('outbox_message_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_reminders_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], name=op.f('fk_payment_reminders_outbox_message_id_outbox_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_reminders')),
    sa.UniqueConstraint('invoice_id', 'kind', name=op.f('uq_payment_reminders_invoice_id_kind'))
    )

def _statements() -> None:
    """Reconciliation statements (对账单), their lines, disputes and close-of-month runs."""
    op.create_table('statement_runs',
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='running', nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('failed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('job_id', sa.BigInteger(), nullable=True),
    sa.Column('requested_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("status IN ('running', 'done', 'failed')", name=op.f('ck_statement_runs_status')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_statement_runs_job_id_jobs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_statement_runs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_runs'))
    )
    op.create_index(op.f('ix_statement_runs_period_start'), 'statement_runs', ['period_start'], unique=False)
    op.create_index('uq_statement_runs_running', 'statement_runs', ['period_start'], unique=True,
                    postgresql_where=sa.text("status::text = 'running'::text"))
    op.create_table('statements',
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('version', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='generating', nullable=False),
    sa.Column('opening_balance', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('invoiced', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('credited', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('paid', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('closing_balance', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('rebate_opening', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('rebate_earned', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('rebate_used', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('rebate_expired', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('rebate_closing', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('rebate_accrued', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('line_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('pdf_document_id', sa.BigInteger(), nullable=True),
    sa.Column('xlsx_document_id', sa.BigInteger(), nullable=True),
    sa.Column('job_id', sa.BigInteger(), nullable=True),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('supersedes_id', sa.BigInteger(), nullable=True),
    sa.Column('previous_statement_id', sa.BigInteger(), nullable=True),
    sa.Column('previous_closing', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('previous_rebate_closing', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_id', sa.BigInteger(), nullable=True),
    sa.Column('signature_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('generating', 'issued', 'confirmed', 'disputed', 'superseded', 'failed')", name=op.f('ck_statements_status')),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_statements_period')),
    sa.CheckConstraint('closing_balance = opening_balance + invoiced - credited - paid', name=op.f('ck_statements_closing')),
    sa.CheckConstraint('rebate_closing = rebate_opening + rebate_earned - rebate_used - rebate_expired', name=op.f('ck_statements_rebate_closing')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_statements_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_statements_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_statements_job_id_jobs')),
    sa.ForeignKeyConstraint(['pdf_document_id'], ['documents.id'], name=op.f('fk_statements_pdf_document_id_documents')),
    sa.ForeignKeyConstraint(['previous_statement_id'], ['statements.id'], name=op.f('fk_statements_previous_statement_id_statements')),
    sa.ForeignKeyConstraint(['run_id'], ['statement_runs.id'], name=op.f('fk_statements_run_id_statement_runs')),
    sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'], name=op.f('fk_statements_signature_id_signatures')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['statements.id'], name=op.f('fk_statements_supersedes_id_statements')),
    sa.ForeignKeyConstraint(['xlsx_document_id'], ['documents.id'], name=op.f('fk_statements_xlsx_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements')),
    sa.UniqueConstraint('dealer_id', 'period_start', 'version', name=op.f('uq_statements_dealer_id_period_start_version')),
    sa.UniqueConstraint('number', name=op.f('uq_statements_number'))
    )
    op.create_index('ix_statements_dealer_id_desc', 'statements', ['dealer_id', 'id'], unique=False)
    op.create_index('ix_statements_period', 'statements', ['period_start', 'dealer_id'], unique=False)
    op.create_index(op.f('ix_statements_run_id'), 'statements', ['run_id'], unique=False)
    op.create_table('statement_lines',
    sa.Column('statement_id', sa.BigInteger(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('section', sa.String(length=12), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('ref_type', sa.String(length=40), nullable=False),
    sa.Column('ref_id', sa.BigInteger(), nullable=False),
    sa.Column('ref_number', sa.String(length=40), nullable=True),
    sa.Column('description', sa.String(length=300), nullable=True),
    sa.Column('debit', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('credit', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('balance', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("section IN ('receivable', 'rebate', 'accrual')", name=op.f('ck_statement_lines_section')),
    sa.CheckConstraint('debit >= 0 AND credit >= 0', name=op.f('ck_statement_lines_amounts')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_lines_statement_id_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_lines')),
    sa.UniqueConstraint('statement_id', 'line_no', name=op.f('uq_statement_lines_statement_id_line_no'))
    )
    op.create_table('statement_disputes',
    sa.Column('statement_id', sa.BigInteger(), nullable=False),
    sa.Column('statement_line_ids', postgresql.ARRAY(sa.BigInteger()), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('raised_by_id', sa.BigInteger(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('signature_id', sa.BigInteger(), nullable=True),
    sa.Column('resolved_by_id', sa.BigInteger(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('corrected_statement_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("status IN ('open', 'corrected', 'answered')", name=op.f('ck_statement_disputes_status')),
    sa.ForeignKeyConstraint(['corrected_statement_id'], ['statements.id'], name=op.f('fk_statement_disputes_corrected_statement_id_statements')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_statement_disputes_raised_by_id_users')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_statement_disputes_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'], name=op.f('fk_statement_disputes_signature_id_signatures')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_disputes_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_disputes'))
    )
    op.create_index(op.f('ix_statement_disputes_statement_id'), 'statement_disputes', ['statement_id'], unique=False)
    op.create_index('ix_statement_disputes_status', 'statement_disputes', ['status', 'id'], unique=False)
    op.create_table('statement_run_items',
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('job_id', sa.BigInteger(), nullable=True),
    sa.Column('statement_id', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("outcome IN ('pending', 'issued', 'unchanged', 'kept', 'failed')", name=op.f('ck_statement_run_items_outcome')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_statement_run_items_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_statement_run_items_job_id_jobs')),
    sa.ForeignKeyConstraint(['run_id'], ['statement_runs.id'], name=op.f('fk_statement_run_items_run_id_statement_runs')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_run_items_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_run_items')),
    sa.UniqueConstraint('run_id', 'dealer_id', name=op.f('uq_statement_run_items_run_id_dealer_id'))
    )

def _orders_and_hospitals() -> None:
    """Rebate use on orders (票折, 货补) and the hospital's ownership (两票制)."""
    op.add_column('hospitals', sa.Column('ownership', sa.String(length=10), server_default='public', nullable=False))
    op.add_column('order_lines', sa.Column('free_goods', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('order_lines', sa.Column('free_goods_value', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('rebate_offset', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))


    op.create_check_constraint(op.f('ck_hospitals_ownership'), 'hospitals', "ownership IN ('public', 'private')")
    op.create_check_constraint(op.f('ck_order_lines_free_goods'), 'order_lines', 'NOT free_goods OR (unit_price = 0 AND amount = 0)')
    op.create_check_constraint(op.f('ck_orders_rebate_offset'), 'orders', 'rebate_offset >= 0 AND rebate_offset <= total_amount')


def _two_invoice() -> None:
    """两票制: a sell-out line names the hospital or the dealer it sold to (分销流向), so a
    chain manufacturer → dealer → dealer → hospital can be recorded and found."""
    op.add_column('sell_out_lines', sa.Column('buyer_dealer_id', sa.BigInteger(), nullable=True))
    op.alter_column('sell_out_lines', 'hospital_id', existing_type=sa.BigInteger(), nullable=True)
    op.create_foreign_key(op.f('fk_sell_out_lines_buyer_dealer_id_dealers'), 'sell_out_lines', 'dealers',
                          ['buyer_dealer_id'], ['id'])
    op.create_check_constraint(op.f('ck_sell_out_lines_buyer'), 'sell_out_lines',
                               '(hospital_id IS NULL) <> (buyer_dealer_id IS NULL)')
    op.create_check_constraint(op.f('ck_sell_out_lines_not_to_itself'), 'sell_out_lines',
                               'buyer_dealer_id IS NULL OR buyer_dealer_id <> dealer_id')
    op.create_index('ix_sell_out_lines_buyer_dealer', 'sell_out_lines', ['buyer_dealer_id', 'lot_id'], unique=False,
                    postgresql_where=sa.text('buyer_dealer_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_table('statement_run_items')
    op.drop_index('ix_statement_disputes_status', table_name='statement_disputes')
    op.drop_index('uq_statement_runs_running', table_name='statement_runs', postgresql_where=sa.text("status::text = 'running'::text"))
    op.drop_index('ix_sell_out_lines_buyer_dealer', table_name='sell_out_lines',
                  postgresql_where=sa.text('buyer_dealer_id IS NOT NULL'))
    op.drop_constraint(op.f('ck_sell_out_lines_not_to_itself'), 'sell_out_lines')
    op.drop_constraint(op.f('ck_sell_out_lines_buyer'), 'sell_out_lines')
    op.drop_constraint(op.f('fk_sell_out_lines_buyer_dealer_id_dealers'), 'sell_out_lines', type_='foreignkey')
    op.execute('DELETE FROM sell_out_lines WHERE hospital_id IS NULL')
    op.alter_column('sell_out_lines', 'hospital_id', existing_type=sa.BigInteger(), nullable=False)
    op.drop_column('sell_out_lines', 'buyer_dealer_id')
    op.drop_constraint(op.f('ck_orders_rebate_offset'), 'orders')
    op.drop_constraint(op.f('ck_order_lines_free_goods'), 'order_lines')
    op.drop_constraint(op.f('ck_hospitals_ownership'), 'hospitals')
    op.drop_column('orders', 'rebate_offset')
    op.drop_column('order_lines', 'free_goods_value')
    op.drop_column('order_lines', 'free_goods')
    op.drop_column('hospitals', 'ownership')
    op.drop_index('ix_invoice_lines_order_line', table_name='invoice_lines')
    op.drop_table('invoice_lines')
    op.drop_table('payment_reminders')
    op.drop_index('ix_invoice_applications_payment', table_name='invoice_applications')
    op.drop_index(op.f('ix_invoice_applications_invoice_id'), table_name='invoice_applications')
    op.drop_index('ix_invoice_applications_credit_note', table_name='invoice_applications')
    op.drop_table('invoice_applications')
    op.drop_index('uq_invoices_shipment', table_name='invoices', postgresql_where=sa.text("kind::text = 'invoice'::text AND status::text <> 'void'::text"))
    op.drop_index(op.f('ix_invoices_return_id'), table_name='invoices')
    op.drop_index(op.f('ix_invoices_related_invoice_id'), table_name='invoices')
    op.drop_index(op.f('ix_invoices_order_id'), table_name='invoices')
    op.drop_index('ix_invoices_open_due', table_name='invoices', postgresql_where=sa.text("status::text = 'open'::text"))
    op.drop_index('ix_invoices_dealer_issued', table_name='invoices')
    op.drop_table('invoices')
    op.drop_table('statement_lines')
    op.drop_index(op.f('ix_statement_disputes_statement_id'), table_name='statement_disputes')
    op.drop_table('statement_disputes')
    op.drop_index('uq_payments_bank_ref', table_name='payments', postgresql_where=sa.text('bank_ref IS NOT NULL'))
    op.drop_index('ix_payments_dealer_received', table_name='payments')
    op.drop_table('payments')
    op.drop_index(op.f('ix_statements_run_id'), table_name='statements')
    op.drop_index('ix_statements_period', table_name='statements')
    op.drop_index('ix_statements_dealer_id_desc', table_name='statements')
    op.drop_table('statements')
    op.drop_index('ix_rebate_ledger_ref', table_name='rebate_ledger_entries')
    op.drop_index('ix_rebate_ledger_period', table_name='rebate_ledger_entries')
    op.drop_index('ix_rebate_ledger_dealer', table_name='rebate_ledger_entries')
    op.drop_table('rebate_ledger_entries')
    op.drop_index('ix_order_lines_price_request', table_name='order_lines',
                  postgresql_where=sa.text("price_source_type::text = 'price_request_lines'::text"))
    op.drop_index(op.f('ix_price_request_lines_sku_id'), table_name='price_request_lines')
    op.drop_table('price_request_lines')
    op.drop_table('price_protection_lines')
    op.drop_index(op.f('ix_statement_runs_period_start'), table_name='statement_runs')
    op.drop_table('statement_runs')
    op.drop_index(op.f('ix_rebate_settlement_runs_period_key'), table_name='rebate_settlement_runs')
    op.drop_table('rebate_settlement_runs')
    op.drop_index('ix_rebate_claims_dealer_id_desc', table_name='rebate_claims')
    op.drop_table('rebate_claims')
    op.drop_index(op.f('ix_price_requests_hospital_id'), table_name='price_requests')
    op.drop_index('ix_price_requests_dealer_id_desc', table_name='price_requests')
    op.drop_index('ix_price_requests_cover', table_name='price_requests')
    op.drop_table('price_requests')
    op.drop_index(op.f('ix_price_protections_sku_id'), table_name='price_protections')
    op.drop_table('price_protections')
    op.drop_table('rebate_policies')
    op.drop_table('rebate_periods')
