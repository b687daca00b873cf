"""After-sales: the installed base (装机) with warranty and service contracts, preventive
maintenance plans (维保计划) and their visits, service tickets (工单) with SLA clocks and
spare parts, and recall campaigns (召回) traced down to the dealers and hospitals holding
affected units.

Sections, one per area: installed base · plans and visits · tickets and SLA · recalls.
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


# --- installed base ---------------------------------------------------------------------------------------

#: what the warranty (or the service contract) pays for
COVERAGES = ("parts_and_labour", "parts", "labour")
UNIT_STATUSES = ("active", "retired")


class InstalledUnit(IdMixin, TimestampMixin, db.Model):
    """One installed piece of equipment (装机) at a hospital: a serial-controlled SKU's unit,
    where it stands, when it was installed, and what its warranty and service contract
    cover. Created from the delivery of a serial-controlled SKU, or entered by after-sales
    staff (units bought before MedChannel, or through another channel)."""

    __tablename__ = "installed_units"
    __table_args__ = (
        UniqueConstraint("sku_id", "serial_no"),
        CheckConstraint(_in("status", UNIT_STATUSES), name="status"),
        CheckConstraint(_in("warranty_coverage", COVERAGES), name="warranty_coverage"),
        CheckConstraint("contract_coverage IS NULL OR " + _in("contract_coverage", COVERAGES), name="contract_coverage"),
        CheckConstraint("warranty_end IS NULL OR warranty_start IS NULL OR warranty_end >= warranty_start", name="warranty"),
        CheckConstraint("contract_end IS NULL OR contract_start IS NULL OR contract_end >= contract_start", name="contract"),
        Index("ix_installed_units_hospital", "hospital_id", "status"),
    )

    hospital_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("hospitals.id"), nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    serial_no: Mapped[str] = mapped_column(String(40), nullable=False)
    #: the serial's row in ``lots`` when the unit came through our stock ledger
    lot_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("lots.id"), index=True)
    #: the delivery it came with (None: entered by hand)
    shipment_line_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("shipment_lines.id"), index=True)
    #: the dealer that sold and services it, if any
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    department: Mapped[str | None] = mapped_column(String(60))
    location: Mapped[str | None] = mapped_column(String(200))
    installed_on: Mapped[date | None] = mapped_column(Date)
    #: the signed installation report (装机报告), a stored document
    installation_report_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id"))
    warranty_start: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    warranty_coverage: Mapped[str] = mapped_column(String(20), nullable=False, server_default="parts_and_labour")
    #: a paid service contract (维保合同) after or beside the warranty
    contract_no: Mapped[str | None] = mapped_column(String(60))
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    contract_coverage: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    hospital = relationship("Hospital")
    sku = relationship("Sku")
    dealer = relationship("Dealer")


# --- preventive maintenance: plans and visits ---------------------------------------------------------------

PLAN_STATUSES = ("active", "paused", "ended")
VISIT_STATUSES = ("scheduled", "done", "cancelled")


class ServicePlan(IdMixin, TimestampMixin, db.Model):
    """A preventive-maintenance plan (维保计划) for one installed unit: every
    ``interval_months`` from ``starts_on``, with a checklist, done by an engineer of the
    manufacturer or of a dealer."""

    __tablename__ = "service_plans"
    __table_args__ = (
        CheckConstraint(_in("status", PLAN_STATUSES), name="status"),
        CheckConstraint("interval_months BETWEEN 1 AND 60", name="interval"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="window"),
    )

    unit_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("installed_units.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    interval_months: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date | None] = mapped_column(Date)
    #: the checklist items, in order (each visit records a result per item)
    checklist: Mapped[list[str]] = mapped_column(ARRAY(String(200)), nullable=False, server_default="{}")
    #: who does the visits: a manufacturer engineer (user) and/or a dealer
    engineer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")

    unit = relationship("InstalledUnit")


class ServiceVisit(IdMixin, TimestampMixin, db.Model):
    """One maintenance visit on the calendar: generated from a plan (or a one-off), then
    done with a report (checklist results, parts used, findings) or cancelled."""

    __tablename__ = "service_visits"
    __table_args__ = (
        CheckConstraint(_in("status", VISIT_STATUSES), name="status"),
        UniqueConstraint("plan_id", "due_on"),
        Index("ix_service_visits_due", "status", "due_on"),
    )

    plan_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("service_plans.id"), index=True)
    unit_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("installed_units.id"), nullable=False, index=True)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="scheduled")
    engineer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    done_on: Mapped[date | None] = mapped_column(Date)
    #: [{"item": "…", "result": "pass" | "fail" | "n/a", "note": "…"}, …]
    results: Mapped[list | None] = mapped_column(JSONB)
    findings: Mapped[str | None] = mapped_column(Text)
    reported_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    plan = relationship("ServicePlan")
    unit = relationship("InstalledUnit")


# --- service tickets and SLA --------------------------------------------------------------------------------

URGENCIES = ("critical", "high", "normal", "low")
TICKET_STATUSES = ("open", "assigned", "in_progress", "resolved", "confirmed", "cancelled")
#: how a unit stood when the ticket was raised: decides whether parts and labour are charged
WARRANTY_STANDINGS = ("warranty", "contract", "out_of_warranty", "unknown")


class SlaPolicy(IdMixin, TimestampMixin, db.Model):
    """Response and resolution targets per urgency, for one region (or every region when
    ``region_id`` is None; a region's own row wins). ``business_hours``: the clock runs
    only in the tenant's service hours (settings), else around the clock."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("urgency", "region_id", postgresql_nulls_not_distinct=True),
        CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        CheckConstraint("response_minutes > 0 AND resolution_minutes >= response_minutes", name="targets"),
    )

    urgency: Mapped[str] = mapped_column(String(20), nullable=False)
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    response_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    resolution_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    business_hours: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")

    region = relationship("Region")


