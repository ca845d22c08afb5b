"""Escalation policies and the on-call rotation, read from [escalation.NAME] and [oncall]."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from gateway.config.oncall import load_oncall
from gateway.config.plans import Plan
from gateway.config.reader import Reader, as_str, string_list
from gateway.config.staff import Staff
from gateway.config.values import parse_interval
from gateway.time.rotation import OnCall
from rules import PRIORITIES

ACCOUNT_MANAGER = "account-manager"
# Clock names on a ticket (gateway.sla.clocks), with the spellings people use in the config.
CLOCK_NAMES = {"first_response": "first_response", "first-response": "first_response",
               "update": "update", "update_every": "update", "workaround": "workaround",
               "resolution": "resolution"}
TriggerKind = Literal["share", "breach", "after", "after-hours"]
_SHARE = re.compile(r"^(\d+(?:\.\d+)?)\s*%\s*(?:of\s+)?([\w-]+)$")
_BREACH = re.compile(r"^breach(?:\s+of)?\s+([\w-]+)$")
_AFTER = re.compile(r"^\+\s*(.+?)\s+after\s+([\w-]+)$")
_AFTER_HOURS = ("after hours", "after-hours", "opened after hours")
_TIER_KEYS = ("name", "at", "notify", "priorities", "repeat", "status_notice")
_POLICY_KEYS = ("tiers", "description")
_NOTIFY = string_list('a list of whom to mail, like ["role:service-delivery-manager", '
                      '"contact:sam", "on-call", "engineers"]', empty=False)
TRIGGER_FORMS = ('"80% first_response" (a share of a clock\'s target elapsed), "breach resolution", '
                 '"+30m after previous" (or after a named tier), "after hours" (opened outside business '
                 "hours); the clocks are first_response, update, workaround, resolution")


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: TriggerKind
    text: str
    clock: str | None = None
    share: float = 1.0
    delay: timedelta = timedelta(0)
    after: str | None = None  # the tier this one follows ("previous" is resolved at load)


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    trigger: Trigger
    notify: tuple[str, ...]
    priorities: frozenset[str]
    repeat: timedelta | None = None
    status_notice: timedelta | None = None

    @property
    def pages(self) -> bool:
        """The after-hours page of the on-call contact, not a ladder step."""
        return self.trigger.kind == "after-hours"


@dataclass(frozen=True)
class EscalationPolicy:
    name: str
    tiers: tuple[Tier, ...]
    description: str = ""

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)


@dataclass(frozen=True)
class EscalationSettings:
    policies: Mapping[str, EscalationPolicy] = field(default_factory=dict)
    oncall: OnCall | None = None


def parse_trigger(text: Any) -> Trigger:
    """Read a tier's ``at``; raises ValueError naming the accepted forms."""
    if not isinstance(text, str):
        raise ValueError(f"write the trigger as text: {TRIGGER_FORMS}")
    norm = " ".join(text.lower().split())
    if norm in _AFTER_HOURS:
        return Trigger("after-hours", text)
    if m := _SHARE.match(norm):
        share = float(m.group(1)) / 100
        if share <= 0:
            raise ValueError(f"{text!r}: the share must be more than 0%")
        return Trigger("share", text, clock=_clock(m.group(2), text), share=share)
    if m := _BREACH.match(norm):
        return Trigger("breach", text, clock=_clock(m.group(1), text))
    if m := _AFTER.match(norm):
        return Trigger("after", text, delay=parse_interval(m.group(1)), after=m.group(2))
    raise ValueError(f"cannot read trigger {text!r}; write {TRIGGER_FORMS}")


def _clock(name: str, text: str) -> str:
    if name not in CLOCK_NAMES:
        raise ValueError(f"{text!r}: {name!r} is not a clock; the clocks are first_response, update, "
                         "workaround, resolution")
    return CLOCK_NAMES[name]


def load_escalation(r: Reader, data: dict[str, Any], staff: Staff,
                    plans: Mapping[str, Plan]) -> EscalationSettings:
    """Read [oncall] and every [escalation.NAME]; check the names plans and customers refer to."""
    oncall = load_oncall(r, data, staff)
    managers = _account_managers(r, data, staff)
    policies = {}
    for where, name, body in r.tables(data, "escalation", "a table with tiers, written [[escalation.NAME.tiers]]"):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            r.problems.append(f"{where}: name a policy with letters, digits, '-', '_' or '.'")
        policy = _policy(r, where, name, body, staff, oncall, managers)
        if policy is not None:
            policies[name] = policy
    written = data["escalation"] if isinstance(data.get("escalation"), dict) else {}
    for plan in plans.values():
        ref = plan.escalation
        if ref and ref not in policies and ref not in written:
            r.problems.append(f"plans.{plan.name}.escalation: no escalation policy named {ref!r}; define "
                              f"[escalation.{ref}] or use one of {', '.join(sorted(policies)) or '(none defined)'}")
    return EscalationSettings(policies=policies, oncall=oncall)


