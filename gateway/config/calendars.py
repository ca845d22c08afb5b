"""Business calendars read from the config's [calendars.NAME] tables, with errors naming the key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config.reader import Reader, as_bool
from gateway.errors import GatewayError
from gateway.time.calendar import TWENTY_FOUR_SEVEN, BusinessCalendar, CalendarError
from gateway.time.opening_hours import (
    DayHours,
    OpeningHoursError,
    PublicHolidays,
    WeeklyHours,
    parse_day_hours,
    parse_days,
)

BUILTIN_CALENDARS: Mapping[str, BusinessCalendar] = {TWENTY_FOUR_SEVEN.name: TWENTY_FOUR_SEVEN}
_KEYS = ("timezone", "days", "open", "hours", "holidays", "closed", "half_days", "description")
_MAX_CLOSED_RANGE = 366
_In = TypeVar("_In")
_Out = TypeVar("_Out")


class CalendarConfigError(GatewayError, ValueError):
    """A calendar table that cannot be used; `key` is its dotted path in the config."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def calendars_from_table(table: Mapping[str, Any], prefix: str = "calendars") -> dict[str, BusinessCalendar]:
    """Every calendar of a [calendars] table, plus the built-in "24x7"."""
    result = dict(BUILTIN_CALENDARS)
    for name, body in table.items():
        key = f"{prefix}.{name}"
        if name in BUILTIN_CALENDARS:
            raise CalendarConfigError(key, f'"{name}" is built in; give your calendar another name')
        if not isinstance(body, Mapping):
            raise CalendarConfigError(key, "must be a table: [calendars.NAME] with timezone, ...")
        result[name] = calendar_from_table(name, body, prefix)
    return result


def load_calendars(r: Reader, data: dict[str, Any]) -> tuple[dict[str, BusinessCalendar], frozenset[str]]:
    """Every [calendars.NAME] with the built-in "24x7", and the names of those whose hours are read
    in each customer's own time zone (``customer_local_time = true``)."""
    calendars = dict(BUILTIN_CALENDARS)
    customer_local = set()
    for where, name, table in r.tables(data, "calendars", "a table: [calendars.NAME] with timezone, ..."):
        if r.get(table, f"{where}.customer_local_time", False, as_bool):
            customer_local.add(name)
        body = {key: value for key, value in table.items() if key != "customer_local_time"}
        try:
            calendars.update(calendars_from_table({name: body}))
        except CalendarConfigError as exc:
            r.problems.append(str(exc))
    # A calendar's one problem is reported; plans that name it are not told it does not exist.
    for name in data["calendars"] if isinstance(data.get("calendars"), dict) else ():
        calendars.setdefault(name, BUILTIN_CALENDARS["24x7"])
    return calendars, frozenset(customer_local)


def calendar_from_table(name: str, table: Mapping[str, Any], prefix: str = "calendars") -> BusinessCalendar:
    """One calendar from its TOML table; raises CalendarConfigError naming the bad key."""
    base = f"{prefix}.{name}"
    for key in table:
        if key not in _KEYS:
            raise CalendarConfigError(f"{base}.{key}", f"unknown key; the keys are {', '.join(_KEYS)}, "
                                      "customer_local_time")
    zone = _zone(f"{base}.timezone", table.get("timezone"))
    weekly = _weekly(base, table)
    holidays = _holidays(f"{base}.holidays", table.get("holidays"))
    closed = _closed(f"{base}.closed", table.get("closed", []))
    half_days = _half_days(f"{base}.half_days", table.get("half_days", {}), closed)
    try:
        return BusinessCalendar(name, zone, weekly, holidays, closed, half_days)
    except CalendarError as exc:
        raise CalendarConfigError(base, str(exc)) from exc


def _zone(key: str, value: Any) -> ZoneInfo:
    if value is None:
        raise CalendarConfigError(key, 'missing: add timezone = "Europe/London" (an IANA name)')
    if not isinstance(value, str):
        raise CalendarConfigError(key, 'must be a string such as "Europe/London"')
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarConfigError(
            key, f'unknown time zone {value!r}: use an IANA name such as "Europe/London"'
        ) from None


