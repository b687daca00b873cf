"""The manufacturer's transfer pages (调拨): the list with suggestions, a new request
(optionally prefilled from a suggestion), and one transfer with the action its status
allows (ship, receive, inspect, cancel), its lines, lots, ledger rows and history."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import is_htmx, redirect, render_page
from app.core.i18n import shanghai_today
from app.inventory import transfers as tr
from app.inventory.models import TRANSFER_STATUSES
from portals.forms import refused

LINE_ROWS = 5


def _scope():
    return ChannelScope.of(current_user)


class RHTransfers(RHManufacturer):
    """Transfers in reach, newest first, filtered by status; suggestions on top."""

    roles = tr.TRANSFER_VIEWERS

    def get(self):
        status = request.args.get("status", "") if request.args.get("status") in TRANSFER_STATUSES else ""
        page = tr.transfers_page(db.session, _scope(), request.args.get("after"), status)
        # the suggestions sit above the list: an htmx refresh of the list does not need them
        suggestions = [] if request.args.get("after") or is_htmx() else \
            tr.transfer_suggestions(db.session, _scope(), shanghai_today(), limit=20)
        return render_page("manufacturer/transfers.html", block="results", page=page, status_filter=status,
                           statuses=tr.status_labels(), suggestions=suggestions,
                           can_request=RHTransferNew.allows(current_user))


def _form_page(form: dict, errors: dict, status: int = 200):
    return render_page("manufacturer/transfer_new.html", status=status, form=form, errors=errors,
                       warehouses=tr.warehouses_in_scope(db.session, _scope()), skus=tr.sku_choices(db.session),
                       rows=range(LINE_ROWS))


def _lines_from(form) -> list[dict]:
    return [{"sku_id": form.get(f"sku_id-{n}", ""), "quantity": form.get(f"quantity-{n}", "")} for n in range(LINE_ROWS)]


class RHTransferNew(RHManufacturer):
    roles = tr.TRANSFER_ROLES

    def get(self):
        args = request.args
        form = {"from_warehouse_id": args.get("from", ""), "to_warehouse_id": args.get("to", ""),
                "sku_id-0": args.get("sku", ""), "quantity-0": args.get("quantity", ""), "reason": args.get("reason", "")}
        return _form_page(form, {})

    def post(self):
        form = request.form.to_dict()
        values = {"from_warehouse_id": form.get("from_warehouse_id"), "to_warehouse_id": form.get("to_warehouse_id"),
                  "reason": form.get("reason"), "cold_chain": form.get("cold_chain"), "lines": _lines_from(form)}
        try:
            transfer = tr.request_transfer(db.session, current_user, values)
        except InvalidInput as err:
            return _form_page(form, refused(err), status=400)
        if transfer.status == "approved":
            flash(_("Transfer %(number)s requested and approved; it can be shipped.", number=transfer.number), "success")
        else:
            flash(_("Transfer %(number)s requested; it waits for approval.", number=transfer.number), "success")
        return redirect(url_for("manufacturer.transfer", transfer_id=transfer.id))


class RHTransferRecord(RHManufacturer):
    roles = tr.TRANSFER_VIEWERS

    def _load(self, transfer_id, **kwargs):
        self.transfer = get_or_404(tr.transfer_for(db.session, _scope(), transfer_id))


def transfer_page(transfer, errors: dict | None = None, form: dict | None = None, status: int = 200):
    return render_page(
        "manufacturer/transfer.html", status=status, transfer=transfer, errors=errors or {}, form=form or {},
        statuses=tr.status_labels(), movements=tr.transfer_movements(db.session, transfer),
        movement_labels=tr.movement_labels(), state_labels=tr.state_labels(),
        history=audit_q.history(db.session, "transfers", str(transfer.id)),
        can_ship=RHTransferShip.allows(current_user) and tr.may_act(db.session, current_user, transfer, "ship"),
        can_receive=RHTransferReceive.allows(current_user) and tr.may_act(db.session, current_user, transfer, "receive"),
        can_inspect=RHTransferInspect.allows(current_user) and tr.may_act(db.session, current_user, transfer, "inspect"),
        can_cancel=RHTransferCancel.allows(current_user) and tr.may_act(db.session, current_user, transfer, "cancel"),
        today=shanghai_today())


class RHTransfer(RHTransferRecord):
    def get(self, transfer_id):
        return transfer_page(self.transfer)


class _RHTransferAction(RHTransferRecord):
    """One step on a transfer: reading needs either end in reach, a step the end where
    it happens (ship and cancel the source, receive and inspect the destination)."""

    roles = tr.TRANSFER_ROLES
    done_message = ""
    step = ""

    def _check_access(self):
        if not tr.may_act(db.session, current_user, self.transfer, self.step):
            abort(403)

    def act(self):
        raise NotImplementedError

    def post(self, transfer_id):
        try:
            self.act()
        except InvalidInput as err:
            errors = refused(err)
            db.session.expire_all()
            return transfer_page(self.transfer, errors=errors, form=request.form.to_dict(), status=400)
        flash(str(self.done_message), "success")
        return redirect(url_for("manufacturer.transfer", transfer_id=self.transfer.id))


class RHTransferShip(_RHTransferAction):
    step = "ship"

    def act(self):
        tr.ship_transfer(db.session, self.transfer, current_user, request.form.to_dict())
        self.done_message = _("Shipped: the units are in transit.")


def _per_line(prefix: str) -> dict:
    out = {}
    for key, value in request.form.items():
        if key.startswith(prefix) and value.strip() != "":
            out[key[len(prefix):]] = value
    return out


class RHTransferReceive(_RHTransferAction):
    step = "receive"

    def act(self):
        tr.receive_transfer(db.session, self.transfer, current_user, _per_line("received-"), request.form.get("reason"))
        self.done_message = _("Received into inspection.")


class RHTransferInspect(_RHTransferAction):
    roles = tr.TRANSFER_INSPECTORS
    step = "inspect"

    def act(self):
        tr.inspect_transfer(db.session, self.transfer, current_user, _per_line("accepted-"), request.form.get("reason"))
        self.done_message = _("Inspected: the transfer is completed.")


class RHTransferCancel(_RHTransferAction):
    step = "cancel"

    def act(self):
        tr.cancel_transfer(db.session, self.transfer, current_user, request.form.get("reason", ""))
        self.done_message = _("Transfer cancelled.")

