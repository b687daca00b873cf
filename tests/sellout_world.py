"""A tenant of its own for the sell-out, channel-stock and project tests (seeded like
acme: same codes and users, plus warehouses), and helpers that write what the shipment
pages will write: delivered shipments of a dealer's orders and returns received back.
Rows are made directly so these tests need not wait for the order and shipment flow."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.core.i18n import SHANGHAI
from app.core.numbering import assign_number
from app.inventory.models import Warehouse
from app.inventory.operations import lot_for
from app.orders.models import Order, OrderLine, ReturnLine, ReturnRequest, Shipment, ShipmentLine


@pytest.fixture(scope="module", name="world")
def sellout_world(app):
    """The slug of a tenant seeded like acme (users <local>@<slug>.test), dropped afterwards."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.demo import data
    from app.demo.seed import seed_tenant
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.session import tenant_session

    slug = "so" + uuid.uuid4().hex[:8]
    with app.app_context():
        tenant = create_tenant(db.engine, slug, "流向测试")
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("test seed"))
            seed_tenant(session, slug, data.TENANTS["acme"])
            session.add(Warehouse(code="WH-SZ", name="苏州总仓", kind="central"))
            _authorize_in_own_province(session)
        db.session.remove()
    yield slug
    with app.app_context():
        drop_tenant(db.engine, slug)


def _authorize_in_own_province(session) -> None:
    """Each dealer may sell the CV line in its own province (as in the demo's master data),
    so that it may report sales and register projects at that province's hospitals."""
    from app.catalog.models import ProductLine
    from app.channel.models import Authorization

    today = date.today()
    line_id = session.scalar(select(ProductLine.id).where(ProductLine.code == "CV"))
    for d in session.scalars(select(Dealer).order_by(Dealer.code)):
        session.add(Authorization(code=f"AUTH-W-{d.code}", dealer_id=d.id, product_line_id=line_id, region_id=d.region_id,
                                  valid_from=today - timedelta(days=730), valid_until=today + timedelta(days=730)))
    session.flush()


def at_shanghai(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time on ``day`` as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(timezone.utc)


def dealer(session, code: str) -> Dealer:
    return session.scalar(select(Dealer).where(Dealer.code == code))


def hospital(session, code: str) -> Hospital:
    return session.scalar(select(Hospital).where(Hospital.code == code))


def sku(session, code: str) -> Sku:
    return session.scalar(select(Sku).where(Sku.code == code))


def deliver(session, dealer_code: str, sku_code: str, lot_no: str, quantity: int, delivered_at: datetime | date,
            received_quantity: int | None = None, expires_on: date | None = None):
    """A delivered shipment of ``quantity`` units of a lot to the dealer; returns the lot."""
    d, s = dealer(session, dealer_code), sku(session, sku_code)
    if isinstance(delivered_at, date) and not isinstance(delivered_at, datetime):
        delivered_at = at_shanghai(delivered_at)
    lot = lot_for(session, s, lot_no, None, None, expires_on or date(2030, 12, 31))
    order = Order(dealer_id=d.id, status="delivered")
    assign_number(session, order, "SO")
    order.lines.append(OrderLine(line_no=1, sku_id=s.id, quantity=quantity, unit_price=Decimal("100.00"),
                                 amount=Decimal("100.00") * quantity, tax_rate=Decimal("0.13"),
                                 shipped_quantity=quantity, delivered_quantity=received_quantity or quantity))
    session.add(order)
    session.flush()
    warehouse = session.scalar(select(Warehouse).where(Warehouse.kind == "central").limit(1))
    shipment = Shipment(order_id=order.id, dealer_id=d.id, warehouse_id=warehouse.id, status="delivered",
                        shipped_at=delivered_at - timedelta(days=1), delivered_at=delivered_at)
    assign_number(session, shipment, "SH")
    shipment.lines.append(ShipmentLine(order_line_id=order.lines[0].id, sku_id=s.id, lot_id=lot.id, quantity=quantity,
                                       received_quantity=received_quantity))
    session.add(shipment)
    session.flush()
    return lot


def return_goods(session, dealer_code: str, lot, quantity: int, status: str = "received"):
    d = dealer(session, dealer_code)
    ret = ReturnRequest(dealer_id=d.id, reason="overstock", status=status,
                        received_at=datetime.now(timezone.utc) if status in ("received", "credited") else None)
    assign_number(session, ret, "RT")
    ret.lines.append(ReturnLine(sku_id=lot.sku_id, lot_id=lot.id, quantity=quantity, unit_price=Decimal("100.00")))
    session.add(ret)
    session.flush()
    return ret


def authorize(session, dealer_code: str, hospital_codes: list[str], valid_from: date, valid_until: date,
              line: str = "CV"):
    """An authorization of the dealer for a product line at named hospitals."""
    from app.catalog.models import ProductLine
    from app.channel.models import Authorization

    auth = Authorization(code="AUTH-T-" + uuid.uuid4().hex[:10].upper(), dealer_id=dealer(session, dealer_code).id,
                         product_line_id=session.scalar(select(ProductLine.id).where(ProductLine.code == line)),
                         hospital_ids=[hospital(session, c).id for c in hospital_codes], valid_from=valid_from,
                         valid_until=valid_until)
    session.add(auth)
    session.flush()
    return auth


def lot_tag() -> str:
    return "L" + uuid.uuid4().hex[:8].upper()
