"""The hospital portal: its deliveries (and only its own), signing for them, the stock its
dealer can promise, and the lots and serials it received."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.channel.models import Hospital
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.inventory.models import StockBalance
from app.inventory.operations import serving_warehouse_ids
from app.orders import deliveries as q
from app.orders import fulfilment as ful
from app.orders.models import Shipment
from tests.order_world import allocated_order, ids


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return ids(s)


def _shipped_to_hospital(as_tenant, acme, deliver=False):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocations = ful.open_allocations(s, order)
        warehouse_id = allocations[0].warehouse_id
        shipment = ful.create_shipment(s, order, warehouse_id,
                                       {a.id: a.quantity for a in allocations if a.warehouse_id == warehouse_id},
                                       carrier="顺丰速运", tracking_no="SF-H1", ship_direct=True)
        ful.ship_shipment(s, shipment)
        if deliver:
            ful.confirm_delivery(s, shipment, s.get(User, acme["hospital1"]), "张医工", {})
        line = shipment.lines[0]
        return shipment.id, shipment.number, line.id, line.lot.lot_no or line.lot.serial_no


def test_hospital_signs_for_its_delivery_in_the_portal(as_tenant, acme, signed_in):
    shipment_id, number, line_id, _lot = _shipped_to_hospital(as_tenant, acme)
    hospital = signed_in("acme", "hospital1")
    assert number in hospital.get("/hospital/deliveries").get_data(as_text=True)
    page = hospital.get(f"/hospital/deliveries/{shipment_id}")
    assert page.status_code == 200 and "signer_name" in page.get_data(as_text=True)
    bad = hospital.post(f"/hospital/deliveries/{shipment_id}/sign", {"signer_name": "张医工", f"received_{line_id}": "x"},
                        token_from=f"/hospital/deliveries/{shipment_id}")
    assert bad.status_code == 400 and 'class="error"' in bad.get_data(as_text=True)
    done = hospital.post(f"/hospital/deliveries/{shipment_id}/sign", {"signer_name": "张医工"},
                         token_from=f"/hospital/deliveries/{shipment_id}")
    assert done.status_code == 303
    with as_tenant("acme") as s:
        shipment = s.get(Shipment, shipment_id)
        assert shipment.status == "delivered" and shipment.signed_by_name == "张医工"
    # the hospital follows the goods, not the dealer's return and credit note
    with as_tenant("acme") as s:
        shipment = s.get(Shipment, shipment_id)
        from app.orders.events import add_event
        add_event(s, shipment.order, "credited", None, number="RT-X", credit_note="CN-SECRET-1", amount="1.00")
    assert "CN-SECRET-1" not in hospital.get(f"/hospital/deliveries/{shipment_id}").get_data(as_text=True)
    assert "CN-SECRET-1" in signed_in("acme", "dealer1").get(f"/dealer/deliveries/{shipment_id}").get_data(as_text=True)
    # signing twice is refused, not a 500
    again = hospital.post(f"/hospital/deliveries/{shipment_id}/sign", {"signer_name": "张医工"},
                          token_from=f"/hospital/deliveries/{shipment_id}")
    assert again.status_code == 400


def test_hospital_sees_the_lots_it_received_and_filters_them(as_tenant, acme, signed_in):
    shipment_id, number, _line_id, lot = _shipped_to_hospital(as_tenant, acme, deliver=True)
    hospital = signed_in("acme", "hospital1")
    text = hospital.get("/hospital/lots").get_data(as_text=True)
    assert number in text and lot in text
    assert number in hospital.get(f"/hospital/lots?lot={lot}").get_data(as_text=True)
    assert number not in hospital.get("/hospital/lots?lot=NO-SUCH-LOT").get_data(as_text=True)
    assert number not in signed_in("acme", "hospital2").get("/hospital/lots").get_data(as_text=True)


def test_other_hospitals_dealers_and_tenants_cannot_see_or_sign_a_delivery(as_tenant, acme, signed_in):
    shipment_id, number, _line_id, _lot = _shipped_to_hospital(as_tenant, acme)
    hospital2 = signed_in("acme", "hospital2")
    assert hospital2.get(f"/hospital/deliveries/{shipment_id}").status_code == 404
    assert number not in hospital2.get("/hospital/deliveries").get_data(as_text=True)
    assert hospital2.post(f"/hospital/deliveries/{shipment_id}/sign", {"signer_name": "x"},
                          token_from="/hospital/deliveries").status_code == 404
    dealer2 = signed_in("acme", "dealer2")
    assert dealer2.get(f"/dealer/deliveries/{shipment_id}").status_code == 404
    assert number not in dealer2.get("/dealer/deliveries").get_data(as_text=True)
    assert dealer2.post(f"/dealer/deliveries/{shipment_id}/sign", {"signer_name": "x"},
                        token_from="/dealer/deliveries").status_code == 404
    # the ordering dealer sees it but cannot sign for the hospital
    dealer1 = signed_in("acme", "dealer1")
    page = dealer1.get(f"/dealer/deliveries/{shipment_id}")
    assert page.status_code == 200 and "signer_name" not in page.get_data(as_text=True)
    assert dealer1.post(f"/dealer/deliveries/{shipment_id}/sign", {"signer_name": "x"},
                        token_from="/dealer/deliveries").status_code == 400
    for local in ("hospital1", "dealer1"):
        other = signed_in("globex", local)
        portal = "hospital" if local.startswith("hospital") else "dealer"
        assert other.get(f"/{portal}/deliveries/{shipment_id}").status_code == 404
    assert signed_in("globex", "admin").get(f"/manufacturer/shipments/{shipment_id}").status_code == 404


def test_portal_roles_are_kept_apart(signed_in):
    channel = signed_in("acme", "channel")
    for path in ("/hospital/deliveries", "/hospital/stock", "/hospital/lots", "/dealer/deliveries", "/dealer/returns"):
        assert channel.get(path).status_code == 403, path
    dealer = signed_in("acme", "dealer1")
    for path in ("/manufacturer/shipments", "/manufacturer/returns", "/hospital/stock"):
        assert dealer.get(path).status_code == 403, path
    hospital = signed_in("acme", "hospital1")
    for path in ("/manufacturer/shipments", "/dealer/deliveries"):
        assert hospital.get(path).status_code == 403, path
    for local in ("hospital2",):
        for path in ("/hospital/stock", "/hospital/lots", "/hospital/deliveries"):
            assert signed_in("acme", local).get(path).status_code == 200, path
    assert signed_in("globex", "hospital1").get("/hospital/stock").status_code == 200


def test_available_to_promise_counts_the_serving_dealers_available_stock(as_tenant, acme, signed_in):
    day = shanghai_today()
    with as_tenant("acme") as s:
        rows = q.hospital_stock(s, acme["H-SH-001"], day)
        assert rows, "H-SH-001 may buy products through D-SH-001"
        row = next(r for r in rows if r.available)
        assert acme["D-SH-001"] in [d.id for d in row.dealers]
        warehouses = serving_warehouse_ids(s, acme["D-SH-001"])
        hospital_min = s.get(Hospital, acme["H-SH-001"]).min_shelf_days or 0
        expected = s.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.sku_id == row.sku.id, StockBalance.state == "available", StockBalance.warehouse_id.in_(warehouses),
            (StockBalance.expires_on.is_(None)) | (StockBalance.expires_on > day + timedelta(days=hospital_min))))
        assert row.available == expected
        code = row.sku.code
    text = signed_in("acme", "hospital1").get("/hospital/stock").get_data(as_text=True)
    assert code in text


def test_what_is_on_the_way_shows_on_the_stock_page(as_tenant, acme):
    shipment_id, _number, _line_id, _lot = _shipped_to_hospital(as_tenant, acme)
    with as_tenant("acme") as s:
        shipment = s.get(Shipment, shipment_id)
        sku_id = shipment.lines[0].sku_id
        rows = {r.sku.id: r for r in q.hospital_stock(s, acme["H-SH-001"], shanghai_today())}
        if sku_id in rows:
            assert rows[sku_id].on_the_way >= shipment.lines[0].quantity


def test_the_delivery_list_pages_with_a_cursor(as_tenant, acme, signed_in):
    for _ in range(2):
        _shipped_to_hospital(as_tenant, acme)
    hospital = signed_in("acme", "hospital1")
    first = hospital.get("/hospital/deliveries").get_data(as_text=True)
    assert re.search(r"SH-\d{8}-\d{6}", first)
    assert hospital.get("/hospital/deliveries?after=garbage").status_code == 200
    assert hospital.get("/hospital/deliveries?status=shipped").status_code == 200


def test_hospital_follows_a_shipment_sent_to_its_dealer_but_the_dealer_signs(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocations = ful.open_allocations(s, order)
        warehouse_id = allocations[0].warehouse_id
        shipment = ful.create_shipment(s, order, warehouse_id,
                                       {a.id: a.quantity for a in allocations if a.warehouse_id == warehouse_id},
                                       carrier="德邦", tracking_no="DB-1")
        ful.ship_shipment(s, shipment)
        shipment_id, number = shipment.id, shipment.number
        assert shipment.ship_to == "dealer" and shipment.hospital_id == acme["H-SH-001"]
    hospital = signed_in("acme", "hospital1")
    assert number in hospital.get("/hospital/deliveries").get_data(as_text=True)
    page = hospital.get(f"/hospital/deliveries/{shipment_id}")
    assert page.status_code == 200 and "signer_name" not in page.get_data(as_text=True)
    dealer = signed_in("acme", "dealer1")
    assert dealer.post(f"/dealer/deliveries/{shipment_id}/sign", {"signer_name": "陈志强"},
                       token_from=f"/dealer/deliveries/{shipment_id}").status_code == 303
    assert number in hospital.get("/hospital/lots").get_data(as_text=True)
