"""Mail to a ticket's customer, threaded into their conversation: acknowledgements and SLA notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.outbound import reply_token
from gateway.outbound.context import MailContext
from gateway.outbound.locale_format import Moment
from gateway.outbound.outbox import Draft, queue
from gateway.store.models import Message, Ticket


def local_time(instant: datetime | None, zone: str | ZoneInfo | None) -> Moment | None:
    """``Monday 23 November 10:15 AEDT``: how a promise reads in the reader's own time zone (a
    Moment: the ``format_datetime`` filter writes it in the reader's language)."""
    if instant is None:
        return None
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone or "UTC")
    local = instant.astimezone(tz)
    return Moment(f"{local:%A} {local.day} {local:%B %Y %H:%M %Z}", instant, tz)


# Messages the customer never saw: their Message-IDs stay out of customer-facing References.
INTERNAL_KINDS = ("engineer", "note", "commands", "engineer-notification", "engineer-alert", "command-refused",
                  "update-reminder", "escalation", "on-call-page", "rule-notification", "stage-notice",
                  "stage-progress")


def thread_headers(session: Session, ticket: Ticket) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To the customer's latest mail, References the customer's conversation (capped)."""
    ids = list(session.scalars(select(Message.message_id).where(
        Message.ticket_id == ticket.id, Message.kind.not_in(INTERNAL_KINDS)).order_by(Message.id)))
    customer = session.scalar(select(Message.message_id).where(
        Message.ticket_id == ticket.id, Message.direction == "in", Message.kind == "customer")
        .order_by(Message.id.desc()).limit(1))
    refs = tuple(dict.fromkeys(ids))[-20:]
    return customer or (ids[-1] if ids else None), refs


def base_context(ctx: MailContext, ticket: Ticket, now: datetime | None = None) -> dict[str, Any]:
    """The ticket, its customer and the support desk as every template sees them. The estimated
    time to resolution (``ticket.eta``) is in the customer's time zone, and only while it is
    ahead of ``now``: a notice never states an estimate that has already passed."""
    eta = ticket.eta if ticket.eta is not None and (now is None or ticket.eta > now) else None
    return {
        "ticket": {"number": ticket.id, "subject": ticket.subject, "priority": ticket.priority,
                   "plan": ticket.plan, "status": ticket.status,
                   "eta": local_time(eta, ticket.timezone or ctx.config.gateway.timezone) if eta else None},
        "customer": {"name": ticket.customer_name, "address": ticket.customer_address},
        "support": {"name": ctx.config.gateway.name, "address": ctx.config.gateway.support_address},
    }


def to_customer(session: Session, ctx: MailContext, ticket: Ticket, *, kind: str, cause_key: str, template: str,
                now: datetime, context: dict[str, Any] | None = None,
                thread: tuple[str | None, tuple[str, ...]] | None = None) -> str | None:
    """Render ``template`` for the ticket's customer and queue it once for ``cause_key``.

    ``thread`` is (In-Reply-To, References) when the caller knows them (a new ticket's only
    mail); otherwise they are read from the ticket's conversation.
    """
    if not ticket.customer_address:
        return None
    rendered = ctx.templates.render(template, {**base_context(ctx, ticket, now), **(context or {})},
                                    language=ticket.language or ctx.config.gateway.language,
                                    timezone=ticket.timezone or ctx.config.gateway.timezone.key)
    in_reply_to, refs = thread if thread is not None else thread_headers(session, ticket)
    token = reply_token.make_token(ctx.secret, ticket.id)
    return queue(session, ctx.outbox_policy, Draft(
        kind=kind, cause_key=cause_key, ticket_id=ticket.id,
        to=((ticket.customer_name, ticket.customer_address),), subject=rendered.subject, text=rendered.text,
        html=rendered.html, in_reply_to=in_reply_to, references=refs,
        reply_to=reply_token.reply_address(ctx.config.gateway.support_address, ticket.id, token)), now)
