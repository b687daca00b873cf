"""Surgery-use reports (手术报台): consignment units used in a surgery become a sale.

Reported by the dealer (for the location it holds, or a location at a hospital it
serves) or by the hospital (for the location at that hospital); confirmed by the
manufacturer, which consumes the units at the location (``consumption``, available →
out) and creates the sale: an order of kind ``consignment_use``, already delivered,
priced by ``resolve_price`` on the surgery date, and invoiced at once
(``app.finance.invoices.invoice_consignment_use``).
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Hospital
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.money import fen
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.finance.invoices import invoice_consignment_use
from app.core.pagination import Page, keyset_page
from app.inventory.consignment import holder_of
from app.inventory.models import Lot, StockBalance, Warehouse
from app.inventory.operations import move
from app.inventory.rules import UdiError, parse_udi
from app.orders.events import add_event
from app.orders.models import Order, OrderLine, SurgeryReport, SurgeryReportLine

REPORT_STATUSES = ("reported", "confirmed", "rejected")
CONFIRMERS = ("admin", "channel_manager")
MAX_LINES = 30


# --- where a user may report ------------------------------------------------------------------

def locations_for(session: Session, user) -> list[Warehouse]:
    """The consignment locations a dealer or hospital user may report use at."""
    stmt = select(Warehouse).where(Warehouse.kind == "consignment", Warehouse.status == "active")
    if user.portal == "dealer":
        served = select(Hospital.id).where(Hospital.serving_dealer_id == user.dealer_id)
        stmt = stmt.where(or_(Warehouse.dealer_id == user.dealer_id, Warehouse.hospital_id.in_(served)))
    elif user.portal == "hospital":
        stmt = stmt.where(Warehouse.hospital_id == user.hospital_id)
    return list(session.scalars(stmt.order_by(Warehouse.code)))


def hospitals_for(session: Session, user, warehouse: Warehouse) -> list[Hospital]:
    """Where a use at this location can have happened: the location's hospital, or for
    a dealer-held location the hospitals the dealer serves."""
    if warehouse.hospital_id:
        return [session.get(Hospital, warehouse.hospital_id)]
    return list(session.scalars(select(Hospital).where(Hospital.serving_dealer_id == warehouse.dealer_id)
                                .order_by(Hospital.name)))


def _report_scope(stmt, user):
    if user.portal == "dealer":
        return stmt.where(SurgeryReport.dealer_id == user.dealer_id)
    if user.portal == "hospital":
        return stmt.where(SurgeryReport.hospital_id == user.hospital_id)
    from app.channel.queries import ChannelScope
    from app.inventory.transfers import warehouse_clause

    clause = warehouse_clause(ChannelScope.of(user))
    return stmt if clause is None else stmt.where(SurgeryReport.warehouse_id.in_(select(Warehouse.id).where(clause)))


def reports_page(session: Session, user, cursor: str | None, status: str = "", warehouse_id: int | None = None) -> Page:
    stmt = (select(SurgeryReport.id, SurgeryReport.number, SurgeryReport.status, SurgeryReport.surgery_on,
                   SurgeryReport.department, SurgeryReport.case_ref, Warehouse.code.label("warehouse_code"),
                   Hospital.name.label("hospital_name"))
            .join(Warehouse, Warehouse.id == SurgeryReport.warehouse_id)
            .join(Hospital, Hospital.id == SurgeryReport.hospital_id))
    stmt = _report_scope(stmt, user)
    if status in REPORT_STATUSES:
        stmt = stmt.where(SurgeryReport.status == status)
    if warehouse_id:
        stmt = stmt.where(SurgeryReport.warehouse_id == warehouse_id)
    return keyset_page(session, stmt, (SurgeryReport.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def report_for(session: Session, user, report_id: int) -> SurgeryReport | None:
    return session.scalar(_report_scope(select(SurgeryReport).where(SurgeryReport.id == report_id), user))


# --- writes -------------------------------------------------------------------------------------

def _available(session: Session, warehouse_id: int, lot_id: int, lock: bool = False) -> int:
    stmt = select(StockBalance.quantity).where(StockBalance.warehouse_id == warehouse_id,
                                               StockBalance.lot_id == lot_id, StockBalance.state == "available")
    return session.scalar(stmt.with_for_update() if lock else stmt) or 0


def _lot_of_line(session: Session, warehouse: Warehouse, line: dict, field: str) -> Lot:
    """The lot a report line names: a lot id picked from the location's lots, or a
    scanned UDI (its device identifier and lot or serial)."""
    udi_text = (line.get("udi") or "").strip()
    if udi_text:
        try:
            udi = parse_udi(udi_text)
        except UdiError as err:
            raise InvalidInput(field, str(err)) from None
        if not udi.lot and not udi.serial:
            raise InvalidInput(field, _("The scanned code has no lot or serial number."))
        stmt = select(Lot).join(Sku, Sku.id == Lot.sku_id).where(Sku.udi_di == udi.gtin)
        if udi.lot:
            stmt = stmt.where(Lot.lot_no == udi.lot)
        if udi.serial:
            stmt = stmt.where(Lot.serial_no == udi.serial)
        lot = session.scalar(stmt.order_by(Lot.id).limit(1))
        if lot is None:
            raise InvalidInput(field, _("The scanned unit is not stocked at this location."))
        return lot
    lot_id = coerce.ident({field: line.get("lot_id")}, field, required=True)
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise InvalidInput(field, _("Choose a lot held at this location."))
    return lot


def report_surgery(session: Session, user, values: dict, day: date | None = None) -> SurgeryReport:
    """A dealer or hospital user reports what a surgery used from a consignment location."""
    day = day or shanghai_today()
    warehouse_id = coerce.ident(values, "warehouse_id", required=True)
    warehouse = next((w for w in locations_for(session, user) if w.id == warehouse_id), None)
    if warehouse is None:
        raise InvalidInput("warehouse_id", _("Choose a consignment location you may report for."))
    hospitals = hospitals_for(session, user, warehouse)
    hospital_id = coerce.ident(values, "hospital_id") or (warehouse.hospital_id if warehouse.hospital_id else None)
    if hospital_id is None or hospital_id not in {h.id for h in hospitals}:
        raise InvalidInput("hospital_id", _("Choose the hospital where the surgery took place."))
    dealer_id, _h = holder_of(session, warehouse)
    if user.portal == "dealer":
        dealer_id = warehouse.dealer_id or user.dealer_id
    if dealer_id is None:
        raise InvalidInput("warehouse_id", _("No dealer serves this location; the manufacturer must assign one first."))
    surgery_on = coerce.day(values, "surgery_on", required=True)
    if surgery_on > day:
        raise InvalidInput("surgery_on", _("The surgery date cannot be in the future."))
    if surgery_on < day - timedelta(days=366):
        raise InvalidInput("surgery_on", _("Report surgeries of the last twelve months."))
    report = SurgeryReport(warehouse_id=warehouse.id, hospital_id=hospital_id, dealer_id=dealer_id,
                           department=coerce.text(values, "department", required=True, max_length=60),
                           surgery_on=surgery_on, surgeon=coerce.text(values, "surgeon", max_length=60),
                           case_ref=coerce.text(values, "case_ref", max_length=60), status="reported",
                           reported_by_id=user.id)
    wanted: OrderedDict[int, list] = OrderedDict()
    for index, line in enumerate(values.get("lines") or []):
        if not any(str(line.get(k) or "").strip() for k in ("lot_id", "udi", "quantity")):
            continue
        field = f"lines-{index}"
        lot = _lot_of_line(session, warehouse, line, field)
        quantity = coerce.whole({field: line.get("quantity")}, field, 1, 10_000, default=1)
        if lot.serial_no and quantity != 1:
            raise InvalidInput(field, _("A serial number is one unit."))
        entry = wanted.setdefault(lot.id, [lot, 0, field])
        entry[1] += quantity
    if not wanted:
        raise InvalidInput("lines", _("Add at least one used unit."))
    if len(wanted) > MAX_LINES:
        raise InvalidInput("lines", _("At most %(n)d lots per report.", n=MAX_LINES))
    for lot, quantity, field in wanted.values():
        have = _available(session, warehouse.id, lot.id)
        if have < quantity:
            raise InvalidInput(field, _("Lot %(lot)s: %(have)d available at %(code)s, %(want)d reported.",
                                        lot=lot.lot_no or lot.serial_no, have=have, code=warehouse.code, want=quantity))
    assign_number(session, report, "SR")
    report.lines = [SurgeryReportLine(sku_id=lot.sku_id, lot_id=lot.id, quantity=q) for lot, q, _f in wanted.values()]
    session.add(report)
    session.flush()
    return report


def _lock(session: Session, report: SurgeryReport) -> SurgeryReport:
    """Lock the report row and reread it: of two decisions on the same report (a double
    confirm, a confirm racing a reject) the second waits and then sees the first's."""
    session.scalar(select(SurgeryReport).where(SurgeryReport.id == report.id).with_for_update(of=SurgeryReport)
                    .execution_options(populate_existing=True))
    return report


