"""Acknowledging an escalation: the contact has it, so the repeats for that tier stop."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.escalation.tiers import acknowledge_tiers
from gateway.outbound.context import MailContext
from gateway.store.models import OutboxMessage, Ticket
from gateway.store.tickets import record
from gateway.tickets.wakeup import refresh_next_deadline


def who(ctx: MailContext, by: str) -> str:
    """A contact's or engineer's handle for ``by`` (a handle or an address); else ``by`` as given."""
    staff = ctx.config.staff
    found = staff.contact(by) or staff.engineer(by)
    return found.handle if found is not None else by.strip().lower()


def acknowledge(session: Session, ctx: MailContext, ticket: Ticket, by: str, now: datetime, *,
                tier: str | None = None) -> list[str]:
    """Record that ``by`` (a contact or engineer handle or address) has taken the ticket.

    Without ``tier`` every unacknowledged tier of the ticket is acknowledged (``helpdesk ack``);
    with it, only that one (an ``#ack`` reply to that tier's mail). Returns the tiers acknowledged.
    """
    handle = who(ctx, by)
    tiers = acknowledge_tiers(session, ctx, ticket, handle, now, tier)
    record(session, ticket.id, "escalation-acknowledged", now, actor=handle, tiers=tiers)
    refresh_next_deadline(session, ctx.config.policy, ticket)
    return tiers


def tier_of_mail(session: Session, ticket: Ticket, message_ids: Iterable[str]) -> str | None:
    """The tier whose escalation mail one of ``message_ids`` (a reply's In-Reply-To/References) is."""
    ids = [m for m in message_ids if m]
    if not ids:
        return None
    keys = session.scalars(select(OutboxMessage.cause_key).where(
        OutboxMessage.ticket_id == ticket.id, OutboxMessage.message_id.in_(ids),
        OutboxMessage.kind.in_(("escalation", "on-call-page"))))
    for key in keys:
        parts = key.split(":")  # escalation:TICKET:POLICY:TIER:ROUND:HANDLE
        if len(parts) >= 4:
            return parts[3]
    return None


def acknowledge_reply(session: Session, ctx: MailContext, ticket: Ticket, by: str, now: datetime,
                      replied_to: Iterable[str]) -> list[str]:
    """The ``#ack`` of an in-thread reply: acknowledge the tier of the escalation mail it answers
    (its In-Reply-To and References), or every open tier when it answers none of them."""
    return acknowledge(session, ctx, ticket, by, now, tier=tier_of_mail(session, ticket, replied_to))
