"""Expiry watch (效期预警): registration certificates, dealers' approved qualifications and
active authorizations that have expired or expire within 30/60/90 days.

``expiring`` is the one read (the manufacturer's page, a dealer's dashboard, the daily
report); ``compliance.expiry_watch`` is the daily .xlsx report, requested once per
Shanghai calendar day per active tenant by the worker's periodic loop
(``request_daily_expiry_watch``, idempotent by its request id and guarded in Redis).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Registration
from app.channel.models import Authorization, Dealer, Qualification
from app.channel.queries import ChannelScope
from app.compliance.exports import choice_param, register_export
from app.core.i18n import shanghai_today
from app.core.tabular import XLSX_TYPE, Sheet, write_xlsx
from app.core.daily import DONE_KEY as DAILY_DONE_KEY, daily
from app.core.jobs import JobContext, JobRefused, Output, job_kind, request_job

log = logging.getLogger(__name__)

KINDS = {
    "registration": _l("Registration certificate"),
    "qualification": _l("Dealer qualification"),
    "authorization": _l("Authorization"),
}
BUCKETS = ("expired", "30", "60", "90")
BUCKET_LABELS = {"expired": _l("Expired"), "30": _l("Within 30 days"), "60": _l("Within 60 days"),
                 "90": _l("Within 90 days")}
QUALIFICATION_LABELS = {"business_license": _l("Business licence"), "operating_permit": _l("Operating permit"),
                        "class2_filing": _l("Class II filing")}
REPORT_ROLES = ("admin", "qa_ra", "channel_manager")


def expiry_bucket(valid_until: date, day: date) -> str | None:
    """'expired' (the last valid day has passed), '30', '60' or '90' (days left at
    most that), or None when further away."""
    days_left = (valid_until - day).days
    if days_left < 0:
        return "expired"
    for bucket in (30, 60, 90):
        if days_left <= bucket:
            return str(bucket)
    return None


@dataclass(frozen=True)
class ExpiryItem:
    kind: str  # registration | qualification | authorization
    what: str
    valid_until: date
    days_left: int
    bucket: str
    #: where the record lives: (table, id); the page turns it into a link
    entity_type: str
    entity_id: int
    dealer_id: int | None = None
    dealer_name: str | None = None
    #: the qualification kind or the authorization's product line, for the label
    detail: str | None = None

    @property
    def kind_label(self) -> str:
        return str(KINDS[self.kind])

    @property
    def bucket_label(self) -> str:
        return str(BUCKET_LABELS[self.bucket])


def expiring(session: Session, today: date, within_days: int = 90, dealer_id: int | None = None,
             scope=None) -> list[ExpiryItem]:
    """What has expired or expires within ``within_days`` of ``today``, soonest first.

    With ``dealer_id``: that dealer's qualifications and authorizations only (no
    registrations: those are the manufacturer's). ``scope`` (a ChannelScope) narrows
    dealers' items to a regional manager's regions."""
    horizon = today + timedelta(days=within_days)
    items: list[ExpiryItem] = []

    def add(kind, what, valid_until, entity_type, entity_id, dealer=(None, None), detail=None):
        bucket = expiry_bucket(valid_until, today)
        if bucket is not None:
            items.append(ExpiryItem(kind, what, valid_until, (valid_until - today).days, bucket, entity_type,
                                    entity_id, dealer[0], dealer[1], detail))

    def dealer_filter(stmt):
        if dealer_id is not None:
            return stmt.where(Dealer.id == dealer_id)
        clause = scope.regions_clause(Dealer.region_id) if scope is not None else None
        return stmt if clause is None else stmt.where(clause)

    if dealer_id is None:
        for r in session.execute(select(Registration.id, Registration.number, Registration.product_name,
                                        Registration.valid_until)
                                 .where(Registration.valid_until.is_not(None), Registration.valid_until <= horizon)):
            add("registration", f"{r.number} {r.product_name}", r.valid_until, "registrations", r.id)
    quals = dealer_filter(select(Qualification.id, Qualification.kind, Qualification.number, Qualification.valid_until,
                                 Dealer.id.label("dealer_id"), Dealer.name.label("dealer_name"))
                          .join(Dealer, Dealer.id == Qualification.dealer_id)
                          .where(Qualification.status == "approved", Qualification.valid_until.is_not(None),
                                 Qualification.valid_until <= horizon))
    for q in session.execute(quals):
        add("qualification", f"{QUALIFICATION_LABELS.get(q.kind, q.kind)} {q.number}", q.valid_until,
            "qualifications", q.id, (q.dealer_id, q.dealer_name), q.kind)
    auths = dealer_filter(select(Authorization.id, Authorization.code, Authorization.valid_until,
                                 ProductLine.name.label("line_name"), Dealer.id.label("dealer_id"),
                                 Dealer.name.label("dealer_name"))
                          .join(Dealer, Dealer.id == Authorization.dealer_id)
                          .outerjoin(ProductLine, ProductLine.id == Authorization.product_line_id)
                          .where(Authorization.status == "active", Authorization.valid_until <= horizon))
    for a in session.execute(auths):
        add("authorization", f"{a.code} {a.line_name or ''}".strip(), a.valid_until, "authorizations", a.id,
            (a.dealer_id, a.dealer_name), a.line_name)
    items.sort(key=lambda i: (i.valid_until, i.kind, i.what))
    return items




# --- the daily report ----------------------------------------------------------------------

@job_kind("compliance.expiry_watch", _l("Expiry watch report (Excel)"), roles=REPORT_ROLES)
def expiry_watch(ctx: JobContext) -> Output:
    """An .xlsx of everything expired or expiring within 90 days of ``params["day"]``."""
    try:
        day = date.fromisoformat(str(ctx.params.get("day") or ""))
        within = int(ctx.params.get("within_days", 90))
    except ValueError:
        raise JobRefused("params need day (YYYY-MM-DD) and within_days") from None
    with ctx.session() as session:
        items = expiring(session, day, within)
    ctx.progress(50)
    rows = ([i.kind_label, i.what, i.dealer_name or "", i.valid_until, i.days_left, i.bucket_label] for i in items)
    data = write_xlsx([Sheet(f"{_('Expiry watch')} {day.isoformat()}",
                             [_("Kind"), _("Item"), _("Dealer"), _("Valid until"), _("Days left"), _("Bucket")],
                             rows, widths=[18, 48, 36, 14, 10, 16])])
    return Output(f"expiry-watch-{ctx.tenant.slug}-{day.isoformat()}.xlsx", data, XLSX_TYPE, "xlsx")


def report_request_id(day: date) -> str:
    return f"expiry-watch-{day.isoformat()}"


def request_report(session: Session, day: date, requested_by=None, request_id: str | None = None):
    """The expiry-watch job for ``day`` (the same job for the same request id)."""
    return request_job(session, "compliance.expiry_watch", {"day": day.isoformat(), "within_days": 90},
                       request_id or report_request_id(day), requested_by=requested_by)


DONE_KEY = DAILY_DONE_KEY.format(name="expiry-watch", day="{day}")


@daily("expiry-watch", needs_table="jobs", actor="expiry watch")
def request_daily_expiry_watch(session: Session, day: date) -> str:
    """Request the tenant's expiry-watch job for the day; its request id makes a repeat
    the same job."""
    return f"expiry watch {day} is job {request_report(session, day).id}"


# --- the page's list as an export ---------------------------------------------------------------

#: who may open the expiry watch page (portals/manufacturer/catalog.py CATALOG_VIEWERS)
EXPIRY_VIEWERS = ("admin", "channel_manager", "qa_ra", "regional_manager", "finance", "after_sales")


def expiry_rows(session, user, params):
    """The expiry watch as its page shows it: the user's reach, the kind and bucket filters."""
    kind, bucket = choice_param(params, "kind", KINDS), choice_param(params, "bucket", BUCKETS)
    for i in expiring(session, shanghai_today(), scope=ChannelScope.of(user)):
        if (not kind or i.kind == kind) and (not bucket or i.bucket == bucket):
            yield [i.kind_label, i.what, i.dealer_name, i.valid_until, i.days_left, i.bucket_label]


register_export("expiry", _l("Expiry watch"), EXPIRY_VIEWERS,
                (_l("Kind"), _l("Item"), _l("Dealer"), _l("Valid until"), _l("Days left"), _l("When")),
                expiry_rows, params=("kind", "bucket"))
