"""The SLA clock (app/service/sla.py): hand-worked examples in service-desk words —
around the clock, inside service hours 08:30–17:30 Monday to Friday (Shanghai), a
ticket raised on Friday evening, across a weekend, a Saturday service desk — and
properties checked with hypothesis: the due time and the elapsed clock are inverse,
the clock only runs inside the window, and long spans agree with day-by-day counting.
No database."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.service import sla
from app.service.sla import ServiceHours

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
OFFICE = ServiceHours(8 * 60 + 30, 17 * 60 + 30, sla.MONDAY_TO_FRIDAY)  # 9 h a day, Mon–Fri
MON_TO_SAT = ServiceHours(9 * 60, 18 * 60, 0b0111111)


def at(text: str) -> datetime:
    """A Shanghai wall-clock time (2026-11-30 is a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def test_around_the_clock_is_plain_addition_returned_in_utc():
    due = sla.due_at(at("2026-12-04 22:00"), 4 * 60, None)  # Friday 22:00 + 4 h
    assert due == at("2026-12-05 02:00") and due.tzinfo == ZoneInfo("UTC")


def test_inside_service_hours_the_clock_runs_the_same_day():
    assert sla.due_at(at("2026-11-30 10:00"), 4 * 60, OFFICE) == at("2026-11-30 14:00")


def test_raised_before_opening_starts_at_0830():
    assert sla.due_at(at("2026-11-30 06:15"), 60, OFFICE) == at("2026-11-30 09:30")


def test_raised_friday_evening_the_clock_starts_monday_morning():
    """A critical fault at 18:40 on Friday with a 4 h response target is due Monday 12:30."""
    assert sla.due_at(at("2026-12-04 18:40"), 4 * 60, OFFICE) == at("2026-12-07 12:30")


def test_what_is_left_on_friday_carries_over_the_weekend():
    """Raised Friday 16:00: 1.5 h run on Friday, the other 6.5 h on Monday (08:30 → 15:00)."""
    assert sla.due_at(at("2026-12-04 16:00"), 8 * 60, OFFICE) == at("2026-12-07 15:00")


def test_a_target_that_ends_at_closing_time_is_due_at_closing_time():
    assert sla.due_at(at("2026-11-30 08:30"), 9 * 60, OFFICE) == at("2026-11-30 17:30")


def test_three_business_days_from_wednesday_noon_is_monday_noon():
    assert sla.due_at(at("2026-12-02 13:00"), 3 * 9 * 60, OFFICE) == at("2026-12-07 13:00")


def test_a_saturday_desk_counts_saturday():
    assert sla.due_at(at("2026-12-04 17:00"), 2 * 60, MON_TO_SAT) == at("2026-12-05 10:00")


def test_a_long_target_on_a_thin_desk_is_counted_a_week_at_a_time():
    """Half an hour on Mondays only: 15,691 minutes is ten years of Mondays and a bit."""
    thin = ServiceHours(0, 30, 0b0000001)
    due = sla.due_at(at("2026-01-01 00:00"), 15691, thin)
    assert sla.clock_minutes(at("2026-01-01 00:00"), due, thin) == 15691
    assert due.astimezone(SH).weekday() == 0


def test_elapsed_clock_skips_nights_and_weekends():
    assert sla.clock_minutes(at("2026-12-04 16:30"), at("2026-12-07 09:30"), OFFICE) == 120
    assert sla.clock_minutes(at("2026-12-05 10:00"), at("2026-12-06 23:00"), OFFICE) == 0
    assert sla.clock_minutes(at("2026-12-04 16:30"), at("2026-12-07 09:30"), None) == (2 * 24 + 17) * 60


def test_elapsed_clock_is_zero_backwards():
    assert sla.clock_minutes(at("2026-12-07 09:30"), at("2026-12-04 16:30"), OFFICE) == 0


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        sla.due_at(datetime(2026, 12, 1, 9, 0), 60, OFFICE)


def test_service_hours_must_make_sense():
    with pytest.raises(ValueError):
        ServiceHours(18 * 60, 9 * 60)
    with pytest.raises(ValueError):
        ServiceHours(weekdays=0)


def test_clock_state_names_each_case():
    due, now = at("2026-12-01 12:00"), at("2026-12-01 13:00")
    assert sla.clock_state(None, None, now) == "none"
    assert sla.clock_state(due, at("2026-12-01 11:00"), now) == "met"
    assert sla.clock_state(due, at("2026-12-01 12:30"), now) == "late"
    assert sla.clock_state(due, None, now) == "overdue"
    assert sla.clock_state(due, None, at("2026-12-01 11:59")) == "running"


def test_escalation_levels_follow_the_targets():
    raised = at("2026-12-01 08:00")
    response, resolution = at("2026-12-01 12:00"), at("2026-12-02 08:00")  # 24 h resolution target

    def level(now, responded=None, resolved=None):
        return sla.escalation_level(now, raised, response, responded, resolution, resolved)

    assert level(at("2026-12-01 11:00")) == 0
    assert level(at("2026-12-01 12:01")) == 1                     # nobody answered in time
    assert level(at("2026-12-01 12:01"), responded=at("2026-12-01 11:00")) == 0
    assert level(at("2026-12-02 08:01"), responded=at("2026-12-01 11:00")) == 2
    assert level(at("2026-12-02 20:01"), responded=at("2026-12-01 11:00")) == 3  # half the target again
    assert level(at("2026-12-09 08:00"), resolved=at("2026-12-01 18:00")) == 1  # resolved, never answered


def test_format_minutes():
    assert sla.format_minutes(1 * 1440 + 3 * 60 + 7) == (1, 3, 7)
    assert sla.format_minutes(-65) == (0, 1, 5)


# --- properties ------------------------------------------------------------------------------------

hours_strategy = st.one_of(
    st.none(),
    st.builds(lambda s, length, days: ServiceHours(s, min(s + length, 1440), days),
              st.integers(0, 23 * 60), st.integers(30, 14 * 60), st.integers(1, 127)))
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(SH)).map(lambda d: d.replace(second=0, microsecond=0))


