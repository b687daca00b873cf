"""The hospital's deliveries (tracking, timeline, sign-off), its available-to-promise
stock and the lots and serials it received (what a recall needs)."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from app.core.db import db
from app.core.handlers import RHHospital, get_or_404
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.orders import deliveries as q
from app.orders import fulfilment as ful
from app.orders.models import SHIPMENT_STATUSES
from portals.deliveries import DeliverySign


class RHDeliveries(RHHospital):
    """Shipments of orders naming this hospital, newest first."""

    def get(self):
        status = request.args.get("status", "")
        status = status if status in SHIPMENT_STATUSES else ""
        page = q.shipments_page(db.session, current_user, request.args.get("after"), status)
        return render_page("hospital/deliveries.html", block="results", page=page, status_filter=status, **q.labels())


class RHDeliveryRecord(RHHospital):
    def _load(self, shipment_id):
        self.shipment = get_or_404(q.shipment_for(db.session, current_user, shipment_id))


def delivery_page(shipment, errors: dict | None = None, form: dict | None = None, status: int = 200):
    return render_page("hospital/delivery.html", status=status, shipment=shipment, errors=errors or {}, form=form or {},
                       may_sign=ful.may_sign(current_user, shipment), events=q.timeline(db.session, shipment.order_id, q.HOSPITAL_EVENT_KINDS),
                       sign_endpoint="hospital.delivery_sign", **q.labels())


class RHDelivery(RHDeliveryRecord):
    def get(self, shipment_id):
        return delivery_page(self.shipment)


class RHDeliverySign(DeliverySign, RHDeliveryRecord):
    """签收: the signer, what arrived, and any discrepancy (which opens a return)."""

    delivery_endpoint = "hospital.delivery"
    delivery_page = staticmethod(delivery_page)


class RHStock(RHHospital):
    """Available to promise, through the hospital's dealer, with expected arrivals."""

    def get(self):
        day = shanghai_today()
        return render_page("hospital/stock.html", day=day, rows=q.hospital_stock(db.session, current_user.hospital_id, day))


class RHLots(RHHospital):
    def get(self):
        sku, lot = request.args.get("sku", "")[:60], request.args.get("lot", "")[:60]
        page = q.hospital_lots_page(db.session, current_user.hospital_id, request.args.get("after"), sku, lot)
        return render_page("hospital/lots.html", block="results", page=page, sku=sku, lot=lot)
