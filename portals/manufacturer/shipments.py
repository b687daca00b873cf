"""The manufacturer's fulfilment pages: shipments (pack from an order's allocated units,
ship, packing list), and returns (receive into inspection, credit note)."""
from __future__ import annotations

import uuid

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import CHANNEL_VIEWERS
from app.compliance import queries as audit_q
from app.compliance.models import Job
from app.core import coerce
from app.core.coerce import as_id, int_arg
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.orders import deliveries as q
from app.orders import fulfilment as ful
from app.orders.jobs import PACKING_LIST_JOB
from app.orders.models import RETURN_STATUSES, SHIPMENT_STATUSES, ReturnRequest, Shipment
from portals.forms import refused
from sqlalchemy import select


def _status_arg(allowed) -> str:
    value = request.args.get("status", "")
    return value if value in allowed else ""


# --- shipments -------------------------------------------------------------------------------

class RHShipments(RHManufacturer):
    """Shipments in reach, newest first, by status; orders waiting to be packed on top."""

    roles = CHANNEL_VIEWERS

    def get(self):
        status = _status_arg(SHIPMENT_STATUSES)
        page = q.shipments_page(db.session, current_user, request.args.get("after"), status)
        return render_page("manufacturer/shipments.html", block="results", page=page, status_filter=status,
                           waiting=q.orders_to_ship(db.session, current_user) if not request.args.get("after") else [],
                           can_ship=RHShipmentNew.allows(current_user), **q.labels())


class RHShipmentNew(RHManufacturer):
    """Pack a shipment from an order's allocated units in one warehouse."""

    roles = ful.SHIPPERS

    def _load(self, order_id):
        self.order = get_or_404(q.order_for(db.session, current_user, order_id))

    def _page(self, form: dict, errors: dict, status: int = 200):
        allocations = ful.open_allocations(db.session, self.order)
        warehouses = {}
        for a in allocations:
            warehouses.setdefault(a.warehouse_id, a.warehouse)
        warehouse_id = as_id(form.get("warehouse_id")) or int_arg(request.args, "warehouse")
        if warehouse_id not in warehouses:
            warehouse_id = next(iter(warehouses), None)
        chosen = [a for a in allocations if a.warehouse_id == warehouse_id]
        cold = ful.needs_cold_chain(a.lot.sku.storage for a in chosen)
        return render_page("manufacturer/shipment_new.html", status=status, order=self.order, warehouses=warehouses,
                           warehouse_id=warehouse_id, allocations=chosen, form=form, errors=errors,
                           cold_default=cold, **q.labels())

    def get(self, order_id):
        return self._page({}, {})

    def post(self, order_id):
        form = request.form.to_dict()
        try:
            warehouse_id = coerce.ident(form, "warehouse_id", required=True)
            quantities = {}
            for key, value in form.items():
                if key.startswith("qty_") and as_id(key[4:]) is not None:
                    quantities[as_id(key[4:])] = coerce.whole(form, key, 0, 1_000_000, default=0)
            eta = coerce.day(form, "eta")
            carrier = coerce.text(form, "carrier", max_length=100)
            tracking_no = coerce.text(form, "tracking_no", max_length=60)
            shipment = ful.create_shipment(db.session, self.order, warehouse_id, quantities, current_user,
                                           carrier=carrier, tracking_no=tracking_no, eta=eta,
                                           cold_chain=coerce.flag(form, "cold_chain"),
                                           ship_direct=coerce.flag(form, "ship_direct"))
            if form.get("action") == "ship":
                ful.ship_shipment(db.session, shipment, current_user)
        except InvalidInput as err:
            return self._page(form, refused(err), status=400)
        flash(_("Shipment %(number)s shipped.", number=shipment.number) if shipment.status == "shipped"
              else _("Shipment %(number)s packed.", number=shipment.number), "success")
        return redirect(url_for("manufacturer.shipment", shipment_id=shipment.id))


class RHShipmentRecord(RHManufacturer):
    roles = CHANNEL_VIEWERS

    def _load(self, shipment_id):
        self.shipment = get_or_404(q.shipment_for(db.session, current_user, shipment_id))


