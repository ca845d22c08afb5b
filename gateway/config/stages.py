"""A plan's stages, read from ``[plans.NAME.stages.STAGE]``: moments a ticket enters by an engineer's
``#escalate STAGE``, the clocks that start then rather than at intake, and who is told and kept informed."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from gateway.config.reader import Reader, as_str, string_list
from gateway.time.durations import Target, parse_target

if TYPE_CHECKING:  # plans.py imports this module: the names are for annotations only
    from gateway.config.plans import PriorityTargets
    from gateway.config.policy import Policy

# The ticket's clocks (gateway.sla.clocks), with the spellings the rest of the config accepts.
STAGE_CLOCKS = {"first_response": "first_response", "first-response": "first_response",
                "update": "update", "update_every": "update", "workaround": "workaround",
                "resolution": "resolution"}
# The field of a priority's targets each clock runs on.
CLOCK_FIELDS = {"first_response": "first_response", "update": "update_every", "workaround": "workaround",
                "resolution": "resolution"}
_KEYS = ("title", "starts", "notify", "inform_every")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")
# No progress mail more often than this: a report every few minutes is noise, not monitoring.
SHORTEST_INFORM = timedelta(minutes=30)
_STARTS = string_list('a list of clocks, like ["workaround"]; the clocks are first_response, update, '
                      "workaround, resolution")
_NOTIFY_FORM = string_list('a list of whom to tell, like ["role:executive", "contact:lee"]')


@dataclass(frozen=True, slots=True)
class Stage:
    """A moment in a ticket's life an engineer marks: its clocks start then, its people are told."""

    name: str
    title: str
    starts: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    inform_every: Target | None = None


def _inform(value: Any) -> Target:
    target = parse_target(as_str(value))
    if target.kind in ("none", "mean"):
        raise ValueError('a cadence, like "1 business day" or "4 hours"')
    if isinstance(target.amount, timedelta) and target.amount < SHORTEST_INFORM:
        raise ValueError(f'at least {int(SHORTEST_INFORM.total_seconds() // 60)} minutes, like "1 business day"')
    if isinstance(target.amount, int) and target.amount < 1:
        raise ValueError('at least 1 business day, like "1 business day"')
    return target


def _clocks(r: Reader, where: str, written: tuple[str, ...], priorities: Mapping[str, PriorityTargets],
            taken: dict[str, str]) -> tuple[str, ...]:
    found: list[str] = []
    for entry in written:
        name = STAGE_CLOCKS.get(entry.strip().lower())
        if name is None:
            r.problems.append(f"{where}: {entry!r} is not a clock; the clocks are first_response, update, "
                              "workaround, resolution")
            continue
        if all(t.target(CLOCK_FIELDS[name]).kind == "none" for t in priorities.values()):
            r.problems.append(f"{where}: {entry!r} has no target at any priority of this plan; give one in "
                              f"[...priorities.P1] ({CLOCK_FIELDS[name]} = ...) or remove it from starts")
            continue
        if name in taken:
            r.problems.append(f"{where}: {entry!r} is started by stage {taken[name]!r} already; a clock starts "
                              "at one stage")
            continue
        found.append(name)
    return tuple(dict.fromkeys(found))


def read_stages(r: Reader, where: str, body: dict[str, Any],
                priorities: Mapping[str, PriorityTargets]) -> dict[str, Stage]:
    """A plan's ``stages`` tables; whom ``notify`` names is checked later (``with_stage_notify``),
    once the contacts and the on-call rotation are read."""
    stages: dict[str, Stage] = {}
    taken: dict[str, str] = {}
    for sw, name, spec in r.tables(body, f"{where}.stages", "a table with starts, notify or inform_every",
                                   f"[{where}.stages.NAME]"):
        if not _NAME.fullmatch(name):
            r.problems.append(f'{sw}: name a stage with lower-case letters, digits and "-", like "development"; '
                              "engineers write it after #escalate")
            continue
        r.unknown(spec, sw, _KEYS)
        starts = _clocks(r, f"{sw}.starts", r.get(spec, f"{sw}.starts", (), _STARTS), priorities, taken)
        taken.update({c: name for c in starts})
        notify: tuple[str, ...] = r.get(spec, f"{sw}.notify", (), _NOTIFY_FORM)
        inform = r.get(spec, f"{sw}.inform_every", None, _inform)
        if inform is not None and not notify:
            r.problems.append(f"{sw}.inform_every: nobody to keep informed; add notify, like "
                              'notify = ["role:executive"], or remove inform_every')
        stages[name] = Stage(name, r.get(spec, f"{sw}.title", name, as_str) or name, starts, notify, inform)
    return stages


def with_stage_notify(policy: Policy, read_notify: Callable[[str, Any], tuple[str, ...]]) -> Policy:
    """The policy with each stage's ``notify`` read as an escalation tier's is (``read_notify(key, value)``
    notes each problem with its key): roles, contacts, on-call, engineers."""
    plans = dict(policy.plans)
    for name, plan in policy.plans.items():
        if not plan.stages:
            continue
        stages = {s.name: replace(s, notify=read_notify(f"plans.{name}.stages.{s.name}.notify", list(s.notify)))
                  for s in plan.stages.values()}
        plans[name] = replace(plan, stages=stages)
    return replace(policy, plans=plans)
