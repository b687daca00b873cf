"""Manufacturer pages for authorizations (授权): list, create, detail with the letter,
revoke and extend."""
from __future__ import annotations

import re
import uuid

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.catalog.models import ProductLine
from app.channel import authorizations as auth_ops
from app.channel import queries as channel_q
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.pricing.queries import sku_choices
from app.core.coerce import int_arg
from portals.forms import refused
from app.core.i18n import shanghai_today

VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")
EDITORS = ("admin", "channel_manager")
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def _choices() -> dict:
    return {
        "dealers": channel_q.dealer_choices(db.session),
        "lines": list(db.session.scalars(select(ProductLine).order_by(ProductLine.code))),
        "skus": sku_choices(db.session),
        "all_regions": channel_q.regions(db.session),
        "hospitals": channel_q.hospital_choices(db.session),
    }


class RHAuthorizations(RHManufacturer):
    roles = VIEWERS

    def get(self):
        args = request.args
        status = args.get("status", "")
        flt = auth_ops.AuthorizationFilter(
            search=args.get("q", "")[:100], dealer_id=int_arg(args, "dealer"), product_line_id=int_arg(args, "line"), region_id=int_arg(args, "region"),
            status=status if status in ("active", "expired", "revoked") else "",
            expiring=int_arg(args, "expiring") if int_arg(args, "expiring") in (30, 60, 90) else None)
        page = auth_ops.authorizations_page(db.session, channel_q.ChannelScope.of(current_user), args.get("after"), flt)
        return render_page("manufacturer/authorizations.html", block="results", page=page, flt=flt,
                           regions=channel_q.regions(db.session, max_level=2), region_id=flt.region_id,
                           lines=list(db.session.scalars(select(ProductLine).order_by(ProductLine.code))),
                           today=shanghai_today())


class RHAuthorizationNew(RHManufacturer):
    roles = EDITORS

    def _page(self, form: dict, errors: dict | None = None, status: int = 200):
        return render_page("manufacturer/authorization_new.html", block="form", form=form, errors=errors or {},
                           status=status, **_choices())

    def get(self):
        args = request.args
        form = {k: args.get(k, "") for k in ("dealer_id", "product_line_id", "region_id", "valid_from", "valid_until",
                                             "notes", "exclusive")}
        form.update(products=args.get("products", "line"), territory=args.get("territory", "region"),
                    sku_ids=args.getlist("sku_ids"), hospital_ids=args.getlist("hospital_ids"))
        return self._page(form)

    def post(self):
        f = request.form
        form = {k: f.get(k, "") for k in ("dealer_id", "product_line_id", "region_id", "valid_from", "valid_until",
                                          "notes", "exclusive")}
        form.update(products=f.get("products", "line"), territory=f.get("territory", "region"),
                    sku_ids=f.getlist("sku_ids"), hospital_ids=f.getlist("hospital_ids"))
        values = {
            "dealer_id": form["dealer_id"], "valid_from": form["valid_from"], "valid_until": form["valid_until"],
            "exclusive": form["exclusive"], "notes": form["notes"],
            "product_line_id": form["product_line_id"] if form["products"] == "line" else None,
            "sku_ids": form["sku_ids"] if form["products"] == "skus" else None,
            "region_id": form["region_id"] if form["territory"] == "region" else None,
            "hospital_ids": form["hospital_ids"] if form["territory"] == "hospitals" else None,
        }
        try:
            auth = auth_ops.create_authorization(db.session, values, requested_by=current_user)
        except InvalidInput as err:
            return self._page(form, refused(err), 400)
        flash(_("Authorization %(code)s created; its letter is being prepared.", code=auth.code), "success")
        return redirect(url_for("manufacturer.authorization", auth_id=auth.id))


class RHAuthorization(RHManufacturer):
    roles = VIEWERS

    def _load(self, auth_id):
        self.auth = get_or_404(auth_ops.authorization_for(db.session, channel_q.ChannelScope.of(current_user), auth_id))

    def _page(self, errors: dict | None = None, status: int = 200, form: dict | None = None):
        auth = self.auth
        return render_page("manufacturer/authorization.html", status=status, auth=auth, errors=errors or {},
                           form=form or {}, products=auth_ops.products_of(db.session, auth),
                           hospitals=auth_ops.hospitals_of(db.session, auth), job=auth_ops.latest_letter_job(db.session, auth),
                           may_edit=current_user.has_role(*EDITORS), today=shanghai_today(),
                           request_id=uuid.uuid4().hex,
                           history=audit_q.history(db.session, "authorizations", str(auth.id)))

    def get(self, auth_id):
        return self._page()


class _RHAuthorizationChange(RHAuthorization):
    roles = EDITORS


class RHAuthorizationRevoke(_RHAuthorizationChange):
    def post(self, auth_id):
        try:
            auth_ops.revoke_authorization(db.session, self.auth, request.form.get("reason", ""))
        except InvalidInput as err:
            return self._page({f"revoke_{err.field or 'form'}": err.message}, 400, request.form.to_dict())
        flash(_("Authorization %(code)s revoked.", code=self.auth.code), "success")
        return redirect(url_for("manufacturer.authorization", auth_id=self.auth.id))


class RHAuthorizationExtend(_RHAuthorizationChange):
    def post(self, auth_id):
        try:
            auth_ops.extend_authorization(db.session, self.auth, request.form.get("valid_until", ""),
                                          request.form.get("reason", ""), requested_by=current_user)
        except InvalidInput as err:
            db.session.rollback()
            self.auth = get_or_404(auth_ops.authorization_for(db.session, channel_q.ChannelScope.of(current_user), auth_id))
            return self._page({f"extend_{err.field or 'form'}": err.message}, 400, request.form.to_dict())
        flash(_("Authorization %(code)s extended; a new letter is being prepared.", code=self.auth.code), "success")
        return redirect(url_for("manufacturer.authorization", auth_id=self.auth.id))


class RHAuthorizationLetter(_RHAuthorizationChange):
    """Prepare the letter again (e.g. after the dealer's legal name changed)."""

    def post(self, auth_id):
        request_id = request.form.get("request_id", "")
        if not _REQUEST_ID.match(request_id):
            abort(400)
        job = auth_ops.request_letter(db.session, self.auth, request_id, requested_by=current_user)
        return redirect(url_for("files.job", job_id=job.id))
