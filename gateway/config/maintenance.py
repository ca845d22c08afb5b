"""[maintenance]: the kinds of planned and emergency work, and how long before each the customers are told.

Without the section the four kinds of the ipSCAPE guide (seed 000, "Service Maintenance") apply:

```toml
[maintenance]
calendar = "sydney-business"       # the business days a lead time in business days counts on

[maintenance.kinds.no-downtime]
title = "Maintenance - no downtime"
notice = "48 hours"                # the notice goes this long before the start
minimum = "24 hours"               # later than this before the start, scheduling is refused unless forced
```

``notice = "none"`` sends nothing at all (an emergency change without downtime); ``downtime``
says whether the service is unavailable during the window (the notices say so).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config.policy import Policy
from gateway.config.reader import Reader, as_bool, as_str
from gateway.time.durations import NO_TARGET, Target, parse_target

_KEYS = {"calendar", "kinds"}
_KIND_KEYS = {"title", "notice", "minimum", "downtime"}
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")


@dataclass(frozen=True, slots=True)
class MaintenanceKind:
    name: str
    title: str
    notice: Target  # how long before the start the notice goes; kind "none": no notice at all
    minimum: Target  # the least notice a schedule may give without being forced
    downtime: bool

    @property
    def notifies(self) -> bool:
        return self.notice.kind != "none"


def _kind(name: str, title: str, notice: str, minimum: str, downtime: bool) -> MaintenanceKind:
    return MaintenanceKind(name, title, parse_target(notice), parse_target(minimum), downtime)


# The ipSCAPE guide's table: "24-48 hours" read as the notice going 48 hours before and never
# fewer than 24; "No notification" as nothing sent.
DEFAULT_KINDS = {k.name: k for k in (
    _kind("no-downtime", "Maintenance - no downtime", "48 hours", "24 hours", False),
    _kind("with-downtime", "Maintenance - with downtime", "5 business days", "5 business days", True),
    _kind("emergency-no-downtime", "Emergency change - no downtime", "none", "none", False),
    _kind("emergency-with-downtime", "Emergency change - with downtime", "24 hours", "24 hours", True),
)}


@dataclass(frozen=True)
class MaintenanceSettings:
    calendar: str | None = None  # None: the default plan's calendar
    kinds: Mapping[str, MaintenanceKind] = field(default_factory=lambda: dict(DEFAULT_KINDS))


def load_maintenance(r: Reader, data: dict[str, Any], policy: Policy) -> MaintenanceSettings:
    """Read [maintenance] and each [maintenance.kinds.KIND]; every problem names its key and the fix."""
    table = r.table(data, "maintenance")
    r.unknown(table, "maintenance", _KEYS)
    calendar = r.get(table, "maintenance.calendar", None, as_str)
    if calendar is not None and calendar not in policy.calendars:
        r.problems.append(f"maintenance.calendar: no calendar named {calendar!r}; define [calendars.{calendar}] "
                          f"or use one of {', '.join(sorted(policy.calendars))}")
        calendar = None
    if "kinds" not in table:
        return MaintenanceSettings(calendar=calendar)
    kinds = {}
    for where, name, body in r.tables(table, "maintenance.kinds", 'a table with notice, like notice = "48 hours"',
                                      "[maintenance.kinds.KIND]"):
        kind = _read_kind(r, where, name, body)
        if kind is not None:
            kinds[name] = kind
    if not kinds and not r.problems:
        r.problems.append('maintenance.kinds: no kind defined; add one, like [maintenance.kinds.no-downtime] '
                          'with notice = "48 hours"')
    return MaintenanceSettings(calendar=calendar, kinds=kinds)


def _read_kind(r: Reader, where: str, name: str, body: dict[str, Any]) -> MaintenanceKind | None:
    if not _NAME.fullmatch(name):
        r.problems.append(f'{where}: name a kind with lower-case letters, digits and "-", like '
                          "[maintenance.kinds.with-downtime]")
        return None
    r.unknown(body, where, _KIND_KEYS)
    if not r.require(body, f"{where}.notice", 'write how long before the start customers are told, like '
                                              'notice = "5 business days" (or "none")'):
        return None
    notice = r.get(body, f"{where}.notice", None, _lead)
    minimum = r.get(body, f"{where}.minimum", notice, _lead)
    if notice is None or minimum is None:
        return None
    if notice.kind == "none" and minimum.kind != "none":
        r.problems.append(f'{where}.minimum: a kind with notice = "none" sends no notice; remove minimum')
        return None
    title = r.get(body, f"{where}.title", name.replace("-", " ").capitalize(), as_str)
    downtime = r.get(body, f"{where}.downtime", "with-downtime" in name, as_bool)
    return MaintenanceKind(name, title or name, notice, minimum, downtime)


def _lead(value: Any) -> Target:
    lead = parse_target(as_str(value))
    if lead.kind == "mean":
        raise ValueError('a lead time is a span, like "48 hours" or "5 business days"')
    return NO_TARGET if lead.kind == "none" else lead
