"""Business document numbers (SO-20261125-000123): a prefix, the Shanghai day, and the
row's own identity value taken before the insert, so numbers are unique without a
counter table and a number never changes once shown."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.i18n import shanghai_today


def assign_number(session: Session, obj, prefix: str) -> str:
    """Give a new row its id (from the table's identity sequence) and ``number``."""
    table = type(obj).__tablename__
    obj.id = session.scalar(text("SELECT nextval(pg_get_serial_sequence(:t, 'id'))"), {"t": table})
    obj.number = f"{prefix}-{shanghai_today():%Y%m%d}-{obj.id:06d}"
    return obj.number