def _account_managers(r: Reader, data: dict[str, Any], staff: Staff) -> bool:
    """Check each customer's ``account_manager`` names a contact; True when any customer has one."""
    customers = data.get("customers", [])
    found = False
    for i, table in enumerate(customers if isinstance(customers, list) else []):
        handle = table.get("account_manager") if isinstance(table, Mapping) else None
        if not handle:
            continue
        found = True
        if staff.contact(str(handle)) is None:
            r.problems.append(f"customers[{i}].account_manager: no contact {handle!r}; define [contacts.{handle}] "
                              "with its name and address")
    return found


def _policy(r: Reader, where: str, name: str, body: dict[str, Any], staff: Staff, oncall: OnCall | None,
            managers: bool) -> EscalationPolicy | None:
    r.unknown(body, where, _POLICY_KEYS)
    if not isinstance(body.get("tiers"), list) or not body["tiers"]:
        r.problems.append(f"{where}.tiers: give the ordered tiers, each written [[{where}.tiers]]")
        return None
    tiers: list[Tier] = []
    for tw, i, item in r.entries(body, f"{where}.tiers", "a table with at and notify"):
        tier = _tier(r, tw, i, item, tiers, staff, oncall, managers)
        if tier is not None:
            tiers.append(tier)
    return EscalationPolicy(name, tuple(tiers), r.get(body, f"{where}.description", "", as_str))


def _tier(r: Reader, where: str, index: int, item: dict[str, Any], earlier: list[Tier], staff: Staff,
          oncall: OnCall | None, managers: bool) -> Tier | None:
    r.unknown(item, where, _TIER_KEYS)
    name = r.get(item, f"{where}.name", f"tier-{index + 1}", as_str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,47}", name) or name == "previous":
        r.problems.append(f'{where}.name: {name!r} must be a short lower-case name like "account-manager"')
    if any(t.name == name for t in earlier):
        r.problems.append(f"{where}.name: {name!r} is used by an earlier tier; tiers need distinct names")
    if not r.require(item, f"{where}.at", 'write when it fires, like at = "breach first_response"'):
        return None
    trigger = r.get(item, f"{where}.at", None, parse_trigger)
    if trigger is None:
        return None
    if trigger.kind == "after":
        ref = trigger.after if trigger.after != "previous" else (earlier[-1].name if earlier else None)
        if ref is None or not any(t.name == ref for t in earlier):
            r.problems.append(f"{where}.at: {trigger.text!r} follows no earlier tier; a tier can only follow one "
                              "listed before it")
            return None
        trigger = Trigger("after", trigger.text, delay=trigger.delay, after=ref)
    default_notify = ["on-call"] if trigger.kind == "after-hours" else None
    written: tuple[str, ...] = r.value(f"{where}.notify", item.get("notify", default_notify), (), _NOTIFY)
    notify = _notify(r, f"{where}.notify", written, staff, oncall, managers)
    priorities = r.get(item, f"{where}.priorities", PRIORITIES, _priorities)
    repeat = r.get(item, f"{where}.repeat", None, _interval)
    status_notice = r.get(item, f"{where}.status_notice", None, _interval)
    if status_notice is not None and trigger.kind != "after-hours":
        r.problems.append(f'{where}.status_notice: only an after-hours tier (at = "after hours") tells the '
                          "customer that the on-call engineer was paged")
    return Tier(name, trigger, notify, frozenset(priorities), repeat, status_notice)


def _priorities(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(p not in PRIORITIES for p in value):
        raise ValueError('a list of priorities, like ["P1", "P2"]')
    return tuple(value)


def _interval(value: Any) -> timedelta:
    span = parse_interval(value)
    if span < timedelta(minutes=1):
        raise ValueError('at least 1 minute, like "15m"')
    return span


def _notify(r: Reader, where: str, value: tuple[str, ...], staff: Staff, oncall: OnCall | None,
            managers: bool) -> tuple[str, ...]:
    result = []
    for entry in value:
        kind, _, arg = entry.strip().lower().partition(":")
        if kind == "role" and arg:
            if not staff.with_role(arg) and not (arg == ACCOUNT_MANAGER and managers):
                r.problems.append(f"{where}: no contact has the role {arg!r}; add it to some [contacts.NAME] roles")
        elif kind == "contact" and arg:
            if staff.contact(arg) is None and staff.engineer(arg) is None:
                r.problems.append(f"{where}: no contact or engineer {arg!r}; define [contacts.{arg}]")
        elif kind == "on-call" and not arg:
            if oncall is None:
                r.problems.append(f'{where}: "on-call" needs an [oncall] table with a rotation or date ranges')
        elif kind != "engineers" or arg:
            r.problems.append(f'{where}: {entry!r} is not "role:NAME", "contact:HANDLE", "on-call" or "engineers"')
            continue
        result.append(f"{kind}:{arg}" if arg else kind)
    return tuple(result)
