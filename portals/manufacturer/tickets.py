"""After-sales: the ticket queue with live SLA timers, one ticket and its work (assign,
answer, spare parts, resolve), the region view of response and resolution times, and
the SLA policies (per urgency, region override, business hours)."""
from __future__ import annotations

from datetime import timedelta

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.channel.models import Region
from app.core import coerce
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.service import tickets as tk
from app.service.models import SlaPolicy
from portals.forms import refused
from portals.tickets import TicketActView, TicketNewView, TicketsView, TicketView, labels


class RHTicketNew(TicketNewView, RHManufacturer):
    portal_name = "manufacturer"
    roles = tk.WORKERS


class RHTickets(TicketsView, RHManufacturer):
    portal_name = "manufacturer"
    roles = tk.VIEWERS
    new_view = RHTicketNew


class RHTicket(TicketView, RHManufacturer):
    portal_name = "manufacturer"
    roles = tk.VIEWERS


class _Act(TicketActView, RHManufacturer):
    portal_name = "manufacturer"
    roles = tk.WORKERS


class RHTicketAssign(_Act):
    act = "assign"


class RHTicketNote(_Act):
    act = "note"


class RHTicketParts(_Act):
    act = "parts"


class RHTicketResolve(_Act):
    act = "resolve"


class RHTicketCancel(_Act):
    act = "cancel"


class RHServiceTimes(RHManufacturer):
    """Response and resolution times per area: medians and the share within the SLA."""

    roles = tk.VIEWERS

    def get(self):
        today = shanghai_today()
        values = request.args.to_dict()
        errors = {}
        try:
            since = coerce.day(values, "since") or today - timedelta(days=89)
            until = coerce.day(values, "until") or today
            if since > until:
                raise InvalidInput("since", _("The start day must not be after the end day."))
        except InvalidInput as err:
            errors[err.field] = err.message
            since, until = today - timedelta(days=89), today
        rows = tk.region_times(db.session, current_user, since, until)
        return render_page("manufacturer/service_times.html", block="results", rows=rows, since=since, until=until,
                           errors=errors, form=values, status=400 if errors else 200)


def _regions():
    return list(db.session.scalars(select(Region).where(Region.level.in_((1, 2))).order_by(Region.path)))


def _policies_page(form=None, errors=None, status=200):
    return render_page("manufacturer/sla_policies.html", status=status, policies=tk.policies(db.session),
                       regions=_regions(), form=form or {"urgency": "normal"}, errors=errors or {},
                       hours=tk.service_hours(db.session), **labels())


class RHSlaPolicies(RHManufacturer):
    """The targets per urgency (every region, or a region's own), and the service hours."""

    roles = ("admin", "after_sales")

    def get(self):
        return _policies_page()

    def post(self):
        form = request.form.to_dict()
        try:
            policy = tk.save_policy(db.session, form)
        except InvalidInput as err:
            return _policies_page(form, refused(err), status=400)
        flash(_("SLA policy saved: new tickets of urgency %(urgency)s use it.",
                urgency=tk.urgency_labels()[policy.urgency]), "success")
        return redirect(url_for("manufacturer.sla_policies"))


class RHSlaPolicyDelete(RHManufacturer):
    roles = ("admin", "after_sales")

    def _load(self, policy_id):
        self.policy = get_or_404(db.session.get(SlaPolicy, policy_id))

    def post(self, policy_id):
        tk.delete_policy(db.session, self.policy)
        flash(_("SLA policy removed."), "success")
        return redirect(url_for("manufacturer.sla_policies"))


class RHServiceHours(RHManufacturer):
    roles = ("admin", "after_sales")

    def post(self):
        form = request.form.to_dict()
        form["weekdays"] = request.form.getlist("weekdays")
        try:
            tk.save_service_hours(db.session, form)
        except InvalidInput as err:
            return _policies_page(None, refused(err), status=400)
        flash(_("Service hours saved."), "success")
        return redirect(url_for("manufacturer.sla_policies"))
