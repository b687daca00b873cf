"""Project registrations (项目报备), quotes (询价/报价), sales orders with their lines and
allocations, shipments and deliveries (签收), returns (退货) and surgery-use reports
(手术报台) that turn consignment stock into a sale."""
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db
from app.inventory.models import _in

PROJECT_STATUSES = ("submitted", "approved", "rejected", "withdrawn", "expired")


class ProjectRegistration(IdMixin, TimestampMixin, db.Model):
    """项目报备: a dealer claims a hospital opportunity; the manufacturer approves it.
    ``conflicts`` lists other dealers' open registrations for the same hospital and SKUs
    when it was submitted."""

    __tablename__ = "project_registrations"
    __table_args__ = (
        CheckConstraint(_in("status", PROJECT_STATUSES), name="status"),
        Index("ix_project_registrations_hospital", "hospital_id", "status"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False, index=True)
    hospital_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("hospitals.id"), nullable=False)
    department: Mapped[str | None] = mapped_column(String(60))
    expected_on: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="submitted")
    conflicts: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    submitted_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    approval_request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_requests.id"))

    dealer = relationship("Dealer", lazy="joined")
    hospital = relationship("Hospital", lazy="joined")
    lines = relationship("ProjectRegistrationLine", order_by="ProjectRegistrationLine.id", cascade="all, delete-orphan")


class ProjectRegistrationLine(IdMixin, db.Model):
    __tablename__ = "project_registration_lines"
    __table_args__ = (
        UniqueConstraint("project_registration_id", "sku_id"),
        CheckConstraint("expected_quantity > 0", name="expected_quantity"),
    )

    project_registration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("project_registrations.id", ondelete="CASCADE"), nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    expected_quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    sku = relationship("Sku", lazy="joined")


QUOTE_STATUSES = ("requested", "answered", "converted", "declined", "expired")


class Quote(IdMixin, TimestampMixin, db.Model):
    """询价/报价: a dealer asks for prices for a hospital; the manufacturer answers with
    prices from ``resolve_price`` (adjustable within the band); an answered quote still
    valid converts into an order at those prices."""

    __tablename__ = "quotes"
    __table_args__ = (CheckConstraint(_in("status", QUOTE_STATUSES), name="status"),)

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False, index=True)
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="requested")
    note: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    answered_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[date | None] = mapped_column(Date)
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"))

    dealer = relationship("Dealer", lazy="joined")
    hospital = relationship("Hospital", lazy="joined")
    lines = relationship("QuoteLine", order_by="QuoteLine.id", cascade="all, delete-orphan")


class QuoteLine(IdMixin, db.Model):
    __tablename__ = "quote_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price IS NULL OR unit_price > 0", name="unit_price"),
    )

    quote_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("quotes.id", ondelete="CASCADE"), nullable=False, index=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    #: why this price (the sentence ``resolve_price`` gave, or the answerer's note)
    price_note: Mapped[str | None] = mapped_column(String(300))

    sku = relationship("Sku", lazy="joined")


ORDER_STATUSES = (
    "pending_approval",  # over credit or another threshold: waiting for the engine
    "approved",          # passed the gates (or approved); allocation pending or partial
    "allocated",         # every line allocated
    "partially_shipped",
    "shipped",
    "delivered",         # every shipment signed for
    "closed",
    "rejected",
    "cancelled",
)
ORDER_KINDS = ("standard", "consignment_use")


