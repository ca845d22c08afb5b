"""Support plans: per-priority SLA targets and calendars, read from the config's [plans.NAME]."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gateway.config.values import parse_interval
from gateway.time.calendar import BusinessCalendar
from gateway.time.durations import DurationError, Target, parse_target
from rules import PRIORITIES

CLOCKS = ("first_response", "update_every", "workaround", "resolution")
NO_CLOCK = Target("none", 0)


@dataclass(frozen=True, slots=True)
class PriorityTargets:
    first_response: Target
    update_every: Target
    workaround: Target
    resolution: Target
    calendar: str

    def target(self, clock: str) -> Target:
        value: Target = getattr(self, clock)
        return value


@dataclass(frozen=True)
class Plan:
    name: str
    calendar: str
    default_priority: str
    declared_priority_trusted: bool
    pause_statuses: frozenset[str]
    priorities: Mapping[str, PriorityTargets]
    escalation: str | None = None
    stale_after: Target = NO_CLOCK
    stale_notice_after: Target = NO_CLOCK
    close_resolution_proposed: Target = NO_CLOCK
    root_cause_followup: Target = NO_CLOCK
    reminder_lead: timedelta = timedelta(minutes=10)
    near_breach: float = 0.8
    description: str = field(default="", compare=False)

    def targets(self, priority: str) -> PriorityTargets:
        return self.priorities.get(priority) or self.priorities[self.default_priority]


def builtin_plan(name: str) -> Plan:
    """A plan that promises nothing: used when the config defines no plans at all."""
    none = PriorityTargets(NO_CLOCK, NO_CLOCK, NO_CLOCK, NO_CLOCK, "24x7")
    return Plan(name=name, calendar="24x7", default_priority="P3", declared_priority_trusted=False,
                pause_statuses=frozenset({"pending"}), priorities={p: none for p in PRIORITIES})


_PLAN_KEYS = {"calendar", "default_priority", "declared_priority_trusted", "pause_statuses", "priorities",
              "escalation", "stale_after", "stale_notice_after", "close_resolution_proposed", "root_cause_followup",
              "reminder_lead", "near_breach", "description"}


def load_plans(table: Any, calendars: Mapping[str, BusinessCalendar], default_plan: str,
               problems: list[str]) -> dict[str, Plan]:
    if not table:
        return {default_plan: builtin_plan(default_plan)}
    if not isinstance(table, dict):
        problems.append("plans: must be tables, written [plans.NAME]")
        return {default_plan: builtin_plan(default_plan)}
    plans = {}
    for name, body in table.items():
        plan = _plan(f"plans.{name}", name, body, calendars, problems)
        if plan is not None:
            plans[name] = plan
    if default_plan not in plans and not problems:
        problems.append(f"gateway.default_plan: no plan named {default_plan!r}; define [plans.{default_plan}] "
                        f"or set default_plan to one of {', '.join(sorted(plans))}")
    return plans


def _target(where: str, value: Any, problems: list[str]) -> Target:
    if not isinstance(value, str):
        problems.append(f'{where}: write the target as text, like "4 business hours" or "none"')
        return NO_CLOCK
    try:
        return parse_target(value)
    except DurationError as exc:
        problems.append(f"{where}: {exc}")
        return NO_CLOCK


def _calendar(where: str, value: Any, calendars: Mapping[str, BusinessCalendar], problems: list[str]) -> str:
    if not isinstance(value, str) or value not in calendars:
        problems.append(f"{where}: no calendar named {value!r}; define [calendars.{value}] or use one of "
                        f"{', '.join(sorted(calendars))}")
        return "24x7"
    return value


def _priorities(where: str, raw: Any, calendar: str, calendars: Mapping[str, BusinessCalendar],
                problems: list[str]) -> dict[str, PriorityTargets]:
    """A plan's [priorities.P1] ... tables: the targets of each priority, on the plan's calendar
    unless it names its own; a priority not written promises nothing."""
    priorities: dict[str, PriorityTargets] = {}
    if not isinstance(raw, dict):
        problems.append(f"{where}.priorities: must be tables, written [{where}.priorities.P1]")
        raw = {}
    for priority, spec in raw.items():
        pw = f"{where}.priorities.{priority}"
        if priority not in PRIORITIES:
            problems.append(f"{pw}: priorities are {', '.join(PRIORITIES)}")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{pw}: must be a table of targets")
            continue
        for key in spec:
            if key not in (*CLOCKS, "calendar"):
                problems.append(f"{pw}.{key}: unknown key; the keys are {', '.join((*CLOCKS, 'calendar'))}")
        first, update, workaround, resolution = (_target(f"{pw}.{clock}", spec.get(clock, "none"), problems)
                                                 for clock in CLOCKS)
        priorities[priority] = PriorityTargets(
            first, update, workaround, resolution,
            calendar=_calendar(f"{pw}.calendar", spec.get("calendar", calendar), calendars, problems))
    none = PriorityTargets(NO_CLOCK, NO_CLOCK, NO_CLOCK, NO_CLOCK, calendar)
    for priority in PRIORITIES:
        priorities.setdefault(priority, none)
    return priorities


def _plan(where: str, name: str, body: Any, calendars: Mapping[str, BusinessCalendar],
          problems: list[str]) -> Plan | None:
    if not isinstance(body, dict):
        problems.append(f"{where}: must be a table")
        return None
    for key in body:
        if key not in _PLAN_KEYS:
            problems.append(f"{where}.{key}: unknown key; the keys are {', '.join(sorted(_PLAN_KEYS))}")
    calendar = _calendar(f"{where}.calendar", body.get("calendar", "24x7"), calendars, problems)
    default_priority = body.get("default_priority", "P3")
    if default_priority not in PRIORITIES:
        problems.append(f"{where}.default_priority: must be one of {', '.join(PRIORITIES)}")
        default_priority = "P3"
    priorities = _priorities(where, body.get("priorities", {}), calendar, calendars, problems)
    pause = body.get("pause_statuses", ["pending"])
    if not isinstance(pause, list) or not all(isinstance(s, str) for s in pause):
        problems.append(f'{where}.pause_statuses: must be a list of statuses, like ["pending"]')
        pause = ["pending"]
    try:
        lead = parse_interval(body.get("reminder_lead", "10m"))
    except ValueError as exc:
        problems.append(f"{where}.reminder_lead: {exc}")
        lead = timedelta(minutes=10)
    near = body.get("near_breach", 0.8)
    if not isinstance(near, int | float) or not 0 < near < 1:
        problems.append(f"{where}.near_breach: a share of the target between 0 and 1, like 0.8")
        near = 0.8
    trusted = body.get("declared_priority_trusted", False)
    if not isinstance(trusted, bool):
        problems.append(f"{where}.declared_priority_trusted: must be true or false")
        trusted = False
    escalation = body.get("escalation")
    return Plan(
        name=name, calendar=calendar, default_priority=default_priority, declared_priority_trusted=trusted,
        pause_statuses=frozenset(pause), priorities=priorities,
        escalation=str(escalation) if escalation else None,
        stale_after=_target(f"{where}.stale_after", body.get("stale_after", "none"), problems),
        stale_notice_after=_target(f"{where}.stale_notice_after", body.get("stale_notice_after", "none"), problems),
        close_resolution_proposed=_target(f"{where}.close_resolution_proposed",
                                          body.get("close_resolution_proposed", "none"), problems),
        root_cause_followup=_target(f"{where}.root_cause_followup", body.get("root_cause_followup", "none"),
                                    problems),
        reminder_lead=lead, near_breach=float(near), description=str(body.get("description", "")))
