"""Read models for the command line: tickets and quarantine as stable JSON-ready dicts."""

from __future__ import annotations

from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Event, InboundMessage, Message, OutboxMessage, Participant, Ticket


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_summary(ticket: Ticket, message_count: int) -> dict[str, Any]:
    return {
        "number": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "plan": ticket.plan,
        "organisation": ticket.organisation,
        "customer": ticket.customer_address,
        "assignee": ticket.assignee,
        "group": ticket.route_group,
        "tags": list(ticket.tags or []),
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "next_deadline": _iso(ticket.next_deadline),
        "messages": message_count,
    }


def list_tickets(session: Session, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    counts: dict[int, int] = dict(session.execute(select(Message.ticket_id, func.count(Message.id))
                                  .group_by(Message.ticket_id)).all())
    query = select(Ticket).order_by(Ticket.id.desc()).limit(limit)
    if status:
        query = query.where(Ticket.status == status)
    return [ticket_summary(t, counts.get(t.id, 0)) for t in session.scalars(query)]


def show_ticket(session: Session, number: int) -> dict[str, Any] | None:
    ticket = session.get(Ticket, number)
    if ticket is None:
        return None
    messages = list(session.scalars(select(Message).where(Message.ticket_id == number).order_by(Message.id)))
    data = ticket_summary(ticket, len(messages))
    data["participants"] = [{"address": p.address, "name": p.name, "role": p.role}
                            for p in session.scalars(select(Participant).where(
                                Participant.ticket_id == number).order_by(Participant.id))]
    data["messages"] = [{
        "direction": m.direction, "kind": m.kind, "message_id": m.message_id,
        "in_reply_to": m.in_reply_to, "from": m.from_address, "to": list(m.to_addresses or []),
        "subject": m.subject, "created_at": _iso(m.created_at), "text": m.reply_text or m.body_text,
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "sha256": a.sha256, "stored": a.stored, "note": a.note} for a in m.attachments],
    } for m in messages]
    data["events"] = [{"at": _iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail}
                      for e in session.scalars(select(Event).where(Event.ticket_id == number)
                                               .order_by(Event.id))]
    data["outbox"] = [{"kind": o.kind, "state": o.state, "to": list(o.rcpt_to), "message_id": o.message_id,
                       "attempts": o.attempts, "created_at": _iso(o.created_at), "sent_at": _iso(o.sent_at),
                       "last_error": o.last_error}
                      for o in session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == number)
                                               .order_by(OutboxMessage.id))]
    return data


def list_quarantine(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    rows = session.execute(select(InboundMessage.id, InboundMessage.source, InboundMessage.received_at,
                                  InboundMessage.message_id, InboundMessage.attempts, InboundMessage.reason,
                                  InboundMessage.size)
                           .where(InboundMessage.state == "quarantined").order_by(InboundMessage.id)
                           .limit(limit))
    return [{"id": r.id, "source": r.source, "received_at": _iso(r.received_at), "message_id": r.message_id,
             "attempts": r.attempts, "size": r.size, "reason": r.reason} for r in rows]


def list_held(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    rows = session.execute(select(InboundMessage.id, InboundMessage.received_at, InboundMessage.message_id,
                                  InboundMessage.mail_from, InboundMessage.raw, InboundMessage.reason)
                           .where(InboundMessage.state == "held").order_by(InboundMessage.id).limit(limit))
    return [{"id": r.id, "received_at": _iso(r.received_at), "message_id": r.message_id,
             "from": r.mail_from or _header_from(r.raw), "reason": r.reason} for r in rows]


def _header_from(raw: bytes) -> str | None:
    """The From address of a mail that came without an envelope sender (IMAP, a bare pipe)."""
    value = BytesHeaderParser(policy=compat32).parsebytes(raw).get("From")
    return parseaddr(str(value))[1] or None if value is not None else None


def inbound_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(InboundMessage.state, func.count(InboundMessage.id))
                                .group_by(InboundMessage.state)).all())
