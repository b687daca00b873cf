"""The manufacturer portal: dashboard, users, and the channel lists."""
from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import current_app, flash, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.catalog.models import Sku
from app.channel import queries as channel_q
from app.channel.models import Dealer, Hospital
from app.compliance import approvals
from app.compliance import queries as audit_q
from app.compliance.models import ApprovalStep
from app.identity.rules import ROLES
from portals import approvals as portal_approvals
from app.compliance.models import AuditEvent
from app.core.coerce import as_id
from app.core.db import db
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.jobs import KINDS, request_job
from app.identity import operations as ops
from app.identity import queries as identity_q
from app.identity.models import User
from portals.forms import apply_error
from portals.manufacturer.forms import ActiveForm, InviteForm

class RHDashboard(RHManufacturer):
    def get(self):
        scope = channel_q.ChannelScope.of(current_user)
        figures = {
            "dealers": _count(Dealer, scope),
            "hospitals": _count(Hospital, scope),
            "skus": db.session.scalar(select(func.count()).select_from(Sku).where(Sku.status == "active")),
        }
        recent = []
        if current_user.has_role("admin", "qa_ra"):
            recent = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(8)))
        return render_page("manufacturer/dashboard.html", figures=figures, recent=recent)


def _count(model, scope) -> int:
    # Master-data tables are small (hundreds to thousands of rows): counting them on the
    # dashboard is cheap. Transaction tables will use pre-aggregated figures instead.
    stmt = select(func.count()).select_from(model).where(model.status == "active")
    clause = scope.regions_clause(model.region_id)
    return db.session.scalar(stmt if clause is None else stmt.where(clause))


class RHUsers(RHManufacturer):
    roles = ("admin",)

    def get(self):
        search, portal = request.args.get("q", "")[:100], request.args.get("portal", "")
        page = identity_q.users_page(db.session, request.args.get("after"), search, portal)
        return render_page("manufacturer/users.html", block="results",
                           page=page, search=search, portal=portal)


class RHInviteUser(RHManufacturer):
    roles = ("admin",)

    def _form(self, form=None) -> InviteForm:
        form = form or InviteForm()
        form.dealer_id.choices = [(0, "—")] + [(d.id, f"{d.name} ({d.code})") for d in channel_q.dealer_choices(db.session)]
        form.hospital_id.choices = [(0, "—")] + [(h.id, h.name) for h in channel_q.hospital_choices(db.session)]
        form.region_ids.choices = [(r.id, r.name) for r in channel_q.regions(db.session, max_level=2)]
        return form

    def get(self):
        return render_page("manufacturer/invite.html", form=self._form())

    def post(self):
        form = self._form()
        if form.validate_on_submit():
            invitation = ops.Invitation(
                email=form.email.data, name=form.name.data, portal=form.portal.data, roles=form.roles.data or [],
                dealer_id=form.dealer_id.data or None, hospital_id=form.hospital_id.data or None,
                region_ids=tuple(form.region_ids.data or ()),
            )
            try:
                user = ops.invite_user(db.session, current_app.secret_key, g.tenant, invitation,
                                       lambda token: url_for("auth.accept_invitation", token=token, _external=True))
            except ops.IdentityError as err:
                apply_error(form, err)
            else:
                flash(_("Invitation sent to %(email)s.", email=user.email), "success")
                return redirect(url_for("manufacturer.user", user_id=user.id))
        return render_page("manufacturer/invite.html", form=form, status=400)


class RHUser(RHManufacturer):
    roles = ("admin",)

    def _load(self, user_id):
        self.user = get_or_404(db.session.get(User, user_id))

    def get(self, user_id):
        return render_page("manufacturer/user.html", user=self.user, form=ActiveForm(),
                           history=audit_q.history(db.session, "users", str(self.user.id)))


class RHUserActive(RHUser):
    def post(self, user_id):
        form = ActiveForm()
        activate = request.form.get("active") == "1"
        if form.validate_on_submit():
            try:
                ops.set_active(db.session, current_user, self.user, activate, form.reason.data)
            except ops.IdentityError as err:
                apply_error(form, err)
            else:
                flash(_("User activated.") if activate else _("User deactivated."), "success")
                return redirect(url_for("manufacturer.user", user_id=self.user.id))
        return render_page("manufacturer/user.html", user=self.user, form=form, status=400,
                           history=audit_q.history(db.session, "users", str(self.user.id)))


AUDITORS = ("admin", "qa_ra")
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def _audit_filter(args) -> tuple[audit_q.AuditFilter, dict[str, str]]:
    """The filter from a query string or form, with an error per field that is wrong."""
    errors, days = {}, {}
    for name in ("date_from", "date_to"):
        value = (args.get(name) or "").strip()
        days[name] = None
        if value:
            try:
                days[name] = date.fromisoformat(value)
            except ValueError:
                errors[name] = _("Enter a date as YYYY-MM-DD.")
    if days["date_from"] and days["date_to"] and days["date_from"] > days["date_to"]:
        errors["date_to"] = _("The end date is before the start date.")
    flt = audit_q.AuditFilter(
        entity_type=(args.get("entity_type") or "")[:60], entity_id=(args.get("entity_id") or "")[:60],
        actor=(args.get("actor") or "")[:100], action=(args.get("action") or "")[:40],
        date_from=days["date_from"], date_to=days["date_to"],
    )
    return flt, errors