class ServiceTicket(IdMixin, TimestampMixin, db.Model):
    """A service ticket (工单): a fault on a unit (or a hospital's request without one),
    raised by the hospital, its dealer or after-sales, clocked against the SLA, assigned,
    worked, resolved and confirmed (with a rating) by the hospital."""

    __tablename__ = "service_tickets"
    __table_args__ = (
        CheckConstraint(_in("status", TICKET_STATUSES), name="status"),
        CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        CheckConstraint(_in("warranty_standing", WARRANTY_STANDINGS), name="warranty_standing"),
        CheckConstraint("raised_via IN ('hospital', 'dealer', 'manufacturer')", name="raised_via"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        Index("ix_service_tickets_hospital", "hospital_id", "id"),
        Index("ix_service_tickets_queue", "status", "resolution_due_at"),
        #: the region view counts the tickets raised in a date range
        Index("ix_service_tickets_raised", "created_at"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    hospital_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("hospitals.id"), nullable=False)
    unit_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("installed_units.id"), index=True)
    #: the dealer serving the hospital (sees and may work the ticket)
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    region_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("regions.id"), nullable=False, index=True)
    raised_via: Mapped[str] = mapped_column(String(20), nullable=False)
    raised_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    urgency: Mapped[str] = mapped_column(String(20), nullable=False, server_default="normal")
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    photo_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False, server_default="{}")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="open")
    assigned_to_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    warranty_standing: Mapped[str] = mapped_column(String(20), nullable=False, server_default="unknown")
    chargeable: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    #: SLA: the policy's targets frozen at raising, and when each was met
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalation_level: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    labour_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)

    hospital = relationship("Hospital")
    unit = relationship("InstalledUnit")
    dealer = relationship("Dealer")


class TicketEvent(IdMixin, db.Model):
    """The ticket's status timeline: raised, assigned, responded, note, part used,
    escalated, resolved, reopened, confirmed, cancelled."""

    __tablename__ = "ticket_events"

    ticket_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("service_tickets.id", ondelete="CASCADE"),
                                           nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSONB)


