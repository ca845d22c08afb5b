"""Cadences as people write them ("mon 08:00", "1st 09:00", "08:00"): when a digest goes, and what it covers.

A cadence is read in the reader's time zone: "mon 08:00" is 08:00 on Monday where the reader
is. With a business calendar, a day it is closed (a weekend, a public holiday) moves the mail to
the next day it is open, at the same time; the mail still covers the period of the day it was
due. A weekly digest covers the seven days before its day, a monthly one the calendar month
before, a daily one its own day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_DAY = re.compile(r"(\d{1,2})(st|nd|rd|th)?")
# A calendar closed longer than this (a year) has no day to move a mail to: the mail keeps its day.
_LOOK_AHEAD = 366

OpenDay = Callable[[date], bool]


@dataclass(frozen=True, slots=True)
class Cadence:
    """``every`` is "day", "week" (on ``weekday``, Monday 0) or "month" (on day ``day``), at ``at``."""

    every: str
    at: time
    weekday: int = 0
    day: int = 1
    text: str = ""

    def due_day(self, on_or_before: date) -> date:
        """The last day the cadence names on or before ``on_or_before``."""
        if self.every == "week":
            return on_or_before - timedelta(days=(on_or_before.weekday() - self.weekday) % 7)
        if self.every == "month":
            first = on_or_before.replace(day=self.day)
            return first if first <= on_or_before else _month_before(first)
        return on_or_before

    def next_due_day(self, after: date) -> date:
        """The first day the cadence names after ``after``."""
        if self.every == "week":
            return after + timedelta(days=(self.weekday - after.weekday() - 1) % 7 + 1)
        if self.every == "month":
            this = after.replace(day=self.day)
            return this if this > after else _month_after(this)
        return after + timedelta(days=1)

    def period(self, due: date) -> tuple[date, date]:
        """The days a mail due on ``due`` covers: [first, end)."""
        if self.every == "week":
            return due - timedelta(days=7), due
        if self.every == "month":
            first = due.replace(day=1)
            return _month_before(first), first
        return due, due + timedelta(days=1)

    def period_key(self, due: date) -> str:
        """What names the period in a cause key: the due day, or the month reported."""
        return _month_before(due.replace(day=1)).strftime("%Y-%m") if self.every == "month" else due.isoformat()


def _month_before(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=day.day)


def _month_after(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=day.day)


def parse_cadence(value: object) -> Cadence:
    """ "08:00" (daily), "mon 08:00" or "monday 08:00" (weekly), "1st 09:00" (monthly, day 1 to 28)."""
    if not isinstance(value, str) or not value.split():
        raise ValueError('write a time like "08:00", a weekday and a time like "mon 08:00", '
                         'or a day of the month and a time like "1st 09:00"')
    parts = value.strip().lower().split()
    try:
        at = time.fromisoformat(parts[-1])
    except ValueError:
        raise ValueError(f"{value!r}: {parts[-1]!r} is not a time like 08:00") from None
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == "daily"):
        return Cadence("day", at, text=value.strip())
    if len(parts) != 2:
        raise ValueError(f'{value!r}: write "08:00", "mon 08:00" or "1st 09:00"')
    word = parts[0]
    weekday = next((i for i, name in enumerate(WEEKDAY_NAMES) if len(word) >= 3 and name.startswith(word)), None)
    if weekday is not None:
        return Cadence("week", at, weekday=weekday, text=value.strip())
    match = _MONTH_DAY.fullmatch(word)
    if match is None:
        raise ValueError(f"{value!r}: {word!r} is neither a weekday (mon, tuesday) nor a day of the month (1st)")
    day = int(match.group(1))
    if not 1 <= day <= 28:
        raise ValueError(f"{value!r}: a monthly digest goes on day 1 to 28, which every month has")
    return Cadence("month", at, day=day, text=value.strip())


@dataclass(frozen=True, slots=True)
class Occurrence:
    """A mail of a cadence: when it goes (UTC), and the day it was due (which names its period)."""

    at: datetime
    due: date


def _sent_on(due: date, open_day: OpenDay | None) -> date:
    if open_day is None:
        return due
    day = due
    for _ in range(_LOOK_AHEAD):
        if open_day(day):
            return day
        day += timedelta(days=1)
    return due


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_occurrence(cadence: Cadence, after: datetime, zone: ZoneInfo, open_day: OpenDay | None = None) -> Occurrence:
    """The first mail of ``cadence`` strictly after ``after``, read in ``zone``."""
    local = after.astimezone(zone).date()
    # A mail moved past closed days may still be ahead though its due day is behind: start a
    # calendar-closure before, and take the first instant after ``after``.
    due = cadence.due_day(local - timedelta(days=31 if open_day is not None else 1))
    while True:
        sent = _sent_on(due, open_day)
        at = _instant(sent, cadence.at, zone)
        if at > after:  # a daily mail is about the day it goes
            return Occurrence(at, sent if cadence.every == "day" else due)
        due = cadence.next_due_day(due)


def occurrence_at(cadence: Cadence, at: datetime, zone: ZoneInfo, open_day: OpenDay | None = None) -> Occurrence:
    """The occurrence that goes at ``at`` (one ``next_occurrence`` returned), its due day recovered:
    the latest due day whose mail goes then."""
    due = cadence.due_day(at.astimezone(zone).date())
    if cadence.every == "day":
        return Occurrence(at, due)
    for _ in range(_LOOK_AHEAD):
        if _instant(_sent_on(due, open_day), cadence.at, zone) == at:
            return Occurrence(at, due)
        due = cadence.due_day(due - timedelta(days=1))
    return Occurrence(at, cadence.due_day(at.astimezone(zone).date()))


def latest_occurrence(cadence: Cadence, first: Occurrence, now: datetime, zone: ZoneInfo,
                      open_day: OpenDay | None = None) -> Occurrence:
    """The last occurrence at or before ``now``, from ``first`` (itself at or before it): after a long
    stop the gateway sends the latest period's mail, not one for every period it missed."""
    latest = first
    while True:
        following = next_occurrence(cadence, latest.at, zone, open_day)
        if following.at > now:
            return latest
        latest = following
