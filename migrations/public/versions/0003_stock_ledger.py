"""stock ledger functions, shared by every tenant schema's stock tables

Revision ID: p0003
Revises: p0002
Create Date: 2026-11-25

``apply_stock_movement`` keeps ``stock_balances`` equal to the sum of ``stock_movements``
in the same statement: unqualified table names resolve through the transaction's pinned
search_path, so the one function serves every tenant schema. ``forbid_ledger_change``
makes the ledger append-only.
"""
from alembic import op

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION public.apply_stock_movement() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            lot_sku bigint;
            lot_expiry date;
        BEGIN
            SELECT sku_id, expires_on INTO lot_sku, lot_expiry FROM lots WHERE id = NEW.lot_id;
            IF lot_sku IS DISTINCT FROM NEW.sku_id THEN
                RAISE EXCEPTION 'stock movement % names SKU % but lot % is of SKU %', NEW.id, NEW.sku_id, NEW.lot_id, lot_sku
                    USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.from_state IS NOT NULL THEN
                UPDATE stock_balances SET quantity = quantity - NEW.quantity, last_moved_at = NEW.occurred_at
                 WHERE warehouse_id = NEW.warehouse_id AND lot_id = NEW.lot_id AND state = NEW.from_state;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'no % stock of lot % in warehouse %', NEW.from_state, NEW.lot_id, NEW.warehouse_id
                        USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_stock_balances_quantity';
                END IF;
            END IF;
            IF NEW.to_state IS NOT NULL THEN
                INSERT INTO stock_balances (warehouse_id, lot_id, state, sku_id, expires_on, quantity, last_moved_at)
                VALUES (NEW.warehouse_id, NEW.lot_id, NEW.to_state, lot_sku, lot_expiry, NEW.quantity, NEW.occurred_at)
                ON CONFLICT (warehouse_id, lot_id, state) DO UPDATE
                   SET quantity = stock_balances.quantity + EXCLUDED.quantity, last_moved_at = EXCLUDED.last_moved_at;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION public.forbid_ledger_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '%.% is an append-only ledger (% refused): record a correcting row instead',
                TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS public.apply_stock_movement()")
    op.execute("DROP FUNCTION IF EXISTS public.forbid_ledger_change()")
