"""What changes a ticket's state: opening with its SLA promise, responses, status and priority."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from gateway.maintenance.notices import under_way_context
from gateway.outbound.context import MailContext
from gateway.outbound.notices import local_time, to_customer
from gateway.sla import clocks
from gateway.store.models import CLOSED_STATUSES, Event, Ticket
from gateway.store.tickets import record
from gateway.tickets.wakeup import refresh_next_deadline
from gateway.time.durations import deadline, format_target
from parsers.commands import STATUSES
from rules import PRIORITIES

# Statuses in which the work is done, or proposed as done: the clocks of the work stop.
SETTLED = ("resolution-proposed", "resolved", "closed")


def promise_context(ctx: MailContext, ticket: Ticket, received_at: datetime) -> dict[str, Any]:
    """What the acknowledgement promises, in the customer's time zone."""
    policy = ctx.config.policy
    plan = policy.plan(ticket.plan)
    zone = ticket.timezone or ctx.config.gateway.timezone.key
    business = policy.calendar(plan.calendar, ticket.timezone)
    targets = plan.targets(ticket.priority)
    first = None
    session = object_session(ticket)
    if session is not None:
        c = clocks.clock(session, ticket.id, "first_response")
        first = c.deadline if c is not None else None
    critical = targets.calendar == "24x7" and plan.calendar != "24x7"
    # "Our response clock starts Monday 09:00" is true only of a business-time target; a
    # clock-hours target ("less than 2 hours") runs from receipt whatever the hour.
    after_hours = (not business.is_open(received_at) and not critical
                   and targets.first_response.kind in ("business", "business_days", "business_days_end"))
    update = targets.update_every
    return {"sla": {
        "priority": ticket.priority,
        "respond_by": local_time(first, zone),
        "first_response": format_target(targets.first_response) if targets.first_response.kind != "none" else None,
        "update_every": format_target(update) if update.kind != "none" else None,
        "after_hours": after_hours,
        "critical": critical,
        "clock_starts": local_time(business.next_open(received_at), zone) if after_hours else None,
        "timezone": zone,
    }}


def open_with_sla(session: Session, ctx: MailContext, ticket: Ticket, received_at: datetime, *,
                  first_message_id: str) -> None:
    """Start the new ticket's clocks and queue its acknowledgement stating the promise.

    ``first_message_id`` is the customer's mail that opened it: the acknowledgement answers it.
    """
    if ticket.status_since != received_at:
        ticket.status_since = received_at
    clocks.start_clocks(session, ctx.config.policy, ticket, received_at)
    refresh_next_deadline(session, ctx.config.policy, ticket)
    context = {**promise_context(ctx, ticket, received_at),
               "maintenance": under_way_context(session, ctx, ticket, received_at)}
    to_customer(session, ctx, ticket, kind="acknowledgement", cause_key=f"ack:{ticket.id}",
                template="acknowledgement", now=received_at, context=context,
                thread=(first_message_id, (first_message_id,)))


def public_update(session: Session, ctx: MailContext, ticket: Ticket, now: datetime, actor: str) -> None:
    """An engineer wrote to the customer: first response met (if pending), update clock re-armed."""
    policy = ctx.config.policy
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        clocks.stop(session, policy, ticket, "first_response", now, actor)
    ticket.last_public_update_at = now
    clocks.rearm_update(session, policy, ticket, now)
    refresh_next_deadline(session, policy, ticket)
    record(session, ticket.id, "public-response", now, actor=actor)


