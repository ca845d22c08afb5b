"""Tickets, their messages, participants and events: the writes a processed mail makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gateway.models import Attachment, Blob, Event, Message, Participant, Ticket, table_of
from parsers import ParsedMail

_INSERT_EVENT = insert(table_of(Event))


def record(session: Session, ticket_id: int | None, kind: str, at: datetime, /, *,
           actor: str = "gateway", inbound_id: int | None = None, **detail: Any) -> None:
    """Append to the audit trail, at once, in the caller's transaction.

    Events are only ever appended, never read back by the code that writes them, so they go
    out as one prebuilt INSERT on the session's connection rather than through the ORM's unit
    of work (a fifth of the cost). The ticket they name must already be in the database.
    """
    session.connection().execute(_INSERT_EVENT, {
        "ticket_id": ticket_id, "inbound_id": inbound_id, "at": at, "kind": kind, "actor": actor[:320],
        "detail": detail})


def add_participant(session: Session, ticket_id: int, address: str, name: str, role: str) -> bool:
    """Add a participant unless present; True when added."""
    key = address.lower()
    exists = session.scalar(select(Participant.id).where(Participant.ticket_id == ticket_id,
                                                         Participant.address == key))
    if exists is not None:
        return False
    session.add(Participant(ticket_id=ticket_id, address=key, name=name, role=role))
    return True


def is_participant(session: Session, ticket_id: int, address: str) -> bool:
    return session.scalar(select(Participant.id).where(
        Participant.ticket_id == ticket_id, Participant.address == address.lower())) is not None


def open_ticket(session: Session, mail: ParsedMail, *, priority: str, plan: str,
                organisation: str | None, verified: bool, now: datetime, timezone: str | None = None,
                tags: list[str] | None = None, route_group: str | None = None,
                parent_id: int | None = None) -> Ticket:
    """A new ticket for ``mail``, its sender its customer participant; flushed, so it has its number."""
    sender = mail.sender
    ticket = Ticket(subject=mail.subject or "(no subject)", status="open", priority=priority,
                    plan=plan, organisation=organisation,
                    customer_address=sender.addr if sender else "",
                    customer_name=sender.name if sender else "", verified=verified, tags=tags or [],
                    route_group=route_group, timezone=timezone, parent_id=parent_id,
                    created_at=now, updated_at=now)
    ticket.clocks = []  # known empty: the SLA code needs no query to learn it
    session.add(ticket)
    session.flush()
    if sender:  # a new ticket has no participants yet: no need to look
        session.add(Participant(ticket_id=ticket.id, address=sender.addr.lower(), name=sender.name,
                                role="customer"))
    return ticket


def add_message(session: Session, ticket: Ticket, mail: ParsedMail, *, inbound_id: int | None,
                kind: str, now: datetime, blocked_types: tuple[str, ...] = (),
                attachment_max_size: int | None = None) -> Message:
    """Store an inbound mail on ``ticket``; attachments go to content-addressed blobs."""
    message = Message(
        ticket_id=ticket.id, inbound_id=inbound_id, direction="in", kind=kind,
        message_id=mail.message_id[:998], in_reply_to=" ".join(mail.in_reply_to) or None,
        references=" ".join(mail.references) or None,
        from_address=mail.sender.addr if mail.sender else "",
        to_addresses=[a.addr for a in mail.to + mail.cc], subject=mail.subject,
        body_text=mail.text, reply_text=mail.reply_text, body_html=mail.html,
        body_hash=mail.body_hash, created_at=now)
    session.add(message)
    if mail.attachments:
        session.flush()  # the attachments' rows refer to the message's key
    for part in mail.attachments:
        note = attachment_refusal(part.filename, part.content_type, part.size, blocked_types, attachment_max_size)
        stored = note is None and bool(part.data)
        if stored and session.get(Blob, part.sha256) is None:
            session.add(Blob(sha256=part.sha256, size=part.size, data=part.data))
        session.add(Attachment(message_pk=message.id, filename=part.filename,
                               content_type=part.content_type[:255], size=part.size, sha256=part.sha256,
                               content_id=part.content_id, inline=part.inline, stored=stored,
                               note=note))
    ticket.updated_at = now
    return message


def attachment_refusal(filename: str, content_type: str, size: int, blocked: tuple[str, ...],
                       max_size: int | None) -> str | None:
    """Why a file is not kept (a blocked type, too large), or None when it is."""
    lowered = filename.lower()
    for pattern in blocked:
        if (pattern.startswith(".") and lowered.endswith(pattern)) or pattern == content_type.lower():
            return f"blocked type {pattern}"
    if max_size is not None and size > max_size:
        return f"larger than the {max_size}-byte attachment limit"
    return None
