"""The support policy read from the config: calendars, plans, the customer directory, the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.calendars import load_calendars
from gateway.config.customers import Directory, load_directory
from gateway.config.plans import Plan, load_plans
from gateway.config.reader import Reader
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


def load_policy(r: Reader, data: dict[str, Any], *, default_plan: str, default_timezone: ZoneInfo) -> Policy:
    """[calendars.NAME], [plans.NAME] on them, and the [[customers]] on the plans."""
    calendars, customer_local = load_calendars(r, data)
    plans = load_plans(r, data, calendars, default_plan)
    directory = load_directory(r, data, plans=set(plans), default_plan=default_plan,
                               default_timezone=default_timezone)
    return Policy(calendars=calendars, plans=plans, directory=directory, default_plan=default_plan,
                  customer_local=customer_local)


def _mode(value: Any) -> str:
    if value not in RULES_MODES:
        raise ValueError(f'{value!r} is neither "add" nor "replace"')
    return str(value)


def rule_tables(r: Reader, data: dict[str, Any]) -> list[Any]:
    """The rule tables the config classifies with: its own ``[[rules]]`` and the shipped defaults.

    With ``[rule_set] mode = "add"`` (the default) the config's rules come first, so one of them can
    ``stop`` before the defaults are read; then every default rule the config does not name. A
    config rule named like a default one takes its place: a copy of the defaults, edited, works
    as it always has. With ``"replace"`` the config's rules alone classify.
    """
    table = r.table(data, "rule_set", hint='with mode = "add" or "replace"')
    r.unknown(table, "rule_set", {"mode"}, hint='[rule_set] has only mode ("add" or "replace")')
    mode = r.get(table, "rule_set.mode", "add", _mode, 'write mode = "add" (your [[rules]] first, then the '
                 'shipped defaults) or mode = "replace" (your [[rules]] alone)')
    own = data.get("rules")
    if own is None:
        if mode == "replace":
            r.problems.append('rule_set.mode: "replace" but the config has no [[rules]] to replace the '
                              'defaults with; write your [[rules]] or remove mode')
        return load_default_rule_tables()
    if not isinstance(own, list):
        r.problems.append("rules: must be a list of tables, written [[rules]]")
        return []
    if mode == "replace":
        return own
    names = {t.get("name", "").strip() for t in own if isinstance(t, dict) and isinstance(t.get("name"), str)}
    return [*own, *(t for t in load_default_rule_tables() if t.get("name") not in names)]