class Order(IdMixin, TimestampMixin, db.Model):
    """A dealer's sales order (optionally naming the end hospital). Submission runs every
    gate; an accepted order is allocated FEFO at once or back-ordered line by line."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        CheckConstraint(_in("kind", ORDER_KINDS), name="kind"),
        CheckConstraint("total_amount >= 0", name="total_amount"),
        CheckConstraint("rebate_offset >= 0 AND rebate_offset <= total_amount", name="rebate_offset"),
        Index("ix_orders_dealer_id_desc", "dealer_id", "id"),
        Index("ix_orders_hospital_id_desc", "hospital_id", "id"),
        Index("ix_orders_status", "status", "id"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, server_default="standard")
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="approved")
    #: one order per key: a double-click or a retried request finds the first order
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    submitted_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    requested_delivery_on: Mapped[date | None] = mapped_column(Date)
    delivery_address: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    #: CNY including VAT
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    #: the credit figures seen at submission (limit, open receivables, overdue, this order)
    credit_check: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    approval_request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_requests.id"))
    quote_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("quotes.id", use_alter=True))
    #: the consignment location whose stock a surgery-use order consumed
    consignment_warehouse_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("warehouses.id"))
    #: rebate balance used as an invoice offset (票折) on this order, CNY including VAT;
    #: the order's invoices carry it as ``rebate_offset`` credit notes
    rebate_offset: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")

    dealer = relationship("Dealer", lazy="joined")
    hospital = relationship("Hospital", lazy="joined")
    lines = relationship("OrderLine", order_by="OrderLine.line_no", cascade="all, delete-orphan", back_populates="order")


class OrderLine(IdMixin, db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0 AND amount >= 0", name="money"),
        CheckConstraint("allocated_quantity >= 0 AND shipped_quantity >= 0 AND delivered_quantity >= 0", name="progress"),
        CheckConstraint("allocated_quantity + shipped_quantity <= quantity", name="not_over_allocated"),
        CheckConstraint("NOT free_goods OR (unit_price = 0 AND amount = 0)", name="free_goods"),
        Index("ix_order_lines_sku", "sku_id"),
        # special-price consumption (app.pricing.special_prices) sums the lines priced by one
        Index("ix_order_lines_price_request", "price_source_id",
              postgresql_where=text("price_source_type::text = 'price_request_lines'::text")),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    line_no: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    #: CNY including VAT per unit, as resolved (or quoted) at submission
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    #: where the price came from: ('price_list_items', 12), ('tender_prices', 3), ('quote_lines', 5)
    price_source_type: Mapped[str | None] = mapped_column(String(40))
    price_source_id: Mapped[int | None] = mapped_column(BigInteger)
    price_note: Mapped[str | None] = mapped_column(String(300))
    #: units allocated and not yet shipped / shipped / signed for
    allocated_quantity: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    shipped_quantity: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    delivered_quantity: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    #: for back-ordered units: when they are expected (from open transfers or receipts)
    backorder_expected_on: Mapped[date | None] = mapped_column(Date)
    #: free goods (货补): delivered at no charge, paid for from the rebate balance by
    #: ``free_goods_value`` (the units at the price they would have had)
    free_goods: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    free_goods_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")

    order = relationship("Order", back_populates="lines")
    sku = relationship("Sku", lazy="joined")


class Allocation(IdMixin, db.Model):
    """Units of one lot in one warehouse set aside for an order line (FEFO)."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("status IN ('allocated', 'shipped', 'released')", name="status"),
    )

    order_line_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("order_lines.id", ondelete="CASCADE"), nullable=False, index=True)
    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="allocated")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    lot = relationship("Lot", lazy="joined")
    warehouse = relationship("Warehouse", lazy="joined")


