"""[oncall]: the rotation's time zone, weekly handover, start, order, overrides and fallback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.reader import Reader, as_list, as_zone
from gateway.config.staff import Staff
from gateway.time.rotation import WEEKDAYS, OnCall, Override

_WEEK = timedelta(days=7)
_KEYS = ("timezone", "handover", "start", "rotation", "overrides", "fallback")


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


def _handle_of(staff: Staff) -> Callable[[Any], str]:
    """A converter: a contact's or an engineer's handle, lower-cased."""
    def convert(value: Any) -> str:
        handle = str(value).strip().lower()
        if staff.contact(handle) is None and staff.engineer(handle) is None:
            raise ValueError(f"{value!r} is neither a [contacts.NAME] handle nor an engineer's handle; "
                             "add it under [contacts] or fix the spelling")
        return handle
    return convert


def load_oncall(r: Reader, data: dict[str, Any], staff: Staff) -> OnCall | None:
    """Read [oncall]; each problem names its key. None when the table is absent."""
    table = r.optional_table(data, "oncall")
    if table is None:
        return None
    r.unknown(table, "oncall", _KEYS)
    zone = r.get(table, "oncall.timezone", ZoneInfo("UTC"), as_zone)
    day, at = r.get(table, "oncall.handover", (0, time(9, 0)), parse_handover)
    handle = _handle_of(staff)
    raw_rotation: list[Any] = r.get(table, "oncall.rotation", [],
                                    as_list('must be a list of contact handles, like ["alice", "bob"]'))
    rotation = [h for i, value in enumerate(raw_rotation)
                if (h := r.value(f"oncall.rotation[{i}]", value, "", handle))]
    first: date | None = None
    if rotation:
        if "start" not in table or "handover" not in table:
            r.problems.append('oncall: a rotation needs start (the date of the first handover, like 2026-11-02) '
                              'and handover (like "mon 09:00")')
        else:
            start = r.get(table, "oncall.start", None, _date)
            first = start + timedelta(days=(day - start.weekday()) % 7) if start is not None else None
    overrides = _overrides(r, table, zone, handle)
    fallback = r.get(table, "oncall.fallback", None, handle)
    if not rotation and not overrides and fallback is None:
        r.problems.append("oncall: names nobody; give a rotation, overrides (explicit date ranges) or a fallback")
    return OnCall(zone, day, at, first, tuple(rotation), tuple(overrides), fallback)


def _overrides(r: Reader, table: dict[str, Any], zone: ZoneInfo, handle: Callable[[Any], str]) -> list[Override]:
    raw: list[Any] = r.get(table, "oncall.overrides", [],
                           as_list('must be a list like [{from = "2026-12-24T18:00", '
                                   'to = "2026-12-27T09:00", contact = "carol"}]'))
    result = []
    for i, item in enumerate(raw):
        where = f"oncall.overrides[{i}]"
        if not isinstance(item, Mapping) or not {"from", "to", "contact"} <= set(item):
            r.problems.append(f"{where}: needs from, to and contact, like "
                              '{from = "2026-12-24T18:00", to = "2026-12-27T09:00", contact = "carol"}')
            continue
        start = r.value(where, item["from"], None, lambda v: parse_local(v, zone))
        end = r.value(where, item["to"], None, lambda v: parse_local(v, zone)) if start is not None else None
        if start is None or end is None:
            continue
        if end <= start:
            r.problems.append(f"{where}: to must come after from")
            continue
        who = r.value(f"{where}.contact", item["contact"], "", handle)
        if who:
            result.append(Override(start, end, who))
    return result
