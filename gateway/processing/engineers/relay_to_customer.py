"""An engineer's reply relayed to the customer: a fresh mail from the support address, in their thread."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Engineer
from gateway.outbound import reply_token
from gateway.outbound.compose import OutAttachment
from gateway.outbound.notices import base_context, thread_headers
from gateway.outbound.outbox import Draft, queue
from gateway.processing.engineers.identity import engineer_by_address
from gateway.store.models import AddressFlag, Participant, Ticket
from gateway.store.tickets import record

# Kinds of messages only engineers see: their ids never go into the customer's References.


def customer_side(session: Session, app: App, ticket: Ticket) -> list[tuple[str, str]]:
    """The customer first, then the ticket's other customer-side participants, deliverable ones only."""
    people: dict[str, str] = {}
    if ticket.customer_address:
        people[ticket.customer_address.lower()] = ticket.customer_name
    for p in session.scalars(select(Participant).where(Participant.ticket_id == ticket.id)
                             .order_by(Participant.id)):
        people.setdefault(p.address.lower(), p.name)
    kept = []
    for address, name in people.items():
        if engineer_by_address(app.config.staff, address) is not None or \
                reply_token.is_support_recipient(address, app.support_addresses):
            continue
        flag = session.get(AddressFlag, address)
        if flag is not None and flag.undeliverable:
            continue
        kept.append((name, address))
    return kept


def relay(session: Session, app: App, ticket: Ticket, engineer: Engineer, text: str, *, cause: str,
          already_sent_to: frozenset[str], now: datetime, attachments: tuple[OutAttachment, ...] = ()) -> bool:
    """Queue ``text`` to the customer side as "<engineer> via <support>"; True when the customer got it.

    Nothing of the engineer's mail but ``text`` and the files in ``attachments`` is used: headers,
    quoted history and signature stay behind. People the engineer already wrote to directly (in
    To or Cc) are not sent a second copy.
    """
    side = customer_side(session, app, ticket)
    people = [(n, a) for n, a in side if a not in already_sent_to]
    if not people:
        direct = any(a in already_sent_to for _n, a in side)
        record(session, ticket.id, "relay-skipped", now, actor=engineer.address,
               reason="the engineer wrote to the customer directly" if direct
               else "no deliverable customer-side address")
        return direct
    in_reply_to, refs = thread_headers(session, ticket)
    rendered = app.templates.render("engineer_reply", {
        **base_context(app, ticket), "reply": text, "engineer": {"name": engineer.name, "handle": engineer.handle}},
        language=ticket.language or app.config.gateway.language)
    token = reply_token.make_token(app.secret, ticket.id)
    return queue(session, app.outbox_policy, Draft(
        kind="relay", cause_key=cause, ticket_id=ticket.id, to=(people[0],), cc=tuple(people[1:]),
        subject=rendered.subject, text=rendered.text, in_reply_to=in_reply_to, references=refs,
        reply_to=reply_token.reply_address(app.config.gateway.support_address, ticket.id, token),
        from_name=f"{engineer.name} via {app.config.gateway.name}", auto_submitted=None,
        attachments=attachments), now) is not None
