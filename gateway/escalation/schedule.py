"""Each ticket's next escalation instant, kept where ``refresh_next_deadline`` can see it.

The tiers' instants need the escalation policies, which only the scheduler has; ``refresh_next_deadline``
is called from everywhere with the SLA policy alone. So the scheduler stores the next instant with a
digest of the ticket state it was computed from, and a ticket whose state has moved since (a clock
stopped or resumed, the priority changed, an engineer wrote) is due at once to be computed again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.escalation.timing import CLOSED, basis
from gateway.models import EscalationSchedule, Ticket
from gateway.policy import Policy


def store(session: Session, ticket: Ticket, next_at: datetime | None, now: datetime) -> None:
    row = session.get(EscalationSchedule, ticket.id)
    digest = basis(session, ticket)
    if row is None:
        session.add(EscalationSchedule(ticket_id=ticket.id, next_at=next_at, basis=digest, computed_at=now))
    else:
        row.next_at, row.basis, row.computed_at = next_at, digest, now


def escalation_wakeup(session: Session, policy: Policy, ticket: Ticket) -> datetime | None:
    """When the scheduler must next look at ``ticket`` for escalation (None: not for escalation)."""
    if ticket.status in CLOSED or policy.plan(ticket.plan).escalation is None:
        return None
    row = session.get(EscalationSchedule, ticket.id)
    if row is None or row.basis != basis(session, ticket):
        return ticket.created_at  # already past: due at the next wake-up
    return row.next_at
