"""The deployment's business calendar: working days, business hours, deadline arithmetic (§4).

Working days follow the mainland-China calendar from the ``holidays`` package: statutory holidays
are off and the adjusted weekend workdays (调休) are on. Deadlines are counted as POLICY_SPEC §4
says:

* minute and hour deadlines run in wall-clock time (:meth:`BusinessCalendar.add_wall_clock`);
* "N working days" ends at the same clock time on the N-th working day after the day of receipt;
  a complaint received on a non-working day counts from the start of the next working day
  (:meth:`BusinessCalendar.add_working_days`);
* "half a working day" is 4 working hours inside business hours (default 09:00–17:00)
  (:meth:`BusinessCalendar.add_working_hours`).

The State Council publishes each year's schedule late in the previous year. For a year without
published data, ``holidays`` would still compute the statutory days but knows no 调休 swaps, so
any answer is a guess: :meth:`BusinessCalendar.unknown_years` names such years, callers flag them
in the ticket's note, and the calendar falls back to the statutory days plus plain weekdays
(logged once per year). A year counts as published when ``holidays`` carries the State Council's
swap table for it, or when the deployment lists it in ``known_years`` (after adding the year's
days through ``extra_holidays`` / ``extra_workdays``).
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from holidays.countries.china import ChinaStaticHolidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

log = logging.getLogger(__name__)

#: Years whose official schedule (with 调休 swaps) ``holidays`` ships for mainland China.
PUBLISHED_YEARS = frozenset(ChinaStaticHolidays.special_public_holidays)
#: Never walk further than this looking for a working day (a misconfiguration, not a calendar).
_MAX_SCAN_DAYS = 400
#: Answers a calendar remembers (working days; months added: pure functions of their arguments);
#: beyond that, the oldest are forgotten first, one at a time. Deadlines remember their own
#: (policies.deadlines).
_MEMO_SIZE = 20_000


class CalendarConfig(BaseModel):
    """``[policies.deadlines.calendar]`` (profile data supplies every value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: Literal["CN"] = Field(description="Holiday calendar: mainland China (statutory days off, 调休 on)")
    timezone: str = Field(description="IANA time zone deadlines are counted in, e.g. Asia/Shanghai")
    business_start: time = Field(description="Start of business hours, e.g. 09:00")
    business_end: time = Field(description="End of business hours, e.g. 17:00")
    extra_holidays: tuple[date, ...] = Field(default=(), description="Extra days off (company closures)")
    extra_workdays: tuple[date, ...] = Field(default=(), description="Extra working days")
    known_years: tuple[int, ...] = Field(
        default=(), description="Years the deployment declares complete although holidays has no 调休 data")

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _hours_ordered(self) -> CalendarConfig:
        if self.business_end <= self.business_start:
            raise ValueError("business_end must be after business_start")
        return self


class BusinessCalendar:
    """Working-day arithmetic in one time zone. Thread-safe; build one per configuration."""

    def __init__(
        self,
        *,
        tz: str = "Asia/Shanghai",
        business_start: time = time(9, 0),
        business_end: time = time(17, 0),
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        known_years: Iterable[int] = (),
    ) -> None:
        self.tz = ZoneInfo(tz)
        self.business_start = business_start
        self.business_end = business_end
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.known_years = PUBLISHED_YEARS | frozenset(known_years)
        self._years: dict[int, holidays.HolidayBase] = {}
        self._lock = threading.Lock()
        self._warned: set[int] = set()
        # Memoized answers, keyed by method and arguments (a time's ``fold`` too: two local times
        # that differ only by it compare equal but are different moments).
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def _remember(self, key: tuple[Any, ...], value: Any) -> Any:
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.popitem(last=False)
        self._memo[key] = value
        return value

    @classmethod
    def from_config(cls, config: CalendarConfig) -> BusinessCalendar:
        return _cached(config)

    # -- days ------------------------------------------------------------------------------------

    def _holidays(self, year: int) -> holidays.HolidayBase:
        with self._lock:
            table = self._years.get(year)
            if table is None:
                table = holidays.China(years=year)
                self._years[year] = table
                if year not in self.known_years and year not in self._warned:
                    self._warned.add(year)
                    log.warning("no official mainland-China holiday schedule for %d: counting statutory "
                                "holidays and Monday-Friday only (no 调休); deadlines in %d are flagged", year, year)
            return table

    def is_known_year(self, year: int) -> bool:
        """Whether ``year``'s official schedule (holidays and 调休 workdays) is known."""
        return year in self.known_years

    def unknown_years(self, start: datetime | date, end: datetime | date) -> list[int]:
        """Years between ``start`` and ``end`` (inclusive, local dates) without official data."""
        # A local date is less than two days away from the time's own date (UTC offsets span 26
        # hours): when every year of those days is known, so are the local ones, and no time-zone
        # conversion is needed.
        if not any(isinstance(m, datetime) and m.tzinfo is None for m in (start, end)):
            days = (start if type(start) is date else start.date(), end if type(end) is date else end.date())
            low, high = min(days) - timedelta(days=2), max(days) + timedelta(days=2)
            if all(self.is_known_year(y) for y in range(low.year, high.year + 1)):
                return []
        first = self.local(start).year if isinstance(start, datetime) else start.year
        last = self.local(end).year if isinstance(end, datetime) else end.year
        return [y for y in range(min(first, last), max(first, last) + 1) if not self.is_known_year(y)]

    def is_working_day(self, day: date) -> bool:
        """Working day in the configured calendar: 调休 weekend workdays on, statutory holidays off."""
        key = ("is_working_day", day, type(day))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._remember(key, self._is_working_day(day))
        return hit  # type: ignore[no-any-return]

    def _is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        return bool(self._holidays(day.year).is_working_day(day))

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        key = ("next_working_day", day, type(day))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._remember(key, self._next_working_day(day))
        return hit  # type: ignore[no-any-return]

    def _next_working_day(self, day: date) -> date:
        for _ in range(_MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days after {day}")

    # -- times -----------------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: deadlines need timezone-aware times")
        return moment.astimezone(self.tz)

    def at(self, day: date, clock: time) -> datetime:
        """``day`` at local ``clock``, as a timezone-aware UTC datetime."""
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(timezone.utc)

    def add_wall_clock(self, start: datetime, delta: timedelta) -> datetime:
        """Minute and hour deadlines (5 min, 20 min, 1 h, 48 h) run in wall-clock time."""
        return (start + delta).astimezone(timezone.utc)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Same clock time on the ``n``-th working day after the day of receipt.

        Received on a non-working day: counted from the start of business on the next working day.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        local = self.local(start)
        day, clock = local.date(), local.timetz().replace(tzinfo=None)
        if not self.is_working_day(day):
            day, clock = self.next_working_day(day), self.business_start
        for _ in range(n):
            day = self.next_working_day(day)
        return self.at(day, clock)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """``hours`` of business time (working days, between business_start and business_end)."""
        if hours < 0:
            raise ValueError("hours must be >= 0")
        remaining = timedelta(hours=hours)
        local = self.local(start)
        day = local.date()
        cursor = local.replace(tzinfo=None)
        for _ in range(_MAX_SCAN_DAYS):
            opens = datetime.combine(day, self.business_start)
            closes = datetime.combine(day, self.business_end)
            if self.is_working_day(day) and cursor < closes:
                cursor = max(cursor, opens)
                available = closes - cursor
                if remaining <= available:
                    return (cursor + remaining).replace(tzinfo=self.tz).astimezone(timezone.utc)
                remaining -= available
            day = self.next_working_day(day)
            cursor = datetime.combine(day, self.business_start)
        raise ValueError(f"working hours do not fit in {_MAX_SCAN_DAYS} days")

    def end_of_day(self, start: datetime, days: int) -> datetime:
        """Midnight ending the ``days``-th calendar day after ``start`` ("最晚于次日" = 1)."""
        day = self.local(start).date() + timedelta(days=days + 1)
        return self.at(day, time(0, 0))

    def add_months(self, start: datetime, months: int) -> datetime:
        """Same local clock time ``months`` calendar months later (day clamped to the month's end)."""
        key = ("add_months", start, start.fold, months)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._remember(key, self._add_months(start, months))
        return hit  # type: ignore[no-any-return]

    def _add_months(self, start: datetime, months: int) -> datetime:
        local = self.local(start)
        index = local.month - 1 + months
        year, month = local.year + index // 12, index % 12 + 1
        day = min(local.day, _stdlib_calendar.monthrange(year, month)[1])
        return self.at(date(year, month, day), local.timetz().replace(tzinfo=None))


@lru_cache(maxsize=16)
def _cached(config: CalendarConfig) -> BusinessCalendar:
    return BusinessCalendar(
        tz=config.timezone,
        business_start=config.business_start,
        business_end=config.business_end,
        extra_holidays=config.extra_holidays,
        extra_workdays=config.extra_workdays,
        known_years=config.known_years,
    )