def shipment_page(shipment, errors: dict | None = None, form: dict | None = None, status: int = 200):
    job = db.session.scalar(select(Job).where(Job.kind == PACKING_LIST_JOB, Job.entity_type == "shipments",
                                              Job.entity_id == str(shipment.id)).order_by(Job.id.desc()).limit(1))
    returns = list(db.session.scalars(select(ReturnRequest).where(ReturnRequest.shipment_id == shipment.id)
                                      .order_by(ReturnRequest.id)))
    return render_page("manufacturer/shipment.html", status=status, shipment=shipment, job=job, returns=returns,
                       events=q.timeline(db.session, shipment.order_id), errors=errors or {}, form=form or {},
                       may_ship=RHShipmentShip.allows(current_user), request_id=uuid.uuid4().hex,
                       history=audit_q.history(db.session, "shipments", str(shipment.id)), **q.labels())


class RHShipment(RHShipmentRecord):
    def get(self, shipment_id):
        return shipment_page(self.shipment)


class RHShipmentShip(RHShipmentRecord):
    roles = ful.SHIPPERS

    def post(self, shipment_id):
        form = request.form.to_dict()
        try:
            ful.ship_shipment(db.session, self.shipment, current_user, carrier=coerce.text(form, "carrier", max_length=100),
                              tracking_no=coerce.text(form, "tracking_no", max_length=60), eta=coerce.day(form, "eta"))
        except InvalidInput as err:
            return shipment_page(self.shipment, refused(err), form, status=400)
        flash(_("Shipment %(number)s shipped.", number=self.shipment.number), "success")
        return redirect(url_for("manufacturer.shipment", shipment_id=self.shipment.id))


class RHShipmentCancel(RHShipmentRecord):
    roles = ful.SHIPPERS

    def post(self, shipment_id):
        try:
            ful.cancel_shipment(db.session, self.shipment, current_user)
        except InvalidInput as err:
            return shipment_page(self.shipment, refused(err), status=400)
        flash(_("Shipment %(number)s cancelled; its units stay allocated.", number=self.shipment.number), "success")
        return redirect(url_for("manufacturer.shipment", shipment_id=self.shipment.id))


class RHShipmentPackingList(RHShipmentRecord):
    """Prepare the packing list again (e.g. after the carrier changed)."""

    roles = ful.SHIPPERS

    def post(self, shipment_id):
        if self.shipment.status == "cancelled":
            abort(400)
        request_id = (request.form.get("request_id") or uuid.uuid4().hex)[:60]
        job = ful.request_packing_list(db.session, self.shipment, current_user,
                                       request_id=f"packing-list-{self.shipment.id}-{request_id}")
        return redirect(url_for("files.job", job_id=job.id))


# --- returns ---------------------------------------------------------------------------------

class RHReturns(RHManufacturer):
    roles = CHANNEL_VIEWERS

    def get(self):
        status = _status_arg(RETURN_STATUSES)
        page = q.returns_page(db.session, current_user, request.args.get("after"), status)
        return render_page("manufacturer/returns.html", block="results", page=page, status_filter=status, **q.labels())


class RHReturnRecord(RHManufacturer):
    roles = CHANNEL_VIEWERS

    def _load(self, return_id):
        self.ret = get_or_404(q.return_for(db.session, current_user, return_id))


def return_page(ret, errors: dict | None = None, status: int = 200):
    return render_page("manufacturer/return.html", status=status, ret=ret, errors=errors or {},
                       amount=ful.return_amount(ret), warehouses=q.shipping_warehouses(db.session, current_user),
                       may_receive=RHReturnReceive.allows(current_user), may_credit=RHReturnCredit.allows(current_user),
                       default_warehouse_id=db.session.get(Shipment, ret.shipment_id).warehouse_id if ret.shipment_id else None,
                       history=audit_q.history(db.session, "returns", str(ret.id)), **q.labels())


class RHReturn(RHReturnRecord):
    def get(self, return_id):
        return return_page(self.ret)


class RHReturnReceive(RHReturnRecord):
    roles = ful.RETURN_RECEIVERS

    def post(self, return_id):
        try:
            warehouse_id = coerce.ident(request.form, "warehouse_id", required=True)
            ful.receive_return(db.session, self.ret, warehouse_id, current_user)
        except InvalidInput as err:
            return return_page(self.ret, refused(err), status=400)
        flash(_("Return %(number)s received into inspection.", number=self.ret.number), "success")
        return redirect(url_for("manufacturer.return_detail", return_id=self.ret.id))


class RHReturnCredit(RHReturnRecord):
    roles = ful.CREDITORS

    def post(self, return_id):
        try:
            ful.credit_return(db.session, self.ret, current_user)
        except InvalidInput as err:
            return return_page(self.ret, refused(err), status=400)
        flash(_("Credit note %(number)s issued.", number=self.ret.credit_note_no), "success")
        return redirect(url_for("manufacturer.return_detail", return_id=self.ret.id))