def _weekly(base: str, table: Mapping[str, Any]) -> WeeklyHours:
    by_day: dict[int, DayHours] = {}
    days, hours = table.get("days"), table.get("open")
    if (days is None) != (hours is None):
        missing = "open" if hours is None else "days"
        raise CalendarConfigError(
            f"{base}.{missing}", 'days and open go together: days = "mon-fri", open = "09:00-17:00"'
        )
    if days is not None:
        chosen = _parse(f"{base}.days", parse_days, _string(f"{base}.days", days))
        shifts = _parse(f"{base}.open", parse_day_hours, _ranges(f"{base}.open", hours))
        by_day.update(dict.fromkeys(chosen, shifts))
    per_day = table.get("hours", {})
    if not isinstance(per_day, Mapping):
        raise CalendarConfigError(f"{base}.hours", 'must be a table: { mon = "09:00-17:00", ... }')
    seen: set[int] = set()
    for spec, value in per_day.items():
        key = f"{base}.hours.{spec}"
        chosen = _parse(key, parse_days, spec)
        if chosen & seen:
            raise CalendarConfigError(key, "names a day that another hours key already set")
        seen |= chosen
        shifts = _parse(key, parse_day_hours, _ranges(key, value))
        by_day.update(dict.fromkeys(chosen, shifts))
    weekly = WeeklyHours.from_days(by_day)
    if weekly.is_empty():
        raise CalendarConfigError(base, 'has no opening hours: add days = "mon-fri" and open = "09:00-17:00"')
    return weekly


def _holidays(key: str, value: Any) -> PublicHolidays | None:
    if value is None or value is False:
        return None
    if isinstance(value, str):
        value = {"country": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("country"), str):
        raise CalendarConfigError(key, 'write holidays = { country = "GB", subdiv = "ENG" }')
    extra = set(value) - {"country", "subdiv", "categories"}
    if extra:
        raise CalendarConfigError(f"{key}.{min(extra)}", "unknown key; use country, subdiv")
    subdiv = value.get("subdiv")
    categories = value.get("categories", [])
    if subdiv is not None and not isinstance(subdiv, str):
        raise CalendarConfigError(f"{key}.subdiv", 'must be a string such as "ENG" or "NSW"')
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise CalendarConfigError(f"{key}.categories", 'must be a list such as ["public"]')
    try:
        return PublicHolidays(value["country"].upper(), subdiv, tuple(categories))
    except OpeningHoursError as exc:
        raise CalendarConfigError(
            key, f"{exc}; use an ISO 3166 country code and subdivision (GB/ENG, AU/NSW, US/NY)"
        ) from None


def _closed(key: str, value: Any) -> frozenset[date]:
    if not isinstance(value, list):
        raise CalendarConfigError(key, 'must be a list: ["2026-12-24", "2026-12-29..2026-12-31"]')
    days: set[date] = set()
    for i, item in enumerate(value):
        item_key = f"{key}[{i}]"
        if isinstance(item, date):
            days.add(item)
            continue
        text = _string(item_key, item)
        first_text, _, last_text = text.partition("..")
        first = _date(item_key, first_text)
        last = _date(item_key, last_text) if last_text else first
        span = (last - first).days
        if not 0 <= span < _MAX_CLOSED_RANGE:
            raise CalendarConfigError(item_key, f"range {text!r} must run forward, under a year")
        days.update(first + timedelta(days=n) for n in range(span + 1))
    return frozenset(days)


def _half_days(key: str, value: Any, closed: frozenset[date]) -> tuple[tuple[date, DayHours], ...]:
    if not isinstance(value, Mapping):
        raise CalendarConfigError(key, 'must be a table: { "2026-12-31" = "09:00-13:00" }')
    result: list[tuple[date, DayHours]] = []
    for day_text, hours in value.items():
        item_key = f"{key}.{day_text}"
        day = day_text if isinstance(day_text, date) else _date(item_key, day_text)
        if day in closed:
            raise CalendarConfigError(item_key, "this date is also in closed; keep one of them")
        result.append((day, _parse(item_key, parse_day_hours, _ranges(item_key, hours))))
    return tuple(sorted(result))


def _parse(key: str, parser: Callable[[_In], _Out], value: _In) -> _Out:
    try:
        return parser(value)
    except OpeningHoursError as exc:
        raise CalendarConfigError(key, str(exc)) from None


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise CalendarConfigError(key, f"must be a string, not {value!r}")
    return value


def _ranges(key: str, value: Any) -> str | Sequence[str]:
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    raise CalendarConfigError(key, 'must be "09:00-17:00" or a list ["09:00-12:00", "13:00-17:00"]')


def _date(key: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CalendarConfigError(key, f"{text!r} is not a date: write YYYY-MM-DD") from None
