"""The installed base (装机): units made from a hospital's signed delivery or a dealer's
sell-out naming the serial, entered by after-sales, and their warranty standing."""
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.compliance.models import AuditEvent
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.inventory.sellout import record_sell_out
from app.orders import fulfilment as ful
from app.service.installed import create_unit, update_unit, warranty_standing
from app.service.models import InstalledUnit
from app.service.rules import add_months, covered, warranty_end_for
from tests.order_world import allocated_order, ids
from tests.sellout_world import authorize


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return ids(s)


def _user(s, acme, local):
    return s.get(User, acme[local])


def _unit(**kw):
    values = dict(warranty_start=None, warranty_end=None, warranty_coverage="parts_and_labour", contract_start=None,
                  contract_end=None, contract_coverage=None)
    return SimpleNamespace(**{**values, **kw})


# --- the pure rules ------------------------------------------------------------------------------

def test_warranty_standing_on_each_side_of_its_dates():
    unit = _unit(warranty_start=date(2025, 3, 1), warranty_end=date(2026, 2, 28))
    assert warranty_standing(unit, date(2025, 3, 1)) == "warranty"
    assert warranty_standing(unit, date(2026, 2, 28)) == "warranty"
    assert warranty_standing(unit, date(2026, 3, 1)) == "out_of_warranty"
    # delivered, not yet installed: a new unit's faults are the maker's
    assert warranty_standing(unit, date(2025, 2, 1)) == "warranty"


def test_a_contract_runs_after_the_warranty_and_the_warranty_wins_beside_it():
    unit = _unit(warranty_start=date(2024, 1, 1), warranty_end=date(2024, 12, 31), contract_start=date(2024, 12, 1),
                 contract_end=date(2025, 11, 30), contract_coverage="labour")
    assert warranty_standing(unit, date(2024, 12, 15)) == "warranty"
    assert covered(unit, date(2024, 12, 15)) == (True, True)
    assert warranty_standing(unit, date(2025, 1, 1)) == "contract"
    assert covered(unit, date(2025, 1, 1)) == (False, True)
    assert warranty_standing(unit, date(2025, 12, 1)) == "out_of_warranty"
    assert covered(unit, date(2025, 12, 1)) == (False, False)


def test_no_warranty_dates_and_no_contract_is_unknown():
    assert warranty_standing(_unit(), date(2026, 1, 1)) == "unknown"
    assert warranty_standing(None, date(2026, 1, 1)) == "unknown"
    assert warranty_standing(_unit(contract_start=date(2026, 1, 1), contract_end=date(2026, 12, 31)),
                             date(2026, 6, 1)) == "contract"


def test_months_are_calendar_months_clamped_to_the_month_end():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert warranty_end_for(date(2026, 3, 1), 12) == date(2027, 2, 28)


# --- units from deliveries -----------------------------------------------------------------------

def _ship(s, acme, order, direct):
    allocations = ful.open_allocations(s, order)
    warehouse_id = allocations[0].warehouse_id
    shipment = ful.create_shipment(s, order, warehouse_id, {a.id: a.quantity for a in allocations if a.warehouse_id == warehouse_id},
                                   _user(s, acme, "channel"), carrier="顺丰速运", tracking_no="SF" + uuid.uuid4().hex[:10],
                                   ship_direct=direct)
    return ful.ship_shipment(s, shipment)


def test_hospital_signing_for_an_analyzer_installs_it_with_a_years_warranty(as_tenant, acme):
    with as_tenant("acme") as s:
        order = allocated_order(s, lines=[(acme["IVD-POCT-01"], 1), (acme["CV-NC-3012"], 2)])
        shipment = _ship(s, acme, order, direct=True)
        ful.confirm_delivery(s, shipment, _user(s, acme, "hospital1"), "张医工", {})
        line = next(sl for sl in shipment.lines if sl.sku_id == acme["IVD-POCT-01"])
        unit = s.scalar(select(InstalledUnit).where(InstalledUnit.shipment_line_id == line.id))
        today = shanghai_today()
        assert unit is not None and unit.serial_no == line.lot.serial_no and unit.lot_id == line.lot_id
        assert unit.hospital_id == acme["H-SH-001"] and unit.dealer_id == acme["D-SH-001"]
        assert (unit.installed_on, unit.warranty_start, unit.warranty_end) == (today, today, warranty_end_for(today, 12))
        assert warranty_standing(unit, today) == "warranty"
        # lot-controlled consumables are not installed equipment
        assert s.scalar(select(func.count()).select_from(InstalledUnit).where(
            InstalledUnit.shipment_line_id.in_([sl.id for sl in shipment.lines]))) == 1
        assert shipment.number in s.scalar(select(AuditEvent.reason).where(
            AuditEvent.entity_type == "installed_units", AuditEvent.entity_id == str(unit.id)))