def set_status(session: Session, ctx: MailContext, ticket: Ticket, status: str, now: datetime, actor: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    old = ticket.status
    if old == status:
        return
    settled_at = _settled_since(session, ticket) if old in SETTLED and status not in SETTLED else None
    policy = ctx.config.policy
    plan = policy.plan(ticket.plan)
    ticket.status, ticket.status_since, ticket.updated_at = status, now, now
    record(session, ticket.id, "status-changed", now, actor=actor, old=old, new=status)
    if settled_at is not None:
        # Reopened: what settling the ticket stopped runs again (the customer says it is not solved).
        clocks.reopen(session, policy, ticket, settled_at, now)
    was_paused, paused = old in plan.pause_statuses, status in plan.pause_statuses
    if paused and not was_paused:
        clocks.pause(session, policy, ticket, now)
    elif was_paused and not paused:
        clocks.resume(session, policy, ticket, now)
    if status in SETTLED:
        # Waiting for the customer to confirm, or done: no more "still working on it" notices.
        for name in ("workaround", "resolution", "update"):
            clocks.stop(session, policy, ticket, name, now, actor)
    if status in CLOSED_STATUSES:
        clocks.stop(session, policy, ticket, "first_response", now, actor)
    if status in SETTLED and ticket.priority == "P1" and old not in SETTLED:
        _root_cause_followup(session, ctx, ticket, now)
    refresh_next_deadline(session, policy, ticket)


def _settled_since(session: Session, ticket: Ticket) -> datetime | None:
    """When the ticket last went from being worked to settled (resolution proposed, resolved,
    closed): the clocks of the work stopped then, however many settled statuses followed."""
    for at, detail in session.execute(select(Event.at, Event.detail).where(
            Event.ticket_id == ticket.id, Event.kind == "status-changed").order_by(Event.id.desc())):
        if isinstance(detail, dict) and detail.get("new") in SETTLED and detail.get("old") not in SETTLED:
            return at  # type: ignore[no-any-return]
    return ticket.status_since


def _root_cause_followup(session: Session, ctx: MailContext, ticket: Ticket, now: datetime) -> None:
    """Third seed: when a P1 is resolved, a P3 follow-up case for the root cause analysis."""
    plan = ctx.config.policy.plan(ticket.plan)
    if plan.root_cause_followup.kind == "none":
        return
    if session.scalar(select(Event.id).where(Event.ticket_id == ticket.id, Event.kind == "root-cause-followup")
                      .limit(1)) is not None:
        return  # one follow-up per outage, however often its resolution is proposed
    follow = Ticket(subject=f"Root cause analysis for #{ticket.id}: {ticket.subject}", status="open",
                    priority="P3", plan=ticket.plan, organisation=ticket.organisation,
                    customer_address=ticket.customer_address, customer_name=ticket.customer_name,
                    verified=ticket.verified, tags=["root-cause"], created_at=now, updated_at=now,
                    status_since=now, timezone=ticket.timezone, parent_id=ticket.id, language=ticket.language,
                    assignee=ticket.assignee, route_group=ticket.route_group)
    session.add(follow)
    session.flush()
    calendar = ctx.config.policy.calendar(plan.calendar, ticket.timezone)
    due = deadline(plan.root_cause_followup, now, calendar)
    record(session, follow.id, "ticket-opened", now, parent=ticket.id, reason="root cause analysis",
           due=due.isoformat() if due else None)
    record(session, ticket.id, "root-cause-followup", now, ticket=follow.id)
    clocks.start_clocks(session, ctx.config.policy, follow, now)
    # Support opens this case itself: nobody waits for a first response on it.
    follow.first_response_at = now
    clocks.stop(session, ctx.config.policy, follow, "first_response", now, "gateway")
    if due is not None:
        clocks.set_deadline(session, ctx.config.policy, follow, "resolution", plan.root_cause_followup,
                            calendar.name, now, due)
    refresh_next_deadline(session, ctx.config.policy, follow)


def set_priority(session: Session, ctx: MailContext, ticket: Ticket, priority: str, now: datetime, actor: str,
                 reason: str = "") -> None:
    """Change the priority; the clocks still running restart on the new priority's targets."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}; one of {', '.join(PRIORITIES)}")
    if priority == ticket.priority:
        return
    old = ticket.priority
    ticket.priority, ticket.updated_at = priority, now
    record(session, ticket.id, "priority-changed", now, actor=actor, old=old, new=priority, reason=reason)
    policy = ctx.config.policy
    running = [c for c in clocks.clocks_of(session, ticket.id) if c.stopped_at is None]
    for c in running:
        # Out of the ticket's collection too: start_clocks below starts what the collection lacks,
        # and a deleted clock left in it kept the new priority's first-response clock from starting.
        ticket.clocks.remove(c)
        session.delete(c)
    session.flush()
    clocks.start_clocks(session, policy, ticket, now)
    if ticket.status in policy.plan(ticket.plan).pause_statuses:
        clocks.pause(session, policy, ticket, now)  # waiting for the customer still: the new targets wait too
    refresh_next_deadline(session, policy, ticket)
