"""Signing for a delivery (签收), shared by the dealer and hospital portals: the same
form, the same operation, the same answer; each portal names its page and its URL."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.db import db
from app.core.errors import InvalidInput
from app.core.htmx import redirect
from app.orders import fulfilment as ful
from portals.forms import refused


class DeliverySign:
    """Mixed into a portal's delivery record handler (which loads ``self.shipment``).
    ``delivery_page(shipment, errors, form, status)`` renders the portal's page;
    ``delivery_endpoint`` is where a signed delivery goes."""

    delivery_endpoint: str

    @staticmethod
    def delivery_page(shipment, errors=None, form=None, status=200):
        raise NotImplementedError

    def post(self, shipment_id):
        form = request.form.to_dict()
        try:
            opened = ful.confirm_delivery(db.session, self.shipment, current_user, form.get("signer_name"),
                                          ful.delivery_lines(form, self.shipment), form.get("note"))
        except InvalidInput as err:
            return self.delivery_page(self.shipment, refused(err), form, status=400)
        if opened:
            flash(_("Signed for, with discrepancies: return %(numbers)s opened.",
                    numbers=", ".join(r.number for r in opened)), "warning")
        else:
            flash(_("Delivery %(number)s signed for.", number=self.shipment.number), "success")
        return redirect(url_for(self.delivery_endpoint, shipment_id=self.shipment.id))
