"""Read models for the command line: tickets and queue state as stable JSON-ready dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.outbound.notices import local_time
from gateway.store.models import (
    CLOSED_STATUSES,
    Event,
    InboundMessage,
    Message,
    OutboxMessage,
    Participant,
    SlaClock,
    Ticket,
)

# Outbox rows that still have to go out: waiting for their turn or leased by a sender right now.
OUTBOUND_WAITING = ("pending", "sending")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def page_of(session: Session, query: Select[*tuple[Any, ...]], *, limit: int | None,
            offset: int) -> tuple[int, list[Any]]:
    """The total a query matches and the rows of one page of it (``limit`` None: all of them)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = query.offset(offset) if offset else query
    rows = list(session.execute(page.limit(limit) if limit is not None else page))
    return total, rows


def ticket_summary(ticket: Ticket, message_count: int) -> dict[str, Any]:
    return {
        "number": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "plan": ticket.plan,
        "organisation": ticket.organisation,
        "customer": ticket.customer_address,
        "language": ticket.language,
        "assignee": ticket.assignee,
        "group": ticket.route_group,
        "tags": list(ticket.tags or []),
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "next_deadline": iso(ticket.next_deadline),
        "messages": message_count,
        "repeats": ticket.repeats or 0,
        "last_repeat_at": iso(ticket.last_repeat_at),
    }


def list_tickets(session: Session, *, status: str | None = None, limit: int | None = 200,
                 offset: int = 0) -> dict[str, Any]:
    """Newest first: ``{"total", "limit", "offset", "tickets": [summary, ...]}``."""
    query = select(Ticket).order_by(Ticket.id.desc())
    if status:
        query = query.where(Ticket.status == status)
    total, rows = page_of(session, query, limit=limit, offset=offset)
    tickets = [r[0] for r in rows]
    counts: dict[int, int] = dict(session.execute(
        select(Message.ticket_id, func.count(Message.id)).where(Message.ticket_id.in_([t.id for t in tickets]))
        .group_by(Message.ticket_id)).all()) if tickets else {}
    due = next_promises(session, [t.id for t in tickets if t.status not in CLOSED_STATUSES])
    return {"total": total, "limit": limit, "offset": offset,
            "tickets": [{**ticket_summary(t, counts.get(t.id, 0)), "due": due.get(t.id)} for t in tickets]}


def next_promises(session: Session, ticket_ids: list[int]) -> dict[int, dict[str, str]]:
    """Each ticket's next real deadline, ``{"clock", "deadline"}``: the running clock due first
    (``next_deadline`` is the scheduler's next wake-up, which may be a warning or a reminder)."""
    due: dict[int, dict[str, str]] = {}
    if not ticket_ids:
        return due
    rows = session.execute(select(SlaClock.ticket_id, SlaClock.name, SlaClock.deadline).where(
        SlaClock.ticket_id.in_(ticket_ids), SlaClock.stopped_at.is_(None), SlaClock.deadline.is_not(None))
        .order_by(SlaClock.ticket_id, SlaClock.deadline))
    for ticket_id, name, deadline in rows:
        due.setdefault(ticket_id, {"clock": name, "deadline": iso(deadline) or ""})
    return due


def promises_made(session: Session, ticket: Ticket, zone: str) -> dict[str, Any]:
    """What was promised case by case and where the ticket's mail went: its ETA (UTC, and as the
    customer reads it, in their time zone), its own update cadence, and merges."""
    local = local_time(ticket.eta, ticket.timezone or zone)
    return {"eta": iso(ticket.eta), "eta_local": str(local) if local else None, "update_every": ticket.update_every,
            "merged_into": ticket.merged_into, "stages": list(ticket.stages or []), "stage_at": iso(ticket.stage_at),
            "stage_informed_next": iso(ticket.inform_at),
            "merged_from": list(session.scalars(select(Ticket.id).where(Ticket.merged_into == ticket.id)
                                                .order_by(Ticket.id)))}


def show_ticket(session: Session, number: int, zone: str = "UTC") -> dict[str, Any] | None:
    """The ticket in full; ``zone`` is the one its customer reads times in when the ticket has none."""
    ticket = session.get(Ticket, number)
    if ticket is None:
        return None
    messages = list(session.scalars(select(Message).where(Message.ticket_id == number).order_by(Message.id)))
    data = ticket_summary(ticket, len(messages))
    data["due"] = None if ticket.status in CLOSED_STATUSES else next_promises(session, [number]).get(number)
    data.update(promises_made(session, ticket, zone))
    data["participants"] = [{"address": p.address, "name": p.name, "role": p.role}
                            for p in session.scalars(select(Participant).where(
                                Participant.ticket_id == number).order_by(Participant.id))]
    data["messages"] = [{
        "direction": m.direction, "kind": m.kind, "message_id": m.message_id,
        "in_reply_to": m.in_reply_to, "from": m.from_address, "to": list(m.to_addresses or []),
        "subject": m.subject, "created_at": iso(m.created_at), "text": m.reply_text or m.body_text,
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "sha256": a.sha256, "stored": a.stored, "note": a.note} for a in m.attachments],
    } for m in messages]
    # In time order: a timer's event written late (a wake-up after downtime) has an earlier
    # instant than a higher id. Ties keep the order they were written in.
    data["events"] = [{"at": iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail}
                      for e in session.scalars(select(Event).where(Event.ticket_id == number)
                                               .order_by(Event.at, Event.id))]
    data["outbox"] = [{"kind": o.kind, "state": o.state, "to": list(o.rcpt_to), "message_id": o.message_id,
                       "attempts": o.attempts, "created_at": iso(o.created_at), "sent_at": iso(o.sent_at),
                       "last_error": o.last_error}
                      for o in session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == number)
                                               .order_by(OutboxMessage.id))]
    return data


def repeating(session: Session, since: datetime) -> list[dict[str, Any]]:
    """Open tickets that took a repeat since ``since``: the storms being folded now, busiest first."""
    rows = session.scalars(select(Ticket).where(Ticket.status.not_in(CLOSED_STATUSES), Ticket.last_repeat_at >= since)
                           .order_by(Ticket.repeats.desc(), Ticket.id))
    return [{"number": t.id, "customer": t.customer_address, "subject": t.subject, "repeats": t.repeats,
             "last_repeat_at": iso(t.last_repeat_at)} for t in rows]


def inbound_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(InboundMessage.state, func.count(InboundMessage.id))
                                .group_by(InboundMessage.state)).all())


def outbound_backlog(session: Session, now: datetime) -> dict[str, Any]:
    """What still has to go out, how long the oldest of it has waited, and what failed for good."""
    by_state: dict[str, int] = dict(session.execute(
        select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state)).all())
    oldest = session.scalar(select(func.min(OutboxMessage.created_at))
                            .where(OutboxMessage.state.in_(OUTBOUND_WAITING)))
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return {"pending": sum(by_state.get(s, 0) for s in OUTBOUND_WAITING),
            "oldest_pending_at": iso(oldest),
            "oldest_pending_age_seconds": max(0, int((now - oldest).total_seconds())) if oldest else None,
            "failed": by_state.get("failed", 0), "by_state": by_state}
