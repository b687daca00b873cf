"""The installed base (装机): units of equipment at hospitals, with their warranty and
service contract, and the standing that decides whether a repair is charged.

Where units come from:

* a delivery of a serial-controlled piece of equipment (a serial SKU that is not an
  implant) signed for by the hospital (``units_from_delivery``, called by
  ``app.orders.fulfilment.confirm_delivery``);
* a dealer's sell-out (流向) naming the serial to a hospital, for units the manufacturer
  shipped to the dealer (``unit_from_sell_out``, called by
  ``app.inventory.sellout.record_sell_out``);
* after-sales staff entering a unit by hand (bought before MedChannel, or through another
  channel): ``create_unit``; ``update_unit`` corrects one (installation date, department,
  warranty, service contract).

A unit created from a delivery starts its warranty on the delivery day for the tenant's
``warranty_months`` (setting); after-sales move it to the installation date once the unit
is installed and accepted (验收). Functions validate, change and flush; they never commit.
The audit trail records every insert and update (``app.compliance.operations``).
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.settings import setting
from app.inventory.models import Lot
from app.service.models import COVERAGES, InstalledUnit
from app.service.rules import covered, coverage, warranty_end_for, warranty_standing

__all__ = ["warranty_standing", "coverage", "covered", "create_unit", "update_unit", "units_from_delivery",
           "unit_from_sell_out", "is_equipment", "UNIT_EDITORS", "STANDING_LABELS", "COVERAGE_LABELS"]

#: manufacturer roles that enter and correct installed units
UNIT_EDITORS = ("admin", "after_sales")

STANDING_LABELS = {"warranty": _l("In warranty"), "contract": _l("Service contract"),
                   "out_of_warranty": _l("Out of warranty"), "unknown": _l("Warranty unknown")}
STANDING_BADGES = {"warranty": "on", "contract": "on", "out_of_warranty": "off", "unknown": "wait"}
COVERAGE_LABELS = {"parts_and_labour": _l("Parts and labour"), "parts": _l("Parts only"), "labour": _l("Labour only")}
UNIT_STATUS_LABELS = {"active": _l("In service"), "retired": _l("Retired")}


def is_equipment(sku: Sku) -> bool:
    """Installed equipment: a serial-controlled SKU that is not an implant (a serial
    TAVR valve is consumed in surgery, not installed)."""
    return sku.tracking == "serial" and not sku.implant


def _delivery_day(at) -> date:
    return shanghai_today(at) if at is not None else shanghai_today()


def _new_unit(session: Session, *, hospital_id: int, sku: Sku, lot: Lot, day: date, dealer_id: int | None,
              shipment_line_id: int | None, actor_id: int | None, note: str) -> InstalledUnit | None:
    """A unit for one delivered serial, unless that serial is already installed: a unit
    entered by hand before the delivery was signed keeps its own data and is only linked
    to the lot and the delivery line it came with."""
    if not lot.serial_no:
        return None
    known = session.scalar(select(InstalledUnit).where(InstalledUnit.sku_id == sku.id,
                                                       InstalledUnit.serial_no == lot.serial_no))
    if known is not None:
        if known.hospital_id == hospital_id:
            known.lot_id = known.lot_id or lot.id
            known.shipment_line_id = known.shipment_line_id or shipment_line_id
        return None
    months = setting(session, "warranty_months")
    unit = InstalledUnit(hospital_id=hospital_id, sku_id=sku.id, serial_no=lot.serial_no, lot_id=lot.id,
                         shipment_line_id=shipment_line_id, dealer_id=dealer_id, installed_on=day,
                         warranty_start=day, warranty_end=warranty_end_for(day, months) if months else None,
                         warranty_coverage="parts_and_labour", note=note, created_by_id=actor_id)
    session.add(unit)
    return unit


def units_from_delivery(session: Session, shipment, actor_id: int | None = None) -> list[InstalledUnit]:
    """Installed units for the equipment serials of a shipment the hospital signed for
    (lines that arrived without a discrepancy; a damaged unit goes back instead)."""
    if shipment.ship_to != "hospital" or shipment.hospital_id is None:
        return []
    day = _delivery_day(shipment.delivered_at)
    made = []
    with reason(session, _("Installed from delivery %(number)s", number=shipment.number)):
        for line in shipment.lines:
            if line.discrepancy or not is_equipment(line.sku) or not (line.received_quantity or line.quantity):
                continue
            unit = _new_unit(session, hospital_id=shipment.hospital_id, sku=line.sku, lot=line.lot, day=day,
                             dealer_id=shipment.dealer_id, shipment_line_id=line.id, actor_id=actor_id,
                             note=_("From delivery %(number)s", number=shipment.number))
            if unit is not None:
                made.append(unit)
        session.flush()
    return made


def unit_from_sell_out(session: Session, line, actor_id: int | None = None) -> InstalledUnit | None:
    """An installed unit for a dealer's sale of an equipment serial to a hospital."""
    if line.hospital_id is None:
        return None
    sku, lot = session.get(Sku, line.sku_id), session.get(Lot, line.lot_id)
    if not is_equipment(sku) or not lot.serial_no:
        return None
    with reason(session, _("Installed from the sell-out report of invoice %(invoice)s", invoice=line.invoice_no)):
        unit = _new_unit(session, hospital_id=line.hospital_id, sku=sku, lot=lot, day=line.sold_on,
                         dealer_id=line.dealer_id, shipment_line_id=None, actor_id=actor_id,
                         note=_("From sell-out, invoice %(invoice)s", invoice=line.invoice_no))
        session.flush()
    return unit