def test_a_damaged_analyzer_is_not_installed(as_tenant, acme):
    with as_tenant("acme") as s:
        order = allocated_order(s, lines=[(acme["IVD-POCT-01"], 1)])
        shipment = _ship(s, acme, order, direct=True)
        line = shipment.lines[0]
        ful.confirm_delivery(s, shipment, _user(s, acme, "hospital1"), None,
                             {line.id: {"received": 1, "discrepancy": "damaged", "affected": 1}})
        assert s.scalar(select(InstalledUnit.id).where(InstalledUnit.shipment_line_id == line.id)) is None


def test_a_dealer_routed_analyzer_is_installed_when_the_sell_out_names_its_serial(as_tenant, acme):
    with as_tenant("acme") as s:
        order = allocated_order(s, lines=[(acme["IVD-POCT-01"], 1)], hospital_code=None)
        shipment = _ship(s, acme, order, direct=False)
        dealer1 = _user(s, acme, "dealer1")
        ful.confirm_delivery(s, shipment, dealer1, "陈志强", {})
        line = shipment.lines[0]
        assert s.scalar(select(InstalledUnit.id).where(InstalledUnit.sku_id == line.sku_id,
                                                       InstalledUnit.serial_no == line.lot.serial_no)) is None
        today = shanghai_today()
        authorize(s, "D-SH-001", ["H-SH-002"], today - timedelta(days=1), today + timedelta(days=30), line="IVD")
        record_sell_out(s, dealer1.dealer, dealer1, {
            "sold_on": today, "hospital_id": acme["H-SH-002"], "sku_id": line.sku_id, "lot_id": line.lot_id,
            "quantity": 1, "unit_price": "68000.00", "invoice_no": "3100" + uuid.uuid4().hex[:8]})
        unit = s.scalar(select(InstalledUnit).where(InstalledUnit.sku_id == line.sku_id,
                                                    InstalledUnit.serial_no == line.lot.serial_no))
        assert unit.hospital_id == acme["H-SH-002"] and unit.dealer_id == acme["D-SH-001"]
        assert unit.shipment_line_id is None and unit.warranty_start == today
        # rolled back: an IVD authorization for dealer1 would change what the order tests may sell
        s.rollback()


# --- entry by after-sales ------------------------------------------------------------------------

def _values(acme, **kw):
    return {"hospital_id": str(acme["H-BJ-002"]), "sku_id": str(acme["IVD-CLIA-01"]),
            "serial_no": "CL2K-" + uuid.uuid4().hex[:8].upper(), "department": "检验科", **kw}


def test_after_sales_enters_a_unit_with_a_default_warranty_and_a_contract(as_tenant, acme):
    with as_tenant("acme") as s:
        staff = _user(s, acme, "service")
        unit = create_unit(s, _values(acme, installed_on="2023-05-10", contract_no="WB-2025-001",
                                      contract_start="2025-05-10", contract_end="2027-05-09", contract_coverage="parts",
                                      reason="历史装机录入"), staff)
        assert unit.warranty_start == date(2023, 5, 10) and unit.warranty_end == date(2024, 5, 9)
        assert unit.dealer_id is not None or unit.hospital.serving_dealer_id is None
        assert warranty_standing(unit, date(2026, 1, 1)) == "contract"
        assert covered(unit, date(2026, 1, 1)) == (True, False)
        assert s.scalar(select(AuditEvent.reason).where(AuditEvent.entity_type == "installed_units",
                                                        AuditEvent.entity_id == str(unit.id))) == "历史装机录入"
        update_unit(s, unit, {"installed_on": "2023-06-01", "department": "检验科", "warranty_end": "2025-05-31",
                              "status": "active", "reason": "按验收报告更正"}, staff)
        assert unit.warranty_start == date(2023, 6, 1) and unit.contract_no is None
        assert warranty_standing(unit, date(2025, 5, 31)) == "warranty"


