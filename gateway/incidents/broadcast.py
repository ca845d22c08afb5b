"""One post, everyone affected once: each linked ticket's customer in their own thread, each status contact.

Every mail has its cause key (the incident, the post, and the ticket or the address), so a post
reaches each recipient once across restarts and processes, and broadcasting it again (when a
ticket joins later) reaches only those it has not reached yet. The caps of ``[outbound]`` apply:
it is automatic mail to the outside world.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.customers import Organisation
from gateway.incidents.records import Reach, linked_tickets, organisations
from gateway.outbound import reply_token
from gateway.outbound.context import MailContext
from gateway.outbound.notices import base_context, local_time, thread_headers
from gateway.outbound.outbox import Draft, queue
from gateway.store.models import AddressFlag, Incident, IncidentPost, OutboxMessage, Participant, Ticket
from gateway.store.tickets import record
from gateway.tickets.workflow import SETTLED, public_update

# What a post is, and the outbox kinds of its mail: in a ticket's thread, and to status contacts.
POST_KINDS = ("update", "restored", "report")


def ticket_cause(incident_id: int, post_id: int, ticket_id: int) -> str:
    return f"incident:{incident_id}:post:{post_id}:ticket:{ticket_id}"


def status_cause(incident_id: int, address: str, post_id: int) -> str:
    return f"incident:{incident_id}:status:{address.lower()}:post:{post_id}"


def incident_context(incident: Incident, zone: ZoneInfo | str) -> dict[str, Any]:
    return {"number": incident.id, "title": incident.title, "priority": incident.priority,
            "status": incident.status, "opened": local_time(incident.opened_at, zone),
            "resolved": local_time(incident.resolved_at, zone)}


def post_context(ctx: MailContext, post: IncidentPost, zone: ZoneInfo | str) -> dict[str, Any]:
    person = ctx.config.staff.person(post.by, ctx.config.gateway.timezone)
    return {"kind": post.kind, "text": post.text, "at": local_time(post.at, zone),
            "by": person.name if person is not None else post.by,
            "report": ctx.config.incidents.report_kinds().get(post.report or "", post.report)}


def broadcast(session: Session, ctx: MailContext, incident: Incident, post: IncidentPost, now: datetime) -> Reach:
    """Queue ``post`` to everyone the incident affects who has not had it yet; say whom it reached."""
    tickets = linked_tickets(session, incident.id)
    reached = [t.id for t in tickets if _to_ticket(session, ctx, incident, post, t, now)]
    told = {a for t in tickets for _n, a in customer_side(session, t)}
    status: list[str] = []
    for org in organisations(ctx, tickets):
        for address in org.status_contacts:
            if address in told:
                continue  # a customer of a linked ticket: told in their own thread
            told.add(address)
            if _to_status_contact(session, ctx, incident, post, org, address, tickets, now):
                status.append(address)
    return Reach(tuple(reached), tuple(status))


def customer_side(session: Session, ticket: Ticket) -> list[tuple[str, str]]:
    """The ticket's customer first, then its other participants: the people an engineer's reply reaches."""
    people: dict[str, str] = {}
    if ticket.customer_address:
        people[ticket.customer_address.lower()] = ticket.customer_name
    for p in session.scalars(select(Participant).where(Participant.ticket_id == ticket.id).order_by(Participant.id)):
        people.setdefault(p.address.lower(), p.name)
    return [(name, address) for address, name in people.items()]


def _deliverable(session: Session, ctx: MailContext, people: list[tuple[str, str]]) -> list[tuple[str, str]]:
    kept = []
    for name, address in people:
        if reply_token.is_support_recipient(address, ctx.support_addresses):
            continue
        flag = session.get(AddressFlag, address)
        if flag is None or not flag.undeliverable:
            kept.append((name, address))
    return kept


def _to_ticket(session: Session, ctx: MailContext, incident: Incident, post: IncidentPost, ticket: Ticket,
               now: datetime) -> bool:
    """The post in the ticket's thread, as a public update; True when it was queued now."""
    people = _deliverable(session, ctx, customer_side(session, ticket))
    if not people:
        return False
    zone = ticket.timezone or ctx.config.gateway.timezone.key
    rendered = ctx.templates.render("incident_notice", {
        **base_context(ctx, ticket), "incident": incident_context(incident, zone),
        "post": post_context(ctx, post, zone)},
        language=ticket.language or ctx.config.gateway.language, timezone=zone)
    in_reply_to, refs = thread_headers(session, ticket)
    token = reply_token.make_token(ctx.secret, ticket.id)
    queued = queue(session, ctx.outbox_policy, Draft(
        kind=f"incident-{post.kind}", cause_key=ticket_cause(incident.id, post.id, ticket.id), ticket_id=ticket.id,
        to=tuple(people[:1]), cc=tuple(people[1:]), subject=rendered.subject, text=rendered.text, html=rendered.html,
        in_reply_to=in_reply_to, references=refs,
        reply_to=reply_token.reply_address(ctx.config.gateway.support_address, ticket.id, token),
        auto_submitted="auto-generated"), now)
    if queued is None:
        return False
    record(session, ticket.id, "incident-mail", now, actor=post.by, incident=incident.id, post=post.id,
           kind=post.kind, report=post.report, message_id=queued)
    if post.kind != "report" and ticket.status not in SETTLED:
        # What the incident says is said to this customer: their update clock starts again.
        public_update(session, ctx, ticket, now, post.by)
    return True


def _first_status_mail(session: Session, incident_id: int, address: str) -> str | None:
    """The first mail this status contact had about the incident: the later ones thread under it."""
    prefix = f"incident:{incident_id}:status:{address.lower()}:"
    return session.scalar(select(OutboxMessage.message_id).where(
        OutboxMessage.cause_key.startswith(prefix, autoescape=True)).order_by(OutboxMessage.id).limit(1))


def _to_status_contact(session: Session, ctx: MailContext, incident: Incident, post: IncidentPost,
                       org: Organisation, address: str, tickets: list[Ticket], now: datetime) -> bool:
    if _deliverable(session, ctx, [("", address)]) == []:
        return False
    zone = org.timezone or ctx.config.gateway.timezone
    first = _first_status_mail(session, incident.id, address)
    rendered = ctx.templates.render("incident_status", {
        "incident": incident_context(incident, zone), "post": post_context(ctx, post, zone),
        "organisation": {"name": org.name, "tickets": [t.id for t in tickets if t.organisation == org.name]},
        "recipient": {"address": address},
        "support": {"name": ctx.config.gateway.name, "address": ctx.config.gateway.support_address}},
        language=org.contact_language(address) or org.language or ctx.config.gateway.language, timezone=zone.key)
    return queue(session, ctx.outbox_policy, Draft(
        kind=f"status-{post.kind}", cause_key=status_cause(incident.id, address, post.id), ticket_id=None,
        to=(("", address),),
        subject=rendered.subject, text=rendered.text, html=rendered.html, in_reply_to=first,
        references=(first,) if first else (), auto_submitted="auto-generated"), now) is not None