def confirm_surgery_report(session: Session, report: SurgeryReport, user) -> Order:
    """The manufacturer confirms: the units are consumed at the location and sold to the
    dealer for the hospital at the price ``resolve_price`` gives on the surgery date."""
    from app.pricing.queries import resolve_price
    from app.pricing.rules import PRICE_LIST

    _lock(session, report)
    if report.status != "reported":
        raise InvalidInput("form", _("This report is already decided."))
    prices = {}
    for line in report.lines:
        if line.sku_id in prices:
            continue
        answer = resolve_price(session, report.dealer_id, report.hospital_id, line.sku_id, report.surgery_on)
        if answer.price is None:
            raise InvalidInput("form", _("No price applies to %(sku)s for this dealer and hospital on %(day)s; "
                                         "add a price list item or tender price first.",
                                         sku=line.sku.code, day=report.surgery_on.isoformat()))
        prices[line.sku_id] = answer
    for line in sorted(report.lines, key=lambda ln: ln.lot_id):
        have = _available(session, report.warehouse_id, line.lot_id, lock=True)
        if have < line.quantity:
            raise InvalidInput("form", _("Lot %(lot)s: only %(have)d left available at the location.",
                                         lot=line.lot.lot_no or line.lot.serial_no, have=have))
    ref = ("surgery_reports", report.id)
    why = _("Surgery report %(number)s", number=report.number)
    for line in report.lines:
        move(session, "consumption", report.warehouse_id, line.lot_id, line.quantity, "available", None, why, ref, user.id)
    per_sku: OrderedDict[int, int] = OrderedDict()
    for line in report.lines:
        per_sku[line.sku_id] = per_sku.get(line.sku_id, 0) + line.quantity
    order = Order(kind="consignment_use", dealer_id=report.dealer_id, hospital_id=report.hospital_id, status="delivered",
                  consignment_warehouse_id=report.warehouse_id, submitted_by_id=report.reported_by_id,
                  note=why, credit_check={})
    assign_number(session, order, "SO")
    total = Decimal("0.00")
    for line_no, (sku_id, quantity) in enumerate(per_sku.items(), start=1):
        answer, sku = prices[sku_id], session.get(Sku, sku_id)
        amount = fen(answer.price * quantity)
        total += amount
        source_table = "price_list_items" if answer.source == PRICE_LIST else "tender_prices"
        order.lines.append(OrderLine(line_no=line_no, sku_id=sku_id, quantity=quantity, unit_price=answer.price,
                                     amount=amount, tax_rate=sku.tax_rate, price_source_type=source_table,
                                     price_source_id=answer.record_id, price_note=(answer.why or "")[:300],
                                     allocated_quantity=0, shipped_quantity=quantity, delivered_quantity=quantity))
    order.total_amount = total
    session.add(order)
    session.flush()
    add_event(session, order, "consignment_use", user.id, surgery_report=report.number,
              warehouse=report.warehouse.code, surgery_on=report.surgery_on.isoformat(), total=str(total))
    report.status, report.order_id = "confirmed", order.id
    session.flush()
    invoice_consignment_use(session, order, user)
    return order


def reject_surgery_report(session: Session, report: SurgeryReport, user, why: str) -> SurgeryReport:
    _lock(session, report)
    if report.status != "reported":
        raise InvalidInput("form", _("This report is already decided."))
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Say why; the reporter will read it."))
    with reason(session, why, action="reject"):
        report.status = "rejected"
        session.flush()
    return report


def status_labels() -> dict:
    return {"reported": _("Reported"), "confirmed": _("Confirmed"), "rejected": _("Rejected")}
