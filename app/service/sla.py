"""The SLA clock (pure: values in, values out, no I/O).

A ticket's targets are minutes on a clock that either runs around the clock or only in
the tenant's service hours (a daily window on chosen weekdays, Shanghai time). The two
functions below are inverse to each other on that clock:

    due_at(start, minutes, hours)            → when ``minutes`` of clock time have run
    clock_minutes(start, end, hours)         → how many minutes of clock time lie between

Times are aware datetimes (stored UTC); the service hours are read in Asia/Shanghai.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_MINUTES = 24 * 60
#: Monday … Sunday as bits 0 … 6 (Python's weekday())
MONDAY_TO_FRIDAY = 0b0011111


@dataclass(frozen=True)
class ServiceHours:
    """A daily window ``[start_minute, end_minute)`` (minutes after local midnight) on
    the weekdays whose bit is set in ``weekdays`` (bit 0 = Monday)."""

    start_minute: int = 8 * 60 + 30
    end_minute: int = 17 * 60 + 30
    weekdays: int = MONDAY_TO_FRIDAY

    def __post_init__(self):
        if not (0 <= self.start_minute < self.end_minute <= DAY_MINUTES):
            raise ValueError("service hours must start before they end, within one day")
        if not (0 < self.weekdays < 128):
            raise ValueError("service hours need at least one weekday")

    def open_on(self, weekday: int) -> bool:
        return bool(self.weekdays >> weekday & 1)

    @property
    def daily_minutes(self) -> int:
        return self.end_minute - self.start_minute


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("SLA times must be timezone-aware")
    return moment.astimezone(SHANGHAI)


def _window(day_start: datetime, hours: ServiceHours) -> tuple[datetime, datetime]:
    """The service window of the local day starting at ``day_start`` (midnight)."""
    return day_start + timedelta(minutes=hours.start_minute), day_start + timedelta(minutes=hours.end_minute)


def _midnight(local: datetime) -> datetime:
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def due_at(start: datetime, minutes: int, hours: ServiceHours | None) -> datetime:
    """When ``minutes`` of SLA clock have run from ``start``: plain addition around the
    clock, else counted only inside service hours (a ticket raised on Friday evening
    starts its clock on Monday morning). Returned in UTC."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    if hours is None:
        return (start + timedelta(minutes=minutes)).astimezone(ZoneInfo("UTC"))
    local = _local(start)
    day = _midnight(local)
    left = timedelta(minutes=minutes)
    week = timedelta(minutes=sum(hours.daily_minutes for d in range(7) if hours.open_on(d)))
    # Shanghai has no daylight saving, so local days are 24 h and adding a day is safe.
    for _ in range(366 * 10):
        if day > local and left > 2 * week:
            # from a midnight, seven days hold exactly one week of service time
            weeks = left // week - 1
            day += timedelta(days=7 * weeks)
            left -= week * weeks
        if hours.open_on(day.weekday()):
            opens, closes = _window(day, hours)
            begin = max(opens, local)
            if begin < closes:
                room = closes - begin
                if left <= room:
                    return (begin + left).astimezone(ZoneInfo("UTC"))
                left -= room
        day += timedelta(days=1)
    raise ValueError("SLA target too far out")


def clock_minutes(start: datetime, end: datetime, hours: ServiceHours | None) -> int:
    """Whole minutes of SLA clock between ``start`` and ``end`` (0 when ``end`` is not
    after ``start``): elapsed time, or only the part inside service hours."""
    if end <= start:
        return 0
    if hours is None:
        return int((end - start).total_seconds() // 60)
    a, b = _local(start), _local(end)
    total = timedelta()
    day = _midnight(a)
    full_days = (_midnight(b) - day).days
    if full_days > 14:
        # whole weeks in one step: the window repeats every seven days
        weeks = (full_days - 7) // 7
        per_week = sum(hours.daily_minutes for d in range(7) if hours.open_on(d))
        first_after = day + timedelta(days=7 * weeks)
        total += timedelta(minutes=per_week * weeks) - _within(day, a, hours)
        return int((total + _within(first_after, b, hours)).total_seconds() // 60)
    return int(_within(a, b, hours).total_seconds() // 60)


def _within(a: datetime, b: datetime, hours: ServiceHours) -> timedelta:
    """Service-hours time between two local moments less than a few weeks apart."""
    total = timedelta()
    day = _midnight(a)
    while day < b:
        if hours.open_on(day.weekday()):
            opens, closes = _window(day, hours)
            lo, hi = max(opens, a), min(closes, b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


def clock_state(due: datetime | None, met_at: datetime | None, now: datetime) -> str:
    """How one target stands: ``met`` (done by its due time), ``late`` (done after it),
    ``overdue`` (not done, past due), ``running`` (not done yet, still in time), ``none``."""
    if due is None:
        return "none"
    if met_at is not None:
        return "met" if met_at <= due else "late"
    return "overdue" if now > due else "running"


#: escalation levels: 1 response overdue, 2 resolution overdue, 3 resolution overdue by
#: half its target again (the after-sales lead, then the regional manager, then the admin)
MAX_ESCALATION = 3


def escalation_level(now: datetime, raised_at: datetime, response_due: datetime | None, responded_at: datetime | None,
                     resolution_due: datetime | None, resolved_at: datetime | None) -> int:
    """The level a ticket should stand at ``now`` (never lowered by the caller)."""
    level = 0
    if response_due is not None and responded_at is None and now > response_due:
        level = 1
    if resolution_due is not None and resolved_at is None and now > resolution_due:
        level = 2
        if now > resolution_due + (resolution_due - raised_at) / 2:
            level = 3
    return level


def format_minutes(minutes: int) -> tuple[int, int, int]:
    """(days, hours, minutes) of a duration in minutes, for display."""
    minutes = abs(int(minutes))
    return minutes // DAY_MINUTES, minutes % DAY_MINUTES // 60, minutes % 60
