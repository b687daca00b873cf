"""The manufacturer's order and quote pages: every order in the user's reach (a regional
manager sees the orders of dealers in their regions), one order with its lots, back-orders
and timeline and the actions cancel and re-allocate; quotes to answer."""
from __future__ import annotations

from datetime import date, timedelta

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel import queries as channel_q
from app.channel.queries import CHANNEL_VIEWERS, ChannelScope
from app.compliance import queries as audit_q
from app.core.coerce import int_arg
from app.core.db import db
from app.finance import queries as finance_q
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.jobs import request_job
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.orders import operations as ops
from app.orders import queries as orders_q
from app.orders import jobs as order_jobs
from app.orders import quotes as quote_ops
from app.pricing.queries import BAND_LABELS, SOURCE_LABELS

ORDER_ACTORS = ("admin", "channel_manager", "regional_manager")
QUOTE_ANSWERERS = ("admin", "channel_manager", "regional_manager")
#: the validity the answer form proposes
QUOTE_VALID_DAYS = 30


def _scope():
    return ChannelScope.of(current_user)


def _labels() -> dict:
    return {"status_labels": orders_q.STATUS_LABELS, "badges": orders_q.STATUS_BADGES,
            "quote_labels": orders_q.QUOTE_LABELS}


def _day_arg(name: str, errors: dict) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None
    if not orders_q.day_in_range(day):
        errors[name] = _("Enter a date between %(first)s and %(last)s.", first=orders_q.FIRST_DAY.isoformat(),
                         last=orders_q.LAST_DAY.isoformat())
        return None
    return day


class RHOrders(RHManufacturer):
    """Orders in the user's reach, newest first: status, dealer, dates, number."""

    roles = CHANNEL_VIEWERS

    def get(self):
        errors: dict = {}
        f = orders_q.OrderFilter(status=request.args.get("status", ""), search=request.args.get("q", "")[:40],
                                 dealer_id=int_arg(request.args, "dealer"), since=_day_arg("since", errors),
                                 until=_day_arg("until", errors))
        page = orders_q.orders_page(db.session, _scope(), request.args.get("after"), f)
        return render_page("manufacturer/orders.html", block="results", status=400 if errors else 200, page=page,
                           f=f, errors=errors, dealers=channel_q.dealer_choices(db.session, _scope()),
                           can_reallocate_all=RHReallocateAll.allows(current_user), **_labels())


class RHReallocateAll(RHManufacturer):
    """Try every open back-order again, in the background (the job page shows progress)."""

    roles = order_jobs.REALLOCATE_ROLES

    def post(self):
        request_id = (request.form.get("request_id") or "")[:64]
        if not request_id.replace("-", "").isalnum():
            abort(400)
        job = request_job(db.session, order_jobs.REALLOCATE_JOB, {}, f"reallocate-{current_user.id}-{request_id}",
                          requested_by=current_user)
        return redirect(url_for("files.job", job_id=job.id))


class RHOrderRecord(RHManufacturer):
    roles = CHANNEL_VIEWERS

    def _load(self, order_id, **kwargs):
        self.order = get_or_404(orders_q.order_for(db.session, _scope(), order_id))


def _order_page(order, errors: dict | None = None, status: int = 200):
    may_act = RHOrderCancel.allows(current_user)
    return render_page("manufacturer/order.html", status=status, order=order,
                       allocations=orders_q.allocations_of(db.session, order),
                       events=orders_q.timeline(db.session, order), errors=errors or {},
                       history=audit_q.history(db.session, "orders", str(order.id)),
                       invoices=finance_q.order_invoices(db.session, order.id),
                       can_cancel=may_act and order.status in ops.CANCELLABLE
                       and not any(line.shipped_quantity for line in order.lines),
                       can_reallocate=may_act and order.status in ops.ALLOCATABLE and any(
                           line.quantity > line.allocated_quantity + line.shipped_quantity for line in order.lines),
                       **_labels())


