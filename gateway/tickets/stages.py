"""Entering a stage of the ticket's plan (``#escalate STAGE``): the stage's clocks start, its people are
told once, then kept informed at the stage's cadence until the ticket is resolved or closed."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.config.plans import Plan
from gateway.config.stages import Stage
from gateway.escalation.recipients import resolve
from gateway.outbound.context import MailContext
from gateway.sla.clocks import pause, start_clocks
from gateway.store.models import CLOSED_STATUSES, Ticket
from gateway.store.tickets import record
from gateway.tickets.stage_mail import ENTERED, PROGRESS, tell
from gateway.tickets.wakeup import refresh_next_deadline
from gateway.tickets.workflow import SETTLED
from gateway.time.durations import deadline

log = logging.getLogger("gateway.sla")


def stage_refusal(ctx: MailContext, ticket: Ticket, name: str) -> str | None:
    """Why ``ticket`` cannot enter stage ``name`` (its plan has no such stage, or the ticket is done)."""
    plan = ctx.config.policy.plan(ticket.plan)
    if name not in plan.stages:
        if not plan.stages:
            return f"plan {plan.name!r} has no stages: there is nothing to escalate ticket #{ticket.id} to"
        known = ", ".join(f"{s.name} ({s.title})" for s in plan.stages.values())
        return f"plan {plan.name!r} has no stage {name!r}; its stages are: {known}"
    if ticket.status in SETTLED:
        return f"ticket #{ticket.id} is {ticket.status}: reopen it first (#status open)"
    return None


def informing(plan: Plan, ticket: Ticket) -> Stage | None:
    """The stage whose people are kept informed: the last one entered that has a cadence."""
    for name in reversed(ticket.stages or ()):
        stage = plan.stages.get(name)
        if stage is not None and stage.inform_every is not None:
            return stage
    return None


def enter_stage(session: Session, ctx: MailContext, ticket: Ticket, name: str, now: datetime, actor: str) -> bool:
    """The ticket enters stage ``name`` (checked by ``stage_refusal``) at ``now``: False, and nothing
    changed, when it had entered it already (its clocks are not restarted, nobody is told twice)."""
    policy = ctx.config.policy
    plan = policy.plan(ticket.plan)
    stage = plan.stages[name]
    if name in (ticket.stages or ()):
        record(session, ticket.id, "stage-repeated", now, actor=actor, stage=name)
        return False
    ticket.stages = [*(ticket.stages or ()), name]
    ticket.stage_at, ticket.updated_at = now, now
    started = start_clocks(session, policy, ticket, now, only=stage.starts)
    if started and ticket.status in plan.pause_statuses:
        pause(session, policy, ticket, now)  # waiting for the customer: the new promise waits too
    if stage.inform_every is not None:
        ticket.inform_at = deadline(stage.inform_every, now, policy.calendar(plan.calendar, ticket.timezone))
    told = tell(session, ctx, ticket, stage, ENTERED, resolve(ctx, ticket, stage.notify, now), now,
                started=tuple(c.name for c in started))
    record(session, ticket.id, "stage-entered", now, actor=actor, stage=name, title=stage.title,
           clocks={c.name: c.deadline.isoformat() if c.deadline else None for c in started}, to=told,
           inform_at=ticket.inform_at.isoformat() if ticket.inform_at and stage.inform_every else None)
    log.info("#%d: entered stage %s; started %s", ticket.id, name, ", ".join(c.name for c in started) or "no clock")
    refresh_next_deadline(session, policy, ticket)
    return True


def inform_due(session: Session, ctx: MailContext, ticket: Ticket, now: datetime) -> None:
    """The progress mail of the period that ended at ``ticket.inform_at``, if it has come; the next
    period is set from it (from ``now`` after a gap, so a gateway that was down sends one, not a burst)."""
    due = ticket.inform_at
    if due is None or due > now or ticket.status in CLOSED_STATUSES:
        return
    policy = ctx.config.policy
    stage = informing(policy.plan(ticket.plan), ticket)
    if stage is None or stage.inform_every is None:
        ticket.inform_at = None  # the plan no longer keeps anyone informed on this ticket
        return
    calendar = policy.calendar(policy.plan(ticket.plan).calendar, ticket.timezone)
    following = deadline(stage.inform_every, due, calendar)
    if following is not None and following <= now:
        following = deadline(stage.inform_every, now, calendar)
    ticket.inform_at = following
    told = tell(session, ctx, ticket, stage, PROGRESS, resolve(ctx, ticket, stage.notify, now), now, period=due)
    record(session, ticket.id, "stage-progress", now, stage=stage.name, due=due.isoformat(), to=told,
           next=following.isoformat() if following else None)
