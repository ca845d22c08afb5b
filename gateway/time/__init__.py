"""Time as SLAs count it (pure): business-hours calendars, targets as written in SLAs, deadlines."""

from gateway.time.calendar import TWENTY_FOUR_SEVEN, BusinessCalendar, CalendarError, as_utc
from gateway.time.durations import (
    NO_TARGET,
    DurationError,
    Target,
    TargetKind,
    deadline,
    format_duration,
    format_target,
    parse_target,
)
from gateway.time.opening_hours import ClockRange, OpeningHoursError, PublicHolidays, WeeklyHours

__all__ = [
    "NO_TARGET",
    "TWENTY_FOUR_SEVEN",
    "BusinessCalendar",
    "CalendarError",
    "ClockRange",
    "DurationError",
    "OpeningHoursError",
    "PublicHolidays",
    "Target",
    "TargetKind",
    "WeeklyHours",
    "as_utc",
    "deadline",
    "format_duration",
    "format_target",
    "parse_target",
]
