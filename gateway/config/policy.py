"""The support policy read from the config: calendars, plans, the customer directory, the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.calendars import BUILTIN_CALENDARS, CalendarConfigError, calendars_from_table
from gateway.config.customers import Directory, load_directory
from gateway.config.plans import Plan, load_plans
from gateway.time.calendar import BusinessCalendar
from rules import load_default_rule_tables

# [rule_set] mode: how a config's own [[rules]] meet the shipped default rules.
RULES_MODES = ("add", "replace")


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


def rule_tables(data: dict[str, Any], problems: list[str]) -> Any:
    """The rule tables the config classifies with: its own ``[[rules]]`` and the shipped defaults.

    With ``[rule_set] mode = "add"`` (the default) the config's rules come first, so one of them can
    ``stop`` before the defaults are read; then every default rule the config does not name. A
    config rule named like a default one takes its place: a copy of the defaults, edited, works
    as it always has. With ``"replace"`` the config's rules alone classify.
    """
    table = data.get("rule_set", {})
    if not isinstance(table, dict):
        problems.append('rule_set: must be a table, written [rule_set] with mode = "add" or "replace"')
        table = {}
    for key in table:
        if key != "mode":
            problems.append(f'rule_set.{key}: unknown key; [rule_set] has only mode ("add" or "replace")')
    mode = table.get("mode", "add")
    own = data.get("rules")
    if mode not in RULES_MODES:
        problems.append(f'rule_set.mode: {mode!r} is neither "add" nor "replace"; write mode = "add" '
                        '(your [[rules]] first, then the shipped defaults) or mode = "replace" '
                        "(your [[rules]] alone)")
        mode = "add"
    if own is None:
        if mode == "replace":
            problems.append('rule_set.mode: "replace" but the config has no [[rules]] to replace the '
                            'defaults with; write your [[rules]] or remove mode')
        return load_default_rule_tables()
    if not isinstance(own, list):
        return own  # not a list of tables: the caller names the mistake
    if mode == "replace":
        return own
    names = {t.get("name", "").strip() for t in own if isinstance(t, dict) and isinstance(t.get("name"), str)}
    return [*own, *(t for t in load_default_rule_tables() if t.get("name") not in names)]
