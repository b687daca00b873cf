"""List exports of the channel: dealers, hospitals and authorizations, as the user's
list shows them (the page's scope and every filter it applies, validated the same way)."""
from __future__ import annotations


from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.catalog.models import Sku
from app.channel import authorizations as auth_q
from app.channel import queries as channel_q
from app.channel import rules
from app.channel.models import Hospital
from app.channel.operations import HOSPITAL_GRADES
from app.core.i18n import shanghai_today
from app.compliance.exports import choice_param, id_param, register_export, search_param, walk_batches

CHANNEL_VIEWERS = channel_q.CHANNEL_VIEWERS
#: who may open the authorizations list (portals/manufacturer/authorizations.py VIEWERS)
AUTHORIZATION_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")
TIERS, STATUSES = rules.TIER_LABELS, rules.DEALER_STATUS_LABELS
YES_NO = {True: _l("Yes"), False: _l("No")}


def dealer_rows(session, user, params):
    scope = channel_q.ChannelScope.of(user)
    search, region_id = search_param(params), id_param(params, "region")
    status, tier = choice_param(params, "status", STATUSES), choice_param(params, "tier", TIERS)
    for items in walk_batches(lambda cursor: channel_q.dealers_page(session, scope, cursor, search, region_id,
                                                            status=status, tier=tier)):
        for d in items:
            yield [d.code, d.name, d.uscc, str(TIERS.get(d.tier, d.tier)), d.region_name, d.contact_name, d.contact_phone,
                   d.contact_email, d.address, d.credit_limit, d.payment_terms_days, str(STATUSES.get(d.status, d.status))]


def hospital_rows(session, user, params):
    scope = channel_q.ChannelScope.of(user)
    search, region_id = search_param(params), id_param(params, "region")
    grade, status = choice_param(params, "grade", HOSPITAL_GRADES), choice_param(params, "status", ("active", "inactive"))
    dealer_id = id_param(params, "dealer")
    for items in walk_batches(lambda cursor: channel_q.hospitals_page(session, scope, cursor, search, region_id, grade=grade,
                                                              serving_dealer_id=dealer_id, status=status)):
        for h in items:
            yield [h.code, h.name, h.grade, h.region_name, h.city, h.address, list(h.departments or ()), h.contact_name,
                   h.contact_phone, str(STATUSES.get(h.status, h.status))]


def authorization_filter(params: dict) -> auth_q.AuthorizationFilter:
    """The filters of the authorizations page (portals/manufacturer/authorizations.py)."""
    expiring = id_param(params, "expiring")
    return auth_q.AuthorizationFilter(
        search=search_param(params), dealer_id=id_param(params, "dealer"), product_line_id=id_param(params, "line"),
        region_id=id_param(params, "region"), status=choice_param(params, "status", ("active", "expired", "revoked")),
        expiring=expiring if expiring in (30, 60, 90) else None)


def authorization_rows(session, user, params):
    scope, flt, today = channel_q.ChannelScope.of(user), authorization_filter(params), shanghai_today()
    labels = {"revoked": str(_l("Revoked")), "expired": str(_l("Expired")), "active": str(_l("In force"))}
    for items in walk_batches(lambda cursor: auth_q.authorizations_page(session, scope, cursor, flt, today)):
        sku_ids = {i for a in items for i in (a.sku_ids or ())}
        hospital_ids = {i for a in items for i in (a.hospital_ids or ())}
        skus = dict(session.execute(select(Sku.id, Sku.code).where(Sku.id.in_(sku_ids))).all()) if sku_ids else {}
        hospitals = dict(session.execute(select(Hospital.id, Hospital.name).where(Hospital.id.in_(hospital_ids))).all()) \
            if hospital_ids else {}
        for a in items:
            state = "revoked" if a.status == "revoked" else ("expired" if a.valid_until < today else "active")
            yield [a.code, a.dealer.code, a.dealer.name,
                   a.product_line.name if a.product_line else [skus.get(i, i) for i in a.sku_ids or ()],
                   a.region.name if a.region else [hospitals.get(i, i) for i in a.hospital_ids or ()],
                   a.valid_from, a.valid_until, str(YES_NO[bool(a.exclusive)]), labels[state], a.notes]


register_export("dealers", _l("Dealers"), CHANNEL_VIEWERS,
                (_l("Code"), _l("Name"), _l("Unified social credit code"), _l("Tier"), _l("Region"), _l("Contact"),
                 _l("Phone"), _l("E-mail"), _l("Address"), _l("Credit limit"), _l("Payment terms (days)"), _l("Status")),
                dealer_rows, params=("q", "region", "status", "tier"))
register_export("hospitals", _l("Hospitals"), CHANNEL_VIEWERS,
                (_l("Code"), _l("Name"), _l("Grade"), _l("Region"), _l("City"), _l("Address"), _l("Departments"),
                 _l("Contact"), _l("Phone"), _l("Status")),
                hospital_rows, params=("q", "region", "grade", "dealer", "status"))
register_export("authorizations", _l("Authorizations"), AUTHORIZATION_VIEWERS,
                (_l("Code"), _l("Dealer code"), _l("Dealer"), _l("Products"), _l("Territory"), _l("Valid from"),
                 _l("Valid until"), _l("Exclusive"), _l("Status"), _l("Notes")),
                authorization_rows, params=("q", "dealer", "line", "region", "status", "expiring"))
