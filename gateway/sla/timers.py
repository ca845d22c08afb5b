"""Stale-case timers (fourth seed): pending-customer notice then closure; resolution-proposed closure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.policy import Policy
from gateway.store.models import Event, Ticket
from gateway.time.durations import deadline


def stale_notice_key(ticket: Ticket) -> str:
    assert ticket.status_since is not None
    return f"stale-notice:{ticket.id}:{ticket.status_since.isoformat()}"


def stale_close_at(policy: Policy, ticket: Ticket, notice_at: datetime | None) -> datetime | None:
    """When a pending ticket closes: ``stale_after`` from when it began waiting, but never with
    less warning than the plan gives. A notice that went out late (the gateway was down) moves
    the closure on by as much, so the customer always has the advance notice's time to answer."""
    since = ticket.status_since
    assert since is not None
    plan = policy.plan(ticket.plan)
    calendar = policy.calendar(plan.calendar, ticket.timezone)
    close = deadline(plan.stale_after, since, calendar)
    due = deadline(plan.stale_notice_after, since, calendar)
    if close is None or due is None or notice_at is None or notice_at <= due:
        return close
    return max(close, calendar.add(notice_at, calendar.elapsed(due, close)))


def stale_notice_sent(session: Session, ticket: Ticket) -> datetime | None:
    """When the stale-case notice of the ticket's current wait was given (queued or not)."""
    return session.scalar(select(Event.at).where(
        Event.ticket_id == ticket.id, Event.kind == "stale-notice", Event.at >= ticket.status_since)
        .order_by(Event.id.desc()).limit(1))


def ticket_timers(session: Session, policy: Policy, ticket: Ticket) -> list[tuple[str, datetime]]:
    """The status timers running on ``ticket``, as (name, instant).

    The stale notice is done once its event is recorded, whether or not a mail could be queued
    (an undeliverable customer): a timer that stayed due would be handled again at every wake-up.
    """
    since = ticket.status_since
    if since is None:
        return []
    plan = policy.plan(ticket.plan)
    calendar = policy.calendar(plan.calendar, ticket.timezone)
    timers: list[tuple[str, datetime]] = []
    if ticket.status == "pending":
        notice = deadline(plan.stale_notice_after, since, calendar)
        sent = stale_notice_sent(session, ticket) if notice is not None else None
        if notice is not None and sent is None:
            timers.append(("stale-notice", notice))
        close = stale_close_at(policy, ticket, sent)
        if close is not None and (notice is None or sent is not None):
            # No closure before its notice has gone: a late notice is not followed at once by it.
            timers.append(("stale-close", close))
    elif ticket.status == "resolution-proposed":
        close = deadline(plan.close_resolution_proposed, since, calendar)
        if close is not None:
            timers.append(("proposed-close", close))
    return timers
