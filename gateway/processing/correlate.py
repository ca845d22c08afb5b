"""Which ticket a mail belongs to: reply token, then thread headers, then a [#N] subject tag."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.outbound import reply_token
from gateway.store.models import Message, Ticket, table_of
from gateway.store.tickets import is_participant, landing_ticket
from parsers import ParsedMail

_SUBJECT_TAG = re.compile(r"\[#(\d{1,12})\]")


@dataclass(frozen=True, slots=True)
class Correlation:
    """The ticket found (or None) and how: ``token``, ``engineer-token``, ``thread``, ``subject``."""

    ticket_id: int | None
    via: str | None
    token_recipient: str | None = None


NONE = Correlation(ticket_id=None, via=None)

_MESSAGES = table_of(Message)
# The ticket of the latest message, received or sent, that the mail's thread headers name.
_THREAD_TICKET = select(_MESSAGES.c.ticket_id).where(_MESSAGES.c.message_id.in_(bindparam("ids", expanding=True))) \
    .order_by(_MESSAGES.c.id.desc()).limit(1)


def candidate_recipients(mail: ParsedMail, envelope_rcpts: tuple[str, ...]) -> tuple[str, ...]:
    """Envelope recipients first (SMTP/LMTP), then the header recipients (IMAP has no envelope)."""
    seen: list[str] = []
    for addr in (*envelope_rcpts, *(a.addr for a in mail.to + mail.cc),
                 *mail.header_all("Delivered-To"), *mail.header_all("X-Original-To")):
        if addr and addr.lower() not in seen:
            seen.append(addr.lower())
    return tuple(seen)


def correlate(session: Session, mail: ParsedMail, envelope_rcpts: tuple[str, ...], *,
              support_addresses: tuple[str, ...], secret: bytes) -> Correlation:
    """The ticket ``mail`` belongs to; mail to a merged ticket lands on the ticket it was merged into."""
    found = _correlate(session, mail, envelope_rcpts, support_addresses=support_addresses, secret=secret)
    if found.ticket_id is None:
        return found
    landing = landing_ticket(session, found.ticket_id)
    return found if landing == found.ticket_id else dataclasses.replace(found, ticket_id=landing)


def _correlate(session: Session, mail: ParsedMail, envelope_rcpts: tuple[str, ...], *,
               support_addresses: tuple[str, ...], secret: bytes) -> Correlation:
    sender = mail.sender.key if mail.sender else ""
    for rcpt in candidate_recipients(mail, envelope_rcpts):
        token = reply_token.parse_reply_address(rcpt, support_addresses)
        if token is None or session.get(Ticket, token.ticket_id) is None:
            continue
        if reply_token.verify(secret, token):
            return Correlation(token.ticket_id, "token", rcpt)
        if sender and reply_token.verify(secret, token, bound_to=sender):
            return Correlation(token.ticket_id, "engineer-token", rcpt)
    thread_ids = [i for i in (*mail.in_reply_to, *reversed(mail.references)) if i]
    if thread_ids:
        found = session.connection().scalar(_THREAD_TICKET, {"ids": thread_ids})
        if found is not None:
            return Correlation(found, "thread")
    for match in _SUBJECT_TAG.finditer(mail.subject):
        number = int(match.group(1))
        # A subject tag alone is easy to guess: it counts only from someone already on the ticket.
        if sender and session.get(Ticket, number) is not None and is_participant(session, number, sender):
            return Correlation(number, "subject")
    return NONE
