"""Tickets, their messages, participants and events: the writes a processed mail makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, bindparam, event, insert, select
from sqlalchemy.orm import ORMExecuteState, Session

from gateway.store.models import Attachment, Blob, Event, Message, Participant, Ticket, attach_loaded, table_of
from parsers import ParsedMail

_INSERT_EVENT = insert(table_of(Event))
_PENDING_EVENTS = "helpdesk.pending_events"


def record(session: Session, ticket_id: int | None, kind: str, at: datetime, /, *,
           actor: str = "gateway", inbound_id: int | None = None, **detail: Any) -> None:
    """Append to the audit trail, in the caller's transaction.

    Events are only appended, and almost never read back by the transaction that writes them,
    so they wait in the session and go out together: one INSERT for a batch of mails instead
    of one per event. They are written before the transaction commits, before any ORM query
    that reads events, and by ``write_events``; a rollback discards them with everything else.
    The ticket they name must be in the database by then (tickets are written when opened).
    """
    session.info.setdefault(_PENDING_EVENTS, []).append({
        "ticket_id": ticket_id, "inbound_id": inbound_id, "at": at, "kind": kind, "actor": actor[:320],
        "detail": detail})


def write_events(session: Session) -> None:
    """Write the events recorded so far in this session's transaction."""
    pending = session.info.pop(_PENDING_EVENTS, None)
    if pending:
        session.connection().execute(_INSERT_EVENT, pending)


def discard_events(session: Session) -> None:
    """Forget the events recorded since they were last written (their work was rolled back)."""
    session.info.pop(_PENDING_EVENTS, None)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_events(session)


@event.listens_for(Session, "after_rollback")
def _discard_after_rollback(session: Session) -> None:
    discard_events(session)


@event.listens_for(Session, "do_orm_execute")
def _write_before_reading_events(state: ORMExecuteState) -> None:
    if state.is_select and state.session.info.get(_PENDING_EVENTS) \
            and any(m.class_ is Event for m in state.all_mappers):
        write_events(state.session)


_PARTICIPANTS = table_of(Participant)
_INSERT_PARTICIPANT = insert(_PARTICIPANTS)
_PARTICIPANT = select(_PARTICIPANTS.c.id).where(_PARTICIPANTS.c.ticket_id == bindparam("ticket_id"),
                                                 _PARTICIPANTS.c.address == bindparam("address"))
_TICKETS = table_of(Ticket)
_INSERT_TICKET = insert(_TICKETS)
_INSERT_MESSAGE = insert(table_of(Message))
_BLOBS = table_of(Blob)
_BLOB_STORED = select(_BLOBS.c.sha256).where(_BLOBS.c.sha256 == bindparam("sha256"))
_INSERT_BLOB = insert(_BLOBS)
_INSERT_ATTACHMENT = insert(table_of(Attachment))


