"""Held and quarantined mail for a reviewer: every row counted, each shown in full, each decision recorded."""

from __future__ import annotations

import getpass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.processing.engineers.identity import authenticate
from gateway.store.claimed import APPROVED, APPROVED_AS_ENGINEER
from gateway.store.models import InboundMessage
from gateway.store.tickets import record
from gateway.tools.views import iso, page_of
from parsers import ParseLimitExceeded, parse
from parsers.headers import decode_header, one_line

# What a held mail is, for whoever decides about it (`helpdesk held show`).
HELD_CUSTOMER = "customer"  # a stranger, a third party on a ticket, a contact's reply that fits nothing
HELD_UNPROVEN_ENGINEER = "unproven-engineer"  # in an engineer's name, without proof it is theirs
HELD_ENGINEER_ADDRESS = "engineer-reply-address"  # someone else writing to an engineer's reply address
HELD_ENGINEER = "engineer"  # a proven engineer's mail whose commands were refused
HELD_UNREADABLE = "unreadable"  # it cannot be read again within the parser's limits

_APPROVE = {
    HELD_CUSTOMER: "processed as the sender's mail: it opens a ticket, or joins the ticket it answers",
    HELD_UNPROVEN_ENGINEER: ("processed as a customer's mail (a new ticket, or a reply on the ticket it "
                             "answers): its #commands do not run and it is not relayed to any customer"),
    HELD_ENGINEER_ADDRESS: ("processed as a customer's mail (a reply on the ticket of that reply address): "
                            "its #commands do not run and it is not relayed to any customer"),
    HELD_ENGINEER: "processed again as the engineer's mail: its commands are checked again",
    HELD_UNREADABLE: ("processed again: never as an engineer's (no #commands run, nothing relayed) unless it "
                      "proves it is one"),
}


def _header_from(raw: bytes) -> str | None:
    """The From address of a mail that came without an envelope sender (IMAP, a bare pipe)."""
    value = BytesHeaderParser(policy=compat32).parsebytes(raw).get("From")
    return parseaddr(decode_header(str(value)))[1] or None if value is not None else None


def list_held(session: Session, *, limit: int | None = 500, offset: int = 0) -> dict[str, Any]:
    """Oldest first: ``{"total", "limit", "offset", "held": [...]}``."""
    query = select(InboundMessage.id, InboundMessage.received_at, InboundMessage.message_id,
                   InboundMessage.mail_from, InboundMessage.raw, InboundMessage.reason) \
        .where(InboundMessage.state == "held").order_by(InboundMessage.id)
    total, rows = page_of(session, query, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset,
            "held": [{"id": r.id, "received_at": iso(r.received_at), "message_id": r.message_id,
                      "from": r.mail_from or _header_from(r.raw), "reason": r.reason} for r in rows]}


def list_quarantine(session: Session, *, limit: int | None = 500, offset: int = 0) -> dict[str, Any]:
    """Oldest first: ``{"total", "limit", "offset", "quarantine": [...]}``."""
    query = select(InboundMessage.id, InboundMessage.source, InboundMessage.received_at,
                   InboundMessage.message_id, InboundMessage.attempts, InboundMessage.reason,
                   InboundMessage.size) \
        .where(InboundMessage.state == "quarantined").order_by(InboundMessage.id)
    total, rows = page_of(session, query, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset,
            "quarantine": [{"id": r.id, "source": r.source, "received_at": iso(r.received_at),
                            "message_id": r.message_id, "attempts": r.attempts, "size": r.size,
                            "reason": r.reason} for r in rows]}


