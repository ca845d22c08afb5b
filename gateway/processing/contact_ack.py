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
from parsers.commands import Reply

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


def apply_contact(session: Session, app: App, row: Claimed, mail: ParsedMail, who: ContactReply, ticket: Ticket,
                  reply: Reply, now: datetime) -> None:
    """Route ``contact``: the contact's ``#ack`` applied, their words kept as an internal note."""
    add_message(session, ticket, mail, inbound_id=row.id, kind="note", now=now,
                blocked_types=app.config.processing.blocked_attachment_types,
                attachment_max_size=app.config.processing.attachment_max_size,
                reply_text=reply.text or "\n".join(c.line for c in reply.commands))
    acked: list[str] = []
    if reply.commands:
        acked = acknowledge_reply(session, app, ticket, who.contact.handle, now, (*mail.in_reply_to, *mail.references))
    record(session, ticket.id, "contact-reply", now, inbound_id=row.id, actor=who.contact.handle,
           acknowledged=acked, message_id=mail.message_id)
    row.state, row.ticket_id = "done", ticket.id
    log.info("%s: contact %s on ticket #%d (acknowledged: %s)", mail.message_id, who.contact.handle, ticket.id,
             ", ".join(acked) or "nothing")
