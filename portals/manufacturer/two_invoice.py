"""Manufacturer pages: two-invoice violations (两票制) — sales into public hospitals
whose units passed through more than one dealer, each with its evidence chain. A
regional manager sees the violations of the dealers in its regions."""
from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.core.coerce import as_id, int_arg
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import render_page
from app.finance import two_invoice
from app.inventory.sellout import parse_month


class RHTwoInvoice(RHManufacturer):
    roles = two_invoice.VIEWERS

    def get(self):
        scope = ChannelScope.of(current_user)
        errors = {}
        try:
            month = parse_month(request.args.get("month"))
        except InvalidInput as err:
            month, errors = None, {"month": err.message}
        f = two_invoice.ViolationFilter(month=month, dealer=request.args.get("dealer", "")[:60],
                                        hospital_id=int_arg(request.args, "hospital_id"))
        page = two_invoice.violations_page(db.session, scope, request.args.get("after"), f)
        return render_page("manufacturer/two_invoice.html", block="results", page=page, flt=f, errors=errors,
                           month=(request.args.get("month") or "")[:7],
                           hospitals=two_invoice.violation_hospitals(db.session, scope), status=400 if errors else 200)


class RHTwoInvoiceCase(RHManufacturer):
    """One violation's evidence chain: manufacturer → dealer → dealer → hospital."""

    roles = two_invoice.VIEWERS

    def _load(self, line_id):
        self.chain = get_or_404(two_invoice.evidence_chain(db.session, ChannelScope.of(current_user), line_id))

    def get(self, line_id):
        return render_page("manufacturer/two_invoice_case.html", chain=self.chain,
                           invoice_pages="manufacturer.invoice" in current_app.view_functions, as_id=as_id)
