"""SLA time: business-hours calendars, targets as written in SLAs, and their deadlines."""

from gateway.sla.calendar import TWENTY_FOUR_SEVEN, BusinessCalendar, CalendarError, as_utc
from gateway.sla.calendar_config import (
    BUILTIN_CALENDARS,
    CalendarConfigError,
    calendar_from_table,
    calendars_from_table,
)
from gateway.sla.durations import (
    NO_TARGET,
    DurationError,
    Target,
    TargetKind,
    deadline,
    format_duration,
    format_target,
    parse_target,
)
from gateway.sla.opening_hours import ClockRange, OpeningHoursError, PublicHolidays, WeeklyHours

__all__ = [
    "BUILTIN_CALENDARS",
    "NO_TARGET",
    "TWENTY_FOUR_SEVEN",
    "BusinessCalendar",
    "CalendarConfigError",
    "CalendarError",
    "ClockRange",
    "DurationError",
    "OpeningHoursError",
    "PublicHolidays",
    "Target",
    "TargetKind",
    "WeeklyHours",
    "as_utc",
    "calendar_from_table",
    "calendars_from_table",
    "deadline",
    "format_duration",
    "format_target",
    "parse_target",
]
