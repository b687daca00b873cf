"""The manufacturer's rebate pages: policies (drafts edited with their tier rows, what-if
simulation, publish, new versions, retire) and settlements (periods, runs with their
progress, close a period, per-dealer results by region with export). A regional
manager sees the policies reaching their regions and the figures of their dealers."""
from __future__ import annotations

from flask import abort, flash, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.catalog.models import ProductLine, Sku
from app.channel import queries as channel_q
from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.core.coerce import int_arg
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import is_htmx, redirect, render_page
from app.core.i18n import shanghai_today
from app.rebates import accrual, explain, policies, rules, settlement, simulation
from app.rebates.models import RebatePolicy
from portals.forms import refused

def _scope():
    return ChannelScope.of(current_user)


def _choices() -> dict:
    """The form's choices, and the view helpers every rebate template uses."""
    return {**policies.view_helpers(), "regions": channel_q.regions(db.session, max_level=2),
            "product_lines": list(db.session.scalars(select(ProductLine).order_by(ProductLine.code))),
            "skus": list(db.session.execute(select(Sku.id, Sku.code, Sku.name).where(Sku.status == "active")
                                            .order_by(Sku.code).limit(5000)))}


def _form_from_request() -> dict:
    """The policy form as posted (lists for the tier rows and the multi-choices)."""
    form = {k: request.form.get(k, "") for k in (
        "code", "name", "period", "kind", "basis", "method", "valid_from", "valid_until", "region_id", "priority",
        "cap_rate", "cap_amount", "expires_after_days", "paid_within_days", "exclusive", "description",
        *[f"cond_{c}" for c in rules.CONDITIONS], *[f"cond_{c}_rate" for c in rules.CONDITIONS])}
    for many in ("dealer_tiers", "product_line_ids", "usable_as", "strategic_sku_ids"):
        form[many] = request.form.getlist(many)
    form["tier_from"], form["tier_rate"] = request.form.getlist("tier_from"), request.form.getlist("tier_rate")
    form["tiers"] = policies.tier_rows(form)
    return form


def _errors(err: InvalidInput) -> dict:
    """All of a PolicyInvalid's problems (one for another InvalidInput); rolls back."""
    errors = dict(getattr(err, "errors", None) or {})
    return errors or refused(err)


def _blank_form() -> dict:
    start = rules.parse_period(rules.shift_key(rules.period_key("quarter", shanghai_today()), 1))[1]
    return {"period": "quarter", "kind": "volume", "basis": "purchase", "method": "retroactive",
            "valid_from": start.isoformat(), "priority": 100, "usable_as": list(policies.USES),
            "tiers": [{"from": "", "rate": ""}], "dealer_tiers": [], "product_line_ids": [], "strategic_sku_ids": []}


class RHRebatePolicies(RHManufacturer):
    """Every policy and version the user may see, by code."""

    roles = policies.POLICY_VIEWERS

    def get(self):
        flt = policies.PolicyFilter(status=request.args.get("status", "") if request.args.get("status") in
                                    ("draft", "published", "retired") else "",
                                    kind=request.args.get("kind", "") if request.args.get("kind") in rules.KINDS else "",
                                    search=request.args.get("q", "")[:60])
        page = policies.policies_page(db.session, _scope(), flt, request.args.get("after"))
        return render_page("manufacturer/rebate_policies.html", block="results", page=page, flt=flt,
                           may_edit=current_user.has_role(*policies.POLICY_EDITORS), **policies.view_helpers())


class RHRebatePolicyNew(RHManufacturer):
    """A new policy, saved as a draft."""

    roles = policies.POLICY_EDITORS

    def get(self):
        return render_page("manufacturer/rebate_policy.html", policy=None, form=_blank_form(), errors={}, editing=True,
                           **_choices())

    def post(self):
        form = _form_from_request()
        try:
            policy = policies.save_draft(db.session, form)
        except InvalidInput as err:
            return render_page("manufacturer/rebate_policy.html", status=400, policy=None, form=form, errors=_errors(err),
                               editing=True, **_choices())
        flash(_("Draft %(code)s saved. Simulate it on last period's figures, then publish it.", code=policy.code),
              "success")
        return redirect(url_for("manufacturer.rebate_policy", policy_id=policy.id))


