"""Dealer pages about orders and quotes: our orders (list, new with a gate check per line,
detail with lots, back-orders and timeline, cancel) and our quotes (request, read,
order or decline) — never another dealer's."""
from __future__ import annotations

import uuid
from datetime import date

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.core.coerce import as_id
from app.core.db import db
from app.finance import queries as finance_q
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.orders import operations as ops
from app.orders import queries as orders_q
from app.orders import quotes as quote_ops
from app.rebates import ledger as rebate_ledger

ORDERING = ("dealer_owner", "dealer_sales")
BLANK_ROWS = 3


def _scope():
    return ChannelScope.of(current_user)


def _labels() -> dict:
    return {"status_labels": orders_q.STATUS_LABELS, "badges": orders_q.STATUS_BADGES,
            "quote_labels": orders_q.QUOTE_LABELS}


# --- the order list ----------------------------------------------------------------------------

class RHOrders(RHDealer):
    """Our orders, newest first (keyset pages), by status, searched by number."""

    def get(self):
        status = request.args.get("status", "")
        search = request.args.get("q", "")[:40]
        page = orders_q.orders_page(db.session, _scope(), request.args.get("after"),
                                    orders_q.OrderFilter(status=status, search=search))
        return render_page("dealer/orders.html", block="results", page=page, status_filter=status, search=search,
                           can_order=RHOrderNew.allows(current_user), **_labels())


# --- a new order ----------------------------------------------------------------------------------

def _form_rows(form, prefix: str = "") -> list[dict]:
    """The form's line rows as typed (aligned lists sku_id[], quantity[]; free-goods
    rows under the prefix ``free_``)."""
    skus, quantities = form.getlist(prefix + "sku_id"), form.getlist(prefix + "quantity")
    rows = []
    for i in range(max(len(skus), len(quantities))):
        rows.append({"sku_id": skus[i].strip() if i < len(skus) else "",
                     "quantity": quantities[i].strip() if i < len(quantities) else ""})
    return rows[:ops.MAX_LINES]


def _lines_of(rows: list[dict], free_goods: bool = False) -> tuple[list[dict], list]:
    """The non-empty rows as order lines, and each line's row number (for free-goods
    rows, ``("free", row number)``)."""
    lines, where = [], []
    for i, row in enumerate(rows):
        if not row["sku_id"] and not row["quantity"]:
            continue
        line = {"sku_id": as_id(row["sku_id"]), "quantity": row["quantity"]}
        if free_goods:
            line["free_goods"] = True
        lines.append(line)
        where.append(("free", i) if free_goods else i)
    return lines, where


def _split(by_row: dict) -> tuple[dict, dict]:
    """Per-row values of the ordered lines and of the free-goods lines, apart."""
    return ({k: v for k, v in by_row.items() if not isinstance(k, tuple)},
            {k[1]: v for k, v in by_row.items() if isinstance(k, tuple)})


