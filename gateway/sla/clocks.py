"""Per-ticket SLA clocks: start, stop, pause and resume, each change recorded as an event."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gateway.config.plans import Plan
from gateway.config.policy import Policy
from gateway.store.history import in_history
from gateway.store.models import SlaClock, Ticket, attach_loaded, table_of
from gateway.store.tickets import record
from gateway.time.calendar import BusinessCalendar
from gateway.time.durations import Target, deadline, format_target, parse_target

# Clock names on a ticket; "update" is the update-every clock, re-armed after each update.
CLOCK_TARGETS = {"first_response": "first_response", "update": "update_every",
                 "workaround": "workaround", "resolution": "resolution"}


def ticket_calendar(policy: Policy, ticket: Ticket, clock: SlaClock) -> BusinessCalendar:
    return policy.calendar(clock.calendar)


def _calendar_name(policy: Policy, plan: Plan, priority: str, ticket: Ticket) -> str:
    name = plan.targets(priority).calendar
    # "Business hours, customer local time": a customer_local_time calendar read in their zone.
    local = ticket.timezone and name in policy.customer_local
    return f"{name}@{ticket.timezone}" if local else name


def calendar_name(policy: Policy, ticket: Ticket) -> str:
    """The calendar the ticket's clocks count on, for its plan and priority."""
    return _calendar_name(policy, policy.plan(ticket.plan), ticket.priority, ticket)


_CLOCKS = table_of(SlaClock)
# One multi-row INSERT: the keys come back with their clock's name, in whatever order (asking for the
# parameters' order costs SQLite a statement a row).
_INSERT_CLOCKS = insert(_CLOCKS).returning(_CLOCKS.c.id, _CLOCKS.c.name)


def start_clocks(session: Session, policy: Policy, ticket: Ticket, now: datetime,
                 only: Collection[str] | None = None) -> list[SlaClock]:
    """Create the ticket's clocks for its plan and priority (those with a target, not yet there).

    A clock a stage of the plan starts (``[plans.NAME.stages]``) waits for the ticket to enter that
    stage; ``only`` names the clocks to start (a stage's, as it is entered).
    They are written at once, in one INSERT, and join the ticket's clocks as if loaded: no
    unit of work to run for rows that are new and complete. The ticket must be in the database.
    No clock starts for imported history: the promise it would state was never made.
    """
    if in_history(session):
        return []
    plan = policy.plan(ticket.plan)
    targets = plan.targets(ticket.priority)
    cal_name = _calendar_name(policy, plan, ticket.priority, ticket)
    calendar = policy.calendar(cal_name)
    rows: list[dict[str, Any]] = []
    existing = {c.name for c in ticket.clocks}
    for name, field in CLOCK_TARGETS.items():
        target = targets.target(field)
        if name == "update" and ticket.update_every:
            target = parse_target(ticket.update_every)  # the cadence agreed for this ticket
        if target.kind == "none" or name in existing or (only is not None and name not in only):
            continue
        stage = plan.stage_of(name)
        if stage is not None and stage.name not in (ticket.stages or ()):
            continue  # counted from the moment the ticket enters the stage, not from intake
        due = deadline(target, now, calendar)
        warn = None if name == "update" else _warn_at(calendar, target, now, due, plan)
        rows.append({"ticket_id": ticket.id, "name": name, "target": format_target(target), "calendar": cal_name,
                     "started_at": now, "deadline": due, "warn_at": warn, "paused_remaining": None,
                     "paused_warn_remaining": None, "stopped_at": None, "warned_at": None, "breached_at": None,
                     "reminded_at": None})
        record(session, ticket.id, "sla-clock-started", now, clock=name, target=rows[-1]["target"],
               deadline=due.isoformat() if due else None, calendar=cal_name)
    clocks = []
    if rows:
        ids = {name: clock_id for clock_id, name in session.connection().execute(_INSERT_CLOCKS, rows)}
        for values in rows:
            clocks.append(attach_loaded(session, SlaClock(id=ids[values["name"]], **values)))
        set_committed_value(ticket, "clocks", [*ticket.clocks, *clocks])
    return clocks


def set_deadline(session: Session, policy: Policy, ticket: Ticket, name: str, target: Target, calendar: str,
                 now: datetime, due: datetime) -> None:
    """Run clock ``name`` to ``due`` whatever the priority's own target (the root-cause follow-up)."""
    if in_history(session):
        return
    c = clock(session, ticket.id, name)
    if c is None:
        c = SlaClock(ticket_id=ticket.id, name=name, started_at=now)
        ticket.clocks.append(c)
    cal = policy.calendar(calendar)
    c.target, c.calendar, c.started_at, c.deadline = format_target(target), calendar, now, due
    c.warn_at = _warn_at(cal, target, now, due, policy.plan(ticket.plan))
    c.stopped_at = c.warned_at = c.breached_at = None
    record(session, ticket.id, "sla-clock-started", now, clock=name, target=c.target, deadline=due.isoformat(),
           calendar=calendar)


def _warn_at(calendar: BusinessCalendar, target: Target, start: datetime, due: datetime | None,
             plan: Plan) -> datetime | None:
    if due is None:
        return None
    if target.kind == "clock":
        return start + (due - start) * plan.near_breach
    return calendar.add(start, calendar.elapsed(start, due) * plan.near_breach)