# --- entry and correction by after-sales -------------------------------------------------------

def _terms(session: Session, values: dict, installed_on: date | None) -> dict:
    """Warranty and contract fields from a form, checked together."""
    warranty_start = coerce.day(values, "warranty_start") or installed_on
    warranty_end = coerce.day(values, "warranty_end")
    if warranty_end is None and warranty_start is not None and not coerce.flag(values, "no_warranty"):
        months = setting(session, "warranty_months")
        warranty_end = warranty_end_for(warranty_start, months) if months else None
    if warranty_start and warranty_end and warranty_end < warranty_start:
        raise InvalidInput("warranty_end", _("The warranty cannot end before it starts."))
    warranty_coverage = coerce.choice(values, "warranty_coverage", COVERAGES, default="parts_and_labour")
    contract_no = coerce.text(values, "contract_no", max_length=60)
    contract_start, contract_end = coerce.day(values, "contract_start"), coerce.day(values, "contract_end")
    contract_coverage = coerce.choice(values, "contract_coverage", COVERAGES, default="parts_and_labour") \
        if contract_no else None
    if contract_no:
        if contract_start is None:
            raise InvalidInput("contract_start", _("Give the day the service contract starts."))
        if contract_end is None:
            raise InvalidInput("contract_end", _("Give the day the service contract ends."))
        if contract_end < contract_start:
            raise InvalidInput("contract_end", _("The service contract cannot end before it starts."))
    elif contract_start or contract_end:
        raise InvalidInput("contract_no", _("Give the service contract's number, or leave its dates empty."))
    return {"warranty_start": warranty_start, "warranty_end": warranty_end, "warranty_coverage": warranty_coverage,
            "contract_no": contract_no, "contract_start": contract_start if contract_no else None,
            "contract_end": contract_end if contract_no else None, "contract_coverage": contract_coverage}


def _placement(session: Session, values: dict, hospital: Hospital) -> dict:
    installed_on = coerce.day(values, "installed_on")
    if installed_on is not None and installed_on > shanghai_today():
        raise InvalidInput("installed_on", _("The installation date is in the future."))
    dealer_id = coerce.ident(values, "dealer_id")
    if dealer_id is not None and session.get(Dealer, dealer_id) is None:
        raise InvalidInput("dealer_id", _("Choose a dealer from the list."))
    department = coerce.text(values, "department", max_length=60)
    return {"installed_on": installed_on, "dealer_id": dealer_id, "department": department,
            "location": coerce.text(values, "location", max_length=200),
            "note": coerce.text(values, "note", max_length=2000)}


