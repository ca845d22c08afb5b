"""Opening hours as values: time-of-day ranges, weekly tables and public-holiday lists."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays as holidays_lib

from gateway.errors import GatewayError

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# "09:00", "9.00", "9", "9am", "5:30pm", "24:00"; seeds write "08.00 - 18.00" and "9am-6pm".
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?"
_RANGE_RE = re.compile(rf"^\s*{_TIME}\s*(?:-|–|to)\s*{_TIME}\s*$", re.IGNORECASE)
_DAY_ALIASES = {
    "monday": "mon",
    "tuesday": "tue",
    "tues": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "thur": "thu",
    "thurs": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


class OpeningHoursError(GatewayError, ValueError):
    """A time range or day list that cannot be read; the message says what is accepted."""


@dataclass(frozen=True, order=True)
class ClockRange:
    """Local wall-clock time range [start, end) in minutes after midnight; end may be 1440."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise OpeningHoursError(f"time range {self.start}-{self.end} minutes must satisfy 0 <= start < end <= 1440")

    @classmethod
    def parse(cls, text: str) -> ClockRange:
        """Read "09:00-18:00", "08.00 - 18.00", "9am-6pm" or "00:00-24:00"."""
        m = _RANGE_RE.match(text)
        if m is None:
            raise OpeningHoursError(
                f'cannot read time range {text!r}: write it as "HH:MM-HH:MM", '
                'e.g. "09:00-17:30" (an end of "24:00" means midnight)'
            )
        start = _minutes(text, m.group(1), m.group(2), m.group(3))
        end = _minutes(text, m.group(4), m.group(5), m.group(6))
        if end == 0:
            end = MINUTES_PER_DAY  # "22:00-00:00" and "10pm-12am" close at midnight
        if start >= end:
            raise OpeningHoursError(
                f"time range {text!r} ends before it starts: a range cannot cross midnight, "
                'split it into "22:00-24:00" on one day and "00:00-06:00" on the next'
            )
        return cls(start, end)

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


DayHours = tuple[ClockRange, ...]
ALL_DAY: DayHours = (ClockRange(0, MINUTES_PER_DAY),)


def parse_day_hours(value: str | Sequence[str]) -> DayHours:
    """Read one day's shifts: a range, a list of ranges, or "closed"/[] for none."""
    items = [value] if isinstance(value, str) else list(value)
    if [item.strip().lower() for item in items] == ["closed"]:
        return ()
    return normalise_ranges(ClockRange.parse(item) for item in items)


def normalise_ranges(ranges: Iterable[ClockRange]) -> DayHours:
    """Sort one day's ranges, merge touching ones and reject overlaps (a likely typo)."""
    merged: list[ClockRange] = []
    for r in sorted(ranges):
        if merged and r.start < merged[-1].end:
            raise OpeningHoursError(f"time ranges {merged[-1]} and {r} overlap")
        if merged and r.start == merged[-1].end:
            merged[-1] = ClockRange(merged[-1].start, r.end)
        else:
            merged.append(r)
    return tuple(merged)


def parse_days(text: str) -> frozenset[int]:
    """Read a day list ("mon-fri", "sat,sun", "mon-fri, sun", "daily") as weekday numbers."""
    spec = text.strip().lower()
    if spec in ("daily", "all", "every day", "7 days"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in re.split(r"\s*,\s*", spec):
        ends = [_weekday(text, p) for p in re.split(r"\s*(?:-|–|to)\s*", part)]
        if len(ends) == 1:
            days.add(ends[0])
        elif len(ends) == 2:
            first, last = ends
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))  # "fri-mon" wraps
        else:
            raise OpeningHoursError(f"cannot read day list {text!r}: {part!r} has two dashes")
    return frozenset(days)


@dataclass(frozen=True)
class WeeklyHours:
    """The shifts of each weekday, Monday first (index 0, as date.weekday())."""

    days: tuple[DayHours, DayHours, DayHours, DayHours, DayHours, DayHours, DayHours]

    @classmethod
    def uniform(cls, days: str, hours: str | Sequence[str]) -> WeeklyHours:
        """The same shifts on every listed day: uniform("mon-fri", "09:00-18:00")."""
        chosen = parse_days(days)
        shifts = parse_day_hours(hours)
        return cls.from_days({d: (shifts if d in chosen else ()) for d in range(7)})

    @classmethod
    def from_mapping(cls, table: Mapping[str, str | Sequence[str]]) -> WeeklyHours:
        """Shifts per named day, {"mon": "09:00-17:00", "wed": [..]}; days left out are closed."""
        by_day: dict[int, DayHours] = {}
        for key, value in table.items():
            by_day[_weekday(key, key)] = parse_day_hours(value)
        return cls.from_days(by_day)

    @classmethod
    def from_days(cls, by_day: Mapping[int, DayHours]) -> WeeklyHours:
        d = [normalise_ranges(by_day.get(i, ())) for i in range(7)]
        return cls((d[0], d[1], d[2], d[3], d[4], d[5], d[6]))

    def is_empty(self) -> bool:
        return not any(self.days)

    def __str__(self) -> str:
        parts = [f"{WEEKDAYS[i]} {', '.join(map(str, h))}" for i, h in enumerate(self.days) if h]
        return "; ".join(parts) or "closed"


@dataclass(frozen=True)
class PublicHolidays:
    """The public holidays of a country (ISO 3166 code) and optional subdivision, via `holidays`."""

    country: str
    subdiv: str | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            _holiday_dates(self.country, self.subdiv, self.categories, 2000)
        except (NotImplementedError, KeyError, ValueError) as exc:
            raise OpeningHoursError(f"no holiday list for {self}: {exc}") from exc

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and day in self.dates(day.year)

    def dates(self, year: int) -> frozenset[date]:
        return _holiday_dates(self.country, self.subdiv, self.categories, year)

    def __str__(self) -> str:
        return self.country + (f"/{self.subdiv}" if self.subdiv else "")


@lru_cache(maxsize=1024)
def _holiday_dates(country: str, subdiv: str | None, categories: tuple[str, ...], year: int) -> frozenset[date]:
    table = holidays_lib.country_holidays(country, subdiv=subdiv, years=year, categories=categories or None)
    return frozenset(table.keys())


def _weekday(text: str, name: str) -> int:
    key = _DAY_ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in WEEKDAYS:
        raise OpeningHoursError(
            f"unknown day {name!r} in {text!r}: use mon, tue, wed, thu, fri, sat, sun, "
            'a range such as "mon-fri", or "daily"'
        )
    return WEEKDAYS.index(key)


def _minutes(text: str, hours: str, minutes: str | None, meridiem: str | None) -> int:
    h, m = int(hours), int(minutes or 0)
    if meridiem is not None:
        if not 1 <= h <= 12:
            raise OpeningHoursError(f"hour {h} in {text!r} is not a 12-hour clock hour")
        h = h % 12 + (12 if meridiem.lower() == "pm" else 0)
    if m >= 60 or h > 24 or (h == 24 and m):
        raise OpeningHoursError(f"time {hours}:{minutes or '00'} in {text!r} is not a clock time")
    return h * 60 + m


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
