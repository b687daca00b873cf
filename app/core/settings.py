"""Per-tenant settings: a few numbers a manufacturer tunes (alert thresholds, reporting
deadlines), each with a default declared here so code never reads an unset value."""
from sqlalchemy import String, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import TimestampMixin, db

#: name → default. Integers only so far; a new setting is one line here.
DEFAULTS: dict[str, int] = {
    "near_expiry_days": 90,        # stock expiring within this many days is 近效期
    "warranty_months": 12,         # a delivered unit's warranty (装机保修) runs this long unless after-sales say otherwise
    "slow_moving_days": 90,        # stock with no movement for this long is slow-moving
    "sell_out_due_day": 5,         # a month's sell-out is due by this day of the next month
    "default_min_shelf_days": 0,   # remaining shelf life an allocation needs unless a dealer/hospital says more
    "rebate_offset_max_pct": 30,   # 票折 on an order: at most this share (%) of the order amount
    "rebate_credit_expiry_days": 365,  # an approved claim or price protection credit is usable this long (0: no expiry)
    "service_hours_start": 8 * 60 + 30,  # service desk opens (minutes after midnight, Shanghai); SLA business hours
    "service_hours_end": 17 * 60 + 30,   # and closes
    "service_weekdays": 0b0011111,       # the days it is open, bit 0 = Monday (31: Monday to Friday)
}


class Setting(TimestampMixin, db.Model):
    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(JSONB, nullable=False)


def setting(session: Session, name: str) -> int:
    value = session.scalar(select(Setting.value).where(Setting.name == name))
    return DEFAULTS[name] if value is None else value


def settings(session: Session) -> dict[str, int]:
    stored = dict(session.execute(select(Setting.name, Setting.value)).all())
    return {name: stored.get(name, default) for name, default in DEFAULTS.items()}


def put_setting(session: Session, name: str, value: int) -> None:
    """Through the ORM, so the change is audited."""
    if name not in DEFAULTS:
        raise KeyError(name)
    row = session.get(Setting, name)
    if row is None:
        session.add(Setting(name=name, value=value))
    else:
        row.value = value
    session.flush()
