"""Warehouses, lots and serials, the stock ledger, transfers between warehouses,
consignment counts and dealers' sell-out reports (流向).

The ledger (``stock_movements``) is the truth: append-only, one row per change of state
of some units of one lot in one warehouse. ``stock_balances`` is derived from it by the
trigger ``public.apply_stock_movement`` in the same statement, so on-hand figures can be
read and row-locked cheaply; ``flask stock check`` proves the two still agree.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db

WAREHOUSE_KINDS = ("central", "regional", "consignment")
#: 在检, 可用, 已分配, 隔离/不合格, 在途, 过期
STOCK_STATES = ("inspection", "available", "allocated", "quarantined", "in_transit", "expired")
MOVEMENT_KINDS = (
    "receipt",        # goods received into inspection (from production or a supplier)
    "qc_release",     # inspection → available
    "qc_reject",      # inspection → quarantined
    "quarantine",     # available → quarantined (e.g. a recall)
    "release",        # quarantined → available
    "allocation",     # available → allocated (an order line)
    "deallocation",   # allocated → available
    "shipment",       # allocated → out of the warehouse (to a dealer or hospital)
    "transfer_out",   # available/allocated → out of the sending warehouse
    "transfer_in",    # → in transit at the receiving warehouse
    "transfer_receipt",  # in transit → inspection at the receiving warehouse
    "return",         # returned goods → inspection
    "consumption",    # consignment stock used in surgery → out
    "expiry",         # available → expired
    "adjustment",     # a count correction, with reason (either direction)
    "scrap",          # quarantined/expired → out
    "service_use",    # spare parts used on a service ticket or maintenance visit → out
)


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Warehouse(IdMixin, TimestampMixin, db.Model):
    """A place stock is held: the manufacturer's central or regional warehouse, or a
    consignment location (寄售点) at a hospital or with a dealer. Consignment stock stays
    the manufacturer's until it is used."""

    __tablename__ = "warehouses"
    __table_args__ = (
        CheckConstraint(_in("kind", WAREHOUSE_KINDS), name="kind"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("kind = 'consignment' OR (hospital_id IS NULL AND dealer_id IS NULL)", name="holder"),
        CheckConstraint("kind <> 'consignment' OR hospital_id IS NOT NULL OR dealer_id IS NOT NULL", name="consignee"),
    )

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, server_default="regional")
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    #: a consignment location at this hospital …
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"), index=True)
    #: … or held by this dealer (for surgeries it supports)
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")

    region = relationship("Region", lazy="joined")
    hospital = relationship("Hospital")
    dealer = relationship("Dealer")


class DealerWarehouse(IdMixin, db.Model):
    """The warehouses that serve a dealer's orders (FEFO allocation looks across all of
    them); a dealer with none is served from the central warehouses."""

    __tablename__ = "dealer_warehouses"
    __table_args__ = (UniqueConstraint("dealer_id", "warehouse_id"),)

    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id", ondelete="CASCADE"), nullable=False)
    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False, index=True)


class Lot(IdMixin, TimestampMixin, db.Model):
    """One lot (批号) of a SKU, or one serial-numbered unit (序列号) of a serial-tracked
    SKU, with the UDI production identifiers: (10) lot, (21) serial, (11) manufacture
    date, (17) expiry date."""

    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("sku_id", "lot_no", "serial_no", postgresql_nulls_not_distinct=True),
        CheckConstraint("lot_no IS NOT NULL OR serial_no IS NOT NULL", name="identified"),
        CheckConstraint("manufactured_on IS NULL OR expires_on IS NULL OR expires_on > manufactured_on", name="dates"),
        Index("ix_lots_lot_no", "lot_no"),
        Index("ix_lots_serial_no", "serial_no"),
    )

    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    lot_no: Mapped[str | None] = mapped_column(String(20))
    serial_no: Mapped[str | None] = mapped_column(String(20))
    manufactured_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)

    sku = relationship("Sku", lazy="joined")


