"""The engineer's everyday tools by mail: ``#eta``, ``#update-every``, ``#merge``, ``#reply``, ``#escalate``
(pure).

Each is read here for its form only; whether it can run on a ticket (an ETA in the past, a
ticket that does not exist, a canned reply nobody configured) is the gateway's check.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NAMES = ("eta", "update-every", "merge", "reply", "escalate")
SYNTAX = (
    "#eta +4h|YYYY-MM-DD HH:MM [ZONE]|none",
    "#update-every INTERVAL|plan",
    "#merge N",
    "#reply NAME",
    "#escalate STAGE",
)

# An ETA this far away is a typo, not an estimate.
MAX_AHEAD = timedelta(days=366)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60}
_PIECE = re.compile(r"\s*(\d{1,6})\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m)(?![a-z])", re.IGNORECASE)
_INSTANT = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})(?::(\d{2}))?\s*(.*)$")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_NUMBER = re.compile(r"^#?(\d{1,12})$")

ETA_FORMS = "+4h, +1h30m, +2d, an instant like 2026-11-24 15:00 (the customer's time zone) or none"


def read(name: str, rest: str) -> tuple[str, ...]:
    """The arguments of command ``name`` written with ``rest``; ValueError says why it cannot be read."""
    words = rest.split()
    if name == "eta":
        return _eta(rest.strip())
    if name == "update-every":
        if not words:
            raise ValueError("#update-every needs an interval, like 2h or 90 minutes, or plan "
                             "to go back to the plan's cadence")
        return ("plan",) if rest.strip().lower() == "plan" else (" ".join(words),)
    if name == "merge":
        match = _NUMBER.match(words[0]) if len(words) == 1 else None
        if match is None:
            raise ValueError("#merge needs the number of the ticket this one joins, like #merge 12")
        return (str(int(match.group(1))),)
    if name == "reply":
        if len(words) != 1 or not _NAME.match(words[0].lower()):
            raise ValueError("#reply needs the name of one canned reply, like #reply service-restored")
        return (words[0].lower(),)
    if name == "escalate":
        if len(words) != 1 or not _NAME.match(words[0].lower()):
            raise ValueError("#escalate needs the name of one stage of the ticket's plan, like #escalate development")
        return (words[0].lower(),)
    raise ValueError(f"#{name} is not one of {', '.join(NAMES)}")


def conflicts(commands: list[tuple[str, str]], has_text: bool) -> list[tuple[str, str]]:
    """(line, why) for each of ``commands`` (name, line) that cannot go with the rest of the mail."""
    names = [name for name, _line in commands]
    found = []
    for name, line in commands:
        if name == "merge" and (len(commands) > 1 or has_text):
            found.append((line, "#merge stands alone, with no other command and no text: the customer of this "
                                "ticket is told by the gateway; write the rest on the ticket it joins"))
        elif name == "reply" and names.count("reply") > 1:
            found.append((line, "one #reply per mail: one canned reply goes to the customer at a time"))
        elif name == "reply" and "note" in names:
            found.append((line, "#reply sends a canned reply to the customer and #note keeps the mail internal: "
                                "send them in two mails"))
    return found


def _eta(text: str) -> tuple[str, ...]:
    if text.lower() == "none":
        return ("none",)
    if text.startswith("+"):
        return ("in", str(_seconds(text[1:])))
    match = _INSTANT.match(text)
    if match is None:
        raise ValueError(f"#eta needs {ETA_FORMS}")
    day, clock, seconds, zone = match.groups()
    local = f"{day}T{int(clock[:-3]):02d}{clock[-3:]}:{seconds or '00'}"
    try:
        datetime.fromisoformat(local)
    except ValueError as exc:
        raise ValueError(f"#eta: {day} {clock} is not a date and time ({exc})") from None
    return ("at", local, _zone_name(zone.strip()))


def _seconds(text: str) -> int:
    total, pos = 0, 0
    while pos < len(text):
        piece = _PIECE.match(text, pos)
        if piece is None:
            raise ValueError(f"#eta needs {ETA_FORMS}")
        total += int(piece.group(1)) * _UNIT_SECONDS[piece.group(2)[0].lower()]
        pos = piece.end()
    if total <= 0:
        raise ValueError(f"#eta needs a time ahead: {ETA_FORMS}")
    if total > MAX_AHEAD.total_seconds():
        raise ValueError("#eta is more than a year ahead: an estimate that far is no estimate")
    return total


def _zone_name(text: str) -> str:
    """"" (the customer's zone), "UTC", an offset "+01:00", or an IANA name, as written."""
    if not text:
        return ""
    if text.upper() in ("Z", "UTC", "GMT"):
        return "UTC"
    offset = _OFFSET.match(text)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        if int(hours) > 14 or int(minutes) > 59:
            raise ValueError(f"#eta: {text} is not a UTC offset")
        return f"{sign}{hours}:{minutes}"
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"#eta: {text!r} is neither a UTC offset like +01:00 nor a time zone like "
                         "Europe/Berlin") from None
    return text


def zone_of(name: str) -> tzinfo:
    """The time zone an ``#eta`` instant was written in (a name ``_zone_name`` accepted)."""
    if name == "UTC":
        return UTC
    offset = _OFFSET.match(name)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    return ZoneInfo(name)


def eta_instant(args: tuple[str, ...], now: datetime, customer_zone: str) -> datetime | None:
    """The instant ``#eta`` names (UTC), None for ``#eta none``; a local time without a zone is
    read in ``customer_zone``, the zone the customer is told it in."""
    if args[0] == "none":
        return None
    if args[0] == "in":
        return now.astimezone(UTC) + timedelta(seconds=int(args[1]))
    zone = zone_of(args[2] or customer_zone)
    return datetime.fromisoformat(args[1]).replace(tzinfo=zone).astimezone(UTC)
