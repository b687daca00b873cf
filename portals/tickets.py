"""Service tickets (工单), shared by the three portals: the list, raising a ticket, one
ticket with its SLA clock and timeline, and the acts on it. Each portal mixes these
into its own handler base (portals/<portal>/tickets.py) and names its URLs; what a
user may see and do is decided in app.service.tickets from the signed-in user."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import regions as all_regions
from app.core.coerce import as_id
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import get_or_404
from app.core.htmx import redirect, render_page
from app.service import tickets as tk
from app.service.installed import STANDING_LABELS
from app.service.parts import parts_of
from app.service.sla import SHANGHAI
from portals.forms import refused


def labels() -> dict:
    return {"urgencies": tk.urgency_labels(), "statuses": tk.status_labels(), "standings": STANDING_LABELS,
            "event_kinds": tk.event_labels()}


class TicketsView:
    """GET: the tickets in the user's scope — the active queue by due time, or by status."""

    portal_name = "hospital"
    new_view = None

    def get(self):
        status = request.args.get("status", "")
        status = status if status in ("all", *tk.status_labels()) else ""
        urgency = request.args.get("urgency", "")
        region_id = as_id(request.args.get("region")) if self.portal_name == "manufacturer" else None
        overdue = request.args.get("overdue") == "1"
        page = tk.tickets_page(db.session, current_user, request.args.get("after"), status, urgency, region_id, overdue)
        regions = all_regions(db.session, max_level=1) if self.portal_name == "manufacturer" else []
        return render_page(f"{self.portal_name}/tickets.html", block="results", page=page, status_filter=status,
                           urgency_filter=urgency, region_id=region_id, regions=regions, overdue=overdue,
                           portal_name=self.portal_name, now=datetime.now(timezone.utc),
                           may_raise=self.new_view is not None and self.new_view.allows(current_user)
                           and tk.may_raise(current_user), **labels())


def _new_page(portal_name: str, form: dict, errors: dict, status: int = 200):
    hospitals = tk.hospitals_for(db.session, current_user)
    chosen = next((h for h in hospitals if h.id == as_id(form.get("hospital_id"))), None)
    if chosen is None and len(hospitals) == 1:
        chosen = hospitals[0]
    if chosen is not None:
        form["hospital_id"] = chosen.id
    units = tk.units_of(db.session, chosen.id) if chosen else []
    return render_page(f"{portal_name}/ticket_new.html", status=status, form=form, errors=errors, hospitals=hospitals,
                       chosen=chosen, units=units, portal_name=portal_name, **labels())


class TicketNewView:
    portal_name = "hospital"

    def get(self):
        return _new_page(self.portal_name, {"hospital_id": request.args.get("hospital", ""),
                                            "unit_id": request.args.get("unit", ""), "urgency": "normal"}, {})

    def post(self):
        form = request.form.to_dict()
        uploads = [(f.filename, f.read()) for f in request.files.getlist("photos") if f and f.filename]
        try:
            ticket = tk.raise_ticket(db.session, current_user, form, uploads)
        except InvalidInput as err:
            return _new_page(self.portal_name, form, refused(err), status=400)
        flash(_("Ticket %(number)s raised; the SLA clock is running.", number=ticket.number), "success")
        return redirect(url_for(f"{self.portal_name}.ticket", ticket_id=ticket.id))