def create_unit(session: Session, values: dict, actor) -> InstalledUnit:
    """Enter a unit by hand. ``values`` (form text or typed): hospital_id, sku_id,
    serial_no, installed_on, department, location, dealer_id, warranty_start,
    warranty_end (default: the tenant's warranty months from the start), warranty_coverage,
    contract_no, contract_start, contract_end, contract_coverage, note."""
    hospital_id = coerce.ident(values, "hospital_id", required=True)
    hospital = session.get(Hospital, hospital_id) if hospital_id else None
    if hospital is None:
        raise InvalidInput("hospital_id", _("Choose a hospital from the list."))
    sku_id = coerce.ident(values, "sku_id", required=True)
    sku = session.get(Sku, sku_id) if sku_id else None
    if sku is None:
        raise InvalidInput("sku_id", _("Choose a product from the list."))
    if not is_equipment(sku):
        raise InvalidInput("sku_id", _("%(sku)s is not serial-controlled equipment.", sku=sku.code))
    serial_no = coerce.text(values, "serial_no", required=True, max_length=40)
    if session.scalar(select(InstalledUnit.id).where(InstalledUnit.sku_id == sku.id,
                                                    InstalledUnit.serial_no == serial_no)):
        raise InvalidInput("serial_no", _("Serial %(serial)s of %(sku)s is already installed.", serial=serial_no,
                                          sku=sku.code))
    placement = _placement(session, values, hospital)
    if placement["dealer_id"] is None:
        placement["dealer_id"] = hospital.serving_dealer_id
    terms = _terms(session, values, placement["installed_on"])
    lot_id = session.scalar(select(Lot.id).where(Lot.sku_id == sku.id, Lot.serial_no == serial_no).limit(1))
    unit = InstalledUnit(hospital_id=hospital.id, sku_id=sku.id, serial_no=serial_no, lot_id=lot_id,
                         created_by_id=getattr(actor, "id", None), **placement, **terms)
    with reason(session, coerce.text(values, "reason", max_length=500)):
        session.add(unit)
        session.flush()
    return unit


def update_unit(session: Session, unit: InstalledUnit, values: dict, actor) -> InstalledUnit:
    """Correct a unit's placement, warranty and contract (the hospital, product and
    serial stay). ``status``: active or retired. A reason is kept in the audit trail."""
    session.execute(select(InstalledUnit.id).where(InstalledUnit.id == unit.id).with_for_update())
    placement = _placement(session, values, unit.hospital)
    terms = _terms(session, values, placement["installed_on"])
    status = coerce.choice(values, "status", ("active", "retired"), default=unit.status)
    with reason(session, coerce.text(values, "reason", max_length=500)):
        for key, value in {**placement, **terms, "status": status}.items():
            setattr(unit, key, value)
        session.flush()
    return unit


def attach_installation_report(session: Session, unit: InstalledUnit, upload: tuple[str, bytes] | None, actor):
    """Keep the signed installation report (装机报告, a PDF or image scan checked by its
    content) with the unit; the hospital's and the dealer's users may download it. A new
    report replaces the link (the old document stays stored)."""
    from app.channel.operations import check_scan
    from app.compliance.uploads import store_upload

    ext, content_type = check_scan(upload)
    document = store_upload(session, upload[0], upload[1], ext, content_type, ("installed_units", unit.id),
                            unit.dealer_id, actor, default_name="installation-report", hospital_id=unit.hospital_id)
    with reason(session, _("Installation report %(name)s", name=document.filename)):
        unit.installation_report_id = document.id
        session.flush()
    return document
