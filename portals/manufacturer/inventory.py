"""The manufacturer's inventory pages: warehouses (with serving dealers and safety
stock), the stock overview per SKU × warehouse and state, a lot's ledger with the
operations on it (QC, quarantine, adjustment, scrap), goods receipt, stock alerts and
the inventory settings."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.catalog.models import Sku
from app.channel import queries as channel_q
from app.compliance import queries as audit_q
from app.core.coerce import int_arg
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import is_htmx, redirect, render_page
from app.core.i18n import shanghai_today
from app.core.settings import settings as all_settings
from app.inventory import operations as ops
from app.inventory import queries as q
from app.inventory.models import WAREHOUSE_KINDS, Lot
from portals.forms import refused

STOCK_VIEWERS = ("admin", "channel_manager", "regional_manager", "qa_ra", "finance", "after_sales")
STOCK_OPERATORS = ("admin", "channel_manager", "qa_ra")
WAREHOUSE_EDITORS = ("admin", "channel_manager")

STATE_LABELS = {"inspection": _l("In inspection"), "available": _l("Available"), "allocated": _l("Allocated"),
                "quarantined": _l("Quarantined"), "in_transit": _l("In transit"), "expired": _l("Expired")}
KIND_LABELS = {"central": _l("Central"), "regional": _l("Regional"), "consignment": _l("Consignment")}
MOVEMENT_LABELS = {
    "receipt": _l("Receipt"), "qc_release": _l("QC release"), "qc_reject": _l("QC reject"),
    "quarantine": _l("Quarantine"), "release": _l("Release"), "allocation": _l("Allocation"),
    "deallocation": _l("Deallocation"), "shipment": _l("Shipment"), "transfer_out": _l("Transfer out"),
    "transfer_in": _l("Transfer in"), "transfer_receipt": _l("Transfer receipt"), "return": _l("Return"),
    "consumption": _l("Consumption"), "expiry": _l("Expiry"), "adjustment": _l("Adjustment"), "scrap": _l("Scrap"),
}
ALERT_LABELS = {"below_safety": _l("Below safety stock"), "near_expiry": _l("Near expiry"),
                "slow_moving": _l("Slow-moving")}


def _scope():
    return channel_q.ChannelScope.of(current_user)


def _labels() -> dict:
    return dict(state_labels=STATE_LABELS, kind_labels=KIND_LABELS, movement_labels=MOVEMENT_LABELS,
                alert_labels=ALERT_LABELS, states=q.STATES)


# --- warehouses ---------------------------------------------------------------------------------

class RHWarehouses(RHManufacturer):
    roles = STOCK_VIEWERS

    def get(self):
        search = request.args.get("q", "")[:100]
        kind = request.args.get("kind", "") if request.args.get("kind") in WAREHOUSE_KINDS else ""
        page = q.warehouses_page(db.session, _scope(), request.args.get("after"), search, kind)
        return render_page("manufacturer/warehouses.html", block="results", page=page, search=search, kind=kind,
                           can_create=RHWarehouseNew.allows(current_user), **_labels())


def _warehouse_form(form: dict, errors: dict, warehouse=None, status: int = 200):
    return render_page("manufacturer/warehouse_form.html", status=status, form=form, errors=errors, warehouse=warehouse,
                       regions=channel_q.regions(db.session), dealers=channel_q.dealer_choices(db.session),
                       hospitals=channel_q.hospital_choices(db.session), **_labels())


def _form_values() -> dict:
    return {f: request.form.get(f, "") for f in ops.WAREHOUSE_FIELDS if f in request.form}


class RHWarehouseNew(RHManufacturer):
    roles = WAREHOUSE_EDITORS

    def get(self):
        return _warehouse_form({"kind": "regional", "status": "active"}, {})

    def post(self):
        values = _form_values()
        try:
            warehouse = ops.save_warehouse(db.session, values)
        except InvalidInput as err:
            return _warehouse_form(values, refused(err), status=400)
        flash(_("Warehouse %(code)s created.", code=warehouse.code), "success")
        return redirect(url_for("manufacturer.warehouse", warehouse_id=warehouse.id))


class RHWarehouseRecord(RHManufacturer):
    """Base of the pages about one warehouse: 404 when it is out of the user's reach."""

    roles = STOCK_VIEWERS

    def _load(self, warehouse_id, **kwargs):
        self.warehouse = get_or_404(q.warehouse_detail(db.session, _scope(), warehouse_id))


