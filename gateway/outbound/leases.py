"""Leases on outbox rows: a row as the sender's claim read it, and what a sender that is gone left
behind (leases held by processes of this machine that no longer exist, mails on the wire whose
relay's answer was never recorded)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.lease_owner import holder_is_dead
from gateway.store.models import OutboxMessage
from gateway.store.tickets import record

log = logging.getLogger("gateway.outbound")


@dataclass(frozen=True, slots=True)
class Leased:
    """An outbox row as the claim read it: what to send, and what the outcome is written with."""

    id: int
    ticket_id: int | None
    kind: str
    cause_key: str
    message_id: str
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes
    created_at: datetime
    attempts: int

    @classmethod
    def of(cls, row: OutboxMessage) -> Leased:
        return cls(row.id, row.ticket_id, row.kind, row.cause_key, row.message_id, row.mail_from,
                   tuple(row.rcpt_to), row.raw, row.created_at, row.attempts)


def dead_holders(session: Session, now: datetime) -> list[str]:
    """The holders of live leases that were processes of this machine and are gone."""
    holders = session.scalars(select(OutboxMessage.lease_owner).distinct().where(
        OutboxMessage.state == "sending", OutboxMessage.lease_until >= now, OutboxMessage.lease_owner.is_not(None)))
    return [h for h in holders if h is not None and holder_is_dead(h)]


def outcome_unknown(session: Session, row: OutboxMessage, now: datetime, why: str) -> None:
    """A mail that went to the relay and whose answer was never recorded: it may have been
    delivered. It goes again with the same Message-ID; counted, recorded and logged."""
    on_wire = row.on_wire_at.isoformat() if row.on_wire_at is not None else None
    row.unknown_outcomes += 1
    row.on_wire_at = None
    record(session, row.ticket_id, "mail-outcome-unknown", now, kind=row.kind, message_id=row.message_id,
           on_wire_at=on_wire, reason=why[:300])
    log.warning("%s: %s went on the wire and its outcome is unknown (%s); the relay may have taken it: "
                "it goes again with the same Message-ID (possibly delivered twice)", row.message_id, row.kind, why)
