"""Pieces the manufacturer's and the dealer's channel pages share: labels, reading a
plain form into the values the channel operations take, and the uploaded scan."""
from __future__ import annotations

from flask import request

from app.channel import operations as ops
from app.channel import rules

DEALER_STATUSES = rules.DEALER_STATUS_LABELS
TIERS = rules.TIER_LABELS
QUALIFICATION_KINDS = rules.QUALIFICATION_KIND_LABELS
QUALIFICATION_STATUSES = rules.QUALIFICATION_STATUS_LABELS


def form_values(fields) -> dict:
    """The named fields the form carries (absent ones are left unchanged)."""
    return {f: request.form.get(f, "") for f in fields if f in request.form}


def labels() -> dict:
    return dict(dealer_statuses=DEALER_STATUSES, tiers=TIERS, qualification_kinds=QUALIFICATION_KINDS,
                qualification_statuses=QUALIFICATION_STATUSES, grades=ops.HOSPITAL_GRADES)


QUALIFICATION_FIELDS = ("kind", "number", "device_classes", "scope", "issued_on", "valid_until")


def uploaded_file() -> tuple[str, bytes] | None:
    """The uploaded scan as (name, bytes), reading at most one byte past the limit."""
    from app.channel.rules import MAX_SCAN_BYTES

    storage = request.files.get("file")
    if storage is None or not storage.filename:
        return None
    return storage.filename, storage.stream.read(MAX_SCAN_BYTES + 1)


def qualification_values() -> dict:
    values = form_values(QUALIFICATION_FIELDS)
    values["device_classes"] = request.form.getlist("device_classes")
    return values