@settings(max_examples=300, deadline=None)
@given(hours_strategy, moments, st.integers(0, 20 * 1440))
def test_the_clock_between_start_and_due_is_the_target(hours, start, minutes):
    due = sla.due_at(start, minutes, hours)
    assert due >= start
    assert sla.clock_minutes(start, due, hours) == minutes


@settings(max_examples=300, deadline=None)
@given(st.builds(lambda s, length, days: ServiceHours(s, min(s + length, 1440), days),
                 st.integers(0, 23 * 60), st.integers(30, 14 * 60), st.integers(1, 127)),
       moments, st.integers(1, 10 * 1440))
def test_a_due_time_falls_inside_service_hours(hours, start, minutes):
    local = sla.due_at(start, minutes, hours).astimezone(SH)
    minute_of_day = local.hour * 60 + local.minute
    assert (hours.open_on(local.weekday()) and hours.start_minute < minute_of_day <= hours.end_minute) or (
        hours.end_minute == 1440 and minute_of_day == 0 and hours.open_on((local.weekday() - 1) % 7))


@settings(max_examples=200, deadline=None)
@given(hours_strategy, moments, st.integers(0, 120 * 1440))
def test_long_spans_agree_with_counting_day_by_day(hours, start, span):
    end = start + timedelta(minutes=span)
    expected = span if hours is None else int(sla._within(start, end, hours).total_seconds() // 60)
    assert sla.clock_minutes(start, end, hours) == expected


@settings(max_examples=200, deadline=None)
@given(hours_strategy, moments, st.integers(0, 5 * 1440), st.integers(0, 5 * 1440))
def test_the_clock_adds_up(hours, start, first, second):
    middle = start + timedelta(minutes=first)
    end = middle + timedelta(minutes=second)
    assert sla.clock_minutes(start, end, hours) == (sla.clock_minutes(start, middle, hours)
                                                    + sla.clock_minutes(middle, end, hours))


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(1, 3000), st.integers(0, 6000), st.integers(0, 20000), st.integers(0, 20000))
def test_escalation_only_climbs_as_time_passes(raised, response, extra, first, later):
    response_due = raised + timedelta(minutes=response)
    resolution_due = response_due + timedelta(minutes=extra)
    a = raised + timedelta(minutes=first)
    b = a + timedelta(minutes=later)
    assert (sla.escalation_level(a, raised, response_due, None, resolution_due, None)
            <= sla.escalation_level(b, raised, response_due, None, resolution_due, None) <= sla.MAX_ESCALATION)