def warehouse_page(warehouse, status: int = 200, errors: dict | None = None, form: dict | None = None):
    return render_page("manufacturer/warehouse.html", status=status, warehouse=warehouse,
                       stock=q.warehouse_stock(db.session, warehouse.id),
                       dealers=q.serving_dealers(db.session, warehouse.id),
                       dealer_choices=channel_q.dealer_choices(db.session) if RHWarehouseDealers.allows(current_user) else [],
                       alerts=q.stock_alerts(db.session, _scope(), shanghai_today(), warehouse_id=warehouse.id),
                       history=audit_q.history(db.session, "warehouses", str(warehouse.id)),
                       errors=errors or {}, form=form or {}, can_edit=RHWarehouseEdit.allows(current_user),
                       **_labels())


class RHWarehouse(RHWarehouseRecord):
    def get(self, warehouse_id):
        return warehouse_page(self.warehouse)


class RHWarehouseEdit(RHWarehouseRecord):
    roles = WAREHOUSE_EDITORS

    def get(self, warehouse_id):
        w = self.warehouse
        return _warehouse_form({f: ("" if getattr(w, f) is None else getattr(w, f)) for f in ops.WAREHOUSE_FIELDS}, {}, w)

    def post(self, warehouse_id):
        values = _form_values()
        try:
            ops.save_warehouse(db.session, values, self.warehouse)
        except InvalidInput as err:
            return _warehouse_form(values, refused(err), self.warehouse, status=400)
        flash(_("Warehouse saved."), "success")
        return redirect(url_for("manufacturer.warehouse", warehouse_id=self.warehouse.id))


class RHWarehouseDealers(RHWarehouseRecord):
    """Link a serving dealer (action=link) or unlink one (action=unlink)."""

    roles = WAREHOUSE_EDITORS

    def post(self, warehouse_id):
        dealer_id = int_arg(request.form, "dealer_id")
        try:
            if dealer_id is None:
                raise InvalidInput("dealer_id", _("Choose a valid option."))
            if request.form.get("action") == "unlink":
                ops.unlink_dealer(db.session, self.warehouse, dealer_id)
            else:
                ops.link_dealer(db.session, self.warehouse, dealer_id)
        except InvalidInput as err:
            return warehouse_page(self.warehouse, status=400, errors={"dealer_id": refused(err).popitem()[1]})
        flash(_("Serving dealers saved."), "success")
        return redirect(url_for("manufacturer.warehouse", warehouse_id=self.warehouse.id) + "#dealers")


class RHSafetyStock(RHWarehouseRecord):
    """Inline editing of one SKU's safety stock: GET ?edit=1 gives the row as a form,
    GET the plain row (cancel), POST saves and gives the row back."""

    roles = WAREHOUSE_EDITORS

    def _load(self, warehouse_id, sku_id, **kwargs):
        super()._load(warehouse_id)
        self.row = get_or_404(q.warehouse_sku_row(db.session, warehouse_id, sku_id))

    def _row(self, editing=False, errors=None, form=None, status=200):
        return render_page("manufacturer/safety_stock_row.html", status=status, warehouse=self.warehouse, r=self.row,
                           editing=editing, errors=errors or {}, form=form or {}, can_edit=True, **_labels())

    def get(self, warehouse_id, sku_id):
        return self._row(editing=bool(request.args.get("edit")))

    def post(self, warehouse_id, sku_id):
        values = {"safety_quantity": request.form.get("safety_quantity", "")}
        try:
            ops.set_safety_stock(db.session, self.warehouse, sku_id, values)
        except InvalidInput as err:
            return self._row(editing=True, errors=refused(err), form=values, status=400)
        if not is_htmx():
            flash(_("Safety stock saved."), "success")
            return redirect(url_for("manufacturer.warehouse", warehouse_id=self.warehouse.id))
        self.row = q.warehouse_sku_row(db.session, self.warehouse.id, sku_id)
        return self._row()