def _new_key(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def add_participant(session: Session, ticket_id: int, address: str, name: str, role: str) -> bool:
    """Add a participant unless present; True when added."""
    key = address.lower()
    conn = session.connection()
    if conn.scalar(_PARTICIPANT, {"ticket_id": ticket_id, "address": key}) is not None:
        return False
    conn.execute(_INSERT_PARTICIPANT, {"ticket_id": ticket_id, "address": key, "name": name, "role": role})
    return True


def is_participant(session: Session, ticket_id: int, address: str) -> bool:
    return session.connection().scalar(_PARTICIPANT, {"ticket_id": ticket_id, "address": address.lower()}) \
        is not None


def open_ticket(session: Session, mail: ParsedMail, *, priority: str, plan: str,
                organisation: str | None, verified: bool, now: datetime, timezone: str | None = None,
                tags: list[str] | None = None, route_group: str | None = None,
                parent_id: int | None = None, status_since: datetime | None = None,
                language: str | None = None, repeat_key: str | None = None) -> Ticket:
    """A new ticket for ``mail``, its sender its customer participant, in the database at once (so
    it has its number) and in the session as if loaded, so that later changes are plain UPDATEs.

    One INSERT written here costs a fifth of the ORM's insert and flush; nothing else needs the
    ORM's unit of work for a row that is new and complete.
    """
    sender = mail.sender
    values: dict[str, Any] = dict(
        subject=mail.subject or "(no subject)", status="open", priority=priority, plan=plan,
        organisation=organisation, customer_address=sender.addr if sender else "",
        customer_name=sender.name if sender else "", verified=verified, assignee=None, route_group=route_group,
        tags=tags or [], created_at=now, updated_at=now, next_deadline=None, status_since=status_since,
        timezone=timezone, parent_id=parent_id, first_response_at=None, last_public_update_at=None,
        language=language, eta=None, update_every=None, merged_into=None, stages=None, stage_at=None, inform_at=None,
        repeat_key=repeat_key, repeats=0, last_repeat_at=None)
    conn = session.connection()
    number = _new_key(conn.execute(_INSERT_TICKET, values))
    ticket = Ticket(id=number, **values)
    ticket.clocks = []  # known empty: the SLA code needs no query to learn it
    attach_loaded(session, ticket)
    if sender:  # a new ticket has no participants yet: no need to look
        conn.execute(_INSERT_PARTICIPANT, {"ticket_id": number, "address": sender.addr.lower(),
                                           "name": sender.name, "role": "customer"})
    return ticket


def add_message(session: Session, ticket: Ticket, mail: ParsedMail, *, inbound_id: int | None,
                kind: str, now: datetime, blocked_types: tuple[str, ...] = (),
                attachment_max_size: int | None = None, reply_text: str | None = None) -> int:
    """Store an inbound mail on ``ticket``; attachments go to content-addressed blobs. Returns the
    message's key. ``reply_text`` is what the ticket shows as its new words, when not the mail's own."""
    conn = session.connection()
    message_pk = _new_key(conn.execute(_INSERT_MESSAGE, {
        "ticket_id": ticket.id, "inbound_id": inbound_id, "direction": "in", "kind": kind,
        "message_id": mail.message_id[:998], "in_reply_to": " ".join(mail.in_reply_to) or None,
        "references": " ".join(mail.references) or None, "from_address": mail.sender.addr if mail.sender else "",
        "to_addresses": [a.addr for a in mail.to + mail.cc], "subject": mail.subject, "body_text": mail.text,
        "reply_text": mail.reply_text if reply_text is None else reply_text, "body_html": mail.html,
        "body_hash": mail.body_hash, "created_at": now}))
    for part in mail.attachments:
        note = attachment_refusal(part.filename, part.content_type, part.size, blocked_types, attachment_max_size)
        stored = note is None and bool(part.data)
        if stored and conn.scalar(_BLOB_STORED, {"sha256": part.sha256}) is None:
            conn.execute(_INSERT_BLOB, {"sha256": part.sha256, "size": part.size, "data": part.data})
        conn.execute(_INSERT_ATTACHMENT, {
            "message_pk": message_pk, "filename": part.filename, "content_type": part.content_type[:255],
            "size": part.size, "sha256": part.sha256, "content_id": part.content_id, "inline": part.inline,
            "stored": stored, "note": note})
    if ticket.updated_at != now:
        ticket.updated_at = now
    return message_pk


def attachment_refusal(filename: str, content_type: str, size: int, blocked: tuple[str, ...],
                       max_size: int | None) -> str | None:
    """Why a file is not kept (a blocked type, too large), or None when it is."""
    lowered = filename.lower().rstrip(" .")  # "x.exe." and "x.exe " are .exe files to Windows
    for pattern in blocked:
        if (pattern.startswith(".") and lowered.endswith(pattern)) or pattern == content_type.lower():
            return f"blocked type {pattern}"
    if max_size is not None and size > max_size:
        return f"larger than the {max_size}-byte attachment limit"
    return None


def landing_ticket(session: Session, ticket_id: int) -> int:
    """The ticket mail for ``ticket_id`` lands on: itself, or the ticket it was merged into (and so on)."""
    ticket = session.get(Ticket, ticket_id)
    seen = {ticket_id}
    while ticket is not None and ticket.merged_into is not None and ticket.merged_into not in seen:
        seen.add(ticket.merged_into)
        ticket = session.get(Ticket, ticket.merged_into)
    return ticket.id if ticket is not None else ticket_id


_WAKE_AT = "helpdesk.wake_at"


def note_wakeup(session: Session, at: datetime | None) -> None:
    """Remember, for whoever commits this session's work, the earliest wake-up it stored: the
    scheduler need only be re-armed when that is earlier than the one it has."""
    if at is None:
        return
    known = session.info.get(_WAKE_AT)
    if known is None or at < known:
        session.info[_WAKE_AT] = at


def take_noted_wakeup(session: Session) -> datetime | None:
    """The earliest wake-up the session's work stored since last asked, and forget it."""
    noted: datetime | None = session.info.pop(_WAKE_AT, None)
    return noted