def _day_field(form, name: str, errors: dict) -> date | None:
    value = (form.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def order_form(form: dict, rows: list[dict], row_errors: dict | None = None, errors: dict | None = None,
               checks: dict | None = None, status: int = 200, block: str = "order_form", free_rows=None,
               checked=None):
    """The order form; ``row_errors``/``checks`` are keyed by row number, a free-goods
    row's by ``("free", row number)``; ``checked`` the OrderCheck of a "check"."""
    day = shanghai_today()
    while len(rows) < 1:
        rows.append({"sku_id": "", "quantity": ""})
    free_rows = free_rows or [{"sku_id": "", "quantity": ""}]  # one blank row works without htmx
    row_errors, free_row_errors = _split(row_errors or {})
    checks, free_checks = _split(checks or {})
    return render_page("dealer/order_new.html", block=block, status=status, form=form, rows=rows,
                       row_errors=row_errors, errors=errors or {}, checks=checks,
                       free_rows=free_rows, free_row_errors=free_row_errors, free_checks=free_checks,
                       rebate=rebate_ledger.balances(db.session, current_user.dealer_id, day),
                       offset_cap_pct=rebate_ledger.offset_cap_pct(db.session), checked=checked,
                       skus=orders_q.orderable_skus(db.session, current_user.dealer_id, day),
                       hospitals=orders_q.sellable_hospitals(db.session, current_user.dealer_id, day))


class RHOrderNew(RHDealer):
    """The order form: lines of SKU × quantity, optionally for one hospital. "Check" runs
    every gate and shows price, stock and problems per line without writing; "Place the
    order" places it (the hidden key makes a double submit one order)."""

    roles = ORDERING

    def get(self):
        if request.args.get("row"):  # htmx: one more empty line (a fresh id: the button may be pressed again)
            return render_page("dealer/order_new.html", block="line_row", row={"sku_id": "", "quantity": ""},
                               i=f"new-{uuid.uuid4().hex[:8]}", row_errors={}, checks={},
                               prefix="free_" if request.args.get("free") else "",
                               skus=orders_q.orderable_skus(db.session, current_user.dealer_id, shanghai_today()))
        form = {"idempotency_key": uuid.uuid4().hex, "hospital_id": request.args.get("hospital", "")}
        return order_form(form, [{"sku_id": "", "quantity": ""} for _i in range(BLANK_ROWS)], block="content")

    def post(self):
        f = request.form
        form = {"idempotency_key": (f.get("idempotency_key") or "")[:64] or uuid.uuid4().hex,
                "hospital_id": f.get("hospital_id", ""), "requested_delivery_on": f.get("requested_delivery_on", ""),
                "note": (f.get("note") or "")[:2000], "rebate_offset": (f.get("rebate_offset") or "").strip()[:40]}
        rows, free_rows = _form_rows(f), _form_rows(f, "free_")
        lines, where = _lines_of(rows)
        free_lines, free_where = _lines_of(free_rows, free_goods=True)
        lines, where = lines + free_lines, where + free_where
        errors: dict = {}
        hospital_id = as_id(form["hospital_id"])
        if form["hospital_id"] and hospital_id is None:
            errors["hospital_id"] = _("Choose a valid option.")
        delivery = _day_field(f, "requested_delivery_on", errors)
        dealer = current_user.dealer
        if f.get("action") == "check" or errors:
            checked = ops.check_lines(db.session, dealer, lines, hospital_id, requested_delivery_on=delivery,
                                      rebate_offset=form["rebate_offset"])
            row_errors, general = _place_problems(checked.problems, where)
            checks = {where[c.index]: c for c in checked.lines}
            errors.update(general)
            db.session.rollback()
            return order_form(form, rows, row_errors, errors, checks, status=200 if f.get("action") == "check" else 422,
                              free_rows=free_rows, checked=checked)
        try:
            order = ops.place_order(db.session, dealer, current_user, lines, hospital_id=hospital_id,
                                    idempotency_key=form["idempotency_key"], requested_delivery_on=delivery,
                                    note=form["note"], rebate_offset=form["rebate_offset"])
        except ops.OrderRefused as err:
            db.session.rollback()
            row_errors, general = _place_problems(err.problems, where)
            return order_form(form, rows, row_errors, general, status=422, free_rows=free_rows)
        flash(_("Order %(number)s placed.", number=order.number), "success")
        return redirect(url_for("dealer.order", order_id=order.id))


def _place_problems(problems, where: list[int]) -> tuple[dict, dict]:
    """Problems by form row (row → [(field, message)]) and the general ones (field → message)."""
    rows: dict[int, list] = {}
    general: dict[str, str] = {}
    for index, field_, message in problems:
        if index is None:
            key = field_ or "form"
            general[key] = (general[key] + " " + message) if key in general else message
        else:
            rows.setdefault(where[index] if index < len(where) else index, []).append((field_, message))
    return rows, general


# --- one order --------------------------------------------------------------------------------------

class RHOrderRecord(RHDealer):
    def _load(self, order_id, **kwargs):
        self.order = get_or_404(orders_q.order_for(db.session, _scope(), order_id))


def order_page(order, errors: dict | None = None, status: int = 200, portal: str = "dealer", **extra):
    return render_page(f"{portal}/order.html", status=status, order=order,
                       allocations=orders_q.allocations_of(db.session, order),
                       events=orders_q.timeline(db.session, order), errors=errors or {}, today=shanghai_today(),
                       invoices=finance_q.order_invoices(db.session, order.id),
                       **_labels(), **extra)


class RHOrder(RHOrderRecord):
    def get(self, order_id):
        return order_page(self.order, can_cancel=RHOrderCancel.allows(current_user)
                          and self.order.status in ops.CANCELLABLE)


class RHOrderCancel(RHOrderRecord):
    """Cancel before anything ships; a reason is required."""

    roles = ORDERING

    def post(self, order_id):
        try:
            ops.cancel_order(db.session, self.order, current_user, request.form.get("reason", ""))
        except InvalidInput as err:
            db.session.rollback()
            order = get_or_404(orders_q.order_for(db.session, _scope(), order_id))
            return order_page(order, errors={err.field or "form": err.message}, status=422, can_cancel=True)
        flash(_("Order %(number)s cancelled.", number=self.order.number), "success")
        return redirect(url_for("dealer.order", order_id=self.order.id))


# --- quotes ---------------------------------------------------------------------------------------------

class RHQuotes(RHDealer):
    """Our quote requests and the answers, newest first; the form to ask for a new one."""

    def get(self):
        page = orders_q.quotes_page(db.session, _scope(), request.args.get("after"), request.args.get("status", ""))
        return render_page("dealer/quotes.html", block="results", page=page, today=shanghai_today(),
                           status_filter=request.args.get("status", ""), can_request=RHQuoteNew.allows(current_user),
                           **_labels())


def quote_form(form: dict, rows: list[dict], row_errors: dict | None = None, errors: dict | None = None,
               status: int = 200):
    day = shanghai_today()
    return render_page("dealer/quote_new.html", status=status, form=form, rows=rows, row_errors=row_errors or {},
                       errors=errors or {}, checks={},
                       skus=orders_q.orderable_skus(db.session, current_user.dealer_id, day),
                       hospitals=orders_q.sellable_hospitals(db.session, current_user.dealer_id, day))


class RHQuoteNew(RHDealer):
    roles = ORDERING

    def get(self):
        return quote_form({"hospital_id": ""}, [{"sku_id": "", "quantity": ""} for _i in range(BLANK_ROWS)])

    def post(self):
        f = request.form
        form = {"hospital_id": f.get("hospital_id", ""), "note": (f.get("note") or "")[:2000]}
        rows = _form_rows(f)
        lines, where = _lines_of(rows)
        try:
            quote = quote_ops.request_quote(db.session, current_user.dealer, current_user, lines,
                                            hospital_id=as_id(form["hospital_id"]), note=form["note"])
        except quote_ops.QuoteRefused as err:
            db.session.rollback()
            row_errors, general = _place_problems(err.problems, where)
            return quote_form(form, rows, row_errors, general, status=422)
        flash(_("Quote request %(number)s sent.", number=quote.number), "success")
        return redirect(url_for("dealer.quote", quote_id=quote.id))


class RHQuoteRecord(RHDealer):
    def _load(self, quote_id, **kwargs):
        self.quote = get_or_404(orders_q.quote_for(db.session, _scope(), quote_id))


def quote_page(quote, errors: dict | None = None, status: int = 200, portal: str = "dealer", **extra):
    return render_page(f"{portal}/quote.html", status=status, quote=quote, today=shanghai_today(),
                       shown_status=orders_q.quote_status(quote, shanghai_today()), errors=errors or {},
                       history=audit_q.history(db.session, "quotes", str(quote.id)), **_labels(), **extra)


class RHQuote(RHQuoteRecord):
    def get(self, quote_id):
        return quote_page(self.quote, can_act=RHQuoteConvert.allows(current_user),
                          idempotency_key=uuid.uuid4().hex)


class RHQuoteConvert(RHQuoteRecord):
    """Order the quote at its prices (through every gate)."""

    roles = ORDERING

    def post(self, quote_id):
        try:
            order = quote_ops.convert_quote(db.session, self.quote, current_user,
                                            idempotency_key=(request.form.get("idempotency_key") or "")[:64] or None)
        except ops.OrderRefused as err:
            db.session.rollback()
            quote = get_or_404(orders_q.quote_for(db.session, _scope(), quote_id))
            errors = {"form": " ".join(m for _i, _f, m in err.problems)}
            return quote_page(quote, errors, status=422, can_act=True, idempotency_key=uuid.uuid4().hex)
        flash(_("Order %(number)s placed from the quote.", number=order.number), "success")
        return redirect(url_for("dealer.order", order_id=order.id))


class RHQuoteDecline(RHQuoteRecord):
    roles = ORDERING

    def post(self, quote_id):
        try:
            quote_ops.decline_quote(db.session, self.quote, current_user, request.form.get("reason"))
        except InvalidInput as err:
            db.session.rollback()
            quote = get_or_404(orders_q.quote_for(db.session, _scope(), quote_id))
            return quote_page(quote, {"form": err.message}, status=422, can_act=True, idempotency_key=uuid.uuid4().hex)
        return redirect(url_for("dealer.quote", quote_id=self.quote.id))


__all__ = ["RHOrders", "RHOrderNew", "RHOrder", "RHOrderCancel", "RHQuotes", "RHQuoteNew", "RHQuote",
           "RHQuoteConvert", "RHQuoteDecline"]
