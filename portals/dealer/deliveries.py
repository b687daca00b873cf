"""The dealer's deliveries (what was shipped for its orders, and signing for what came
to it) and its returns (退货)."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.core import coerce
from app.core.coerce import as_id
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect, render_page
from app.orders import deliveries as q
from app.orders import fulfilment as ful
from app.orders.models import RETURN_STATUSES, SHIPMENT_STATUSES, ReturnRequest
from portals.deliveries import DeliverySign
from portals.forms import refused


def _status_arg(allowed) -> str:
    value = request.args.get("status", "")
    return value if value in allowed else ""


class RHDeliveries(RHDealer):
    def get(self):
        status = _status_arg(SHIPMENT_STATUSES)
        page = q.shipments_page(db.session, current_user, request.args.get("after"), status)
        return render_page("dealer/deliveries.html", block="results", page=page, status_filter=status, **q.labels())


class RHDeliveryRecord(RHDealer):
    def _load(self, shipment_id):
        self.shipment = get_or_404(q.shipment_for(db.session, current_user, shipment_id))


def delivery_page(shipment, errors: dict | None = None, form: dict | None = None, status: int = 200):
    returns = list(db.session.scalars(select(ReturnRequest).where(ReturnRequest.shipment_id == shipment.id)
                                      .order_by(ReturnRequest.id)))
    returnable = ful.returnable(db.session, [line.id for line in shipment.lines]) if shipment.status == "delivered" else {}
    return render_page("dealer/delivery.html", status=status, shipment=shipment, errors=errors or {}, form=form or {},
                       may_sign=ful.may_sign(current_user, shipment), returns=returns,
                       may_return=any(returnable.values()), events=q.timeline(db.session, shipment.order_id),
                       sign_endpoint="dealer.delivery_sign", **q.labels())


class RHDelivery(RHDeliveryRecord):
    def get(self, shipment_id):
        return delivery_page(self.shipment)


class RHDeliverySign(DeliverySign, RHDeliveryRecord):
    """签收: the signer, what arrived, and any discrepancy (which opens a return)."""

    delivery_endpoint = "dealer.delivery"
    delivery_page = staticmethod(delivery_page)


# --- returns ---------------------------------------------------------------------------------

class RHReturns(RHDealer):
    def get(self):
        status = _status_arg(RETURN_STATUSES)
        page = q.returns_page(db.session, current_user, request.args.get("after"), status)
        return render_page("dealer/returns.html", block="results", page=page, status_filter=status, **q.labels())


class RHReturnNew(RHDeliveryRecord):
    """Send back units of a delivered shipment."""

    def _check_access(self):
        if self.shipment.status != "delivered":
            abort(404)

    def _page(self, form: dict, errors: dict, status: int = 200):
        left = ful.returnable(db.session, [line.id for line in self.shipment.lines])
        return render_page("dealer/return_new.html", status=status, shipment=self.shipment, left=left, form=form,
                           errors=errors, reasons={k: q.RETURN_REASON_LABELS[k] for k in ful.DEALER_RETURN_REASONS},
                           **q.labels())

    def get(self, shipment_id):
        return self._page({}, {})

    def post(self, shipment_id):
        form = request.form.to_dict()
        try:
            quantities = {}
            for key in form:
                if key.startswith("qty_") and as_id(key[4:]) is not None:
                    quantities[as_id(key[4:])] = coerce.whole(form, key, 0, 1_000_000, default=0)
            ret = ful.request_return(db.session, current_user, self.shipment, quantities, form.get("reason", ""),
                                     coerce.text(form, "note", max_length=2000))
        except InvalidInput as err:
            return self._page(form, refused(err), status=400)
        flash(_("Return %(number)s requested.", number=ret.number), "success")
        return redirect(url_for("dealer.return_detail", return_id=ret.id))


class RHReturn(RHDealer):
    def _load(self, return_id):
        self.ret = get_or_404(q.return_for(db.session, current_user, return_id))

    def get(self, return_id):
        return render_page("dealer/return.html", ret=self.ret, amount=ful.return_amount(self.ret),
                           events=q.timeline(db.session, self.ret.order_id) if self.ret.order_id else [], **q.labels())
