"""Escalation tiers: which are due on a ticket, mailed once per trigger, repeated until acknowledged."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.escalation import EscalationPolicy, Tier
from gateway.escalation.mail import send_round, send_status_notice
from gateway.escalation.recipients import resolve
from gateway.escalation.timing import (
    CLOSED,
    TicketState,
    applies,
    live,
    next_round_at,
    next_wakeup,
    status_notice_at,
    store_schedule,
    trigger_instant,
)
from gateway.outbound.context import MailContext
from gateway.store.models import Escalation, Ticket

log = logging.getLogger("gateway.sla")


def ticket_policy(ctx: MailContext, ticket: Ticket) -> EscalationPolicy | None:
    """The escalation policy the ticket's plan names, if any."""
    name = ctx.config.policy.plan(ticket.plan).escalation
    return ctx.config.escalation.policies.get(name) if name else None


def fire_due_tiers(session: Session, ctx: MailContext, ticket: Ticket, now: datetime) -> None:
    """Fire every tier due at ``now`` (in ladder order), send due repeats and status notices, and store
    when to look again. Each tier fires once per ticket: its row is unique, and each mail has its cause."""
    if ctx.config.policy.plan(ticket.plan).escalation is None:
        return
    policy = ticket_policy(ctx, ticket)
    if policy is None or ticket.status in CLOSED:
        store_schedule(session, ticket, None, now)
        return
    state = TicketState.load(session, ctx.config.policy, ticket, policy)
    for tier in policy.tiers:
        row = state.rows.get(tier.name)
        if row is None:
            due = trigger_instant(state, tier) if applies(state, tier) else None
            if due is not None and due <= now:
                _fire(ctx, state, tier, due, now)
            continue
        repeat = next_round_at(tier, row)
        if repeat is not None and repeat <= now and live(state, tier, row):
            row.rounds += 1
            row.last_round_at = now
            _mail(ctx, state, tier, row, now)
        notice = status_notice_at(state, tier, row)
        if notice is not None and notice <= now:
            send_status_notice(ctx, state, tier, row, now)
    store_schedule(session, ticket, next_wakeup(state, now), now)


def _fire(ctx: MailContext, state: TicketState, tier: Tier, due: datetime, now: datetime) -> None:
    row = Escalation(ticket_id=state.ticket.id, policy=state.policy.name, tier=tier.name, trigger_at=due,
                     fired_at=now, rounds=1, last_round_at=now)
    state.session.add(row)
    state.session.flush()  # the unique (ticket, policy, tier) row: a second process fails here, not twice
    state.rows[tier.name] = row
    log.warning("#%d: escalation %s/%s fired (%s, due %s)", state.ticket.id, state.policy.name, tier.name,
                tier.trigger.text, due.isoformat())
    _mail(ctx, state, tier, row, now)


def _mail(ctx: MailContext, state: TicketState, tier: Tier, row: Escalation, now: datetime) -> None:
    extra = state.rule_contacts if tier.pages else ()
    recipients = resolve(ctx, state.ticket, tier.notify, now, extra)
    if not recipients:
        log.error("#%d: escalation %s/%s names nobody at %s (check [oncall] and the contacts' roles)",
                  state.ticket.id, state.policy.name, tier.name, now.isoformat())
    send_round(ctx, state, tier, row, recipients, now)


def reschedule(session: Session, ctx: MailContext, ticket: Ticket, now: datetime) -> None:
    """Store the ticket's next escalation instant without firing anything (after an acknowledgement)."""
    policy = ticket_policy(ctx, ticket)
    if ctx.config.policy.plan(ticket.plan).escalation is None:
        return
    if policy is None:
        store_schedule(session, ticket, None, now)
        return
    store_schedule(session, ticket, next_wakeup(TicketState.load(session, ctx.config.policy, ticket, policy), now),
                   now)


def acknowledge_tiers(session: Session, ctx: MailContext, ticket: Ticket, by: str, now: datetime,
                      tier: str | None = None) -> list[str]:
    """Mark the ticket's unacknowledged tiers (or just ``tier``) as taken by ``by``; return their names.

    An acknowledged tier repeats no more, and a tier that follows it ("+30m after previous") does not
    fire; a later tier on its own trigger (a breach still to come) still does.
    """
    # The ticket row first, as the scheduler takes it: an ack racing a round waits, it cannot deadlock.
    session.execute(select(Ticket.id).where(Ticket.id == ticket.id).with_for_update())
    query = select(Escalation).where(Escalation.ticket_id == ticket.id, Escalation.acknowledged_at.is_(None))
    if tier is not None:
        query = query.where(Escalation.tier == tier)
    names = []
    for row in session.scalars(query.order_by(Escalation.id)):
        row.acknowledged_at, row.acknowledged_by = now, by
        names.append(row.tier)
    session.flush()
    reschedule(session, ctx, ticket, now)
    return names