class ServicePart(IdMixin, db.Model):
    """A spare part used on a ticket or a maintenance visit, taken from a warehouse by a
    stock movement, charged or not by the unit's warranty standing."""

    __tablename__ = "service_parts"
    __table_args__ = (
        CheckConstraint("(ticket_id IS NULL) <> (visit_id IS NULL)", name="one_owner"),
        CheckConstraint("quantity > 0", name="quantity"),
    )

    ticket_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("service_tickets.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("service_visits.id"), index=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    warehouse_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("warehouses.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    movement_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stock_movements.id"))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    charged: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    used_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    sku = relationship("Sku")
    lot = relationship("Lot")


# --- recalls ------------------------------------------------------------------------------------------------

RECALL_CLASSES = (1, 2, 3)  # 一级 / 二级 / 三级
RECALL_STATUSES = ("draft", "active", "closed")
NOTICE_STATUSES = ("sent", "acknowledged", "reported")


class RecallCampaign(IdMixin, TimestampMixin, db.Model):
    """A recall (召回): why, how serious (一级 most), which SKUs and lots or serials
    (``recall_scopes``), what holders must do. Activating it traces the holders, sends
    the notices and quarantines the affected lots in the manufacturer's warehouses."""

    __tablename__ = "recall_campaigns"
    __table_args__ = (
        CheckConstraint(_in("status", RECALL_STATUSES), name="status"),
        CheckConstraint("classification IN (1, 2, 3)", name="classification"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    classification: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    actions_required: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="draft")
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    report_document_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id"))


class RecallScope(IdMixin, db.Model):
    """What a campaign covers of one SKU: every lot, one lot, a lot range (lexical,
    inclusive) or one serial."""

    __tablename__ = "recall_scopes"
    __table_args__ = (
        CheckConstraint("serial_no IS NULL OR (lot_from IS NULL AND lot_to IS NULL)", name="one_kind"),
        CheckConstraint("(lot_from IS NULL) = (lot_to IS NULL)", name="range"),
    )

    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("recall_campaigns.id", ondelete="CASCADE"),
                                             nullable=False, index=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    lot_from: Mapped[str | None] = mapped_column(String(20))
    lot_to: Mapped[str | None] = mapped_column(String(20))
    serial_no: Mapped[str | None] = mapped_column(String(40))

    sku = relationship("Sku")


class RecallHolding(IdMixin, db.Model):
    """The trace, frozen when the campaign is activated (and refreshed on demand): who
    holds how many units of which affected lot. ``holder_kind``: a manufacturer warehouse,
    a dealer (its channel stock), or a hospital (delivered, not reported used)."""

    __tablename__ = "recall_holdings"
    __table_args__ = (
        CheckConstraint("holder_kind IN ('warehouse', 'dealer', 'hospital')", name="holder_kind"),
        CheckConstraint("quantity >= 0", name="quantity"),
        Index("ix_recall_holdings_campaign", "campaign_id", "holder_kind"),
    )

    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("recall_campaigns.id", ondelete="CASCADE"),
                                             nullable=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lots.id"), nullable=False)
    holder_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    warehouse_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("warehouses.id"))
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"))
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"))
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    #: how the units got there (shipment, transfer, sell-out numbers), for the report
    evidence: Mapped[dict | None] = mapped_column(JSONB)


class RecallNotice(IdMixin, TimestampMixin, db.Model):
    """The notice to one affected dealer or hospital: acknowledged, then its report of
    units on hand, returned and used (which account for what the trace says it holds)."""

    __tablename__ = "recall_notices"
    __table_args__ = (
        CheckConstraint(_in("status", NOTICE_STATUSES), name="status"),
        CheckConstraint("(dealer_id IS NULL) <> (hospital_id IS NULL)", name="one_party"),
        CheckConstraint("on_hand >= 0 AND returned >= 0 AND used >= 0", name="quantities"),
        UniqueConstraint("campaign_id", "dealer_id", "hospital_id", postgresql_nulls_not_distinct=True),
    )

    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("recall_campaigns.id", ondelete="CASCADE"),
                                             nullable=False, index=True)
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    #: units the trace says this party holds
    expected: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="sent")
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    on_hand: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    returned: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    used: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)

    campaign = relationship("RecallCampaign")
    dealer = relationship("Dealer")
    hospital = relationship("Hospital")
