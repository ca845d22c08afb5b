"""Every SLA clock a ticket ran, rebuilt from its events: the record reports are computed from.

The events are the audit trail (``sla-clock-started``, ``-stopped``, ``-paused``, ``-resumed``,
``-restarted``, ``sla-breach``, ``priority-changed``, ``assigned``), so a report agrees with what
``tickets show`` lists, and needs no state of its own. One *run* is one promise: a clock from its
start to its stop; an update clock makes a new run at each update given. A run is settled when
it was met (stopped in time) or missed (breached, stopped late, or past its deadline at the
report's end); a reopened ticket unsettles its runs again, as the clocks themselves run again.
A promise replaced before it was settled (a priority change restarts the clocks on the new
targets) was never due: only the new one counts, unless the old one had already breached. A run
stopped at the instant it started (an update clock re-armed by the reply that resolves the
ticket) promised nothing and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, Select, or_, select, union
from sqlalchemy.orm import Session

from gateway.store.models import Event, SlaClock, Ticket

KINDS = ("ticket-opened", "priority-changed", "assigned", "sla-clock-started", "sla-clock-stopped",
         "sla-clock-paused", "sla-clock-resumed", "sla-clock-restarted", "sla-breach", "sla-update-notice")
# The scheduler sends an automatic update notice when an update falls due; within this, it kept
# the promise (the scheduler's own reaction time), later it was the gateway that was late.
NOTICE_GRACE = timedelta(minutes=1)
_TICKETS_PER_QUERY = 10_000


@dataclass(slots=True)
class Run:
    ticket: int
    clock: str
    plan: str
    priority: str
    organisation: str | None
    assignee: str | None
    calendar: str
    target: str
    started: datetime
    deadline: datetime | None
    ended: datetime | None = None
    met: bool | None = None
    breached: datetime | None = None
    paused_since: datetime | None = None
    automatic: bool = False  # ended by the gateway's own update notice, not by an engineer
    pauses: list[tuple[datetime, datetime]] = field(default_factory=list)

    def outcome(self, end: datetime) -> tuple[str, datetime | None]:
        """("met" | "missed" | "paused" | "running", when it was settled) as of ``end``."""
        if self.breached is not None:
            return "missed", self.breached
        if self.ended is not None:
            return ("met" if self.met else "missed"), self.ended
        if self.paused_since is not None:
            return "paused", None
        if self.deadline is not None and self.deadline < end:
            return "missed", self.deadline
        return "running", None


def _iso(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class _Ticket:
    """One ticket's state as its events replay it."""

    def __init__(self, ticket: Ticket) -> None:
        self.id = ticket.id
        self.plan, self.priority = ticket.plan, ticket.priority
        self.organisation, self.assignee = ticket.organisation, ticket.assignee
        self.current: dict[str, Run] = {}
        self.runs: list[Run] = []

    def apply(self, event: Event) -> None:
        d, at, kind = event.detail or {}, event.at, event.kind
        clock = d.get("clock")
        run = self.current.get(clock) if isinstance(clock, str) else None
        if kind == "ticket-opened":
            self.priority = d.get("priority", self.priority)
        elif kind == "priority-changed":
            self.priority = d.get("new", self.priority)
            for name in list(self.current):
                self._replace(name, at)
        elif kind == "assigned":
            self.assignee = (d.get("new") or {}).get("assignee")
        elif kind == "sla-clock-started" and isinstance(clock, str):
            if run is not None:
                # Started again while it ran (a priority change, an earlier promise of a merged
                # ticket): the new promise replaces the one not yet settled.
                self._drop(clock, run)
            self._start(clock, _iso(d.get("started")) or at, d.get("target", ""), d.get("calendar", "24x7"),
                        _iso(d.get("deadline")))
        elif kind == "sla-clock-restarted" and run is not None and isinstance(clock, str):
            target = str(d.get("target") or run.target)  # a new cadence names its target
            if run.started == at and run.ended is None:  # the run that began here takes the new cadence
                run.target, run.deadline = target, _iso(d.get("deadline"))
                return
            run.ended, run.met = at, bool(d.get("met"))
            self._start(clock, at, target, run.calendar, _iso(d.get("deadline")))
        elif kind == "sla-update-notice" and "update" in self.current:
            run = self.current["update"]
            due = _iso(d.get("deadline")) or at
            run.ended, run.met, run.automatic = at, at <= due + NOTICE_GRACE, True
            self._start("update", due, run.target, run.calendar, _iso(d.get("next")))
        elif kind == "sla-clock-stopped" and run is not None and "merged_into" in d:
            self._drop(clock, run)  # merged: the promise is kept, or not, on the ticket it joined
        elif kind == "sla-clock-stopped" and run is not None:
            if run.paused_since is not None:
                run.pauses.append((run.paused_since, at))
                run.paused_since = None
            run.ended, run.met = at, bool(d.get("met"))
        elif kind == "sla-breach" and run is not None and run.breached is None:
            run.breached = at
        elif kind == "sla-clock-paused" and run is not None:
            run.paused_since, run.deadline = at, None
        elif kind == "sla-clock-resumed" and run is not None:
            if run.paused_since is not None:
                run.pauses.append((run.paused_since, at))
                run.paused_since = None
            if run.ended is not None:  # reopened: settled at the stop, counted from here again
                run.pauses.append((run.ended, at))
                run.ended, run.met = None, None
            run.deadline = _iso(d.get("deadline"))

    def _replace(self, clock: str, at: datetime) -> None:
        """The clock's promise is replaced at ``at``: one not settled yet was never due, and is
        withdrawn; one already breached stays missed, ended here."""
        run = self.current.get(clock)
        if run is None or run.ended is not None:
            return
        del self.current[clock]
        if run.breached is None:
            self.runs.remove(run)
            return
        if run.paused_since is not None:
            run.pauses.append((run.paused_since, at))
            run.paused_since = None
        run.ended, run.met = at, False

    def _drop(self, clock: Any, run: Run) -> None:
        if run.ended is None and run.breached is None:
            self.runs.remove(run)
            self.current.pop(clock, None)

    def _start(self, clock: str, at: datetime, target: str, calendar: str, deadline: datetime | None) -> None:
        self._replace(clock, at)
        run = Run(self.id, clock, self.plan, self.priority, self.organisation, self.assignee, calendar, target,
                  at, deadline)
        self.current[clock] = run
        self.runs.append(run)


