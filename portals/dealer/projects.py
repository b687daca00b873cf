"""Dealer pages: our project registrations (项目报备) — list, new, detail, withdraw.
A dealer sees only its own; of a conflict it learns only that one exists."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.catalog.models import Sku
from app.channel.queries import ChannelScope
from app.core.coerce import as_id
from app.core.db import db
from app.core.i18n import shanghai_today
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect, render_page
from app.orders import projects
from app.orders import queries as orders_q
from app.orders.models import PROJECT_STATUSES
from portals.forms import refused
from sqlalchemy import select

REGISTRANTS = ("dealer_owner", "dealer_sales")
LINE_ROWS = 5
FIELDS = ("hospital_id", "department", "expected_on", "valid_until", "note", "lines")


class RHProjects(RHDealer):
    def get(self):
        status = request.args.get("status", "")
        status = status if status in PROJECT_STATUSES else ""
        page = projects.projects_page(db.session, ChannelScope.of(current_user), request.args.get("after"), status)
        return render_page("dealer/projects.html", block="results", page=page, status_filter=status,
                           today=shanghai_today(),
                           can_register=current_user.has_role(*REGISTRANTS))


def _form_values(form) -> dict:
    values = {k: (form.get(k) or "").strip() for k in ("hospital_id", "department", "expected_on", "valid_until", "note")}
    values["lines"] = [{"sku_id": form.get(f"sku_id_{i}", ""), "expected_quantity": form.get(f"expected_quantity_{i}", "")}
                       for i in range(LINE_ROWS)]
    return values


class RHProjectNew(RHDealer):
    roles = REGISTRANTS

    def _page(self, values, errors, status=200):
        hospitals = orders_q.sellable_hospitals(db.session, current_user.dealer_id, shanghai_today())
        # only the departments of a hospital we may sell to
        hospital = next((h for h in hospitals if h.id == as_id(values.get("hospital_id"))), None)
        skus = list(db.session.execute(select(Sku.id, Sku.code, Sku.name).where(Sku.status == "active").order_by(Sku.code)))
        return render_page("dealer/project_form.html", block="department", values=values, errors=errors, status=status,
                           line_rows=LINE_ROWS,
                           hospitals=[(h.id, f"{h.name} ({h.code})") for h in hospitals],
                           departments=hospital.departments if hospital else [],
                           skus=[(s.id, f"{s.code} {s.name}") for s in skus])

    def get(self):
        return self._page({"hospital_id": request.args.get("hospital_id", ""), "lines": []}, {})

    def post(self):
        values = _form_values(request.form)
        if request.form.get("refresh"):  # the hospital changed: offer its departments
            return self._page(values, {})
        try:
            registration = projects.register_project(db.session, current_user.dealer, current_user, values)
        except InvalidInput as err:
            line_fields = tuple(f"{k}_{i}" for k in ("sku_id", "expected_quantity") for i in range(LINE_ROWS))
            return self._page(values, refused(err, FIELDS + line_fields), status=400)
        flash(_("Project registration %(number)s submitted.", number=registration.number), "success")
        return redirect(url_for("dealer.project", registration_id=registration.id))


class RHProject(RHDealer):
    def _load(self, registration_id):
        self.registration = get_or_404(projects.project_for(db.session, ChannelScope.of(current_user), registration_id))

    def get(self, registration_id, errors=None, status=200):
        # No history here: the audit trail holds the conflicts, i.e. other dealers' names.
        return render_page("dealer/project.html", registration=self.registration, errors=errors or {}, status=status,
                           conflicted=bool(self.registration.conflicts)
                           or bool(projects.conflicting_registrations(db.session, self.registration)),
                           can_withdraw=current_user.has_role(*REGISTRANTS)
                           and self.registration.status in projects.OPEN_STATUSES)


class RHProjectWithdraw(RHProject):
    roles = REGISTRANTS

    def post(self, registration_id):
        try:
            projects.withdraw_project(db.session, self.registration, current_user, request.form.get("reason"))
        except InvalidInput as err:
            return self.get(registration_id, refused(err, ("reason",)), 400)
        flash(_("Registration %(number)s withdrawn.", number=self.registration.number), "success")
        return redirect(url_for("dealer.project", registration_id=self.registration.id))