class StockMovement(IdMixin, db.Model):
    """One line of the stock ledger: ``quantity`` units of a lot in a warehouse leave
    ``from_state`` (nothing: they arrive) for ``to_state`` (nothing: they leave).
    Append-only: corrections are new movements."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(_in("kind", MOVEMENT_KINDS), name="kind"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("from_state IS NOT NULL OR to_state IS NOT NULL", name="some_state"),
        CheckConstraint("from_state IS DISTINCT FROM to_state", name="changes_state"),
        CheckConstraint("from_state IS NULL OR " + _in("from_state", STOCK_STATES), name="from_state"),
        CheckConstraint("to_state IS NULL OR " + _in("to_state", STOCK_STATES), name="to_state"),
        Index("ix_stock_movements_warehouse_at", "warehouse_id", "occurred_at"),
        Index("ix_stock_movements_lot", "lot_id"),
        Index("ix_stock_movements_ref", "ref_type", "ref_id"),
    )

    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    #: the document that caused it: ('order_lines', 17), ('transfers', 3), ('shipments', 9) …
    ref_type: Mapped[str | None] = mapped_column(String(40))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    warehouse = relationship("Warehouse")
    lot = relationship("Lot")


class StockBalance(db.Model):
    """On hand per warehouse × lot × state, maintained from the ledger by a trigger (see
    the module docstring): not audited itself because every change to it *is* an audited
    ledger row. ``sku_id`` and ``expires_on`` are copied from the lot for FEFO queries."""

    __tablename__ = "stock_balances"
    __audit__ = False
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity"),
        CheckConstraint(_in("state", STOCK_STATES), name="state"),
        Index("ix_stock_balances_fefo", "sku_id", "state", "expires_on", "warehouse_id"),
        #: the stock overview: SKU × warehouse rows in key order, summed per state from the index alone
        Index("ix_stock_balances_overview", "sku_id", "warehouse_id", "state", postgresql_include=["quantity"]),
    )

    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), primary_key=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    expires_on: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    #: when units last entered or left this balance (slow-mover alerts)
    last_moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class StockThreshold(IdMixin, TimestampMixin, db.Model):
    """Safety stock (安全库存) of a SKU in a warehouse."""

    __tablename__ = "stock_thresholds"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "sku_id"),
        CheckConstraint("safety_quantity >= 0", name="safety_quantity"),
    )

    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    safety_quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    warehouse = relationship("Warehouse", lazy="joined")
    sku = relationship("Sku", lazy="joined")


TRANSFER_STATUSES = ("requested", "approved", "rejected", "shipped", "received", "completed", "cancelled")


class Transfer(IdMixin, TimestampMixin, db.Model):
    """调拨 between two warehouses: requested → approved (through the engine) → shipped
    (in transit, carrier, tracking number, ETA) → received (into inspection) → completed
    (inspected). Consignment replenishment is a transfer into a consignment location."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint(_in("status", TRANSFER_STATUSES), name="status"),
        CheckConstraint("from_warehouse_id <> to_warehouse_id", name="two_warehouses"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    from_warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False, index=True)
    to_warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="requested")
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    approval_request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_requests.id"))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_no: Mapped[str | None] = mapped_column(String(60))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    eta: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cold_chain: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")

    from_warehouse = relationship("Warehouse", foreign_keys=[from_warehouse_id], lazy="joined")
    to_warehouse = relationship("Warehouse", foreign_keys=[to_warehouse_id], lazy="joined")
    lines = relationship("TransferLine", order_by="TransferLine.id", cascade="all, delete-orphan")


class TransferLine(IdMixin, db.Model):
    """A SKU and quantity asked for; ``lot_id`` is chosen (FEFO) when the transfer ships,
    so one requested line may become several shipped lines, one per lot."""

    __tablename__ = "transfer_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("received_quantity IS NULL OR received_quantity >= 0", name="received"),
    )

    transfer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("transfers.id", ondelete="CASCADE"), nullable=False, index=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    lot_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("lots.id"))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    received_quantity: Mapped[int | None] = mapped_column(Integer)

    sku = relationship("Sku", lazy="joined")
    lot = relationship("Lot", lazy="joined")


class ConsignmentCount(IdMixin, TimestampMixin, db.Model):
    """A periodic count (盘点) of a consignment location; variances are posted as
    adjustment movements with the reason given when the count is closed."""

    __tablename__ = "consignment_counts"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False, index=True)
    counted_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="open")
    counted_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    warehouse = relationship("Warehouse", lazy="joined")
    lines = relationship("ConsignmentCountLine", order_by="ConsignmentCountLine.id", cascade="all, delete-orphan")


class ConsignmentCountLine(IdMixin, db.Model):
    __tablename__ = "consignment_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "lot_id"),
        CheckConstraint("expected_quantity >= 0 AND (counted_quantity IS NULL OR counted_quantity >= 0)", name="quantities"),
    )

    count_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("consignment_counts.id", ondelete="CASCADE"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    expected_quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    counted_quantity: Mapped[int | None] = mapped_column(Integer)
    variance_reason: Mapped[str | None] = mapped_column(Text)

    lot = relationship("Lot", lazy="joined")


class SellOutLine(IdMixin, TimestampMixin, db.Model):
    """流向: one sale a dealer reports to a hospital, or to another dealer (分销流向,
    ``buyer_dealer_id`` instead of ``hospital_id``) — the record the two-invoice rule
    (两票制) and GSP sales records need. Checked against what the dealer received; what a
    dealer reports selling to another dealer is what that dealer received from it."""

    __tablename__ = "sell_out_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price IS NULL OR unit_price >= 0", name="unit_price"),
        CheckConstraint("source IN ('form', 'import', 'api')", name="source"),
        CheckConstraint("(hospital_id IS NULL) <> (buyer_dealer_id IS NULL)", name="buyer"),
        CheckConstraint("buyer_dealer_id IS NULL OR buyer_dealer_id <> dealer_id", name="not_to_itself"),
        Index("ix_sell_out_lines_dealer_sold_on", "dealer_id", "sold_on"),
        Index("ix_sell_out_lines_hospital", "hospital_id"),
        Index("ix_sell_out_lines_lot", "lot_id"),
        Index("ix_sell_out_lines_buyer_dealer", "buyer_dealer_id", "lot_id",
              postgresql_where=text("buyer_dealer_id IS NOT NULL")),
    )

    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    sold_on: Mapped[date] = mapped_column(Date, nullable=False)
    #: the hospital sold to; empty for a sale to another dealer
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"))
    #: the dealer sold to (分销流向); empty for a sale to a hospital
    buyer_dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"))
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    #: CNY including VAT, per unit, as invoiced to the hospital
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    #: the dealer's invoice number to the hospital (发票号)
    invoice_no: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10), nullable=False, server_default="form")
    import_run_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("import_runs.id"))
    reported_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    dealer = relationship("Dealer", foreign_keys=[dealer_id])
    buyer_dealer = relationship("Dealer", foreign_keys=[buyer_dealer_id])
    hospital = relationship("Hospital")
    sku = relationship("Sku")
    lot = relationship("Lot")
