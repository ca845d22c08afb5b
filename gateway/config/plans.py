"""Support plans: per-priority SLA targets and calendars, read from the config's [plans.NAME]."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gateway.config.reader import Reader, as_bool, as_str, one_of, string_list
from gateway.config.stages import Stage, read_stages
from gateway.config.values import parse_interval
from gateway.time.calendar import BusinessCalendar
from gateway.time.durations import Target, parse_target
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
    # [plans.NAME.stages.STAGE]: moments an engineer marks with #escalate STAGE (config/stages.py).
    stages: Mapping[str, Stage] = field(default_factory=dict)

    def targets(self, priority: str) -> PriorityTargets:
        return self.priorities.get(priority) or self.priorities[self.default_priority]

    def stage_of(self, clock: str) -> Stage | None:
        """The stage whose entry starts ``clock`` (None: it starts at intake)."""
        return next((s for s in self.stages.values() if clock in s.starts), None)


def builtin_plan(name: str) -> Plan:
    """A plan that promises nothing: used when the config defines no plans at all."""
    none = PriorityTargets(NO_CLOCK, NO_CLOCK, NO_CLOCK, NO_CLOCK, "24x7")
    return Plan(name=name, calendar="24x7", default_priority="P3", declared_priority_trusted=False,
                pause_statuses=frozenset({"pending"}), priorities={p: none for p in PRIORITIES})


_PLAN_KEYS = {"calendar", "default_priority", "declared_priority_trusted", "pause_statuses", "priorities",
              "escalation", "stale_after", "stale_notice_after", "close_resolution_proposed", "root_cause_followup",
              "reminder_lead", "near_breach", "description", "stages"}


def load_plans(r: Reader, data: dict[str, Any], calendars: Mapping[str, BusinessCalendar],
               default_plan: str) -> dict[str, Plan]:
    """Every [plans.NAME]; with none, the default plan promises nothing."""
    if not data.get("plans"):
        return {default_plan: builtin_plan(default_plan)}
    plans = {name: _plan(r, where, name, body, calendars)
             for where, name, body in r.tables(data, "plans", "a table")}
    if not isinstance(data["plans"], dict):
        return {default_plan: builtin_plan(default_plan)}
    if default_plan not in plans and not r.problems:
        r.problems.append(f"gateway.default_plan: no plan named {default_plan!r}; define [plans.{default_plan}] "
                          f"or set default_plan to one of {', '.join(sorted(plans))}")
    return plans


def as_target(value: Any) -> Target:
    """A target as written: "4 business hours", "30 minutes", "none"."""
    if not isinstance(value, str):
        raise ValueError('write the target as text, like "4 business hours" or "none"')
    return parse_target(value)


def _calendar_in(calendars: Mapping[str, BusinessCalendar]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value not in calendars:
            raise ValueError(f"no calendar named {value!r}; define [calendars.{value}] or use one of "
                             f"{', '.join(sorted(calendars))}")
        return value
    return convert


def _share(value: Any) -> float:
    if not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError("a share of the target between 0 and 1, like 0.8")
    return float(value)


def _priorities(r: Reader, where: str, body: dict[str, Any], calendar: str,
                calendars: Mapping[str, BusinessCalendar]) -> dict[str, PriorityTargets]:
    """A plan's [priorities.P1] ... tables: the targets of each priority, on the plan's calendar
    unless it names its own; a priority not written promises nothing."""
    priorities: dict[str, PriorityTargets] = {}
    for pw, priority, spec in r.tables(body, f"{where}.priorities", "a table of targets",
                                       f"[{where}.priorities.P1]"):
        if priority not in PRIORITIES:
            r.problems.append(f"{pw}: priorities are {', '.join(PRIORITIES)}")
            continue
        r.unknown(spec, pw, (*CLOCKS, "calendar"))
        first, update, workaround, resolution = (r.get(spec, f"{pw}.{clock}", NO_CLOCK, as_target)
                                                 for clock in CLOCKS)
        priorities[priority] = PriorityTargets(
            first, update, workaround, resolution,
            calendar=r.get(spec, f"{pw}.calendar", calendar, _calendar_in(calendars)))
    none = PriorityTargets(NO_CLOCK, NO_CLOCK, NO_CLOCK, NO_CLOCK, calendar)
    for priority in PRIORITIES:
        priorities.setdefault(priority, none)
    return priorities


def _plan(r: Reader, where: str, name: str, body: dict[str, Any],
          calendars: Mapping[str, BusinessCalendar]) -> Plan:
    r.unknown(body, where, _PLAN_KEYS)
    calendar = r.get(body, f"{where}.calendar", "24x7", _calendar_in(calendars))
    default_priority = r.get(body, f"{where}.default_priority", "P3", one_of(*PRIORITIES))
    priorities = _priorities(r, where, body, calendar, calendars)
    pause: tuple[str, ...] = r.get(body, f"{where}.pause_statuses", ("pending",),
                                   string_list('must be a list of statuses, like ["pending"]'))
    return Plan(
        name=name, calendar=calendar, default_priority=default_priority,
        pause_statuses=frozenset(pause), priorities=priorities,
        reminder_lead=r.get(body, f"{where}.reminder_lead", timedelta(minutes=10), parse_interval),
        near_breach=r.get(body, f"{where}.near_breach", 0.8, _share),
        declared_priority_trusted=r.get(body, f"{where}.declared_priority_trusted", False, as_bool),
        escalation=r.get(body, f"{where}.escalation", None, as_str) or None,
        stale_after=r.get(body, f"{where}.stale_after", NO_CLOCK, as_target),
        stale_notice_after=r.get(body, f"{where}.stale_notice_after", NO_CLOCK, as_target),
        close_resolution_proposed=r.get(body, f"{where}.close_resolution_proposed", NO_CLOCK, as_target),
        root_cause_followup=r.get(body, f"{where}.root_cause_followup", NO_CLOCK, as_target),
        description=r.get(body, f"{where}.description", "", as_str),
        stages=read_stages(r, where, body, priorities))
