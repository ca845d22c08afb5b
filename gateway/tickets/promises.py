"""Promises made case by case: the estimated time to resolution, and an update cadence agreed with
the customer that replaces the plan's until it is set back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.outbound.context import MailContext
from gateway.sla.agreed import plan_cadence, set_cadence
from gateway.sla.clocks import clock
from gateway.store.models import Ticket
from gateway.store.tickets import record
from gateway.tickets.wakeup import refresh_next_deadline
from gateway.time.durations import Target, format_target


def set_eta(session: Session, ticket: Ticket, eta: datetime | None, now: datetime, actor: str) -> None:
    """The estimate the customer is given in the status and update notices from now on (None: none)."""
    old = ticket.eta
    if old == eta:
        return
    ticket.eta, ticket.updated_at = eta, now
    was = old.isoformat() if old else None
    if eta is None:
        record(session, ticket.id, "eta-cleared", now, actor=actor, was=was)
    else:
        record(session, ticket.id, "eta-set", now, actor=actor, eta=eta.isoformat(), was=was)


def set_update_every(session: Session, ctx: MailContext, ticket: Ticket, target: Target | None, now: datetime,
                     actor: str) -> None:
    """The ticket's own update cadence (``target``), or the plan's again (None); the update clock
    re-arms on it at ``now``. Setting the cadence the ticket already follows changes nothing."""
    policy = ctx.config.policy
    plan = plan_cadence(policy, ticket)
    effective = target if target is not None else plan
    own = format_target(target) if target is not None else None
    current = clock(session, ticket.id, "update")
    running = current.target if current is not None and current.stopped_at is None else None
    unchanged = running == format_target(effective) if running else effective.kind == "none"
    if own == ticket.update_every and unchanged:
        return
    ticket.update_every, ticket.updated_at = own, now
    set_cadence(session, policy, ticket, effective, now, actor)
    record(session, ticket.id, "update-cadence", now, actor=actor, every=format_target(effective),
           agreed=target is not None, plan=format_target(plan))
    refresh_next_deadline(session, policy, ticket)