class OrderEvent(IdMixin, db.Model):
    """The order's timeline, as both portals show it: what happened, who, when."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)

    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    #: submitted, gate_refused, approval_requested, approved, rejected, allocated, backordered,
    #: shipped, delivered, discrepancy, return_requested, returned, cancelled, closed,
    #: rebate_used (票折/货补 drawn on the rebate balance), rebate_released (given back)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    #: facts for the translated sentence (numbers, lot, shipment number …)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")

    actor = relationship("User", lazy="joined")


SHIPMENT_STATUSES = ("packed", "shipped", "delivered", "cancelled")


class Shipment(IdMixin, TimestampMixin, db.Model):
    """发货: units of allocated lots leaving one warehouse for the dealer (or straight to
    the hospital), with the packing list (装箱单) and delivery confirmation (签收)."""

    __tablename__ = "shipments"
    __table_args__ = (
        CheckConstraint(_in("status", SHIPMENT_STATUSES), name="status"),
        CheckConstraint("ship_to = 'dealer' OR (ship_to = 'hospital' AND hospital_id IS NOT NULL)", name="ship_to"),
        Index("ix_shipments_order", "order_id"),
        Index("ix_shipments_hospital_id_desc", "hospital_id", "id"),
        Index("ix_shipments_dealer_id_desc", "dealer_id", "id"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"), nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    #: the hospital the goods are for (the order's), also when they go to the dealer: the
    #: hospital's delivery list walks ix_shipments_hospital_id_desc
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"))
    #: where the goods go and who signs for them: 'dealer', or 'hospital' (straight to it)
    ship_to: Mapped[str] = mapped_column(String(10), nullable=False, server_default="dealer")
    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="packed")
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_no: Mapped[str | None] = mapped_column(String(60))
    cold_chain: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    eta: Mapped[date | None] = mapped_column(Date)
    packing_list_document_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id"))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_by_name: Mapped[str | None] = mapped_column(String(100))
    signed_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    delivery_note: Mapped[str | None] = mapped_column(Text)

    order = relationship("Order", lazy="joined")
    warehouse = relationship("Warehouse", lazy="joined")
    lines = relationship("ShipmentLine", order_by="ShipmentLine.id", cascade="all, delete-orphan")


DISCREPANCIES = ("short", "damaged", "wrong_lot")


class ShipmentLine(IdMixin, db.Model):
    __tablename__ = "shipment_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("received_quantity IS NULL OR received_quantity BETWEEN 0 AND quantity", name="received"),
        CheckConstraint("discrepancy IS NULL OR " + _in("discrepancy", DISCREPANCIES), name="discrepancy"),
        Index("ix_shipment_lines_lot", "lot_id"),
    )

    shipment_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False, index=True)
    order_line_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("order_lines.id"), nullable=False, index=True)
    allocation_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("allocations.id"))
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    #: filled at delivery confirmation
    received_quantity: Mapped[int | None] = mapped_column(Integer)
    discrepancy: Mapped[str | None] = mapped_column(String(20))
    discrepancy_note: Mapped[str | None] = mapped_column(Text)

    sku = relationship("Sku", lazy="joined")
    lot = relationship("Lot", lazy="joined")


RETURN_STATUSES = ("requested", "approved", "rejected", "received", "credited")
RETURN_REASONS = ("short", "damaged", "wrong_lot", "near_expiry", "quality", "overstock", "other")


class ReturnRequest(IdMixin, TimestampMixin, db.Model):
    """退货: requested by the dealer (or opened from a delivery discrepancy), approved
    through the engine, received back into inspection, then credited (a credit note)."""

    __tablename__ = "returns"
    __table_args__ = (
        CheckConstraint(_in("status", RETURN_STATUSES), name="status"),
        CheckConstraint(_in("reason", RETURN_REASONS), name="reason"),
        CheckConstraint("credit_amount IS NULL OR credit_amount >= 0", name="credit_amount"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False, index=True)
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("shipments.id"))
    reason: Mapped[str] = mapped_column(String(20), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="requested")
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    approval_request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_requests.id"))
    #: the warehouse the goods come back to (into inspection)
    warehouse_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("warehouses.id"))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: the credit note (红字/贷项通知): number and CNY amount including VAT
    credit_note_no: Mapped[str | None] = mapped_column(String(30), unique=True)
    credit_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))

    dealer = relationship("Dealer", lazy="joined")
    order = relationship("Order")
    lines = relationship("ReturnLine", order_by="ReturnLine.id", cascade="all, delete-orphan")


class ReturnLine(IdMixin, db.Model):
    __tablename__ = "return_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
    )

    return_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("returns.id", ondelete="CASCADE"), nullable=False, index=True)
    shipment_line_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("shipment_lines.id"))
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)

    sku = relationship("Sku", lazy="joined")
    lot = relationship("Lot", lazy="joined")


class SurgeryReport(IdMixin, TimestampMixin, db.Model):
    """手术报台: consignment units used in a surgery. Confirming it consumes the units
    from the consignment location and creates the sale (a ``consignment_use`` order)."""

    __tablename__ = "surgery_reports"
    __table_args__ = (
        CheckConstraint("status IN ('reported', 'confirmed', 'rejected')", name="status"),
        Index("ix_surgery_reports_hospital", "hospital_id", "surgery_on"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False, index=True)
    hospital_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("hospitals.id"), nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False, index=True)
    department: Mapped[str | None] = mapped_column(String(60))
    surgery_on: Mapped[date] = mapped_column(Date, nullable=False)
    surgeon: Mapped[str | None] = mapped_column(String(60))
    #: the hospital's own case reference (no patient name)
    case_ref: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="reported")
    reported_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"))

    warehouse = relationship("Warehouse", lazy="joined")
    hospital = relationship("Hospital", lazy="joined")
    dealer = relationship("Dealer", lazy="joined")
    lines = relationship("SurgeryReportLine", order_by="SurgeryReportLine.id", cascade="all, delete-orphan")


class SurgeryReportLine(IdMixin, db.Model):
    __tablename__ = "surgery_report_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    surgery_report_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("surgery_reports.id", ondelete="CASCADE"),
                                                   nullable=False, index=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    sku = relationship("Sku", lazy="joined")
    lot = relationship("Lot", lazy="joined")
