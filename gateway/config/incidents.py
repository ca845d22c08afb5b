"""[incidents]: what resolving an incident does to its tickets, and the reports an incident owes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gateway.config.escalation import read_notify
from gateway.config.policy import Policy
from gateway.config.staff import Staff
from gateway.config.values import parse_interval
from gateway.time.durations import DurationError, Target, parse_target
from gateway.time.rotation import OnCall
from rules import PRIORITIES

# What resolving an incident makes of its linked tickets still being worked.
RESOLVE_TICKETS = ("resolution-proposed", "resolved", "unchanged")
MATCHES = ("all", "any")
# The reports the seeds promise, known by these names even where no [incidents.reports.KIND] times them.
REPORT_TITLES = {"incident-report": "Incident Report", "pir": "Post Incident Report", "rca": "Root Cause Analysis"}
_KEYS = {"resolve_tickets", "calendar", "reports"}
_REPORT_KEYS = {"title", "due", "priorities", "min_customers", "min_duration", "match", "remind_at", "remind",
                "escalate"}
_KIND = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    """A report owed after an incident that qualifies: by when, and whom to remind and escalate to."""

    kind: str  # the key in [incidents.reports.KIND]: what `helpdesk incident report --kind` names
    title: str
    due: Target
    priorities: frozenset[str] | None = None  # None: any priority
    min_customers: int = 0
    min_duration: timedelta | None = None
    match: str = "all"  # all: every condition given holds; any: one of them does
    remind_at: float = 0.8  # the share of the time to the deadline at which the reminder goes
    remind: tuple[str, ...] = ()
    escalate: tuple[str, ...] = ()

    def qualifies(self, priority: str, customers: int, duration: timedelta) -> tuple[bool, list[str]]:
        """Whether an incident of this priority, customer count and duration owes the report, and why."""
        tests: list[tuple[bool, str]] = []
        if self.priorities is not None:
            among = priority in self.priorities
            tests.append((among, f"priority {priority} {'is' if among else 'is not'} one of "
                                 f"{', '.join(sorted(self.priorities))}"))
        if self.min_customers:
            tests.append((customers >= self.min_customers, f"{customers} customer(s) affected "
                          f"({'at least' if customers >= self.min_customers else 'fewer than'} {self.min_customers})"))
        if self.min_duration is not None:
            long = duration >= self.min_duration
            tests.append((long, f"lasted {_span(duration)} ({'at least' if long else 'less than'} "
                          f"{_span(self.min_duration)})"))
        if not tests:
            return True, ["every incident"]
        held = [ok for ok, _why in tests]
        return (all(held) if self.match == "all" else any(held)), [why for _ok, why in tests]


def _span(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


@dataclass(frozen=True)
class IncidentSettings:
    resolve_tickets: str = "resolution-proposed"
    calendar: str | None = None  # the working days the report clocks count; None: the default plan's
    reports: Mapping[str, ReportPolicy] = field(default_factory=dict)

    def report_kinds(self) -> dict[str, str]:
        """Every report that can be sent, kind to title: the configured ones and the seeds' three."""
        return {**REPORT_TITLES, **{k: r.title for k, r in self.reports.items()}}


