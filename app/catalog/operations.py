"""Writes about the catalog: product lines, registration certificates, SKUs.

``values`` dictionaries are keyed by model attribute names. Python values are expected
(ids as int, ``Decimal``, ``date``, ``bool``); text as typed in a form is accepted too
and converted, so that pages and imports share one validation. Every wrong value raises
``InvalidInput(field, message)`` before anything is changed; on an edit only the keys
present in ``values`` change. Nothing here commits.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Registration, Sku
from app.catalog.rules import gtin_valid, normalize_nhsa_code
from app.compliance.operations import reason
from app.core import coerce
from app.core.db import ensure_unique
from app.core.errors import InvalidInput

DEVICE_CLASSES = ("I", "II", "III")
TRACKING = ("lot", "serial")
SKU_STATUSES = ("pending", "active", "inactive", "rejected")
DEFAULT_TAX_RATE = Decimal("0.13")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")

PRODUCT_LINE_FIELDS = ("code", "name", "name_en")
REGISTRATION_FIELDS = ("number", "product_name", "device_class", "holder", "valid_from", "valid_until", "scope")
SKU_FIELDS = ("code", "name", "specification", "unit", "product_line_id", "registration_id", "udi_di", "nhsa_code",
              "tax_rate", "storage", "tracking", "shelf_life_months", "status", "implant")


# --- value checks ------------------------------------------------------------------------



def _code(values: dict, field: str, max_len: int) -> str:
    value = coerce.text(values, field, max_length=max_len, required=True)
    if not _CODE.match(value):
        raise InvalidInput(field, _("Use letters, digits and - _ . / only, without spaces."))
    return value








def _tax_rate(values: dict) -> Decimal:
    value = values.get("tax_rate")
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_TAX_RATE
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidInput("tax_rate", _("Enter the tax rate as a decimal such as 0.13."))
    try:
        if isinstance(value, str):
            text = value.strip()
            rate = Decimal(text[:-1].strip()) / 100 if text.endswith("%") else Decimal(text)
        else:
            rate = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput("tax_rate", _("Enter the tax rate as a decimal such as 0.13.")) from None
    if not rate.is_finite() or rate < 0 or rate >= 1:
        raise InvalidInput("tax_rate", _("The tax rate is at least 0 and below 1 (0.13 is 13 %)."))
    if rate != rate.quantize(Decimal("0.0001")):
        raise InvalidInput("tax_rate", _("At most four decimal places."))
    return rate.quantize(Decimal("0.0001"))





def _merged(obj, fields: tuple[str, ...], values: dict) -> dict:
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    current = {f: getattr(obj, f) for f in fields} if obj is not None else {}
    return {**current, **values}


def _apply(session: Session, obj, clean: dict, keys) -> None:
    for key in keys:
        if getattr(obj, key) != clean[key]:
            setattr(obj, key, clean[key])
    session.flush()


# --- product lines -----------------------------------------------------------------------

def save_product_line(session: Session, values: dict, line: ProductLine | None = None) -> ProductLine:
    """Create a product line, or change ``line``."""
    merged = _merged(line, PRODUCT_LINE_FIELDS, values)
    clean = {"code": _code(merged, "code", 30).upper(), "name": coerce.text(merged, "name", max_length=100, required=True),
             "name_en": coerce.text(merged, "name_en", max_length=100, required=True)}
    ensure_unique(session, ProductLine, ProductLine.code, clean["code"], getattr(line, "id", None), "code",
                  _("Another product line has this code."))
    if line is None:
        line = ProductLine(**clean)
        session.add(line)
        session.flush()
        return line
    _apply(session, line, clean, values.keys())
    return line


# --- registration certificates ---------------------------------------------------------

def save_registration(session: Session, values: dict, registration: Registration | None = None) -> Registration:
    """Create a registration certificate (or class I filing), or change one. Class II
    and III certificates need an end date; a class I filing may have none."""
    merged = _merged(registration, REGISTRATION_FIELDS, values)
    clean = {
        "number": coerce.text(merged, "number", max_length=60, required=True),
        "product_name": coerce.text(merged, "product_name", max_length=200, required=True),
        "device_class": coerce.choice(merged, "device_class", DEVICE_CLASSES),
        "holder": coerce.text(merged, "holder", max_length=200, required=True),
        "valid_from": coerce.day(merged, "valid_from", required=True),
        "valid_until": coerce.day(merged, "valid_until"),
        "scope": coerce.text(merged, "scope", max_length=4000),
    }
    if clean["valid_until"] is None and clean["device_class"] != "I":
        raise InvalidInput("valid_until", _("A class II or III certificate has an end date."))
    if clean["valid_until"] is not None and clean["valid_until"] < clean["valid_from"]:
        raise InvalidInput("valid_until", _("The end date is before the start date."))
    ensure_unique(session, Registration, Registration.number, clean["number"], getattr(registration, "id", None),
                  "number", _("Another certificate has this number."))
    if registration is None:
        registration = Registration(**clean)
        session.add(registration)
        session.flush()
        return registration
    _apply(session, registration, clean, values.keys())
    return registration


# --- SKUs ---------------------------------------------------------------------------------

def _clean_sku(session: Session, merged: dict, own_id: int | None) -> dict:
    clean = {
        "code": _code(merged, "code", 40),
        "name": coerce.text(merged, "name", max_length=200, required=True),
        "specification": coerce.text(merged, "specification", max_length=200),
        "unit": coerce.text(merged, "unit", max_length=20, required=True),
        "product_line_id": coerce.ident(merged, "product_line_id", required=True),
        "registration_id": coerce.ident(merged, "registration_id"),
        "udi_di": coerce.text(merged, "udi_di", max_length=14),
        "nhsa_code": coerce.text(merged, "nhsa_code", max_length=60),
        "tax_rate": _tax_rate(merged),
        "storage": coerce.text(merged, "storage", max_length=100),
        "tracking": coerce.choice(merged, "tracking", TRACKING, default="lot"),
        "shelf_life_months": coerce.whole(merged, "shelf_life_months", 1, 600),
        "status": coerce.choice(merged, "status", SKU_STATUSES, default="active"),
        "implant": coerce.flag(merged, "implant"),
    }
    if session.get(ProductLine, clean["product_line_id"]) is None:
        raise InvalidInput("product_line_id", _("Choose a product line."))
    if clean["registration_id"] is not None and session.get(Registration, clean["registration_id"]) is None:
        raise InvalidInput("registration_id", _("Choose a registration certificate."))
    if clean["udi_di"] is not None and not gtin_valid(clean["udi_di"]):
        raise InvalidInput("udi_di", _("A UDI-DI is a GTIN-14: 14 digits with a correct check digit."))
    if clean["nhsa_code"] is not None:
        try:
            clean["nhsa_code"] = normalize_nhsa_code(clean["nhsa_code"])
        except ValueError:
            raise InvalidInput("nhsa_code", _("A medical-insurance code is the letter C and 26 digits "
                                              "(20-character code plus 7-digit specification code).")) from None
    ensure_unique(session, Sku, Sku.code, clean["code"], own_id, "code", _("Another SKU has this code."))
    if clean["udi_di"] is not None:
        ensure_unique(session, Sku, Sku.udi_di, clean["udi_di"], own_id, "udi_di", _("Another SKU has this UDI-DI."))
    return clean


def save_sku(session: Session, values: dict, sku: Sku | None = None, requester=None) -> Sku:
    """Create a SKU, or change ``sku``.

    A new SKU created by a ``requester`` (a user) starts ``pending`` and goes to its
    first-business review (首营审核, approval kind ``product_review``); the decision
    makes it ``active`` or ``rejected`` (``product_review_decided``). Without a
    requester (seed, system) it takes ``values["status"]`` (default ``active``).
    On an edit the status changes only through ``set_sku_status``, except for a
    system caller (no requester)."""
    merged = _merged(sku, SKU_FIELDS, values)
    clean = _clean_sku(session, merged, getattr(sku, "id", None))
    if sku is None:
        if requester is not None:
            clean["status"] = "pending"
        sku = Sku(**clean)
        session.add(sku)
        session.flush()
        if requester is not None:
            submit_product_review(session, sku, requester)
        return sku
    if "status" in values and clean["status"] != sku.status and requester is not None:
        raise InvalidInput("status", _("Deactivate or reactivate the SKU with its own button."))
    _apply(session, sku, clean, values.keys())
    return sku


def submit_product_review(session: Session, sku: Sku, requester):
    """Send ``sku`` to its first-business review; with no chain configured it is
    approved at once (and so active)."""
    from app.compliance import approvals

    registration = session.get(Registration, sku.registration_id) if sku.registration_id else None
    facts = {"sku_code": sku.code, "product_line": sku.product_line.code if sku.product_line else None,
             "registration": registration.number if registration else None,
             "device_class": registration.device_class if registration else None,
             "registration_valid_until": registration.valid_until.isoformat()
             if registration and registration.valid_until else None}
    return approvals.submit(session, "product_review", f"{sku.code} {sku.name}", requester, facts,
                            entity=("skus", str(sku.id)))


def set_sku_status(session: Session, sku: Sku, status: str, why: str) -> None:
    """Deactivate (``inactive``) or reactivate (``active``) a SKU, with the reason kept
    in the audit trail. A SKU still in review, or rejected, is not reactivated here:
    its review decides."""
    why = (why or "").strip()
    if status not in ("active", "inactive"):
        raise InvalidInput("status", _("Choose active or inactive."))
    if not why:
        raise InvalidInput("reason", _("Say why; it is kept in the audit trail."))
    if len(why) > 500:
        raise InvalidInput("reason", _("At most %(n)d characters.", n=500))
    if status == sku.status:
        return
    if status == "active" and sku.status != "inactive":
        raise InvalidInput("status", _("Only a deactivated SKU can be reactivated; this one awaits or failed its review."))
    with reason(session, why, action="activate" if status == "active" else "deactivate"):
        sku.status = status
        session.flush()


def product_review_decided(session: Session, request) -> None:
    """First-business review of a product decided: the SKU becomes orderable
    (``active``) or ``rejected``. Only a SKU still ``pending`` changes, so a decision
    arriving after someone deactivated the SKU changes nothing."""
    if request.entity_type not in (None, "skus") or request.entity_id is None:
        return
    try:
        sku = session.get(Sku, int(request.entity_id))
    except ValueError:
        return
    if sku is not None and sku.status == "pending" and request.status in ("approved", "rejected"):
        sku.status = "active" if request.status == "approved" else "rejected"
        session.flush()