@pytest.mark.parametrize("change, field", [
    ({"sku_id": "CV-DES-3018"}, "sku_id"),          # a stent is not equipment
    ({"sku_id": "SH-TAVR-23"}, "sku_id"),           # a serial implant is not equipment either
    ({"hospital_id": "999999999"}, "hospital_id"),
    ({"serial_no": ""}, "serial_no"),
    ({"installed_on": "2999-01-01"}, "installed_on"),
    ({"warranty_start": "2025-01-01", "warranty_end": "2024-01-01"}, "warranty_end"),
    ({"contract_no": "WB-1"}, "contract_start"),
    ({"contract_no": "WB-1", "contract_start": "2025-01-01", "contract_end": "2024-01-01"}, "contract_end"),
    ({"contract_start": "2025-01-01"}, "contract_no"),
    ({"warranty_coverage": "everything"}, "warranty_coverage"),
])
def test_a_wrong_unit_is_refused_next_to_its_field(as_tenant, acme, change, field):
    with as_tenant("acme") as s:
        if change.get("sku_id", "").startswith(("CV", "SH")):
            change = {**change, "sku_id": str(acme[change["sku_id"]])}
        with pytest.raises(InvalidInput) as refused:
            create_unit(s, _values(acme, **change), _user(s, acme, "service"))
        assert refused.value.field == field


def test_a_serial_is_installed_once(as_tenant, acme):
    with as_tenant("acme") as s:
        values = _values(acme)
        create_unit(s, values, _user(s, acme, "service"))
        with pytest.raises(InvalidInput) as refused:
            create_unit(s, values, _user(s, acme, "service"))
        assert refused.value.field == "serial_no"


# --- the demo ------------------------------------------------------------------------------------

def test_the_demo_installed_base_has_every_standing(as_tenant):
    with as_tenant("acme") as s:
        units = list(s.scalars(select(InstalledUnit).where(InstalledUnit.shipment_line_id.is_(None),
                                                           InstalledUnit.note.is_(None) | ~InstalledUnit.note.like("From%"))))
        today = shanghai_today()
        standings = [warranty_standing(u, today) for u in units]
        assert len(units) >= 35
        assert {"warranty", "contract", "out_of_warranty", "unknown"} <= set(standings)
        assert len({u.hospital_id for u in units}) >= 12


# --- pages: scope and export ---------------------------------------------------------------------

def test_a_regional_manager_sees_and_exports_the_units_of_their_regions_only(signed_in, run_worker, as_tenant):
    from tests.test_exports import exported_rows

    east = signed_in("acme", "sales.east")
    html = east.get("/manufacturer/installed-base").get_data(as_text=True)
    assert "复旦大学附属中山医院" in html and "北京协和医院" not in html
    rows = exported_rows(east, run_worker, as_tenant, "installed_base", token_from="/manufacturer/installed-base",
                         standing="contract")
    hospitals = {r[3] for r in rows[1:]}
    assert hospitals and not any(h.startswith(("北京", "首都", "中国医学科学院", "天津", "河北", "中山大学", "广东")) for h in hospitals)
    assert {r[6] for r in rows[1:]} == {"维保合同"}
    everything = exported_rows(signed_in("acme", "service"), run_worker, as_tenant, "installed_base",
                               token_from="/manufacturer/installed-base")
    assert "北京协和医院" in {r[3] for r in everything[1:]} and len(everything) > len(rows)


def test_the_installed_base_filters_by_region_and_warranty_status(signed_in, as_tenant):
    from app.channel.models import Region

    with as_tenant("acme") as s:
        south = s.scalar(select(Region.id).where(Region.code == "SOUTH"))
    service = signed_in("acme", "service")
    html = service.get(f"/manufacturer/installed-base?region={south}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "中山大学附属第一医院" in html and "复旦大学附属中山医院" not in html and "北京协和医院" not in html
    html = service.get("/manufacturer/installed-base?standing=unknown").get_data(as_text=True)
    assert "保修状态未知" in html and "保修期内</span>" not in html


def test_a_unit_entered_by_hand_before_its_delivery_is_signed_keeps_its_data(as_tenant, acme):
    from app.orders.models import Allocation

    with as_tenant("acme") as s:
        order = allocated_order(s, lines=[(acme["IVD-POCT-01"], 1)])
        allocation = s.scalar(select(Allocation).where(Allocation.order_line_id == order.lines[0].id))
        serial = allocation.lot.serial_no
        by_hand = create_unit(s, {"hospital_id": acme["H-SH-001"], "sku_id": acme["IVD-POCT-01"], "serial_no": serial,
                                  "installed_on": "2026-01-05", "department": "急诊科"}, _user(s, acme, "service"))
        shipment = _ship(s, acme, order, direct=True)
        ful.confirm_delivery(s, shipment, _user(s, acme, "hospital1"), "张医工", {})
        units = list(s.scalars(select(InstalledUnit).where(InstalledUnit.sku_id == acme["IVD-POCT-01"],
                                                           InstalledUnit.serial_no == serial)))
        assert units == [by_hand] and by_hand.department == "急诊科" and by_hand.installed_on == date(2026, 1, 5)
        assert by_hand.shipment_line_id == shipment.lines[0].id and by_hand.lot_id == shipment.lines[0].lot_id
