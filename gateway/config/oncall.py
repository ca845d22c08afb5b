"""[oncall]: the rotation's time zone, weekly handover, start, order, overrides and fallback."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config.staff import Staff
from gateway.time.rotation import WEEKDAYS, OnCall, Override

_WEEK = timedelta(days=7)
_KEYS = ("timezone", "handover", "start", "rotation", "overrides", "fallback")


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone like 'Europe/London'") from None


def parse_handover(value: Any) -> tuple[int, time]:
    """``"mon 09:00"`` -> (0, 09:00)."""
    parts = str(value).strip().lower().split()
    if len(parts) != 2 or parts[0][:3] not in WEEKDAYS:
        raise ValueError(f'{value!r} is not a weekday and a time like "mon 09:00"')
    try:
        at = time.fromisoformat(parts[1])
    except ValueError:
        raise ValueError(f'{value!r}: {parts[1]!r} is not a time like 09:00') from None
    return WEEKDAYS.index(parts[0][:3]), at


def parse_local(value: Any, zone: ZoneInfo) -> datetime:
    """A TOML datetime or ISO 8601 text; without an offset it is wall time in ``zone``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0))
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f'{value!r} is not a date and time like "2026-12-24T18:00"')
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(UTC)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date like 2026-11-02") from None


def _handle(staff: Staff, value: Any, where: str, problems: list[str]) -> str | None:
    handle = str(value).strip().lower()
    if staff.contact(handle) is None and staff.engineer(handle) is None:
        problems.append(f"{where}: {value!r} is neither a [contacts.NAME] handle nor an engineer's handle; "
                        "add it under [contacts] or fix the spelling")
        return None
    return handle


def load_oncall(table: Any, staff: Staff, problems: list[str]) -> OnCall | None:
    """Read [oncall]; each problem names its key. None when the table is absent."""
    if table is None:
        return None
    if not isinstance(table, Mapping):
        problems.append("oncall: must be a table, written [oncall]")
        return None
    for key in table:
        if key not in _KEYS:
            problems.append(f"oncall.{key}: unknown key; the keys of [oncall] are {', '.join(_KEYS)}")
    try:
        zone = _zone(table.get("timezone", "UTC"))
    except ValueError as exc:
        problems.append(f"oncall.timezone: {exc}")
        zone = ZoneInfo("UTC")
    day, at = 0, time(9, 0)
    if "handover" in table:
        try:
            day, at = parse_handover(table["handover"])
        except ValueError as exc:
            problems.append(f"oncall.handover: {exc}")
    rotation: list[str] = []
    raw_rotation = table.get("rotation", [])
    if not isinstance(raw_rotation, list):
        problems.append('oncall.rotation: must be a list of contact handles, like ["alice", "bob"]')
        raw_rotation = []
    for i, value in enumerate(raw_rotation):
        handle = _handle(staff, value, f"oncall.rotation[{i}]", problems)
        if handle:
            rotation.append(handle)
    first: date | None = None
    if rotation:
        if "start" not in table or "handover" not in table:
            problems.append('oncall: a rotation needs start (the date of the first handover, like 2026-11-02) '
                            'and handover (like "mon 09:00")')
        else:
            try:
                start = _date(table["start"])
                first = start + timedelta(days=(day - start.weekday()) % 7)
            except ValueError as exc:
                problems.append(f"oncall.start: {exc}")
    overrides = _overrides(table.get("overrides", []), zone, staff, problems)
    fallback = _handle(staff, table["fallback"], "oncall.fallback", problems) if "fallback" in table else None
    if not rotation and not overrides and fallback is None:
        problems.append("oncall: names nobody; give a rotation, overrides (explicit date ranges) or a fallback")
    return OnCall(zone, day, at, first, tuple(rotation), tuple(overrides), fallback)


def _overrides(raw: Any, zone: ZoneInfo, staff: Staff, problems: list[str]) -> list[Override]:
    if not isinstance(raw, list):
        problems.append('oncall.overrides: must be a list like [{from = "2026-12-24T18:00", '
                        'to = "2026-12-27T09:00", contact = "carol"}]')
        return []
    result = []
    for i, item in enumerate(raw):
        where = f"oncall.overrides[{i}]"
        if not isinstance(item, Mapping) or not {"from", "to", "contact"} <= set(item):
            problems.append(f"{where}: needs from, to and contact, like "
                            '{from = "2026-12-24T18:00", to = "2026-12-27T09:00", contact = "carol"}')
            continue
        try:
            start, end = parse_local(item["from"], zone), parse_local(item["to"], zone)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if end <= start:
            problems.append(f"{where}: to must come after from")
            continue
        handle = _handle(staff, item["contact"], f"{where}.contact", problems)
        if handle:
            result.append(Override(start, end, handle))
    return result
