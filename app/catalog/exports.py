"""List exports of the catalog: SKUs and registration certificates (注册证), with the
filters their list pages apply (the catalog has no user scope)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.catalog import queries as catalog_q
from app.catalog.operations import DEVICE_CLASSES
from app.compliance.exports import choice_param, id_param, register_export, search_param, walk_pages

#: who may open the catalog pages (portals/manufacturer/catalog.py CATALOG_VIEWERS)
CATALOG_VIEWERS = ("admin", "channel_manager", "qa_ra", "regional_manager", "finance", "after_sales")
SKU_STATUSES = {"active": _l("Active"), "pending": _l("In review"), "inactive": _l("Inactive"), "rejected": _l("Rejected")}
TRACKING = {"lot": _l("Lots"), "serial": _l("Serial numbers")}
YES_NO = {True: _l("Yes"), False: _l("No")}


def sku_rows(session, user, params):
    search, line_id = search_param(params), id_param(params, "line")
    status = choice_param(params, "status", SKU_STATUSES)
    for r in walk_pages(lambda cursor: catalog_q.skus_page(session, cursor, search, line_id, status)):
        yield [r.code, r.name, r.specification, r.unit, r.line_code, r.line_name, r.registration_number,
               r.registration_valid_until, r.udi_di, r.nhsa_code, r.tax_rate, r.storage,
               str(TRACKING.get(r.tracking, r.tracking)), r.shelf_life_months, str(YES_NO[bool(r.implant)]),
               str(SKU_STATUSES.get(r.status, r.status))]


def registration_rows(session, user, params):
    search, device_class = search_param(params), choice_param(params, "device_class", DEVICE_CLASSES)
    for r in walk_pages(lambda cursor: catalog_q.registrations_page(session, cursor, search, device_class)):
        yield [r.number, r.product_name, r.device_class, r.holder, r.valid_from, r.valid_until, r.scope]


register_export("skus", _l("SKUs"), CATALOG_VIEWERS,
                (_l("Code"), _l("Name"), _l("Specification / model"), _l("Unit"), _l("Product line code"),
                 _l("Product line"), _l("Registration certificate"), _l("Certificate valid until"), _l("UDI-DI"),
                 _l("Medical-insurance code"), _l("Tax rate"), _l("Storage"), _l("Traceability"),
                 _l("Shelf life (months)"), _l("Implant"), _l("Status")),
                sku_rows, params=("q", "line", "status"))
register_export("registrations", _l("Registration certificates"), CATALOG_VIEWERS,
                (_l("Certificate number"), _l("Product name"), _l("Class"), _l("Holder"), _l("Valid from"),
                 _l("Valid until"), _l("Scope")),
                registration_rows, params=("q", "device_class"))