class RHRebatePolicyRecord(RHManufacturer):
    roles = policies.POLICY_VIEWERS

    def _load(self, policy_id, **kwargs):
        self.policy = get_or_404(policies.policy_for(db.session, _scope(), policy_id))

    def _page(self, form=None, errors=None, status=200, sim=None, sim_errors=None, block="content"):
        p = self.policy
        editing = p.status == "draft" and current_user.has_role(*policies.POLICY_EDITORS)
        form = form if form is not None else policies.form_values(p)
        if editing and not any(not (t.get("from") or t.get("rate")) for t in form.get("tiers", [])):
            form = dict(form, tiers=list(form.get("tiers", [])) + [{"from": "", "rate": ""}])
        return render_page("manufacturer/rebate_policy.html", block=block, status=status, policy=p, form=form,
                           errors=errors or {}, editing=editing, sim=sim, sim_errors=sim_errors or {},
                           versions=policies.versions_of(db.session, p.code),
                           draft=policies.open_draft(db.session, p.code) if p.status == "published" else None,
                           may_edit=current_user.has_role(*policies.POLICY_EDITORS),
                           history=audit_q.history(db.session, "rebate_policies", str(p.id)), **_choices())


class RHRebatePolicy(RHRebatePolicyRecord):
    """One version: its rules, its versions, and for a draft the form and the simulation."""

    def get(self, policy_id):
        sim = None
        if request.args.get("simulate") == "1" and self.policy.status == "draft":
            sim = simulation.simulate(db.session, self.policy, _scope())
        return self._page(sim=sim)


class RHRebatePolicySave(RHRebatePolicyRecord):
    roles = policies.POLICY_EDITORS

    def post(self, policy_id):
        form = _form_from_request()
        try:
            policies.save_draft(db.session, form, self.policy)
        except InvalidInput as err:
            errors = _errors(err)
            self._load(policy_id)
            return self._page(form, errors, 400)
        flash(_("Draft saved."), "success")
        return redirect(url_for("manufacturer.rebate_policy", policy_id=policy_id))


class RHRebateTierRow(RHManufacturer):
    """One blank tier row for the form (htmx "add a tier")."""

    roles = policies.POLICY_EDITORS

    def get(self):
        if not is_htmx():
            abort(404)
        return render_page("manufacturer/rebate_policy.html", block="tier_row", tier={"from": "", "rate": ""},
                           n=None, errors={}, **policies.view_helpers())


class RHRebatePolicySimulate(RHRebatePolicyRecord):
    """The draft (as saved, or as just typed) against the published version on last
    period's actual figures. Runs inline: one statement per side (see bench/rebates.py)."""

    def get(self, policy_id):
        if self.policy.status != "draft":
            abort(404)
        return self._page(sim=simulation.simulate(db.session, self.policy, _scope()), block="simulation")

    def post(self, policy_id):
        if self.policy.status != "draft" or not current_user.has_role(*policies.POLICY_EDITORS):
            abort(403)
        form = _form_from_request()
        try:
            attrs = policies.check_policy(db.session, form, self.policy)
        except InvalidInput as err:
            errors = _errors(err)
            self._load(policy_id)
            return self._page(form, errors, 400, sim_errors=errors, block="simulation" if is_htmx() else "content")
        trial = RebatePolicy(**{k: v for k, v in attrs.items() if k != "code"}, code=self.policy.code,
                             version=self.policy.version, supersedes_id=self.policy.supersedes_id, status="draft")
        sim = simulation.simulate(db.session, trial, _scope())
        return self._page(form, sim=sim, block="simulation" if is_htmx() else "content")


class RHRebatePolicyPublish(RHRebatePolicyRecord):
    roles = policies.POLICY_EDITORS

    def post(self, policy_id):
        try:
            policies.publish(db.session, self.policy, current_user)
        except InvalidInput as err:
            errors = _errors(err)
            self._load(policy_id)
            flash(_("The draft cannot be published yet: %(why)s", why="; ".join(errors.values())), "error")
            return redirect(url_for("manufacturer.rebate_policy", policy_id=policy_id))
        flash(_("%(code)s version %(v)d is published: accrual and settlement apply it from %(day)s.",
                code=self.policy.code, v=self.policy.version, day=self.policy.valid_from.isoformat()), "success")
        return redirect(url_for("manufacturer.rebate_policy", policy_id=policy_id))


class RHRebatePolicyRevise(RHRebatePolicyRecord):
    """Edit a published policy: the draft of its next version."""

    roles = policies.POLICY_EDITORS

    def post(self, policy_id):
        try:
            draft = policies.revise(db.session, self.policy)
        except InvalidInput as err:
            flash(refused(err).popitem()[1], "error")
            return redirect(url_for("manufacturer.rebate_policy", policy_id=policy_id))
        return redirect(url_for("manufacturer.rebate_policy", policy_id=draft.id))


