"""The manufacturer's recall console (召回): campaigns, a new campaign with its scope, and
one campaign with its live (draft) or frozen trace, notices, effectiveness per region,
activation, closing and the report PDF."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.compliance import queries as compliance_q
from app.core.coerce import as_id
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.service import recall_queries as q
from app.service import recalls as ops
from app.service.models import RECALL_STATUSES
from portals.forms import refused
from portals.recall_notices import labels

SCOPE_ROWS = 5


class RHRecalls(RHManufacturer):
    roles = q.RECALL_VIEWERS

    def get(self):
        status = request.args.get("status", "") if request.args.get("status") in RECALL_STATUSES else ""
        page = q.campaigns_page(db.session, request.args.get("after"), status)
        return render_page("manufacturer/recalls.html", block="results", page=page, status_filter=status,
                           can_create=RHRecallNew.allows(current_user), **labels())


def _form_page(form: dict, errors: dict, status: int = 200):
    return render_page("manufacturer/recall_new.html", status=status, form=form, errors=errors,
                       skus=q.sku_choices(db.session), rows=range(SCOPE_ROWS), **labels())


class RHRecallNew(RHManufacturer):
    roles = q.RECALL_ROLES

    def get(self):
        return _form_page({"classification": "2", "kind-0": "lot"}, {})

    def post(self):
        form = request.form.to_dict()
        lines = [{k: form.get(f"{k}-{n}", "") for k in ("sku_id", "kind", "lot_no", "lot_to", "serial_no")}
                 for n in range(SCOPE_ROWS)]
        values = {k: form.get(k) for k in ("title", "reason", "classification", "actions_required")}
        values["lines"] = lines
        try:
            campaign = ops.create_campaign(db.session, current_user, values)
        except InvalidInput as err:
            return _form_page(form, refused(err), status=400)
        flash(_("Recall %(number)s saved as a draft: check the trace, then activate it.", number=campaign.number),
              "success")
        return redirect(url_for("manufacturer.recall", campaign_id=campaign.id))


class RHRecallRecord(RHManufacturer):
    roles = q.RECALL_VIEWERS

    def _load(self, campaign_id, **kwargs):
        self.campaign = get_or_404(q.campaign(db.session, campaign_id))


def recall_page(campaign, errors: dict | None = None, status: int = 200):
    session = db.session
    if campaign.status == "draft":
        live = q.live_trace(session, campaign.id)
        names = q.parties(session, live)
        rows = [{"kind": h.holder_kind, "party": names.get((h.holder_kind, h.holder_id)), "lot_id": h.lot_id,
                 "quantity": h.quantity, "refs": h.refs, "evidence": h.evidence} for h in live]
        notices, total, regions = [], None, []
    else:
        frozen = q.holdings(session, campaign.id)
        names = q.frozen_parties(session, frozen)
        rows = [{"kind": h.holder_kind, "party": names.get((h.holder_kind, q.holder_id(h))), "lot_id": h.lot_id,
                 "quantity": h.quantity, "refs": (h.evidence or {}).get("refs", []), "evidence": h.evidence or {}}
                for h in frozen]
        notices = q.notices(session, campaign.id)
        total, regions = q.effectiveness(session, campaign.id)
    job = None
    job_id = as_id(request.args.get("job"))
    if job_id is not None:
        job = compliance_q.job_for(session, current_user, job_id)
    manage = RHRecallActivate.allows(current_user)
    return render_page(
        "manufacturer/recall.html", status=status, campaign=campaign, errors=errors or {}, rows=rows,
        lots=q.lots_by_id(session, [r["lot_id"] for r in rows]),
        affected=q.affected_lots(session, campaign.id), scopes=q.scopes(session, campaign.id), notices=notices,
        total=total, regions=regions, region_names=q.region_names(session, [r.region_id for r in regions]),
        units=q.installed_units(session, campaign.id), job=job, can_manage=manage,
        class_label=ops.campaign_class_label(campaign.classification), **labels())


class RHRecall(RHRecallRecord):
    def get(self, campaign_id):
        return recall_page(self.campaign)


class _RHRecallAction(RHRecallRecord):
    roles = q.RECALL_ROLES

    def act(self):
        raise NotImplementedError

    def post(self, campaign_id):
        try:
            target = self.act()
        except InvalidInput as err:
            errors = refused(err, fields=())
            return recall_page(get_or_404(q.campaign(db.session, campaign_id)), errors=errors, status=400)
        return target


class RHRecallActivate(_RHRecallAction):
    def act(self):
        ops.activate_campaign(db.session, self.campaign, current_user)
        done = db.session.info.get("recall_activation", {}).get(self.campaign.id, {})
        flash(_("Recall %(number)s is active: %(n)d notice(s) sent, %(q)d unit(s) quarantined.",
                number=self.campaign.number, n=len(q.notices(db.session, self.campaign.id)),
                q=done.get("quarantined", 0)), "success")
        return redirect(url_for("manufacturer.recall", campaign_id=self.campaign.id))


class RHRecallRefresh(_RHRecallAction):
    def act(self):
        new = ops.refresh_trace(db.session, self.campaign, current_user)
        flash(_("Traced again: %(n)d new notice(s) sent.", n=new), "success")
        return redirect(url_for("manufacturer.recall", campaign_id=self.campaign.id))


class RHRecallClose(_RHRecallAction):
    def act(self):
        ops.close_campaign(db.session, self.campaign, current_user, request.form.get("note"))
        flash(_("Recall %(number)s closed: every unit is accounted for.", number=self.campaign.number), "success")
        return redirect(url_for("manufacturer.recall", campaign_id=self.campaign.id))


class RHRecallReport(_RHRecallAction):
    roles = q.RECALL_VIEWERS

    def act(self):
        job = ops.request_report(db.session, self.campaign, current_user,
                                 (request.form.get("request_id") or "")[:32] or f"recall-{self.campaign.id}")
        return redirect(url_for("manufacturer.recall", campaign_id=self.campaign.id, job=job.id))
