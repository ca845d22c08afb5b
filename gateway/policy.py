"""The support policy read from the config: calendars, plans, the customer directory, the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from gateway.directory import Directory, load_directory
from gateway.sla.calendar import BusinessCalendar
from gateway.sla.calendar_config import BUILTIN_CALENDARS, CalendarConfigError, calendars_from_table
from gateway.sla.plans import Plan, load_plans


@dataclass(frozen=True)
class Policy:
    calendars: dict[str, BusinessCalendar]
    plans: dict[str, Plan]
    directory: Directory
    default_plan: str
    # Calendars whose hours are read in each customer's own time zone (customer_local_time = true).
    customer_local: frozenset[str] = frozenset()

    def plan(self, name: str) -> Plan:
        return self.plans.get(name) or self.plans[self.default_plan]

    def calendar(self, name: str, timezone: str | None = None) -> BusinessCalendar:
        """The named calendar; for a ``customer_local_time`` calendar, shifted to the customer's zone.

        ``NAME@Zone/City`` is how a shifted calendar is stored on a clock, so it can be rebuilt.
        """
        base, _, zone = name.partition("@")
        calendar = self.calendars.get(base) or self.calendars["24x7"]
        zone = zone or (timezone or "" if base in self.customer_local else "")
        if zone and base != "24x7":
            return calendar.with_timezone(ZoneInfo(zone))
        return calendar


def load_policy(data: dict[str, Any], *, default_plan: str, default_timezone: ZoneInfo,
                problems: list[str]) -> Policy:
    raw_calendars = data.get("calendars", {})
    tables = {}
    customer_local = set()
    for name, table in (raw_calendars.items() if isinstance(raw_calendars, dict) else ()):
        if isinstance(table, dict):
            table = dict(table)
            local = table.pop("customer_local_time", False)
            if not isinstance(local, bool):
                problems.append(f"calendars.{name}.customer_local_time: must be true or false")
            elif local:
                customer_local.add(name)
        tables[name] = table
    calendars = dict(BUILTIN_CALENDARS)
    for name, table in tables.items():
        try:
            calendars.update(calendars_from_table({name: table}))
        except CalendarConfigError as exc:
            problems.append(str(exc))
            # Its one problem is reported; plans that name it are not told it does not exist.
            calendars.setdefault(name, BUILTIN_CALENDARS["24x7"])
    plans = load_plans(data.get("plans"), calendars, default_plan, problems)
    directory = load_directory(data, plans=set(plans), default_plan=default_plan,
                               default_timezone=default_timezone, problems=problems)
    return Policy(calendars=calendars, plans=plans, directory=directory, default_plan=default_plan,
                  customer_local=frozenset(customer_local))
