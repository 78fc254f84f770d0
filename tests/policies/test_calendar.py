"""Business calendar (POLICY_SPEC §4): mainland-China working days with 调休, deadline arithmetic.

The reference for every day of 2025 and 2026 is ``chinese_calendar`` (pip ``chinesecalendar``), a
package maintained independently of ``holidays``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from pydantic import ValidationError

from policies.calendar import BusinessCalendar, CalendarConfig

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def days(year: int):
    d = date(year, 1, 1)
    while d.year == year:
        yield d
        d += timedelta(days=1)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


@pytest.mark.parametrize("year", [2025, 2026])
def test_working_days_agree_with_chinese_calendar_every_day(cal, year):
    wrong = [d for d in days(year) if cal.is_working_day(d) != chinese_calendar.is_workday(d)]
    assert not wrong, f"R-SLA-6.18-general working days differ from chinese_calendar on {wrong}"


@pytest.mark.parametrize("year", [2025, 2026])
@pytest.mark.parametrize("n", [1, 3])
def test_add_working_days_agrees_with_chinese_calendar_from_every_day_at_10(cal, year, n):
    """R-SLA-6.18-general: same clock time on the n-th working day; from 09:00 of the next working
    day when received on a non-working day. Beyond chinese_calendar's data (2027) the year must be
    flagged instead."""
    checked = 0
    for d in days(year):
        start = datetime.combine(d, time(10, 0), tzinfo=CST)
        got = cal.add_working_days(start, n)
        try:
            clock = time(10, 0) if chinese_calendar.is_workday(d) else time(9, 0)
            want = datetime.combine(chinese_calendar.find_workday(n, d), clock, tzinfo=CST)
        except NotImplementedError:  # the result lies in a year chinese_calendar has no data for
            assert cal.unknown_years(start, got) == [year + 1], d
            continue
        assert got == want, f"{d} + {n} working days"
        checked += 1
    assert checked >= 360


def test_friday_plus_one_working_day_is_the_saturday_makeup_day(cal):
    # 2026-02-14 is a Saturday make-up workday (调休) before Spring Festival.
    assert cal.add_working_days(cst(2026, 2, 13, 10), 1) == cst(2026, 2, 14, 10)
    assert cal.add_working_days(cst(2026, 2, 27, 10), 1) == cst(2026, 2, 28, 10)  # the other make-up Saturday
    assert cal.is_working_day(date(2026, 2, 14)) and cal.is_working_day(date(2026, 2, 28))
    assert not cal.is_working_day(date(2026, 2, 23))  # Monday, off (swapped with 02-28)


def test_received_during_spring_festival_counts_from_next_working_day_0900(cal):
    # Off 2026-02-15 .. 02-23; the next working day is Tuesday 02-24.
    assert cal.add_working_days(cst(2026, 2, 18, 10), 0) == cst(2026, 2, 24, 9)
    assert cal.add_working_days(cst(2026, 2, 18, 10), 1) == cst(2026, 2, 25, 9)
    assert cal.add_working_days(cst(2026, 2, 18, 10), 3) == cst(2026, 2, 27, 9)
    assert cal.add_working_days(cst(2026, 2, 18, 10), 4) == cst(2026, 2, 28, 9)  # make-up Saturday


def test_three_working_days_across_national_day_2025(cal):
    # 2025: off 10-01 .. 10-08; make-up workdays Sunday 09-28 and Saturday 10-11.
    assert cal.add_working_days(cst(2025, 9, 30, 10), 3) == cst(2025, 10, 11, 10)
    assert cal.add_working_days(cst(2025, 9, 27, 15), 3) == cst(2025, 10, 9, 9)  # Saturday: from 09-28 09:00
    assert cal.is_working_day(date(2025, 9, 28)) and cal.is_working_day(date(2025, 10, 11))


def test_three_working_days_across_national_day_2026(cal):
    # 2026: off 10-01 .. 10-07; make-up workdays Sunday 09-20 and Saturday 10-10.
    assert cal.add_working_days(cst(2026, 9, 30, 15), 3) == cst(2026, 10, 10, 15)
    assert cal.add_working_days(cst(2026, 9, 19, 11), 1) == cst(2026, 9, 21, 9)  # Saturday -> Sunday 09-20 09:00 + 1
    assert cal.is_working_day(date(2026, 9, 20)) and not cal.is_working_day(date(2026, 10, 7))


def test_half_a_working_day_is_four_business_hours(cal):
    """R-SLA-5.4.5.4: half a working day = 4 working hours inside 09:00-17:00."""
    assert cal.add_working_hours(cst(2026, 3, 2, 16), 4) == cst(2026, 3, 3, 12)
    assert cal.add_working_hours(cst(2026, 2, 13, 16), 4) == cst(2026, 2, 14, 12)  # into the make-up Saturday
    assert cal.add_working_hours(cst(2026, 3, 2, 7), 4) == cst(2026, 3, 2, 13)  # before opening: from 09:00
    assert cal.add_working_hours(cst(2026, 3, 2, 13), 4) == cst(2026, 3, 2, 17)  # exactly to closing
    assert cal.add_working_hours(cst(2026, 3, 2, 20), 4) == cst(2026, 3, 3, 13)  # after closing
    assert cal.add_working_hours(cst(2026, 2, 18, 10), 4) == cst(2026, 2, 24, 13)  # during Spring Festival


def test_wall_clock_end_of_day_and_months(cal):
    assert cal.add_wall_clock(cst(2026, 2, 16, 23, 58), timedelta(minutes=5)) == cst(2026, 2, 17, 0, 3)
    assert cal.end_of_day(cst(2026, 3, 2, 16), 1) == cst(2026, 3, 4, 0)  # "次日" ends at midnight
    assert cal.add_months(cst(2026, 1, 31, 10), 1) == cst(2026, 2, 28, 10)
    assert cal.add_months(cst(2026, 12, 15, 10), 1) == cst(2027, 1, 15, 10)
    assert cal.add_working_days(cst(2026, 3, 2, 10), 1).tzinfo == timezone.utc


def test_year_without_official_schedule_is_flagged_and_falls_back_to_weekdays(caplog):
    cal = BusinessCalendar()
    with caplog.at_level(logging.WARNING, logger="policies.calendar"):
        due = cal.add_working_days(cst(2026, 12, 30, 10), 3)
    # 12-31 (1), 2027-01-01 statutory holiday, 01-04 Monday (2), 01-05 (3): no 调休 known for 2027.
    assert due == cst(2027, 1, 5, 10)
    assert cal.unknown_years(cst(2026, 12, 30, 10), due) == [2027]
    assert cal.is_known_year(2026) and not cal.is_known_year(2027)
    assert any("2027" in r.getMessage() for r in caplog.records)
    declared = BusinessCalendar(known_years=[2027])
    assert declared.unknown_years(cst(2026, 12, 30, 10), due) == []


def test_extra_holidays_and_workdays_override_the_official_calendar():
    cal = BusinessCalendar(extra_holidays=[date(2026, 3, 3)], extra_workdays=[date(2026, 3, 7)])
    assert not cal.is_working_day(date(2026, 3, 3)) and cal.is_working_day(date(2026, 3, 7))
    assert cal.add_working_days(cst(2026, 3, 2, 10), 1) == cst(2026, 3, 4, 10)
    assert cal.add_working_days(cst(2026, 3, 6, 10), 1) == cst(2026, 3, 7, 10)


def test_config_validation_and_business_hours_from_config():
    base = {"country": "CN", "timezone": "Asia/Shanghai", "business_start": "08:30", "business_end": "12:30"}
    cal = BusinessCalendar.from_config(CalendarConfig.model_validate(base))
    assert cal.add_working_hours(cst(2026, 3, 2, 12), 2) == cst(2026, 3, 3, 10)
    assert cal.add_working_days(cst(2026, 3, 1, 12), 1) == cst(2026, 3, 3, 8, 30)  # Sunday: from 08:30 Monday
    with pytest.raises(ValidationError, match="business_end"):
        CalendarConfig.model_validate({**base, "business_end": "08:00"})
    with pytest.raises(ValidationError):
        CalendarConfig.model_validate({**base, "timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_days(datetime(2026, 3, 2, 10), 1)


def test_remembered_answers_equal_fresh_ones():
    """The calendar remembers its answers; a second ask (or the same moment in another zone) gets
    the answer a fresh calendar computes, and a time that differs only by ``fold`` is not mixed up."""
    cal, fresh = BusinessCalendar(tz="Europe/Berlin"), lambda: BusinessCalendar(tz="Europe/Berlin")
    moments = [datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"), fold=f) for f in (0, 1)]
    moments += [datetime(2026, 3, 6, 16, 45, tzinfo=timezone.utc), cst(2026, 2, 14, 10), cst(2026, 9, 30, 23, 59)]
    for _ in range(2):
        for m in moments:
            assert cal.add_working_days(m, 3) == fresh().add_working_days(m, 3)
            assert cal.add_working_hours(m, 4) == fresh().add_working_hours(m, 4)
            assert cal.end_of_day(m, 1) == fresh().end_of_day(m, 1)
            assert cal.add_months(m, 1) == fresh().add_months(m, 1)
            assert cal.unknown_years(m, m + timedelta(days=400)) == fresh().unknown_years(m, m + timedelta(days=400))
            assert cal.is_working_day(m.date()) == fresh().is_working_day(m.date())
    assert cal.end_of_day(moments[0], 0) == fresh().end_of_day(moments[0], 0)
    # The deadlines plugin's ISO and local renderings keep the two moments apart too.
    from policies.deadlines import _local, iso

    assert [iso(m) for m in moments[:2]] == [m.astimezone(timezone.utc).isoformat() for m in moments[:2]]
    assert iso(moments[0]) != iso(moments[1])
    assert [_local(cal, m) for m in moments[:2]] == ["2026-10-25 02:30", "2026-10-25 02:30"]