class RHOrder(RHOrderRecord):
    def get(self, order_id):
        return _order_page(self.order)


class RHOrderCancel(RHOrderRecord):
    roles = ORDER_ACTORS

    def post(self, order_id):
        try:
            ops.cancel_order(db.session, self.order, current_user, request.form.get("reason", ""))
        except InvalidInput as err:
            db.session.rollback()
            order = get_or_404(orders_q.order_for(db.session, _scope(), order_id))
            return _order_page(order, {err.field or "form": err.message}, status=422)
        flash(_("Order %(number)s cancelled.", number=self.order.number), "success")
        return redirect(url_for("manufacturer.order", order_id=order_id))


class RHOrderReallocate(RHOrderRecord):
    """Try the back-ordered lines again (after receipts or transfers)."""

    roles = ORDER_ACTORS

    def post(self, order_id):
        units = ops.allocate_order(db.session, self.order, current_user.id)
        if units:
            flash(_("%(n)s more units allocated.", n=units), "success")
        else:
            flash(_("No more stock could be allocated yet."), "info")
        return redirect(url_for("manufacturer.order", order_id=order_id))


# --- quotes --------------------------------------------------------------------------------------

class RHQuotes(RHManufacturer):
    roles = CHANNEL_VIEWERS

    def get(self):
        status = request.args.get("status", "")
        search = request.args.get("q", "")[:40]
        page = orders_q.quotes_page(db.session, _scope(), request.args.get("after"), status, search)
        return render_page("manufacturer/quotes.html", block="results", page=page, status_filter=status, search=search,
                           today=shanghai_today(), **_labels())


class RHQuote(RHManufacturer):
    """A quote; while it is requested, the answer form with ``resolve_price``'s prices."""

    roles = CHANNEL_VIEWERS

    def _load(self, quote_id):
        self.quote = get_or_404(orders_q.quote_for(db.session, _scope(), quote_id))

    def _page(self, form: dict | None = None, row_errors: dict | None = None, errors: dict | None = None,
              status: int = 200):
        quote, today = self.quote, shanghai_today()
        answering = quote.status == "requested" and RHQuoteAnswer.allows(current_user)
        suggested = quote_ops.suggested_prices(db.session, quote, today) if answering else {}
        if form is None:
            form = {f"price-{line.id}": suggested[line.id].price if suggested.get(line.id) and
                    suggested[line.id].price is not None else "" for line in quote.lines}
            form["valid_until"] = (today + timedelta(days=QUOTE_VALID_DAYS)).isoformat()
        return render_page("manufacturer/quote.html", status=status, quote=quote, today=today,
                           shown_status=orders_q.quote_status(quote, today), answering=answering, suggested=suggested,
                           form=form, row_errors=row_errors or {}, errors=errors or {}, sources=SOURCE_LABELS,
                           band_labels=BAND_LABELS, history=audit_q.history(db.session, "quotes", str(quote.id)),
                           **_labels())

    def get(self, quote_id):
        return self._page()


class RHQuoteAnswer(RHQuote):
    roles = QUOTE_ANSWERERS

    def post(self, quote_id):
        form = dict(request.form)
        prices = {line.id: form.get(f"price-{line.id}", "") for line in self.quote.lines}
        try:
            quote_ops.answer_quote(db.session, self.quote, current_user, prices, form.get("valid_until", ""))
        except quote_ops.QuoteRefused as err:
            db.session.rollback()
            self.quote = get_or_404(orders_q.quote_for(db.session, _scope(), quote_id))
            row_errors: dict = {}
            errors: dict = {}
            for index, field_, message in err.problems:
                if index is None:
                    errors[field_ or "form"] = message
                else:
                    row_errors.setdefault(self.quote.lines[index].id, []).append(message)
            return self._page(form, row_errors, errors, status=422)
        flash(_("Quote %(number)s answered.", number=self.quote.number), "success")
        return redirect(url_for("manufacturer.quote", quote_id=quote_id))
