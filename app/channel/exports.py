"""List exports of the channel: dealers and hospitals, as the user's list shows them."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.channel import queries as channel_q
from app.core.coerce import as_id
from app.compliance.exports import register_export, walk_pages

CHANNEL_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance", "qa_ra", "after_sales")
TIERS = {"agent": _l("Agent"), "tier1": _l("Tier 1"), "tier2": _l("Tier 2")}
STATUSES = {"active": _l("Active"), "inactive": _l("Inactive"), "pending": _l("Pending review"), "rejected": _l("Rejected")}


def _filters(params: dict) -> tuple[str, int | None]:
    region = str(params.get("region", ""))
    return str(params.get("q", ""))[:100], as_id(region)


def dealer_rows(session, user, params):
    scope, (search, region_id) = channel_q.ChannelScope.of(user), _filters(params)
    for d in walk_pages(lambda cursor: channel_q.dealers_page(session, scope, cursor, search, region_id)):
        yield [d.code, d.name, d.uscc, str(TIERS.get(d.tier, d.tier)), d.region_name, d.contact_name, d.contact_phone,
               d.contact_email, d.address, d.credit_limit, d.payment_terms_days, str(STATUSES.get(d.status, d.status))]


def hospital_rows(session, user, params):
    scope, (search, region_id) = channel_q.ChannelScope.of(user), _filters(params)
    for h in walk_pages(lambda cursor: channel_q.hospitals_page(session, scope, cursor, search, region_id)):
        yield [h.code, h.name, h.grade, h.region_name, h.city, h.address, list(h.departments or ()), h.contact_name,
               h.contact_phone, str(STATUSES.get(h.status, h.status))]


register_export("dealers", _l("Dealers"), CHANNEL_VIEWERS,
                (_l("Code"), _l("Name"), _l("Unified social credit code"), _l("Tier"), _l("Region"), _l("Contact"),
                 _l("Phone"), _l("E-mail"), _l("Address"), _l("Credit limit"), _l("Payment terms (days)"), _l("Status")),
                dealer_rows, params=("q", "region"))
register_export("hospitals", _l("Hospitals"), CHANNEL_VIEWERS,
                (_l("Code"), _l("Name"), _l("Grade"), _l("Region"), _l("City"), _l("Address"), _l("Departments"),
                 _l("Contact"), _l("Phone"), _l("Status")),
                hospital_rows, params=("q", "region"))