def load_incidents(data: Mapping[str, Any], policy: Policy, staff: Staff, oncall: OnCall | None,
                   problems: list[str]) -> IncidentSettings:
    """Read [incidents] and each [incidents.reports.KIND]; every problem names its key and the fix."""
    table = data.get("incidents", {})
    if not isinstance(table, Mapping):
        problems.append("incidents: must be a table, written [incidents]")
        return IncidentSettings()
    for key in table:
        if key not in _KEYS:
            problems.append(f"incidents.{key}: unknown key; the keys of [incidents] are {', '.join(sorted(_KEYS))}")
    resolve = table.get("resolve_tickets", "resolution-proposed")
    if resolve not in RESOLVE_TICKETS:
        problems.append(f"incidents.resolve_tickets: {resolve!r} is not one of "
                        f"{', '.join(repr(s) for s in RESOLVE_TICKETS)}; write what resolving the incident makes "
                        'of its tickets, like resolve_tickets = "resolution-proposed"')
        resolve = "resolution-proposed"
    calendar = table.get("calendar")
    if calendar is not None and calendar not in policy.calendars:
        problems.append(f"incidents.calendar: no calendar named {calendar!r}; define [calendars.{calendar}] or use "
                        f"one of {', '.join(sorted(policy.calendars))}")
        calendar = None
    managers = any(o.account_manager for o in policy.directory.organisations.values())
    raw = table.get("reports", {})
    if not isinstance(raw, Mapping):
        problems.append("incidents.reports: must be tables, written [incidents.reports.KIND]")
        raw = {}
    reports = {}
    for kind, body in raw.items():
        report = _report(f"incidents.reports.{kind}", str(kind), body, staff, oncall, managers, problems)
        if report is not None:
            reports[report.kind] = report
    return IncidentSettings(resolve_tickets=str(resolve), calendar=calendar, reports=reports)


def _report(where: str, kind: str, body: Any, staff: Staff, oncall: OnCall | None, managers: bool,
            problems: list[str]) -> ReportPolicy | None:
    if not _KIND.fullmatch(kind):
        problems.append(f'{where}: name a report with lower-case letters, digits and "-", like [incidents.reports.pir]')
        return None
    if not isinstance(body, Mapping):
        problems.append(f'{where}: must be a table with due, like due = "5 business days"')
        return None
    for key in body:
        if key not in _REPORT_KEYS:
            problems.append(f"{where}.{key}: unknown key; the keys are {', '.join(sorted(_REPORT_KEYS))}")
    due = _due(where, body, problems)
    if due is None:
        return None
    found: dict[str, Any] = {"title": str(body.get("title") or REPORT_TITLES.get(kind, kind)), "due": due}
    found.update(_conditions(where, body, problems))
    share = body.get("remind_at", 0.8)
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 < share < 1:
        problems.append(f"{where}.remind_at: a share of the time to the deadline between 0 and 1, like 0.8")
        share = 0.8
    found["remind_at"] = float(share)
    for key in ("remind", "escalate"):
        if key in body:
            found[key] = read_notify(f"{where}.{key}", body[key], staff, oncall, managers, problems)
    return ReportPolicy(kind=kind, **found)


def _due(where: str, body: Mapping[str, Any], problems: list[str]) -> Target | None:
    if "due" not in body:
        problems.append(f'{where}.due: missing; write by when the report is owed, like due = "5 business days"')
        return None
    try:
        due = parse_target(str(body["due"])) if isinstance(body["due"], str) else None
    except DurationError as exc:
        problems.append(f"{where}.due: {exc}")
        return None
    if due is None or due.kind == "none":
        problems.append(f'{where}.due: a report needs a deadline, like due = "10 working days"')
        return None
    return due


def _conditions(where: str, body: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """Which incidents owe the report: priorities, customers affected, how long it lasted, and how they combine."""
    found: dict[str, Any] = {}
    if "priorities" in body:
        value = body["priorities"]
        if not isinstance(value, list) or not value or any(p not in PRIORITIES for p in value):
            problems.append(f'{where}.priorities: a list of priorities, like ["P1", "P2"]')
        else:
            found["priorities"] = frozenset(value)
    if "min_customers" in body:
        value = body["min_customers"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"{where}.min_customers: how many customers (organisations) at least, like 2")
        else:
            found["min_customers"] = value
    if "min_duration" in body:
        try:
            found["min_duration"] = parse_interval(body["min_duration"])
        except ValueError as exc:
            problems.append(f"{where}.min_duration: {exc}")
    match = body.get("match", "all")
    if match not in MATCHES:
        problems.append(f'{where}.match: "all" (every condition given) or "any" (one of them), not {match!r}')
        match = "all"
    found["match"] = str(match)
    return found