# --- stock ----------------------------------------------------------------------------------------

class RHStock(RHManufacturer):
    """Stock per SKU × warehouse with a column per state; filters; keyset pages."""

    roles = STOCK_VIEWERS

    def get(self):
        search = request.args.get("q", "")[:100]
        warehouse_id, line_id = int_arg(request.args, "warehouse"), int_arg(request.args, "line")
        state = request.args.get("state", "") if request.args.get("state") in q.STATES else ""
        page = q.stock_page(db.session, _scope(), request.args.get("after"), warehouse_id, line_id, search, state)
        return render_page("manufacturer/stock.html", block="results", page=page, search=search,
                           warehouse_id=warehouse_id, line_id=line_id, state=state,
                           warehouses=q.warehouse_choices(db.session, _scope(), active_only=False),
                           lines=q.product_lines(db.session), can_receive=RHStockReceive.allows(current_user),
                           **_labels())


class RHStockCell(RHWarehouseRecord):
    """One SKU in one warehouse: its lots with expiry and quantity per state."""

    def _load(self, warehouse_id, sku_id, **kwargs):
        super()._load(warehouse_id)
        self.sku = get_or_404(db.session.get(Sku, sku_id))

    def get(self, warehouse_id, sku_id):
        return render_page("manufacturer/stock_cell.html", warehouse=self.warehouse, sku=self.sku,
                           lots=q.lots_in(db.session, self.warehouse.id, self.sku.id), today=shanghai_today(), **_labels())


class RHLotRecord(RHWarehouseRecord):
    """Base of the pages about a lot in a warehouse (404 when it never was there)."""

    def _load(self, warehouse_id, lot_id, **kwargs):
        super()._load(warehouse_id)
        self.lot = get_or_404(db.session.get(Lot, lot_id))
        if not q.has_stock_history(db.session, self.warehouse.id, self.lot.id):
            abort(404)


class RHStockLot(RHLotRecord):
    """A lot in a warehouse: its quantities by state, the operations on it and its
    ledger (newest first, paged)."""

    def get(self, warehouse_id, lot_id):
        return lot_page(self.warehouse, self.lot)


def lot_page(warehouse, lot, status: int = 200, errors: dict | None = None, form: dict | None = None):
    ledger = q.lot_ledger_page(db.session, warehouse.id, lot.id, request.args.get("after"))
    balances = q.lot_balances(db.session, warehouse.id, lot.id)
    # only the operations the lot's balances allow (an adjustment in always)
    offered = [kind for kind, (sources, _to, _r) in ops.STATE_CHANGES.items()
               if sources == (None,) or any(balances[s] for s in sources)]
    return render_page("manufacturer/stock_lot.html", block="ledger", status=status, warehouse=warehouse, lot=lot,
                       balances=balances, ledger=ledger, offered=offered,
                       can_operate=RHStockMove.allows(current_user), changes=ops.STATE_CHANGES,
                       errors=errors or {}, form=form or {}, **_labels())


