"""The manufacturer's channel pages: dealers (with their qualifications, upstream chain
and first-business review), hospitals, and the regions tree."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel import operations as ops
from app.channel import queries as channel_q
from app.channel.queries import CHANNEL_VIEWERS
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import is_htmx, redirect, render_page
from app.core.coerce import int_arg
from portals.channel_forms import DEALER_STATUSES, TIERS, form_values, labels, qualification_values, uploaded_file
from portals.forms import refused

DEALER_EDITORS = ("admin", "channel_manager")
QUALIFICATION_UPLOADERS = ("admin", "channel_manager", "qa_ra")


#: the block of a dealer's page edited in place: contacts, credit and bank data
TERMS_FIELDS = ("contact_name", "contact_phone", "contact_email", "address", "credit_limit", "payment_terms_days",
                "bank_name", "bank_account")


def _scope():
    return channel_q.ChannelScope.of(current_user)


# --- dealers --------------------------------------------------------------------------------

class RHDealers(RHManufacturer):
    """Dealers in the user's reach: search, region, status and tier filters, keyset pages."""

    roles = CHANNEL_VIEWERS

    def get(self):
        search, region_id = request.args.get("q", "")[:100], int_arg(request.args, "region")
        status = request.args.get("status", "") if request.args.get("status") in DEALER_STATUSES else ""
        tier = request.args.get("tier", "") if request.args.get("tier") in TIERS else ""
        page = channel_q.dealers_page(db.session, _scope(), request.args.get("after"), search, region_id,
                                      status=status, tier=tier)
        return render_page("manufacturer/dealers.html", block="results", page=page, search=search, region_id=region_id,
                           status_filter=status, tier=tier, regions=channel_q.regions(db.session, max_level=1),
                           can_create=RHDealerNew.allows(current_user), **labels())


def _dealer_form_page(form: dict, errors: dict, dealer=None, status: int = 200):
    return render_page("manufacturer/dealer_form.html", status=status, form=form, errors=errors, dealer=dealer,
                       regions=channel_q.regions(db.session), upstreams=channel_q.dealer_choices(db.session), **labels())


def _dealerform_values(dealer) -> dict:
    return {f: ("" if getattr(dealer, f) is None else getattr(dealer, f)) for f in ops.DEALER_FIELDS}


class RHDealerNew(RHManufacturer):
    roles = DEALER_EDITORS

    def get(self):
        return _dealer_form_page({"tier": "tier1", "payment_terms_days": 60, "credit_limit": "0.00"}, {})

    def post(self):
        values = form_values(ops.DEALER_FIELDS)
        try:
            dealer = ops.save_dealer(db.session, values)
        except InvalidInput as err:
            return _dealer_form_page(values, refused(err), status=400)
        flash(_("Dealer %(name)s created. Upload its qualifications, then submit it for first-business review.",
                name=dealer.name), "success")
        return redirect(url_for("manufacturer.dealer", dealer_id=dealer.id))


class RHDealerRecord(RHManufacturer):
    """Base of the pages about one dealer: 404 when it is out of the user's reach."""

    roles = CHANNEL_VIEWERS

    def _load(self, dealer_id, **kwargs):
        self.dealer = get_or_404(channel_q.dealer_detail(db.session, _scope(), dealer_id))


def dealer_page(dealer, status: int = 200, errors: dict | None = None, form: dict | None = None,
                editing: bool = False):
    qualifications = channel_q.qualifications_of(db.session, dealer.id)
    reviews = channel_q.dealer_reviews(db.session, dealer.id)
    return render_page(
        "manufacturer/dealer.html", block="terms", status=status, dealer=dealer, chain=ops.upstream_chain(dealer),
        qualifications=qualifications, reviews=reviews,
        qualification_reviews=channel_q.qualification_reviews(db.session, [q.id for q in qualifications]),
        problems=ops.qualification_problems(db.session, dealer, ("pending", "approved")),
        hospitals=channel_q.served_hospitals(db.session, dealer.id),
        history=audit_q.history(db.session, "dealers", str(dealer.id)), errors=errors or {}, form=form or {},
        editing=editing, can_edit=RHDealerEdit.allows(current_user),
        can_upload=RHQualificationUpload.allows(current_user), today=ops.today(), **labels())