def clocks_of(session: Session, ticket_id: int) -> list[SlaClock]:
    """The ticket's clocks, oldest first: one query per transaction, none for a new ticket."""
    ticket = session.get(Ticket, ticket_id)
    return list(ticket.clocks) if ticket is not None else []


def clock(session: Session, ticket_id: int, name: str) -> SlaClock | None:
    return next((c for c in clocks_of(session, ticket_id) if c.name == name), None)


def stop(session: Session, policy: Policy, ticket: Ticket, name: str, now: datetime, actor: str) -> None:
    c = clock(session, ticket.id, name)
    if c is None or c.stopped_at is not None:
        return
    c.stopped_at = now
    # A clock that breached stays missed, whatever a pause did to its deadline since.
    met = c.breached_at is None and (c.deadline is None or now <= c.deadline)
    record(session, ticket.id, "sla-clock-stopped", now, actor=actor, clock=name, met=met,
           deadline=c.deadline.isoformat() if c.deadline else None)


def rearm_update(session: Session, policy: Policy, ticket: Ticket, start: datetime) -> None:
    """A public update happened at ``start``: the next one is due update_every later."""
    c = clock(session, ticket.id, "update")
    if c is None or c.stopped_at is not None:
        return
    target = parse_target(c.target)
    calendar = policy.calendar(c.calendar)
    if c.paused_remaining is not None:
        # Paused (waiting for the customer): the update just given counts, so a whole interval
        # is left for when the clock runs again.
        c.paused_remaining = _remaining(calendar, target, start, deadline(target, start, calendar))
        c.paused_warn_remaining, c.warned_at, c.reminded_at = None, None, None
        return
    if c.started_at == start:
        return  # re-armed at this very instant already (a cadence agreed in the same mail)
    met = c.deadline is None or start <= c.deadline
    c.started_at = start
    c.deadline = deadline(target, start, calendar)
    c.warn_at, c.warned_at, c.reminded_at = None, None, None
    # The report's record: the interval that ended here kept its promise (or not); a new one runs.
    record(session, ticket.id, "sla-clock-restarted", start, clock="update", met=met,
           deadline=c.deadline.isoformat() if c.deadline else None)


def _remaining(calendar: BusinessCalendar, target: Target, now: datetime, until: datetime | None) -> float | None:
    if until is None:
        return None
    if target.kind == "clock":
        return max((until - now).total_seconds(), 0.0)
    return calendar.elapsed(now, until).total_seconds()


def _resume_at(calendar: BusinessCalendar, target: Target, now: datetime, seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    if target.kind == "clock":
        return now + timedelta(seconds=seconds)
    return calendar.add(now, timedelta(seconds=seconds))


def pause(session: Session, policy: Policy, ticket: Ticket, now: datetime) -> None:
    """Stop the running clocks where they are; the time left is kept for resume()."""
    for c in clocks_of(session, ticket.id):
        if c.stopped_at is not None or c.paused_remaining is not None or c.deadline is None:
            continue
        target, calendar = parse_target(c.target), policy.calendar(c.calendar)
        c.paused_remaining = _remaining(calendar, target, now, c.deadline)
        c.paused_warn_remaining = _remaining(calendar, target, now, c.warn_at) if not c.warned_at else None
        c.deadline, c.warn_at = None, None
        record(session, ticket.id, "sla-clock-paused", now, clock=c.name,
               remaining_seconds=round(c.paused_remaining or 0))


def resume(session: Session, policy: Policy, ticket: Ticket, now: datetime) -> None:
    """Continue paused clocks with the time they had left: not a fresh clock, not an exhausted one."""
    for c in clocks_of(session, ticket.id):
        if c.stopped_at is not None or c.paused_remaining is None:
            continue
        target, calendar = parse_target(c.target), policy.calendar(c.calendar)
        c.deadline = _resume_at(calendar, target, now, c.paused_remaining)
        c.warn_at = _resume_at(calendar, target, now, c.paused_warn_remaining)
        c.paused_remaining = c.paused_warn_remaining = None
        record(session, ticket.id, "sla-clock-resumed", now, clock=c.name,
               deadline=c.deadline.isoformat() if c.deadline else None)


def reopen(session: Session, policy: Policy, ticket: Ticket, settled_at: datetime, now: datetime) -> None:
    """The ticket, settled at ``settled_at`` (resolution proposed, resolved or closed), is open
    again: the update clock starts afresh, and workaround and resolution go on with the time
    they had left when the ticket was settled (the time it spent settled does not count)."""
    for c in clocks_of(session, ticket.id):
        if c.stopped_at != settled_at or c.name not in ("update", "workaround", "resolution"):
            continue
        target, calendar = parse_target(c.target), policy.calendar(c.calendar)
        if c.name == "update":
            c.started_at, c.deadline = now, deadline(target, now, calendar)
            c.warn_at = c.warned_at = c.reminded_at = None
        else:
            c.deadline = _resume_at(calendar, target, now, _remaining(calendar, target, settled_at, c.deadline))
            c.warn_at = None if c.warned_at else _resume_at(
                calendar, target, now, _remaining(calendar, target, settled_at, c.warn_at))
        c.stopped_at = None
        record(session, ticket.id, "sla-clock-resumed", now, clock=c.name,
               deadline=c.deadline.isoformat() if c.deadline else None, reason="reopened")
