"""service: installed base, maintenance plans, service tickets, recalls

Revision ID: t0007
Revises: t0006
Create Date: 2026-12-02 13:10:05.023813

One function per area, so that each area's tables are read (and changed) together.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 't0007'
down_revision = 't0006'
branch_labels = None
depends_on = None


MOVEMENT_KINDS = ('receipt', 'qc_release', 'qc_reject', 'quarantine', 'release', 'allocation', 'deallocation', 'shipment',
                  'transfer_out', 'transfer_in', 'transfer_receipt', 'return', 'consumption', 'expiry', 'adjustment', 'scrap')


def upgrade() -> None:
    _stock_movement_kinds()
    _installed_base()
    _plans_and_visits()
    _tickets()
    _recalls()


def _kinds_check(kinds) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _stock_movement_kinds(down: bool = False) -> None:
    """Spare parts used in service leave stock as their own ledger kind (``service_use``)."""
    op.drop_constraint('ck_stock_movements_kind', 'stock_movements', type_='check')
    kinds = MOVEMENT_KINDS if down else MOVEMENT_KINDS + ('service_use',)
    op.create_check_constraint(op.f('ck_stock_movements_kind'), 'stock_movements', _kinds_check(kinds))


def _installed_base() -> None:
    """Installed units (装机) with warranty and service contract."""
    op.create_table('installed_units',
    sa.Column('hospital_id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('serial_no', sa.String(length=40), nullable=False),
    sa.Column('lot_id', sa.BigInteger(), nullable=True),
    sa.Column('shipment_line_id', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('department', sa.String(length=60), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('installed_on', sa.Date(), nullable=True),
    sa.Column('installation_report_id', sa.BigInteger(), nullable=True),
    sa.Column('warranty_start', sa.Date(), nullable=True),
    sa.Column('warranty_end', sa.Date(), nullable=True),
    sa.Column('warranty_coverage', sa.String(length=20), server_default='parts_and_labour', nullable=False),
    sa.Column('contract_no', sa.String(length=60), nullable=True),
    sa.Column('contract_start', sa.Date(), nullable=True),
    sa.Column('contract_end', sa.Date(), nullable=True),
    sa.Column('contract_coverage', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("contract_coverage IS NULL OR contract_coverage IN ('parts_and_labour', 'parts', 'labour')", name=op.f('ck_installed_units_contract_coverage')),
    sa.CheckConstraint("status IN ('active', 'retired')", name=op.f('ck_installed_units_status')),
    sa.CheckConstraint("warranty_coverage IN ('parts_and_labour', 'parts', 'labour')", name=op.f('ck_installed_units_warranty_coverage')),
    sa.CheckConstraint('contract_end IS NULL OR contract_start IS NULL OR contract_end >= contract_start', name=op.f('ck_installed_units_contract')),
    sa.CheckConstraint('warranty_end IS NULL OR warranty_start IS NULL OR warranty_end >= warranty_start', name=op.f('ck_installed_units_warranty')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_installed_units_created_by_id_users')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_installed_units_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_installed_units_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['installation_report_id'], ['documents.id'], name=op.f('fk_installed_units_installation_report_id_documents')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_installed_units_lot_id_lots')),
    sa.ForeignKeyConstraint(['shipment_line_id'], ['shipment_lines.id'], name=op.f('fk_installed_units_shipment_line_id_shipment_lines')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_installed_units_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installed_units')),
    sa.UniqueConstraint('sku_id', 'serial_no', name=op.f('uq_installed_units_sku_id_serial_no'))
    )
    op.create_index(op.f('ix_installed_units_dealer_id'), 'installed_units', ['dealer_id'], unique=False)
    op.create_index('ix_installed_units_hospital', 'installed_units', ['hospital_id', 'status'], unique=False)
    op.create_index(op.f('ix_installed_units_lot_id'), 'installed_units', ['lot_id'], unique=False)
    op.create_index(op.f('ix_installed_units_shipment_line_id'), 'installed_units', ['shipment_line_id'], unique=False)
    op.create_index(op.f('ix_installed_units_sku_id'), 'installed_units', ['sku_id'], unique=False)


def _plans_and_visits() -> None:
    """Preventive-maintenance plans (维保计划) and their visits."""
    op.create_table('service_plans',
    sa.Column('unit_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('interval_months', sa.SmallInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('checklist', postgresql.ARRAY(sa.String(length=200)), server_default='{}', nullable=False),
    sa.Column('engineer_id', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('active', 'paused', 'ended')", name=op.f('ck_service_plans_status')),
    sa.CheckConstraint('ends_on IS NULL OR ends_on >= starts_on', name=op.f('ck_service_plans_window')),
    sa.CheckConstraint('interval_months BETWEEN 1 AND 60', name=op.f('ck_service_plans_interval')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_service_plans_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['engineer_id'], ['users.id'], name=op.f('fk_service_plans_engineer_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['installed_units.id'], name=op.f('fk_service_plans_unit_id_installed_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_plans'))
    )
    op.create_index(op.f('ix_service_plans_dealer_id'), 'service_plans', ['dealer_id'], unique=False)
    op.create_index(op.f('ix_service_plans_unit_id'), 'service_plans', ['unit_id'], unique=False)
    op.create_table('service_visits',
    sa.Column('plan_id', sa.BigInteger(), nullable=True),
    sa.Column('unit_id', sa.BigInteger(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='scheduled', nullable=False),
    sa.Column('engineer_id', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('results', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('reported_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'done', 'cancelled')", name=op.f('ck_service_visits_status')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_service_visits_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['engineer_id'], ['users.id'], name=op.f('fk_service_visits_engineer_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['service_plans.id'], name=op.f('fk_service_visits_plan_id_service_plans')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_service_visits_reported_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['installed_units.id'], name=op.f('fk_service_visits_unit_id_installed_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_visits')),
    sa.UniqueConstraint('plan_id', 'due_on', name=op.f('uq_service_visits_plan_id_due_on'))
    )
    op.create_index(op.f('ix_service_visits_dealer_id'), 'service_visits', ['dealer_id'], unique=False)
    op.create_index('ix_service_visits_due', 'service_visits', ['status', 'due_on'], unique=False)
    op.create_index(op.f('ix_service_visits_plan_id'), 'service_visits', ['plan_id'], unique=False)
    op.create_index(op.f('ix_service_visits_unit_id'), 'service_visits', ['unit_id'], unique=False)


def _tickets() -> None:
    """SLA policies, service tickets (工单), their timeline and the spare parts used on tickets and visits."""
    op.create_table('sla_policies',
    sa.Column('urgency', sa.String(length=20), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('business_hours', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("urgency IN ('critical', 'high', 'normal', 'low')", name=op.f('ck_sla_policies_urgency')),
    sa.CheckConstraint('response_minutes > 0 AND resolution_minutes >= response_minutes', name=op.f('ck_sla_policies_targets')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_sla_policies_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('urgency', 'region_id', name=op.f('uq_sla_policies_urgency_region_id'), postgresql_nulls_not_distinct=True)
    )
    op.create_table('service_tickets',
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('hospital_id', sa.BigInteger(), nullable=False),
    sa.Column('unit_id', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('raised_via', sa.String(length=20), nullable=False),
    sa.Column('raised_by_id', sa.BigInteger(), nullable=True),
    sa.Column('urgency', sa.String(length=20), server_default='normal', nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('photo_ids', postgresql.ARRAY(sa.BigInteger()), server_default='{}', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('assigned_to_id', sa.BigInteger(), nullable=True),
    sa.Column('warranty_standing', sa.String(length=20), server_default='unknown', nullable=False),
    sa.Column('chargeable', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('response_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('labour_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("raised_via IN ('hospital', 'dealer', 'manufacturer')", name=op.f('ck_service_tickets_raised_via')),
    sa.CheckConstraint("status IN ('open', 'assigned', 'in_progress', 'resolved', 'confirmed', 'cancelled')", name=op.f('ck_service_tickets_status')),
    sa.CheckConstraint("urgency IN ('critical', 'high', 'normal', 'low')", name=op.f('ck_service_tickets_urgency')),
    sa.CheckConstraint("warranty_standing IN ('warranty', 'contract', 'out_of_warranty', 'unknown')", name=op.f('ck_service_tickets_warranty_standing')),
    sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name=op.f('ck_service_tickets_rating')),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['users.id'], name=op.f('fk_service_tickets_assigned_to_id_users')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_service_tickets_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_service_tickets_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_service_tickets_raised_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_service_tickets_region_id_regions')),
    sa.ForeignKeyConstraint(['unit_id'], ['installed_units.id'], name=op.f('fk_service_tickets_unit_id_installed_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_tickets')),
    sa.UniqueConstraint('number', name=op.f('uq_service_tickets_number'))
    )
    op.create_index(op.f('ix_service_tickets_dealer_id'), 'service_tickets', ['dealer_id'], unique=False)
    op.create_index('ix_service_tickets_hospital', 'service_tickets', ['hospital_id', 'id'], unique=False)
    op.create_index('ix_service_tickets_queue', 'service_tickets', ['status', 'resolution_due_at'], unique=False)
    op.create_index('ix_service_tickets_raised', 'service_tickets', ['created_at'], unique=False)
    op.create_index(op.f('ix_service_tickets_region_id'), 'service_tickets', ['region_id'], unique=False)
    op.create_index(op.f('ix_service_tickets_unit_id'), 'service_tickets', ['unit_id'], unique=False)
    op.create_table('ticket_events',
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ticket_events_actor_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['service_tickets.id'], name=op.f('fk_ticket_events_ticket_id_service_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    op.create_index(op.f('ix_ticket_events_ticket_id'), 'ticket_events', ['ticket_id'], unique=False)
    op.create_table('service_parts',
    sa.Column('ticket_id', sa.BigInteger(), nullable=True),
    sa.Column('visit_id', sa.BigInteger(), nullable=True),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('lot_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('movement_id', sa.BigInteger(), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('charged', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('used_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint('(ticket_id IS NULL) <> (visit_id IS NULL)', name=op.f('ck_service_parts_one_owner')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_service_parts_quantity')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_service_parts_lot_id_lots')),
    sa.ForeignKeyConstraint(['movement_id'], ['stock_movements.id'], name=op.f('fk_service_parts_movement_id_stock_movements')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_service_parts_sku_id_skus')),
    sa.ForeignKeyConstraint(['ticket_id'], ['service_tickets.id'], name=op.f('fk_service_parts_ticket_id_service_tickets')),
    sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], name=op.f('fk_service_parts_used_by_id_users')),
    sa.ForeignKeyConstraint(['visit_id'], ['service_visits.id'], name=op.f('fk_service_parts_visit_id_service_visits')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_service_parts_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_parts'))
    )
    op.create_index(op.f('ix_service_parts_ticket_id'), 'service_parts', ['ticket_id'], unique=False)
    op.create_index(op.f('ix_service_parts_visit_id'), 'service_parts', ['visit_id'], unique=False)


def _recalls() -> None:
    """Recall campaigns (召回): scope, the frozen trace of holdings, notices to dealers and hospitals."""
    op.create_table('recall_campaigns',
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('classification', sa.SmallInteger(), nullable=False),
    sa.Column('actions_required', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report_document_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'active', 'closed')", name=op.f('ck_recall_campaigns_status')),
    sa.CheckConstraint('classification IN (1, 2, 3)', name=op.f('ck_recall_campaigns_classification')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_recall_campaigns_created_by_id_users')),
    sa.ForeignKeyConstraint(['report_document_id'], ['documents.id'], name=op.f('fk_recall_campaigns_report_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_campaigns')),
    sa.UniqueConstraint('number', name=op.f('uq_recall_campaigns_number'))
    )
    op.create_table('recall_scopes',
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('lot_from', sa.String(length=20), nullable=True),
    sa.Column('lot_to', sa.String(length=20), nullable=True),
    sa.Column('serial_no', sa.String(length=40), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint('(lot_from IS NULL) = (lot_to IS NULL)', name=op.f('ck_recall_scopes_range')),
    sa.CheckConstraint('serial_no IS NULL OR (lot_from IS NULL AND lot_to IS NULL)', name=op.f('ck_recall_scopes_one_kind')),
    sa.ForeignKeyConstraint(['campaign_id'], ['recall_campaigns.id'], name=op.f('fk_recall_scopes_campaign_id_recall_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_recall_scopes_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_scopes'))
    )
    op.create_index(op.f('ix_recall_scopes_campaign_id'), 'recall_scopes', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_recall_scopes_sku_id'), 'recall_scopes', ['sku_id'], unique=False)
    op.create_table('recall_holdings',
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('lot_id', sa.BigInteger(), nullable=False),
    sa.Column('holder_kind', sa.String(length=20), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('hospital_id', sa.BigInteger(), nullable=True),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.CheckConstraint("holder_kind IN ('warehouse', 'dealer', 'hospital')", name=op.f('ck_recall_holdings_holder_kind')),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_recall_holdings_quantity')),
    sa.ForeignKeyConstraint(['campaign_id'], ['recall_campaigns.id'], name=op.f('fk_recall_holdings_campaign_id_recall_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_recall_holdings_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_recall_holdings_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_recall_holdings_lot_id_lots')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_recall_holdings_region_id_regions')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_recall_holdings_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_holdings'))
    )
    op.create_index('ix_recall_holdings_campaign', 'recall_holdings', ['campaign_id', 'holder_kind'], unique=False)
    op.create_table('recall_notices',
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('hospital_id', sa.BigInteger(), nullable=True),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('expected', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='sent', nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.BigInteger(), nullable=True),
    sa.Column('on_hand', sa.Integer(), server_default='0', nullable=False),
    sa.Column('returned', sa.Integer(), server_default='0', nullable=False),
    sa.Column('used', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('sent', 'acknowledged', 'reported')", name=op.f('ck_recall_notices_status')),
    sa.CheckConstraint('(dealer_id IS NULL) <> (hospital_id IS NULL)', name=op.f('ck_recall_notices_one_party')),
    sa.CheckConstraint('on_hand >= 0 AND returned >= 0 AND used >= 0', name=op.f('ck_recall_notices_quantities')),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_recall_notices_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['campaign_id'], ['recall_campaigns.id'], name=op.f('fk_recall_notices_campaign_id_recall_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_recall_notices_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_recall_notices_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_recall_notices_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_notices')),
    sa.UniqueConstraint('campaign_id', 'dealer_id', 'hospital_id', name=op.f('uq_recall_notices_campaign_id_dealer_id_hospital_id'), postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_recall_notices_campaign_id'), 'recall_notices', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_recall_notices_dealer_id'), 'recall_notices', ['dealer_id'], unique=False)
    op.create_index(op.f('ix_recall_notices_hospital_id'), 'recall_notices', ['hospital_id'], unique=False)


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f('ix_service_parts_visit_id'), table_name='service_parts')
    op.drop_index(op.f('ix_service_parts_ticket_id'), table_name='service_parts')
    op.drop_table('service_parts')
    op.drop_index(op.f('ix_ticket_events_ticket_id'), table_name='ticket_events')
    op.drop_table('ticket_events')
    op.drop_index(op.f('ix_service_visits_unit_id'), table_name='service_visits')
    op.drop_index(op.f('ix_service_visits_plan_id'), table_name='service_visits')
    op.drop_index('ix_service_visits_due', table_name='service_visits')
    op.drop_index(op.f('ix_service_visits_dealer_id'), table_name='service_visits')
    op.drop_table('service_visits')
    op.drop_index(op.f('ix_service_tickets_unit_id'), table_name='service_tickets')
    op.drop_index(op.f('ix_service_tickets_region_id'), table_name='service_tickets')
    op.drop_index('ix_service_tickets_raised', table_name='service_tickets')
    op.drop_index('ix_service_tickets_queue', table_name='service_tickets')
    op.drop_index('ix_service_tickets_hospital', table_name='service_tickets')
    op.drop_index(op.f('ix_service_tickets_dealer_id'), table_name='service_tickets')
    op.drop_table('service_tickets')
    op.drop_index(op.f('ix_service_plans_unit_id'), table_name='service_plans')
    op.drop_index(op.f('ix_service_plans_dealer_id'), table_name='service_plans')
    op.drop_table('service_plans')
    op.drop_index(op.f('ix_installed_units_sku_id'), table_name='installed_units')
    op.drop_index(op.f('ix_installed_units_shipment_line_id'), table_name='installed_units')
    op.drop_index(op.f('ix_installed_units_lot_id'), table_name='installed_units')
    op.drop_index('ix_installed_units_hospital', table_name='installed_units')
    op.drop_index(op.f('ix_installed_units_dealer_id'), table_name='installed_units')
    op.drop_table('installed_units')
    op.drop_index(op.f('ix_recall_scopes_sku_id'), table_name='recall_scopes')
    op.drop_index(op.f('ix_recall_scopes_campaign_id'), table_name='recall_scopes')
    op.drop_table('recall_scopes')
    op.drop_index(op.f('ix_recall_notices_hospital_id'), table_name='recall_notices')
    op.drop_index(op.f('ix_recall_notices_dealer_id'), table_name='recall_notices')
    op.drop_index(op.f('ix_recall_notices_campaign_id'), table_name='recall_notices')
    op.drop_table('recall_notices')
    op.drop_index('ix_recall_holdings_campaign', table_name='recall_holdings')
    op.drop_table('recall_holdings')
    op.drop_table('recall_campaigns')
    op.drop_table('sla_policies')
    # ### end Alembic commands ###
    _stock_movement_kinds(down=True)
