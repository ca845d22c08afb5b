"""A ticket's next wake-up: the earliest instant of its SLA clocks, stale-case timers, escalations and
the progress mail of a stage it entered.

Every change to a ticket's clocks, status or escalations ends with ``refresh_next_deadline``, so the
scheduler finds the ticket again exactly when something about it falls due.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.config.policy import Policy
from gateway.escalation.timing import escalation_wakeup
from gateway.sla.clocks import clocks_of
from gateway.sla.timers import ticket_timers
from gateway.store.history import in_history
from gateway.store.models import CLOSED_STATUSES, Ticket
from gateway.store.tickets import note_wakeup


def refresh_next_deadline(session: Session, policy: Policy, ticket: Ticket) -> None:
    """Store the earliest instant at which the scheduler must look at this ticket again."""
    if in_history(session):
        return  # imported history sets no wake-up: its stale-case timers and escalations never run
    instants: list[datetime] = []
    if ticket.status not in CLOSED_STATUSES:
        for c in clocks_of(session, ticket.id):
            if c.stopped_at is not None or c.deadline is None:
                continue
            if c.warn_at is not None and c.warned_at is None:
                instants.append(c.warn_at)
            if c.name == "update" or c.breached_at is None:
                instants.append(c.deadline)
            if c.name == "update" and c.reminded_at is None and (ticket.assignee or ticket.route_group):
                instants.append(c.deadline - policy.plan(ticket.plan).reminder_lead)
        if ticket.inform_at is not None:
            instants.append(ticket.inform_at)  # the next progress mail of a stage (tickets/stages.py)
    instants.extend(t for _name, t in ticket_timers(session, policy, ticket))
    wakeup = escalation_wakeup(session, policy, ticket)
    if wakeup is not None:
        instants.append(wakeup)
    earliest = min(instants) if instants else None
    if ticket.next_deadline != earliest:  # an unchanged ticket stays clean: no flush to work out
        ticket.next_deadline = earliest
        note_wakeup(session, earliest)
