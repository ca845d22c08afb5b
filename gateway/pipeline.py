"""What processing one inbound mail does, inside the processor's transaction."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import reply_token
from gateway.app import App
from gateway.correlate import Correlation, correlate
from gateway.models import AddressFlag, InboundMessage, Message, OutboxMessage, Ticket
from gateway.outbox import Draft, queue
from gateway.tickets import add_message, open_ticket, record
from parsers import ParsedMail, Verdict, parse, screen

log = logging.getLogger("gateway.process")

HARD_BOUNCES_BEFORE_UNDELIVERABLE = 3
DEFAULT_PRIORITY = "P3"
DONE_STATES = ("done", "screened", "held", "duplicate")


def dedupe_key(mail: ParsedMail) -> str:
    return hashlib.sha256(f"{mail.message_id}\0{mail.body_hash}".encode("utf-8", "surrogateescape")).hexdigest()


def process_inbound(session: Session, app: App, row: InboundMessage, now: datetime) -> str:
    """Apply one stored mail; return its outcome. Raises to have the mail quarantined."""
    mail = parse(row.raw, received_at=row.received_at, limits=app.limits)
    key = dedupe_key(mail)
    row.message_id, row.dedupe_key = mail.message_id[:998], key
    earlier = session.scalar(select(InboundMessage.id).where(
        InboundMessage.dedupe_key == key, InboundMessage.id != row.id,
        InboundMessage.state.in_(DONE_STATES)).limit(1))
    if earlier is not None:
        row.state, row.reason = "duplicate", f"same Message-ID and body as inbound {earlier}"
        record(session, None, "duplicate", now, inbound_id=row.id, earlier=earlier,
               message_id=mail.message_id)
        return "duplicate"
    envelope_rcpts = tuple(row.rcpt_to or ())
    verdict = screen(mail, app.own, envelope_from=row.mail_from)
    corr = correlate(session, mail, envelope_rcpts, support_addresses=app.support_addresses,
                     secret=app.secret)
    if verdict.kind != "clean":
        return _screened(session, app, row, mail, verdict, corr, now)
    if corr.ticket_id is not None:
        ticket = session.get(Ticket, corr.ticket_id)
        assert ticket is not None
        add_message(session, ticket, mail, inbound_id=row.id, kind="customer", now=now,
                    blocked_types=app.config.processing.blocked_attachment_types,
                    attachment_max_size=app.config.processing.attachment_max_size)
        record(session, ticket.id, "customer-reply", now, inbound_id=row.id, via=corr.via,
               actor=mail.sender.key if mail.sender else "", message_id=mail.message_id)
        row.state, row.ticket_id = "done", ticket.id
        log.info("%s: added to ticket #%d (via %s)", mail.message_id, ticket.id, corr.via)
        return "reply"
    return _new_ticket(session, app, row, mail, now)


def _new_ticket(session: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime) -> str:
    if mail.sender is None:
        row.state, row.verdict = "screened", "no-sender"
        row.reason = "no usable From address: nobody to open a ticket for or to answer"
        record(session, None, "screened", now, inbound_id=row.id, verdict="no-sender",
               reason=row.reason)
        return "screened"
    ticket = open_ticket(session, mail, priority=DEFAULT_PRIORITY, plan=app.config.gateway.default_plan,
                         organisation=None, verified=True, now=now)
    add_message(session, ticket, mail, inbound_id=row.id, kind="customer", now=now,
                blocked_types=app.config.processing.blocked_attachment_types,
                attachment_max_size=app.config.processing.attachment_max_size)
    record(session, ticket.id, "ticket-opened", now, inbound_id=row.id, actor=mail.sender.key,
           priority=ticket.priority, plan=ticket.plan, message_id=mail.message_id)
    row.state, row.ticket_id = "done", ticket.id
    queue_acknowledgement(session, app, ticket, mail, now)
    log.info("%s: opened ticket #%d", mail.message_id, ticket.id)
    return "ticket"


def queue_acknowledgement(session: Session, app: App, ticket: Ticket, mail: ParsedMail, now: datetime,
                          *, promise: str | None = None, template: str = "acknowledgement") -> None:
    assert mail.sender is not None
    flag = session.get(AddressFlag, mail.sender.key)
    if flag is not None and flag.undeliverable:
        record(session, ticket.id, "mail-suppressed", now, kind="acknowledgement",
               reason=f"{mail.sender.key} is flagged undeliverable after repeated hard bounces")
        return
    rendered = app.templates.render(template, _context(app, ticket, mail, promise))
    token = reply_token.make_token(app.secret, ticket.id)
    queue(session, app.outbox_policy, Draft(
        kind="acknowledgement", cause_key=f"ack:{ticket.id}", ticket_id=ticket.id,
        to=((mail.sender.name, mail.sender.addr),), subject=rendered.subject, text=rendered.text,
        html=rendered.html, in_reply_to=mail.message_id,
        references=(*mail.references, mail.message_id),
        reply_to=reply_token.reply_address(app.config.gateway.support_address, ticket.id, token)), now)


def _context(app: App, ticket: Ticket, mail: ParsedMail, promise: str | None) -> dict[str, Any]:
    sender = mail.sender
    return {
        "ticket": {"number": ticket.id, "subject": ticket.subject, "priority": ticket.priority,
                   "plan": ticket.plan, "status": ticket.status},
        "customer": {"name": sender.name if sender else "", "address": sender.addr if sender else ""},
        "support": {"name": app.config.gateway.name, "address": app.config.gateway.support_address},
        "promise": promise,
    }


def _screened(session: Session, app: App, row: InboundMessage, mail: ParsedMail, verdict: Verdict,
              corr: Correlation, now: datetime) -> str:
    row.state, row.verdict, row.reason = "screened", verdict.kind, verdict.reason
    if verdict.kind == "bounce" and verdict.bounce is not None:
        _tie_bounce(session, row, verdict, now)
    if corr.ticket_id is not None:
        ticket = session.get(Ticket, corr.ticket_id)
        assert ticket is not None
        add_message(session, ticket, mail, inbound_id=row.id, kind=verdict.kind, now=now)
        row.ticket_id = ticket.id
    record(session, row.ticket_id, "screened", now, inbound_id=row.id, verdict=verdict.kind,
           reason=verdict.reason, message_id=mail.message_id)
    log.info("%s: screened as %s: %s", mail.message_id, verdict.kind, verdict.reason)
    return "screened"


def _tie_bounce(session: Session, row: InboundMessage, verdict: Verdict, now: datetime) -> None:
    """A bounce of one of our mails marks that outbox row failed, for engineers to see."""
    assert verdict.bounce is not None
    ids = list(verdict.bounce.original_message_ids)
    if not ids:
        return
    for out in session.scalars(select(OutboxMessage).where(OutboxMessage.message_id.in_(ids))):
        session.execute(update(OutboxMessage).where(OutboxMessage.id == out.id).values(
            state="bounced", last_error=verdict.reason[:500]))
        row.ticket_id = row.ticket_id or out.ticket_id
        record(session, out.ticket_id, "delivery-failed", now, inbound_id=row.id, kind=out.kind,
               message_id=out.message_id, to=out.rcpt_to, permanent=verdict.bounce.permanent,
               reason=verdict.reason)
        if verdict.bounce.permanent:
            for address in out.rcpt_to:
                _flag_hard_bounce(session, address.lower(), now)
    message = session.scalar(select(Message).where(Message.message_id.in_(ids)).limit(1))
    if message is not None:
        row.ticket_id = row.ticket_id or message.ticket_id


def _flag_hard_bounce(session: Session, address: str, now: datetime) -> None:
    flag = session.get(AddressFlag, address)
    if flag is None:
        flag = AddressFlag(address=address, hard_bounces=0, undeliverable=False, updated_at=now)
        session.add(flag)
    flag.hard_bounces += 1
    flag.updated_at = now
    if flag.hard_bounces >= HARD_BOUNCES_BEFORE_UNDELIVERABLE:
        flag.undeliverable = True