class RHDealerDetail(RHDealerRecord):
    """The dealer's page; an htmx request gets its contact-and-credit block (the
    "cancel" of the inline edit)."""

    def get(self, dealer_id):
        return dealer_page(self.dealer)


class RHDealerEdit(RHDealerRecord):
    """The whole record as a form: legal name, codes, tier and upstream, region."""

    roles = DEALER_EDITORS

    def get(self, dealer_id):
        return _dealer_form_page(_dealerform_values(self.dealer), {}, self.dealer)

    def post(self, dealer_id):
        values = form_values(ops.DEALER_FIELDS)
        try:
            ops.save_dealer(db.session, values, self.dealer)
        except InvalidInput as err:
            errors = refused(err)
            return _dealer_form_page(values, errors, self.dealer, status=400)
        flash(_("Dealer saved."), "success")
        return redirect(url_for("manufacturer.dealer", dealer_id=self.dealer.id))


class RHDealerTerms(RHDealerRecord):
    """Inline editing of contacts, credit and bank data: GET turns the block into a
    form, POST saves it and gives the block back (a whole page without htmx)."""

    roles = DEALER_EDITORS

    def get(self, dealer_id):
        return dealer_page(self.dealer, form=_dealerform_values(self.dealer), editing=True)

    def post(self, dealer_id):
        values = form_values(TERMS_FIELDS)
        try:
            ops.save_dealer(db.session, values, self.dealer)
        except InvalidInput as err:
            errors = refused(err)
            return dealer_page(self.dealer, status=400, errors=errors, form=values, editing=True)
        if is_htmx():
            return dealer_page(self.dealer)
        flash(_("Dealer saved."), "success")
        return redirect(url_for("manufacturer.dealer", dealer_id=self.dealer.id))


class RHDealerStatus(RHDealerRecord):
    roles = DEALER_EDITORS

    def post(self, dealer_id):
        status = request.form.get("status", "")
        try:
            ops.set_dealer_status(db.session, self.dealer, status, request.form.get("reason", ""))
        except InvalidInput as err:
            errors = refused(err)
            return dealer_page(self.dealer, status=400, errors={"status_" + k: v for k, v in errors.items()},
                               form={"reason": request.form.get("reason", "")})
        flash(_("Dealer deactivated.") if status == "inactive" else _("Dealer reactivated."), "success")
        return redirect(url_for("manufacturer.dealer", dealer_id=self.dealer.id))


class RHDealerSubmitReview(RHDealerRecord):
    roles = DEALER_EDITORS

    def post(self, dealer_id):
        try:
            review = ops.submit_dealer_review(db.session, self.dealer, current_user)
        except InvalidInput as err:
            return dealer_page(self.dealer, status=400, errors={"review": refused(err).popitem()[1]})
        flash(_("Submitted for first-business review."), "success")
        return redirect(url_for("manufacturer.approval_request", request_id=review.id))


class RHQualificationUpload(RHDealerRecord):
    """A qualification with its scan, uploaded by the manufacturer: reviewed with the
    dealer while the dealer is new, on its own otherwise."""

    roles = QUALIFICATION_UPLOADERS

    def post(self, dealer_id):
        values = qualification_values()
        try:
            upload = uploaded_file()
            if upload is None:
                raise InvalidInput("file", _("Choose the scanned PDF, JPEG or PNG."))
            ops.add_qualification(db.session, self.dealer, values, upload, current_user)
        except InvalidInput as err:
            errors = refused(err)
            return dealer_page(self.dealer, status=400, errors={"q_" + k: v for k, v in errors.items()}, form=values)
        flash(_("Qualification uploaded."), "success")
        return redirect(url_for("manufacturer.dealer", dealer_id=self.dealer.id) + "#qualifications")


# --- hospitals ---------------------------------------------------------------------------------

class RHHospitals(RHManufacturer):
    roles = CHANNEL_VIEWERS

    def get(self):
        search, region_id = request.args.get("q", "")[:100], int_arg(request.args, "region")
        grade = request.args.get("grade", "") if request.args.get("grade") in ops.HOSPITAL_GRADES else ""
        status = request.args.get("status", "") if request.args.get("status") in ("active", "inactive") else ""
        dealer_id = int_arg(request.args, "dealer")
        page = channel_q.hospitals_page(db.session, _scope(), request.args.get("after"), search, region_id,
                                        grade=grade, serving_dealer_id=dealer_id, status=status)
        return render_page("manufacturer/hospitals.html", block="results", page=page, search=search,
                           region_id=region_id, grade=grade, dealer_id=dealer_id, status_filter=status,
                           regions=channel_q.regions(db.session, max_level=1),
                           dealers=channel_q.serving_dealer_choices(db.session, _scope()),
                           can_create=RHHospitalNew.allows(current_user),
                           **labels())


