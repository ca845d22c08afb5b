"""Business-hours calendars: open time, deadlines and elapsed business time, exact across DST.

Which hours a date has is decided here; gateway.time.wall_clock turns them into UTC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.errors import GatewayError
from gateway.time.opening_hours import ALL_DAY, DayHours, PublicHolidays, WeeklyHours
from gateway.time.wall_clock import Interval, utc_intervals

ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
# No real calendar is shut this long; a longer run means it never opens (e.g. no weekly hours).
_MAX_CLOSED_RUN = 400
_CACHE_LIMIT = 8192


class CalendarError(GatewayError, ValueError):
    """A calendar asked something it cannot answer: naive instants, negative spans, never open."""


def as_utc(at: datetime, what: str = "instant") -> datetime:
    """Return `at` in UTC; a naive datetime is an error, since its zone would be a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise CalendarError(
            f"{what} {at.isoformat()} is a naive datetime: SLA instants must be timezone-aware "
            "(store UTC, e.g. datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))"
        )
    return at.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """When a support team is open, in local wall-clock time of `timezone`.

    A date's hours are, first match wins: its `half_days` entry (its own hours, which may be
    any hours, even on a holiday), nothing if it is in `closed` or a public holiday, else
    the weekly hours of its weekday. Hours are read as the local wall clock: the desk is
    open while the clock on the office wall shows a time inside a range. So on the DST
    fall-back day "01:00-02:00" lasts two real hours, and a range inside the spring-forward
    gap ("02:00-03:00" in Berlin on its change day) lasts zero. All answers are UTC.
    """

    name: str
    timezone: ZoneInfo
    weekly: WeeklyHours
    holidays: PublicHolidays | None = None
    closed: frozenset[date] = frozenset()
    half_days: tuple[tuple[date, DayHours], ...] = ()
    _special: dict[date, DayHours] = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)
    _cache: dict[date, tuple[Interval, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        special = dict(self.half_days)
        if len(special) != len(self.half_days):
            raise CalendarError(f"calendar {self.name!r} lists a half day twice")
        both = sorted(set(special) & self.closed)
        if both:
            raise CalendarError(f"calendar {self.name!r}: {both[0]} is both closed and a half day")
        object.__setattr__(self, "_special", special)
        always = all(d == ALL_DAY for d in self.weekly.days)
        always = always and not self.closed and self.holidays is None and not special
        object.__setattr__(self, "_always_open", always)

    def with_timezone(self, tz: ZoneInfo | str) -> BusinessCalendar:
        """The same weekly hours, holidays, closed and half days, read in another zone.

        Holidays stay this calendar's (the team is off on them); use with_holidays for the
        customer's. Results are memoised, so a per-ticket call keeps a warm day cache.
        """
        if isinstance(tz, str):
            try:
                tz = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise CalendarError(f"unknown time zone {tz!r}: use an IANA name") from None
        return _rezoned(self, tz)

    def with_holidays(self, holidays: PublicHolidays | None) -> BusinessCalendar:
        """The same calendar with another holiday list (e.g. the customer's country)."""
        return dataclasses.replace(self, holidays=holidays)

    # Questions about one instant.

    def is_open(self, at: datetime) -> bool:
        at_utc = as_utc(at, "at")
        return self.next_open(at_utc) == at_utc

    def next_open(self, at: datetime) -> datetime:
        """`at` itself if the desk is open then, else the start of the next opening."""
        at_utc = as_utc(at, "at")
        if self._always_open:
            return at_utc
        for start, _ in self._walk(at_utc):
            return start
        raise AssertionError("unreachable: _walk never ends")

    # Arithmetic on business time.

    def add(self, start: datetime, business: timedelta) -> datetime:
        """The first instant at which `business` of open time has passed since `start`.

        Counting starts at next_open(start); a zero span returns `start` itself (a zero
        target is due at once). A span that runs out exactly at a closing time returns that
        closing time, not the next opening.
        """
        start_utc = as_utc(start, "start")
        if business < ZERO:
            raise CalendarError(f"cannot add a negative business time ({business})")
        if not business or self._always_open:
            return start_utc + business
        remaining = business
        for begin, end in self._walk(start_utc):
            span = end - begin
            if remaining <= span:
                return begin + remaining
            remaining -= span
        raise AssertionError("unreachable: _walk never ends")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants; zero if `end` is not after `start`."""
        start_utc, end_utc = as_utc(start, "start"), as_utc(end, "end")
        if end_utc <= start_utc:
            return ZERO
        if self._always_open:
            return end_utc - start_utc
        total = ZERO
        for begin, finish in self._walk(start_utc):
            if begin >= end_utc:
                break
            total += min(finish, end_utc) - begin
            if finish >= end_utc:
                break
        return total

    def add_business_days(self, start: datetime, n: int) -> datetime:
        """The close of the nth business day after the local date of `start`.

        The date of `start` never counts, whatever the hour ("3 working days after receipt"):
        Fri 17:50 + 3 is the close of Wednesday, and so is Saturday + 3. Zero returns `start`.
        """
        start_utc = as_utc(start, "start")
        if n <= 0:
            return self._zero_days(start_utc, n)
        day = start_utc.astimezone(self.timezone).date()
        days = self._business_days_after(day)
        for _ in range(n - 1):
            next(days)
        return next(days)[1][-1][1]

    def same_time_business_days(self, start: datetime, n: int) -> datetime:
        """The same point of the business day, n business days on ("1 business day" response).

        Counting starts at next_open(start). If that point is t of open time into its day,
        the answer is t into the nth following business day (its close if that day is
        shorter). At t = 0 (mail before opening, at night, at the weekend) it is the close of
        the (n-1)th following business day: a Saturday mail with 1 business day is due at
        Monday's close, the first instant at which a whole business day has passed.
        """
        start_utc = as_utc(start, "start")
        if n <= 0:
            return self._zero_days(start_utc, n)
        begin = self.next_open(start_utc)
        day = begin.astimezone(self.timezone).date()
        today = self.open_intervals(day)
        if not any(a <= begin < b for a, b in today):  # owned by yesterday (ambiguous midnight)
            day -= _ONE_DAY
            today = self.open_intervals(day)
        into = sum((min(b, begin) - a for a, b in today if a < begin), ZERO)
        days = self._business_days_after(day)
        previous = today
        for _ in range(n - 1):
            previous = next(days)[1]
        if not into:
            return previous[-1][1]
        target = next(days)[1]
        for a, b in target:
            if into <= b - a:
                return a + into
            into -= b - a
        return target[-1][1]  # a shorter day (half day): due at its close

    # Days.

    def is_business_day(self, day: date) -> bool:
        return bool(self.open_intervals(day))

    def open_intervals(self, day: date) -> tuple[Interval, ...]:
        """The UTC intervals the desk is open on a local date, sorted and disjoint."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        result = utc_intervals(self.timezone, day, self._hours(day))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[day] = result
        return result

    def _hours(self, day: date) -> DayHours:
        special = self._special.get(day)
        if special is not None:
            return special
        if day in self.closed or (self.holidays is not None and day in self.holidays):
            return ()
        return self.weekly.days[day.weekday()]

    def _walk(self, start: datetime) -> Iterator[Interval]:
        """Open intervals from `start` on, clipped to it, in order; endless unless never open."""
        day = start.astimezone(self.timezone).date() - _ONE_DAY  # yesterday may run past 24:00
        cursor, closed_run = start, 0
        while True:
            intervals = self.open_intervals(day)
            closed_run = 0 if intervals else closed_run + 1
            if closed_run > _MAX_CLOSED_RUN:
                raise self._never_open(day)
            for a, b in intervals:
                if b > cursor:
                    yield max(a, cursor), b
                    cursor = b
            day += _ONE_DAY

    def _business_days_after(self, day: date) -> Iterator[tuple[date, tuple[Interval, ...]]]:
        closed_run = 0
        while True:
            day += _ONE_DAY
            intervals = self.open_intervals(day)
            if intervals:
                closed_run = 0
                yield day, intervals
            else:
                closed_run += 1
                if closed_run > _MAX_CLOSED_RUN:
                    raise self._never_open(day)

    def _zero_days(self, start_utc: datetime, n: int) -> datetime:
        if n < 0:
            raise CalendarError(f"cannot add a negative number of business days ({n})")
        return start_utc

    def _never_open(self, day: date) -> CalendarError:
        return CalendarError(
            f"calendar {self.name!r} is closed for over {_MAX_CLOSED_RUN} days up to {day}: "
            "give it weekly opening hours"
        )


@lru_cache(maxsize=256)
def _rezoned(calendar: BusinessCalendar, zone: ZoneInfo) -> BusinessCalendar:
    base = calendar.name.split("@", 1)[0]
    return dataclasses.replace(calendar, name=f"{base}@{zone.key}", timezone=zone)


TWENTY_FOUR_SEVEN = BusinessCalendar("24x7", ZoneInfo("UTC"), WeeklyHours.uniform("daily", "00:00-24:00"))