class RHStockMove(RHLotRecord):
    """QC release/reject, quarantine/release, adjustment and scrap of a lot."""

    roles = STOCK_OPERATORS

    def post(self, warehouse_id, lot_id):
        kind = request.form.get("kind", "")
        values = {k: request.form.get(k, "") for k in ("quantity", "reason", "from_state")}
        try:
            ops.change_state(db.session, kind, self.warehouse.id, self.lot.id, values["quantity"], values["reason"],
                             values["from_state"] or None, actor_id=current_user.id)
        except InvalidInput as err:
            errors = refused(err)
            return lot_page(self.warehouse, self.lot, status=400,
                            errors={f"{kind}-{k}": v for k, v in errors.items()}, form={"kind": kind, **values})
        flash(_("%(what)s recorded.", what=MOVEMENT_LABELS.get(kind, MOVEMENT_LABELS["adjustment"])), "success")
        return redirect(url_for("manufacturer.stock_lot", warehouse_id=self.warehouse.id, lot_id=self.lot.id))


RECEIVE_FIELDS = ("warehouse_id", "udi", "sku_id", "lot_no", "serial_no", "manufactured_on", "expires_on", "quantity",
                  "reason")


class RHStockReceive(RHManufacturer):
    """Goods receipt: scan a UDI or type SKU, lot or serial and dates; into inspection."""

    roles = STOCK_OPERATORS

    def _form(self, form, errors, status=200):
        return render_page("manufacturer/stock_receive.html", status=status, form=form, errors=errors,
                           warehouses=q.warehouse_choices(db.session, _scope()),
                           skus=db.session.execute(select(Sku.id, Sku.code, Sku.name).where(Sku.status == "active")
                                                   .order_by(Sku.code)).all(), **_labels())

    def get(self):
        return self._form({"quantity": "1", "warehouse_id": request.args.get("warehouse", "")}, {})

    def post(self):
        values = {f: request.form.get(f, "") for f in RECEIVE_FIELDS}
        try:
            warehouse_id = int_arg(values, "warehouse_id")
            warehouse = q.warehouse_detail(db.session, _scope(), warehouse_id) if warehouse_id else None
            if warehouse is None:
                raise InvalidInput("warehouse_id", _("Choose a valid option."))
            movement = ops.receive_goods(db.session, warehouse, values, actor_id=current_user.id)
        except InvalidInput as err:
            return self._form(values, refused(err, RECEIVE_FIELDS), status=400)
        flash(_("%(n)d units received into inspection.", n=movement.quantity), "success")
        return redirect(url_for("manufacturer.stock_lot", warehouse_id=movement.warehouse_id, lot_id=movement.lot_id))


# --- alerts and settings ------------------------------------------------------------------------

class RHStockAlerts(RHManufacturer):
    roles = STOCK_VIEWERS

    def get(self):
        kind = request.args.get("kind") if request.args.get("kind") in q.ALERT_KINDS else "below_safety"
        warehouse_id = int_arg(request.args, "warehouse")
        alerts = q.stock_alerts(db.session, _scope(), shanghai_today(), kind, warehouse_id)
        return render_page("manufacturer/stock_alerts.html", block="results", alerts=alerts, kind=kind,
                           warehouse_id=warehouse_id, today=shanghai_today(),
                           warehouses=q.warehouse_choices(db.session, _scope(), active_only=False), **_labels())


class RHStockAlertsCard(RHManufacturer):
    """The dashboard's stock-alert counts, loaded by htmx after the dashboard shows."""

    roles = STOCK_VIEWERS

    def get(self):
        alerts = q.stock_alerts(db.session, _scope(), shanghai_today())
        return render_page("manufacturer/stock_alerts.html", block="card", alerts=alerts, **_labels())


class RHInventorySettings(RHManufacturer):
    roles = ("admin",)

    def _form(self, form, errors, status=200):
        return render_page("manufacturer/inventory_settings.html", status=status, form=form, errors=errors)

    def get(self):
        return self._form(all_settings(db.session), {})

    def post(self):
        values = {k: request.form.get(k, "") for k in ops.INVENTORY_SETTINGS}
        try:
            ops.save_inventory_settings(db.session, values)
        except InvalidInput as err:
            return self._form(values, refused(err), status=400)
        flash(_("Settings saved."), "success")
        return redirect(url_for("manufacturer.inventory_settings"))