class RHRebatePolicyRetire(RHRebatePolicyRecord):
    roles = policies.POLICY_EDITORS

    def post(self, policy_id):
        try:
            policies.retire(db.session, self.policy)
        except InvalidInput as err:
            flash(refused(err).popitem()[1], "error")
            return redirect(url_for("manufacturer.rebate_policy", policy_id=policy_id))
        flash(_("%(code)s is retired: it still applies to the periods up to %(day)s.", code=self.policy.code,
                day=self.policy.valid_until.isoformat()), "success")
        return redirect(url_for("manufacturer.rebate_policy", policy_id=policy_id))


class RHRebatePolicyDiscard(RHRebatePolicyRecord):
    roles = policies.POLICY_EDITORS

    def post(self, policy_id):
        superseded = self.policy.supersedes_id
        try:
            policies.discard(db.session, self.policy)
        except InvalidInput as err:
            flash(refused(err).popitem()[1], "error")
            return redirect(url_for("manufacturer.rebate_policy", policy_id=policy_id))
        flash(_("Draft discarded."), "success")
        if superseded:
            return redirect(url_for("manufacturer.rebate_policy", policy_id=superseded))
        return redirect(url_for("manufacturer.rebate_policies"))


# --- settlements -----------------------------------------------------------------------------

def _settlement_page(errors=None, status=200, key=None):
    scope = _scope()
    today = shanghai_today()
    periods = explain.period_rows(db.session, scope)
    key = key or request.args.get("period") or (periods[0].period.key if periods else None)
    try:
        key = settlement.parse_key(key) if key else None
    except InvalidInput:
        key = None
    region_id = int_arg(request.args, "region_id")
    page = explain.results_page(db.session, scope, key, region_id, request.args.get("after")) if key else None
    runs = explain.runs_of(db.session, key) if key else []
    jobs = {}
    if runs:
        from app.compliance.models import Job

        jobs = {j.id: j for j in db.session.scalars(select(Job).where(Job.id.in_([r.job_id for r in runs if r.job_id])))}
    settleable = [rules.shift_key(rules.period_key(kind, today), -1) for kind in ("quarter", "month", "year")]
    return render_page("manufacturer/rebate_settlements.html", block="results" if is_htmx() and not errors else "content",
                       status=status, periods=periods, key=key, page=page, runs=runs, jobs=jobs,
                       totals=explain.results_totals(db.session, scope, key, region_id) if key else [],
                       region_id=region_id, regions=channel_q.regions(db.session, max_level=1),
                       errors=errors or {}, settleable=settleable,
                       may_settle=current_user.has_role(*settlement.SETTLERS),
                       may_accrue=current_user.has_role(*accrual.ACCRUERS), request_id=g.request_id,
                       **policies.view_helpers())


class RHRebateSettlements(RHManufacturer):
    roles = settlement.SETTLEMENT_VIEWERS

    def get(self):
        return _settlement_page()


def _request_id() -> str:
    rid = (request.form.get("request_id") or "")[:64]
    if not rid or not rid.replace("-", "").isalnum():
        abort(400)
    return rid


class RHRebateSettle(RHManufacturer):
    """Settle a period in the background; the page shows the run's progress."""

    roles = settlement.SETTLERS

    def post(self):
        rid = _request_id()
        try:
            run = settlement.request_settlement(db.session, request.form.get("period_key", ""), current_user,
                                                f"rebate-settle-{current_user.id}-{rid}")
        except InvalidInput as err:
            return _settlement_page(refused(err), 400)
        flash(_("Settlement of %(key)s requested.", key=run.period_key), "success")
        return redirect(url_for("manufacturer.rebate_settlements", period=run.period_key))


class RHRebatePeriodClose(RHManufacturer):
    roles = settlement.SETTLERS

    def post(self):
        try:
            period = settlement.close_period(db.session, request.form.get("period_key", ""), current_user)
        except InvalidInput as err:
            return _settlement_page(refused(err), 400)
        flash(_("%(key)s is closed: its settlement is final.", key=period.key), "success")
        return redirect(url_for("manufacturer.rebate_settlements", period=period.key))


class RHRebateAccrue(RHManufacturer):
    """Bring the estimates (accruals) up to date now rather than at the daily run."""

    roles = accrual.ACCRUERS

    def post(self):
        job = accrual.request_accrual(db.session, current_user, f"rebate-accrue-{current_user.id}-{_request_id()}")
        return redirect(url_for("files.job", job_id=job.id))
