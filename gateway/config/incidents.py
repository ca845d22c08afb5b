"""[incidents]: what resolving an incident does to its tickets, and the reports an incident owes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gateway.config.escalation import read_notify
from gateway.config.policy import Policy
from gateway.config.reader import Reader, as_str, one_of
from gateway.config.staff import Staff
from gateway.config.values import parse_interval
from gateway.time.durations import Target, parse_target
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


def load_incidents(r: Reader, data: dict[str, Any], policy: Policy, staff: Staff,
                   oncall: OnCall | None) -> IncidentSettings:
    """Read [incidents] and each [incidents.reports.KIND]; every problem names its key and the fix."""
    table = r.table(data, "incidents")
    r.unknown(table, "incidents", _KEYS)
    resolve = r.get(table, "incidents.resolve_tickets", "resolution-proposed", one_of(*RESOLVE_TICKETS),
                    'write what resolving the incident makes of its tickets, like resolve_tickets = '
                    '"resolution-proposed"')
    calendar = r.get(table, "incidents.calendar", None, as_str)
    if calendar is not None and calendar not in policy.calendars:
        r.problems.append(f"incidents.calendar: no calendar named {calendar!r}; define [calendars.{calendar}] or "
                          f"use one of {', '.join(sorted(policy.calendars))}")
        calendar = None
    managers = any(o.account_manager for o in policy.directory.organisations.values())
    reports = {}
    for where, kind, body in r.tables(table, "incidents.reports", 'a table with due, like due = "5 business days"',
                                      "[incidents.reports.KIND]"):
        report = _report(r, where, kind, body, staff, oncall, managers)
        if report is not None:
            reports[report.kind] = report
    return IncidentSettings(resolve_tickets=resolve, calendar=calendar, reports=reports)


def _report(r: Reader, where: str, kind: str, body: dict[str, Any], staff: Staff, oncall: OnCall | None,
            managers: bool) -> ReportPolicy | None:
    if not _KIND.fullmatch(kind):
        r.problems.append(f'{where}: name a report with lower-case letters, digits and "-", like '
                          "[incidents.reports.pir]")
        return None
    r.unknown(body, where, _REPORT_KEYS)
    if not r.require(body, f"{where}.due", 'write by when the report is owed, like due = "5 business days"'):
        return None
    due = r.get(body, f"{where}.due", None, _due)
    if due is None:
        return None
    found: dict[str, Any] = {"title": r.get(body, f"{where}.title", REPORT_TITLES.get(kind, kind), as_str) or kind,
                             "due": due, "match": r.get(body, f"{where}.match", "all", _match)}
    for key, convert in (("priorities", _priorities), ("min_customers", _customers), ("min_duration", parse_interval),
                         ("remind_at", _share)):
        if key in body:
            found[key] = r.get(body, f"{where}.{key}", None, convert)
    for key in ("remind", "escalate"):
        if key in body:
            found[key] = read_notify(r, f"{where}.{key}", body[key], staff, oncall, managers)
    return ReportPolicy(kind=kind, **{k: v for k, v in found.items() if v is not None})


def _due(value: Any) -> Target:
    due = parse_target(as_str(value))
    if due.kind == "none":
        raise ValueError('a report needs a deadline, like due = "10 working days"')
    return due


def _match(value: Any) -> str:
    if value not in MATCHES:
        raise ValueError(f'"all" (every condition given) or "any" (one of them), not {value!r}')
    return str(value)


def _priorities(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not value or any(p not in PRIORITIES for p in value):
        raise ValueError('a list of priorities, like ["P1", "P2"]')
    return frozenset(value)


def _customers(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("how many customers (organisations) at least, like 2")
    return value


def _share(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 1:
        raise ValueError("a share of the time to the deadline between 0 and 1, like 0.8")
    return float(value)
