"""The tenant's settings of rebate use: the share of an order's amount that may be paid
by 票折, and how long an approved claim or price-protection credit stays usable."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.core import coerce
from app.core.settings import put_setting

#: name → (lowest, highest)
SETTINGS = {"rebate_offset_max_pct": (0, 100), "rebate_credit_expiry_days": (0, 3650)}


def save(session: Session, values: dict) -> dict[str, int]:
    """Every setting or none (``InvalidInput`` names the field); audited like any row."""
    parsed = {name: coerce.whole(values, name, low, high, required=True) for name, (low, high) in SETTINGS.items()}
    for name, value in parsed.items():
        put_setting(session, name, value)
    return parsed
