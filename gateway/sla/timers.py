"""Stale-case timers (fourth seed): pending-customer notice then closure; resolution-proposed closure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import OutboxMessage, Ticket
from gateway.outbox import stored_cause_key
from gateway.policy import Policy
from gateway.sla.durations import deadline


def stale_notice_key(ticket: Ticket) -> str:
    assert ticket.status_since is not None
    return f"stale-notice:{ticket.id}:{ticket.status_since.isoformat()}"


def ticket_timers(session: Session, policy: Policy, ticket: Ticket) -> list[tuple[str, datetime]]:
    """The status timers running on ``ticket``, as (name, instant)."""
    since = ticket.status_since
    if since is None:
        return []
    plan = policy.plan(ticket.plan)
    calendar = policy.calendar(plan.calendar, ticket.timezone)
    timers: list[tuple[str, datetime]] = []
    if ticket.status == "pending":
        notice = deadline(plan.stale_notice_after, since, calendar)
        if notice is not None and session.scalar(select(OutboxMessage.id).where(
                OutboxMessage.cause_key == stored_cause_key(stale_notice_key(ticket)))) is None:
            timers.append(("stale-notice", notice))
        close = deadline(plan.stale_after, since, calendar)
        if close is not None:
            timers.append(("stale-close", close))
    elif ticket.status == "resolution-proposed":
        close = deadline(plan.close_resolution_proposed, since, calendar)
        if close is not None:
            timers.append(("proposed-close", close))
    return timers