def _hospital_form_page(form: dict, errors: dict, hospital=None, status: int = 200):
    return render_page("manufacturer/hospital_form.html", status=status, form=form, errors=errors, hospital=hospital,
                       regions=channel_q.regions(db.session), dealers=channel_q.dealer_choices(db.session), **labels())


class RHHospitalNew(RHManufacturer):
    roles = DEALER_EDITORS

    def get(self):
        return _hospital_form_page({}, {})

    def post(self):
        values = form_values(ops.HOSPITAL_FIELDS)
        try:
            hospital = ops.save_hospital(db.session, values)
        except InvalidInput as err:
            return _hospital_form_page(values, refused(err), status=400)
        flash(_("Hospital %(name)s created.", name=hospital.name), "success")
        return redirect(url_for("manufacturer.hospital", hospital_id=hospital.id))


class RHHospitalRecord(RHManufacturer):
    roles = CHANNEL_VIEWERS

    def _load(self, hospital_id, **kwargs):
        self.hospital = get_or_404(channel_q.hospital_detail(db.session, _scope(), hospital_id))


def hospital_page(hospital, status: int = 200, errors: dict | None = None, form: dict | None = None):
    return render_page("manufacturer/hospital.html", status=status, hospital=hospital,
                       history=audit_q.history(db.session, "hospitals", str(hospital.id)), errors=errors or {},
                       form=form or {}, can_edit=RHHospitalEdit.allows(current_user), **labels())


class RHHospitalDetail(RHHospitalRecord):
    def get(self, hospital_id):
        return hospital_page(self.hospital)


class RHHospitalEdit(RHHospitalRecord):
    roles = DEALER_EDITORS

    def get(self, hospital_id):
        form = {f: getattr(self.hospital, f) for f in ops.HOSPITAL_FIELDS}
        form["departments"] = "、".join(self.hospital.departments or [])
        return _hospital_form_page({k: "" if v is None else v for k, v in form.items()}, {}, self.hospital)

    def post(self, hospital_id):
        values = form_values(ops.HOSPITAL_FIELDS)
        try:
            ops.save_hospital(db.session, values, self.hospital)
        except InvalidInput as err:
            errors = refused(err)
            return _hospital_form_page(values, errors, self.hospital, status=400)
        flash(_("Hospital saved."), "success")
        return redirect(url_for("manufacturer.hospital", hospital_id=self.hospital.id))


class RHHospitalStatus(RHHospitalRecord):
    roles = DEALER_EDITORS

    def post(self, hospital_id):
        status = request.form.get("status", "")
        try:
            ops.set_hospital_status(db.session, self.hospital, status, request.form.get("reason", ""))
        except InvalidInput as err:
            return hospital_page(self.hospital, status=400, errors=refused(err),
                                 form={"reason": request.form.get("reason", "")})
        flash(_("Hospital deactivated.") if status == "inactive" else _("Hospital reactivated."), "success")
        return redirect(url_for("manufacturer.hospital", hospital_id=self.hospital.id))


# --- regions -----------------------------------------------------------------------------------------

def _regions_page(status: int = 200, errors: dict | None = None, form: dict | None = None):
    return render_page("manufacturer/regions.html", status=status, tree=channel_q.region_tree(db.session),
                       parents=[r for r in channel_q.regions(db.session) if r.level < 3], errors=errors or {},
                       form=form or {}, can_add=RHRegionNew.allows(current_user))


class RHRegions(RHManufacturer):
    """The territory tree with the regional managers who cover each node."""

    roles = CHANNEL_VIEWERS

    def get(self):
        return _regions_page()


class RHRegionNew(RHManufacturer):
    roles = DEALER_EDITORS

    def post(self):
        values = form_values(("code", "name", "name_en", "parent_id"))
        try:
            region = ops.save_region(db.session, values)
        except InvalidInput as err:
            return _regions_page(400, refused(err), values)
        flash(_("Region %(name)s added.", name=region.name), "success")
        return redirect(url_for("manufacturer.regions") + f"#region-{region.id}")
