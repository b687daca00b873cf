"""Business document numbers (SO-20261125-000123): a prefix, the Shanghai day, and the
row's own identity value taken before the insert, so numbers are unique without a
counter table and a number never changes once shown."""
from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.i18n import shanghai_today


def assign_number(session: Session, obj, prefix: str, day: date | None = None) -> str:
    """Give a new row its id (from the table's identity sequence) and ``number``;
    ``day`` is the business day the number shows (default: today in Shanghai)."""
    table = type(obj).__tablename__
    obj.id = session.scalar(text("SELECT nextval(pg_get_serial_sequence(:t, 'id'))"), {"t": table})
    obj.number = f"{prefix}-{(day or shanghai_today()):%Y%m%d}-{obj.id:06d}"
    return obj.number
