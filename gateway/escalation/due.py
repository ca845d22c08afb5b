"""What the scheduler asks of escalation: tiers due on a ticket, and reminders to engineers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.escalation.tiers import fire_due_tiers
from gateway.outbound.context import MailContext
from gateway.outbound.notices import base_context, local_time
from gateway.outbound.outbox import Draft, queue
from gateway.store.models import Ticket
from gateway.store.tickets import record


def engineer_addresses(ctx: MailContext, ticket: Ticket) -> list[tuple[str, str]]:
    """Who works the ticket: its assignee, else the members of its routed group."""
    staff = ctx.config.staff
    if ticket.assignee:
        engineer = staff.engineer(ticket.assignee)
        if engineer is not None:
            return [(engineer.name, engineer.address)]
    if ticket.route_group:
        return [(a.name, a.address) for a in staff.group_members(ticket.route_group)]
    return []


def remind_engineers(session: Session, ctx: MailContext, ticket: Ticket, due: datetime, now: datetime) -> None:
    """An update to the customer is due soon: remind whoever works the ticket, once per deadline."""
    recipients = engineer_addresses(ctx, ticket)
    if not recipients:
        return
    zone = ctx.config.gateway.timezone.key
    rendered = ctx.templates.render("update_reminder", {**base_context(ctx, ticket),
                                                        "sla": {"due": local_time(due, zone)}})
    queue(session, ctx.outbox_policy, Draft(
        kind="update-reminder", cause_key=f"reminder:{ticket.id}:{due.isoformat()}", ticket_id=ticket.id,
        to=tuple(recipients), subject=rendered.subject, text=rendered.text, auto_submitted="auto-generated"), now)
    record(session, ticket.id, "update-reminder", now, due=due.isoformat(), to=[a for _n, a in recipients])


def escalate(session: Session, ctx: MailContext, ticket: Ticket, now: datetime) -> None:
    """Fire the escalation tiers due on ``ticket`` (each once per trigger, repeats counted apart)."""
    fire_due_tiers(session, ctx, ticket, now)
