"""The dealer's own record: its profile (contacts editable by the owner) and its
qualifications, where renewals are uploaded and go to review. Nothing here takes a
dealer id: the dealer is always the signed-in user's, and another dealer's
qualification ids answer 404."""
from __future__ import annotations

from flask import flash, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel import operations as ops
from app.channel import queries as channel_q
from app.channel.models import Dealer
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect, render_page
from portals.channel_forms import form_values, labels, qualification_values, uploaded_file
from portals.forms import refused

CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email")


def _dealer():
    return get_or_404(db.session.get(Dealer, current_user.dealer_id))


def profile_page(status: int = 200, errors: dict | None = None, form: dict | None = None):
    dealer = _dealer()
    return render_page("dealer/profile.html", status=status, dealer=dealer, chain=ops.upstream_chain(dealer),
                       errors=errors or {}, form=form or {c: getattr(dealer, c) or "" for c in CONTACT_FIELDS},
                       can_edit=RHProfileContacts.allows(current_user), **labels())


class RHProfile(RHDealer):
    def get(self):
        return profile_page()


class RHProfileContacts(RHDealer):
    roles = ("dealer_owner",)

    def post(self):
        values = form_values(CONTACT_FIELDS)
        try:
            ops.save_dealer(db.session, values, _dealer())
        except InvalidInput as err:
            return profile_page(400, refused(err), values)
        flash(_("Contacts saved."), "success")
        return redirect(url_for("dealer.profile"))


def qualifications_page(status: int = 200, errors: dict | None = None, form: dict | None = None, renewing=None):
    dealer = _dealer()
    qualifications = channel_q.qualifications_of(db.session, dealer.id)
    return render_page("dealer/qualifications.html", status=status, dealer=dealer, qualifications=qualifications,
                       problems=ops.qualification_problems(db.session, dealer), today=ops.today(),
                       errors=errors or {}, form=form or {}, renewing=renewing,
                       can_upload=RHQualificationUpload.allows(current_user), **labels())


class RHQualifications(RHDealer):
    def get(self):
        return qualifications_page()


class RHQualificationUpload(RHDealer):
    """A new or renewed qualification with its scan; it goes to review and, once
    approved, replaces the one before."""

    roles = ("dealer_owner",)

    def _load(self, qualification_id=None):
        self.renewing = None
        if qualification_id is not None:
            self.renewing = get_or_404(channel_q.qualification_of(db.session, current_user.dealer_id, qualification_id))

    def get(self, qualification_id=None):
        return qualifications_page(renewing=self.renewing)

    def post(self, qualification_id=None):
        values = qualification_values()
        if self.renewing is not None:
            values["kind"], values["replaces_id"] = self.renewing.kind, self.renewing.id
        try:
            ops.add_qualification(db.session, _dealer(), values, uploaded_file(), current_user)
        except InvalidInput as err:
            errors = refused(err)
            return qualifications_page(400, {"q_" + k: v for k, v in errors.items()}, values, renewing=self.renewing)
        flash(_("Uploaded. The manufacturer will review it; until then your current qualification stays in force."),
              "success")
        return redirect(url_for("dealer.qualifications"))