def counted_tickets(since: datetime, until: datetime) -> CompoundSelect[int | None]:
    """The tickets whose runs a period from ``since`` can count, as known at ``until``: those with
    a clock event in [since, until], and those with a clock not stopped before ``since`` (it ran,
    or waited paused, into the period: it may fall due in it, or still be open at its end).

    A run settles at an event (its stop, its breach, the update given) or at its deadline while it
    runs, and is open at the end only if it ran into the period or began in it: any other run of
    any other ticket was settled before ``since``. A clock's row says whether it ran at ``since``:
    its ``stopped_at`` is that of its last stop, cleared when it runs again (every change with its
    event), so a clock running then is either running still or was stopped since; or its row was
    deleted since, by a priority change (which withdraws the clocks still running), read from its
    event however late. Both reads are index searches (``ix_events_at``,
    ``ix_sla_clocks_stopped_at``): the size of the period (and of what followed it), not of the
    history before it."""
    in_period = select(Event.ticket_id).where(
        Event.at >= since, or_(Event.at <= until, Event.kind == "priority-changed"), Event.kind.in_(KINDS),
        Event.ticket_id.is_not(None))
    ran_into = select(SlaClock.ticket_id).where(or_(SlaClock.stopped_at.is_(None), SlaClock.stopped_at >= since))
    return union(in_period, ran_into)


def clock_runs(session: Session, until: datetime, since: datetime | None = None) -> list[Run]:
    """Every run of every clock started by ``until``, replayed from the events up to it; given
    ``since``, only the runs of the tickets a period from ``since`` can count (``counted_tickets``),
    each replayed from its first event, so that each run is the same as in the whole replay."""
    ids: Select[int | None] | CompoundSelect[int | None]
    if since is None:
        ids = select(Event.ticket_id).where(Event.kind.in_(KINDS), Event.at <= until,
                                            Event.ticket_id.is_not(None)).distinct()
    else:
        ids = counted_tickets(min(since, until), until)
    wanted = sorted(t for t in session.scalars(ids) if t is not None)
    runs: list[Run] = []
    # One IN list per chunk: a database refuses a statement with more parameters than it allows
    # (PostgreSQL 65,535; SQLite 250,000 as Debian builds it), and a long history has more tickets.
    for first in range(0, len(wanted), _TICKETS_PER_QUERY):
        chunk = wanted[first:first + _TICKETS_PER_QUERY]
        tickets = select(Ticket).where(Ticket.id.in_(chunk)).order_by(Ticket.id)
        replay = {t.id: _Ticket(t) for t in session.scalars(tickets)}
        events = select(Event).where(Event.ticket_id.in_(chunk), Event.kind.in_(KINDS), Event.at <= until)
        for event in session.scalars(events.order_by(Event.ticket_id, Event.at, Event.id)):
            if event.ticket_id in replay:
                replay[event.ticket_id].apply(event)
        runs.extend(run for t in replay.values() for run in t.runs if run.ended is None or run.ended > run.started)
    return runs


def paused_within(run: Run, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The run's pauses clipped to [start, end)."""
    spans = [*run.pauses, *(((run.paused_since, end),) if run.paused_since else ())]
    return [(max(a, start), min(b, end)) for a, b in spans if min(b, end) > max(a, start)]


def minus_pauses(total: timedelta, pauses: list[timedelta]) -> timedelta:
    return max(total - sum(pauses, timedelta()), timedelta())
