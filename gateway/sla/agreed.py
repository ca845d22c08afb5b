"""Promises agreed case by case: a ticket's own update cadence, and the earlier of two tickets'
promises kept when one is merged into the other."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.config.policy import Policy
from gateway.sla.clocks import calendar_name, clock, clocks_of, stop
from gateway.store.models import SlaClock, Ticket
from gateway.store.tickets import record
from gateway.time.durations import Target, deadline, format_target, parse_target


def plan_cadence(policy: Policy, ticket: Ticket) -> Target:
    """The update cadence the ticket's plan promises at its priority (a "none" target: none)."""
    return policy.plan(ticket.plan).targets(ticket.priority).update_every


def set_cadence(session: Session, policy: Policy, ticket: Ticket, target: Target, now: datetime,
                actor: str) -> None:
    """The update clock runs on ``target`` from ``now``: the next update is one interval away.

    A paused clock (the ticket waits for the customer) keeps a whole interval for when it runs
    again; with no cadence at all ("none"), the update clock stops. The interval cut short here
    is settled as the update clock's intervals are, and the new one names its target.
    """
    c = clock(session, ticket.id, "update")
    if target.kind == "none":
        if c is not None:
            stop(session, policy, ticket, "update", now, actor)
        return
    text = format_target(target)
    if c is None or c.stopped_at is not None:
        _start(session, policy, ticket, c, target, now)
        return
    calendar = policy.calendar(c.calendar)
    due = deadline(target, now, calendar)
    c.target = text
    if c.paused_remaining is not None:
        c.paused_remaining = (calendar.elapsed(now, due) if target.kind != "clock" else due - now).total_seconds() \
            if due is not None else None
        c.paused_warn_remaining, c.warned_at, c.reminded_at = None, None, None
        return
    met = c.deadline is None or now <= c.deadline
    c.started_at, c.deadline, c.warn_at, c.warned_at, c.reminded_at = now, due, None, None, None
    record(session, ticket.id, "sla-clock-restarted", now, actor=actor, clock="update", met=met, target=text,
           deadline=due.isoformat() if due else None)


def _start(session: Session, policy: Policy, ticket: Ticket, c: SlaClock | None, target: Target,
           now: datetime) -> None:
    """A ticket whose plan promises no updates (or whose update clock had stopped) gets one."""
    name = c.calendar if c is not None else calendar_name(policy, ticket)
    due = deadline(target, now, policy.calendar(name))
    if c is None:
        c = SlaClock(ticket_id=ticket.id, name="update", started_at=now)
        ticket.clocks.append(c)
    c.target, c.calendar, c.started_at, c.deadline = format_target(target), name, now, due
    c.warn_at = c.paused_remaining = c.paused_warn_remaining = c.stopped_at = None
    c.warned_at = c.breached_at = c.reminded_at = None
    record(session, ticket.id, "sla-clock-started", now, clock="update", target=c.target,
           deadline=due.isoformat() if due else None, calendar=name)


def stop_merged(session: Session, ticket: Ticket, into: int, now: datetime, actor: str) -> None:
    """The clocks of a ticket merged into ``into`` stop, neither met nor missed: each promise goes on
    (or was already kept sooner) on the ticket it joined."""
    for c in clocks_of(session, ticket.id):
        if c.stopped_at is None:
            c.stopped_at = now
            record(session, ticket.id, "sla-clock-stopped", now, actor=actor, clock=c.name, merged_into=into,
                   deadline=c.deadline.isoformat() if c.deadline else None)


def _running(c: SlaClock | None) -> bool:
    return c is not None and c.stopped_at is None and c.paused_remaining is None and c.deadline is not None


def keep_earliest(session: Session, ticket: Ticket, merged: Ticket, now: datetime) -> list[str]:
    """``ticket`` takes each promise of ``merged`` that falls due sooner than its own: a clock
    running on both (the merged one not yet breached) keeps the earlier deadline, and a clock
    only ``merged`` runs goes on, on ``ticket``, where it was (while ``ticket`` is open: one that
    waits for its customer starts none). A clock ``ticket`` has settled or paused stays as it is.
    The names of the clocks taken over."""
    taken = []
    for theirs in clocks_of(session, merged.id):
        if not _running(theirs) or theirs.breached_at is not None:
            continue
        assert theirs.deadline is not None
        ours = clock(session, ticket.id, theirs.name)
        if ours is not None and not (_running(ours) and ours.deadline is not None and theirs.deadline < ours.deadline):
            continue
        if ours is None:
            if ticket.status != "open":
                continue
            ours = SlaClock(ticket_id=ticket.id, name=theirs.name)
            ticket.clocks.append(ours)
        ours.target, ours.calendar, ours.started_at = theirs.target, theirs.calendar, theirs.started_at
        ours.deadline, ours.warn_at, ours.warned_at = theirs.deadline, theirs.warn_at, theirs.warned_at
        ours.paused_remaining = ours.paused_warn_remaining = ours.stopped_at = None
        ours.breached_at, ours.reminded_at = None, theirs.reminded_at
        record(session, ticket.id, "sla-clock-started", now, clock=theirs.name, target=theirs.target,
               deadline=theirs.deadline.isoformat(), calendar=theirs.calendar, merged_from=merged.id,
               started=theirs.started_at.isoformat())
        taken.append(theirs.name)
    return taken


def cadence_target(text: str) -> Target:
    """A cadence as an engineer writes it, read as the plans' targets are (DurationError if not)."""
    return parse_target(text)