def _printable(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def inbound_detail(row: InboundMessage) -> dict[str, Any]:
    """A stored mail as it came: envelope, every header as written (unfolded), size, and why it waits.

    The headers are read by the standard library's header parser alone, which takes anything:
    a mail is often quarantined because the full parse failed on it.
    """
    parsed = BytesHeaderParser(policy=compat32).parsebytes(row.raw)
    headers = [[_printable(str(name)), _printable(one_line(str(value)))] for name, value in parsed.raw_items()]
    return {"id": row.id, "state": row.state, "source": row.source, "received_at": iso(row.received_at),
            "envelope": {"mail_from": row.mail_from, "rcpt_to": list(row.rcpt_to or [])},
            "message_id": row.message_id, "size": row.size, "attempts": row.attempts, "reason": row.reason,
            "ticket": row.ticket_id, "headers": headers}


def held_detail(app: App, row: InboundMessage) -> dict[str, Any]:
    """The held mail in full, what it is, why it was held, and what each way of approving it does."""

    data = inbound_detail(row)
    try:
        mail = parse(row.raw, received_at=row.received_at, limits=app.limits)
    except ParseLimitExceeded as exc:  # its parse ran out of time now: the headers still show
        data.update(held_as=HELD_UNREADABLE, engineer=None, proof=str(exc), text=None, attachments=[],
                    approve=_APPROVE[HELD_UNREADABLE], approve_as_engineer=None)
        return data
    identity = authenticate(app, row.raw, mail, tuple(row.rcpt_to or ()))
    if identity.engineer is not None:
        kind = HELD_ENGINEER
    elif identity.claimed is not None:
        kind = HELD_UNPROVEN_ENGINEER
    elif identity.token_owner is not None:
        kind = HELD_ENGINEER_ADDRESS
    else:
        kind = HELD_CUSTOMER
    engineer = identity.claimed or identity.token_owner
    data.update({
        "held_as": kind,
        "engineer": engineer.handle if engineer else None,
        "proof": identity.reason if engineer else None,
        "from": mail.sender.key if mail.sender else None,
        "to": [a.key for a in mail.to], "cc": [a.key for a in mail.cc],
        "subject": mail.subject, "date": iso(mail.date), "text": mail.text,
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size}
                        for a in mail.attachments],
        "approve": _APPROVE[kind],
        "approve_as_engineer": (f"processed as {engineer.handle}'s own mail: its #commands run and its text "
                                "is relayed to the customer" if kind == HELD_UNPROVEN_ENGINEER and engineer
                                else None),
    })
    return data


def _operator() -> str:
    """Who ran the command, for the record: the login name, when the system knows it."""
    try:
        return f"operator {getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


def _take(session: Session, inbound_id: int, state: str) -> InboundMessage | None:
    row = session.get(InboundMessage, inbound_id)
    return row if row is not None and row.state == state else None


def approve(session: Session, inbound_id: int, now: datetime, *, as_engineer: bool) -> bool:
    """Queue a held mail for processing again, vouched for; False when no such mail is held."""
    row = _take(session, inbound_id, "held")
    if row is None:
        return False
    row.state, row.verdict = "pending", APPROVED_AS_ENGINEER if as_engineer else APPROVED
    record(session, row.ticket_id, "held-approved", now, actor=_operator(), inbound_id=row.id,
           as_engineer=as_engineer, message_id=row.message_id)
    return True


def drop(session: Session, inbound_id: int, state: str, now: datetime) -> bool:
    """Drop a held (``state`` "held") or quarantined mail: kept, never processed; the record says who."""
    row = _take(session, inbound_id, state)
    if row is None:
        return False
    row.state = "dropped"
    record(session, row.ticket_id, "held-dropped" if state == "held" else "quarantine-dropped", now,
           actor=_operator(), inbound_id=row.id, reason=row.reason, message_id=row.message_id)
    return True


def retry(session: Session, inbound_id: int, now: datetime) -> bool:
    """Queue a quarantined mail for another try; False when it is not in quarantine."""
    row = _take(session, inbound_id, "quarantined")
    if row is None:
        return False
    row.state = "pending"
    record(session, row.ticket_id, "quarantine-retried", now, actor=_operator(), inbound_id=row.id,
           reason=row.reason, message_id=row.message_id)
    return True