def ticket_page(portal_name: str, ticket, errors: dict | None = None, form: dict | None = None, status: int = 200):
    parts = parts_of(db.session, ticket_id=ticket.id)
    extra = {}
    if portal_name == "manufacturer" and tk.may_work(current_user, ticket):
        extra["assignees"] = tk.assignees(db.session)
        extra["part_choices"] = tk.available_parts(db.session)
        extra["parts_charged"] = tk.charges(ticket.unit, ticket.created_at.astimezone(SHANGHAI).date())[2]
    from app.identity.models import User

    raised_by = db.session.get(User, ticket.raised_by_id) if ticket.raised_by_id else None
    assigned_to = db.session.get(User, ticket.assigned_to_id) if ticket.assigned_to_id else None
    return render_page(f"{portal_name}/ticket.html", status=status, ticket=ticket, errors=errors or {}, form=form or {},
                       now_utc=datetime.now(timezone.utc), raised_by=raised_by, assigned_to=assigned_to, events=tk.timeline(db.session, ticket), parts=parts,
                       may_work=tk.may_work(current_user, ticket), may_confirm=tk.may_confirm(current_user, ticket),
                       may_cancel=ticket.status in tk.ACTIVE and (
                           (current_user.portal == "hospital") or
                           (current_user.portal == "manufacturer" and current_user.has_role(*tk.WORKERS))),
                       portal_name=portal_name, **extra, **labels())


class TicketView:
    portal_name = "hospital"

    def _load(self, ticket_id, **kwargs):
        self.ticket = get_or_404(tk.ticket_for(db.session, current_user, ticket_id))

    def get(self, ticket_id):
        return ticket_page(self.portal_name, self.ticket)


class TicketActView(TicketView):
    """POST one act on the ticket: ``act`` names the operation."""

    act = ""
    FIELDS = {"assign": ("assigned_to_id", "note"), "note": ("note",), "resolve": ("resolution", "labour_amount"),
              "confirm": ("rating", "rating_comment"), "reopen": ("reopen_reason",), "cancel": ("cancel_reason",),
              "parts": ("parts",) + tuple(f"{k}-{n}" for k in ("stock", "quantity", "price") for n in range(3))}

    def get(self, ticket_id):
        abort(405)

    def post(self, ticket_id):
        form = request.form.to_dict()
        t = self.ticket
        try:
            if self.act == "assign":
                tk.assign(db.session, t, current_user, form.get("assigned_to_id"), form.get("note"))
            elif self.act == "note":
                tk.add_note(db.session, t, current_user, form.get("note"))
            elif self.act == "resolve":
                tk.resolve(db.session, t, current_user, form)
            elif self.act == "confirm":
                tk.confirm(db.session, t, current_user, form)
            elif self.act == "reopen":
                tk.reopen(db.session, t, current_user, form)
            elif self.act == "cancel":
                tk.cancel(db.session, t, current_user, form)
            elif self.act == "parts":
                tk.use_ticket_parts(db.session, t, current_user, _part_lines(form))
            else:
                abort(404)
        except InvalidInput as err:
            errors = refused(err, self.FIELDS.get(self.act, ()))
            db.session.refresh(t)
            return ticket_page(self.portal_name, t, errors, form, status=400)
        flash(done_messages()[self.act], "success")
        return redirect(url_for(f"{self.portal_name}.ticket", ticket_id=t.id))


PART_ROWS = 3


def done_messages() -> dict:
    return {"assign": _("Ticket assigned."), "note": _("Note added."),
            "resolve": _("Ticket resolved; the hospital confirms it."), "confirm": _("Thank you: the ticket is closed."),
            "reopen": _("Ticket reopened."), "cancel": _("Ticket cancelled."), "parts": _("Spare parts recorded.")}


def _part_lines(form: dict) -> list[dict]:
    """The part rows of the form: a stock choice "warehouse:lot" and a quantity."""
    from app.core import coerce

    lines = []
    for n in range(PART_ROWS):
        choice, quantity = (form.get(f"stock-{n}") or "").strip(), (form.get(f"quantity-{n}") or "").strip()
        if not choice and not quantity:
            continue
        warehouse, _sep, lot = choice.partition(":")
        if as_id(warehouse) is None or as_id(lot) is None:
            raise InvalidInput(f"stock-{n}", _("Choose the spare part's stock for every row with a quantity."))
        lines.append({"warehouse_id": as_id(warehouse), "lot_id": as_id(lot), "unit_price": form.get(f"price-{n}"),
                      "quantity": coerce.whole({f"quantity-{n}": quantity}, f"quantity-{n}", 1, 1000, default=1)})
    if not lines:
        raise InvalidInput("parts", _("Add at least one spare part."))
    return lines
