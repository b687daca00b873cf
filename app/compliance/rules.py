"""The audit chain's canonical form and hash: pure functions, shared by the writer and
by ``audit verify``."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal

from flask_babel import lazy_gettext as _l

GENESIS = "0" * 64

ACTION_LABELS = {
    "create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"),
    "sign_in": _l("Signed in"), "sign_out": _l("Signed out"), "invite": _l("Invited"),
    "accept_invitation": _l("Accepted invitation"), "reset_password": _l("Reset password"),
    "change_password": _l("Changed password"), "set_language": _l("Changed language"),
    "activate": _l("Activated"), "deactivate": _l("Deactivated"),
    "request_job": _l("Requested a job"), "retry_job": _l("Retried a job"), "job_failed": _l("Job failed"),
    "download": _l("Downloaded"), "bulk_generate": _l("Bulk load"), "import": _l("Imported a file"),
    "approve": _l("Approved"), "reject": _l("Rejected"), "return": _l("Returned for changes"),
    "withdraw": _l("Withdrawn"), "resubmit": _l("Resubmitted"), "signature_refused": _l("Signature refused"),
    "enable_totp": _l("Turned on two-step verification"), "disable_totp": _l("Turned off two-step verification"),
}
ENTITY_LABELS = {
    "users": _l("User"), "dealers": _l("Dealer"), "hospitals": _l("Hospital"), "regions": _l("Region"),
    "product_lines": _l("Product line"), "skus": _l("SKU"), "user_regions": _l("User region"),
    "jobs": _l("Job"), "documents": _l("Document"), "tenants": _l("Tenant"),
    "approval_requests": _l("Approval request"), "approval_decisions": _l("Approval decision"),
    "approval_chains": _l("Approval chain"), "approval_steps": _l("Approval step"), "signatures": _l("Signature"),
    "delegations": _l("Delegation"),
    "registrations": _l("Registration certificate"),
    "import_runs": _l("Import"),
}
HASHED_FIELDS = (
    "seq", "occurred_at", "actor_type", "actor_id", "actor_label", "action", "entity_type",
    "entity_id", "before", "after", "reason", "request_id", "client_ip", "prev_hash",
)


def to_json_value(value):
    """A value as it is kept in the audit trail: JSON primitives only, money and dates
    as exact strings (JSONB would turn 1.10 into 1.1 and break the hash)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_json_value(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, float):
        raise TypeError("floats are not audit values; money is Decimal")
    return str(value)


def canonical(event: dict) -> bytes:
    content = {f: to_json_value(event.get(f)) for f in HASHED_FIELDS}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(event: dict) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


# --- approval routing (pure) ------------------------------------------------------------

OPERATORS = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b, "eq": lambda a, b: a == b,
}


def step_applies(condition_field: str | None, condition_op: str | None, condition_value, facts: dict) -> bool:
    """A step without a condition always applies; with one, it applies when the
    request's fact satisfies it. A missing fact never satisfies a condition."""
    if not condition_field:
        return True
    raw = facts.get(condition_field)
    if raw is None or condition_op not in OPERATORS:
        return False
    return OPERATORS[condition_op](Decimal(str(raw)), Decimal(str(condition_value)))


def route(steps: list[dict], facts: dict) -> list[dict]:
    """The steps a request goes through, in order: those whose condition holds."""
    return [s for s in sorted(steps, key=lambda s: s["position"])
            if step_applies(s.get("condition_field"), s.get("condition_op"), s.get("condition_value"), facts)]


def record_hash(version: dict) -> str:
    """SHA-256 of the canonical form of a record version (what a signature signs)."""
    content = json.dumps(to_json_value(version), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()
