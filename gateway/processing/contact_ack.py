"""Replies from escalation contacts (managers, the on-call person): an ``#ack`` by mail.

Escalation mail goes to ``[contacts]`` as well as to engineers, each copy with a Reply-To
token bound to its recipient. A reply from that contact's own address to their own token is
theirs: its ``#ack`` acknowledges the tier of the mail it answers, so the on-call person can
stop the repeats from their phone. Contacts are not engineers: nothing they write reaches the
customer, and ``#ack`` is the only command they may give. The text is kept on the ticket as an
internal note.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Contact
from gateway.outbound import reply_token
from gateway.processing.correlate import candidate_recipients
from gateway.store.claimed import Claimed
from gateway.store.models import Ticket
from gateway.store.tickets import add_message, record
from gateway.tickets.ack import acknowledge_reply
from parsers import ParsedMail
from parsers.commands import parse_reply

log = logging.getLogger("gateway.process")


@dataclass(frozen=True, slots=True)
class ContactReply:
    contact: Contact
    ticket_id: int


def contact_reply(app: App, mail: ParsedMail, envelope_rcpts: tuple[str, ...]) -> ContactReply | None:
    """The contact who wrote, when the mail went to a reply token issued to that same contact."""
    if mail.sender is None or len(mail.header_all("From")) != 1:
        return None
    contact = app.config.staff.contact(mail.sender.key)
    if contact is None:
        return None
    for rcpt in candidate_recipients(mail, envelope_rcpts):
        token = reply_token.parse_reply_address(rcpt, app.support_addresses)
        if token is not None and reply_token.verify(app.secret, token, bound_to=contact.address):
            return ContactReply(contact, token.ticket_id)
    return None


def handle_contact_reply(session: Session, app: App, row: Claimed, mail: ParsedMail, who: ContactReply,
                         now: datetime) -> str:
    """Apply the contact's ``#ack`` and keep their words as an internal note; refuse anything else."""
    contact = who.contact
    ticket = session.get(Ticket, who.ticket_id)
    if ticket is None:
        row.state, row.reason = "held", f"contact {contact.handle}: ticket #{who.ticket_id} does not exist"
        record(session, None, "held", now, inbound_id=row.id, sender=contact.address, reason=row.reason)
        return "held"
    reply = parse_reply(mail.reply_text)
    others = [c.line for c in reply.commands if c.name != "ack"] + [r.line for r in reply.refusals]
    if others:
        row.state, row.ticket_id = "held", ticket.id
        row.reason = (f"contact {contact.handle} is not an engineer: only #ack is taken from a contact, "
                      f"not {', '.join(others)}; nothing applied")[:2000]
        record(session, ticket.id, "held", now, inbound_id=row.id, sender=contact.address, reason=row.reason)
        return "held"
    add_message(session, ticket, mail, inbound_id=row.id, kind="note", now=now,
                blocked_types=app.config.processing.blocked_attachment_types,
                attachment_max_size=app.config.processing.attachment_max_size,
                reply_text=reply.text or "\n".join(c.line for c in reply.commands))
    acked: list[str] = []
    if reply.commands:
        acked = acknowledge_reply(session, app, ticket, contact.handle, now, (*mail.in_reply_to, *mail.references))
    record(session, ticket.id, "contact-reply", now, inbound_id=row.id, actor=contact.handle,
           acknowledged=acked, message_id=mail.message_id)
    row.state, row.ticket_id = "done", ticket.id
    log.info("%s: contact %s on ticket #%d (acknowledged: %s)", mail.message_id, contact.handle, ticket.id,
             ", ".join(acked) or "nothing")
    return "contact"