class RHAudit(RHManufacturer):
    roles = AUDITORS

    def get(self):
        flt, errors = _audit_filter(request.args)
        page = audit_q.audit_page(db.session, flt if not errors else audit_q.AuditFilter(), request.args.get("after"))
        return render_page("manufacturer/audit.html", block="results", page=page, flt=flt, errors=errors,
                           entity_types=audit_q.entity_types(db.session), request_id=uuid.uuid4().hex,
                           status=400 if errors else 200)


class RHAuditExport(RHManufacturer):
    roles = AUDITORS

    def post(self):
        flt, errors = _audit_filter(request.form)
        fmt, request_id = request.form.get("format"), request.form.get("request_id", "")
        if fmt not in ("csv", "xlsx", "pdf") or not _REQUEST_ID.match(request_id):
            errors["format"] = _("Choose CSV, Excel or PDF.")
        if errors:
            page = audit_q.audit_page(db.session, audit_q.AuditFilter(), None)
            return render_page("manufacturer/audit.html", page=page, flt=flt, errors=errors, status=400,
                               entity_types=audit_q.entity_types(db.session), request_id=uuid.uuid4().hex)
        job = request_job(db.session, f"audit.export_{fmt}", flt.as_params(),
                          f"audit-export-{current_user.id}-{request_id}", requested_by=current_user)
        return redirect(url_for("files.job", job_id=job.id))


class RHJobs(RHManufacturer):
    roles = ("admin",)

    def get(self):
        status = request.args.get("status", "failed")
        status = status if status in ("", "requested", "running", "done", "failed") else "failed"
        page = audit_q.jobs_page(db.session, status, request.args.get("after"))
        return render_page("manufacturer/jobs.html", block="results", page=page, status=status, kinds=KINDS)


def _approvals_page(tab: str, errors: dict | None = None, status: int = 200):
    """Inbox (what waits for me), what I asked for, and for admin/QA everything open;
    below them, the delegation form."""
    if tab == "mine":
        items = approvals.requested_by(db.session, current_user)
    elif tab == "open" and current_user.has_role("admin", "qa_ra"):
        items = approvals.open_requests(db.session)
    else:
        tab, items = "inbox", approvals.inbox(db.session, current_user)
        g.approvals_waiting = len(items)  # the navigation's count: already known, not counted again
    return render_page("manufacturer/approvals.html", status=status, items=items, tab=tab, kinds=approvals.KINDS,
                       overdue=approvals.is_overdue, delegations=approvals.delegations_of(db.session, current_user),
                       colleagues=[u for u in identity_q.colleagues(db.session, current_user) if u.id != current_user.id],
                       errors=errors or {}, today=approvals.today())


class RHApprovals(RHManufacturer):
    def get(self):
        return _approvals_page(request.args.get("tab", "inbox"))


class RHDelegate(RHManufacturer):
    def post(self):
        errors = {}
        try:
            starts = date.fromisoformat(request.form.get("starts_on", ""))
            ends = date.fromisoformat(request.form.get("ends_on", ""))
            to_user = int(request.form.get("to_user_id", "0"))
            approvals.set_delegation(db.session, current_user, to_user, starts, ends, request.form.get("reason", "").strip())
        except ValueError:
            errors["ends_on"] = _("Enter a date as YYYY-MM-DD.")
        except approvals.ApprovalError as err:
            errors[err.field or "form"] = err.message
        if errors:
            return _approvals_page("inbox", errors, 400)
        flash(_("Delegation saved."), "success")
        return redirect(url_for("manufacturer.approvals"))


class RHApprovalRequest(portal_approvals.RHApprovalRequest, RHManufacturer):
    pass


class RHApprovalChains(RHManufacturer):
    roles = ("admin",)

    def _page(self, status=200, errors=None, form=None):
        chains = {kind: approvals.chain_steps(db.session, kind) for kind in approvals.KINDS}
        return render_page("manufacturer/approval_chains.html", status=status, chains=chains, kinds=approvals.KINDS,
                           errors=errors or {}, form=form or {}, manufacturer_roles=ROLES["manufacturer"])

    def get(self):
        return self._page()

    def post(self):
        form = request.form
        if form.get("remove"):
            step = db.session.get(ApprovalStep, as_id(form["remove"])) if as_id(form["remove"]) else None
            if step is not None:
                approvals.remove_step(db.session, step)
            return redirect(url_for("manufacturer.approval_chains"))
        errors = {}
        value = None
        if form.get("condition_field"):
            try:
                value = Decimal(form.get("condition_value", "").replace(",", ""))
            except InvalidOperation:
                errors["condition_value"] = _("Enter a number.")
        sla = form.get("sla_hours", "").strip()
        if sla and not as_id(sla):
            errors["sla_hours"] = _("Enter whole hours, 1 or more.")
        if not errors:
            try:
                approvals.add_step(db.session, form.get("kind", ""), approvals.StepSpec(
                    name=form.get("name", ""), role=form.get("role", ""), same_region=form.get("same_region") == "1",
                    condition_field=form.get("condition_field") or None, condition_op=form.get("condition_op") or None,
                    condition_value=value, sla_hours=int(sla) if sla else None))
            except approvals.ApprovalError as err:
                errors[err.field or "form"] = err.message
        if errors:
            return self._page(400, {"kind": form.get("kind"), **errors}, form)
        flash(_("Step added."), "success")
        return redirect(url_for("manufacturer.approval_chains") + f"#chain-{form.get('kind')}")
