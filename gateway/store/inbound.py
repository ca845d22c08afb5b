"""One way in: every source hands raw bytes here, and they are stored and committed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.errors import StorageError
from gateway.store.db import Database
from gateway.store.models import InboundMessage, table_of
from parsers.headers import raw_message_id

log = logging.getLogger("gateway.intake")
_INBOUND = table_of(InboundMessage)
_STORED_KEYS = select(_INBOUND.c.source_key, _INBOUND.c.id).where(
    _INBOUND.c.source_key.in_(bindparam("keys", expanding=True)))
_INSERT_RETURNING_KEYS = insert(_INBOUND).returning(_INBOUND.c.source_key, _INBOUND.c.id)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SMTP envelope (or what stands for it): return path and recipients."""

    mail_from: str | None
    rcpt_to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing a message did: the inbound row, and whether it was already there."""

    inbound_id: int
    duplicate: bool


def content_source_key(raw: bytes, envelope: Envelope) -> str:
    """The key of a delivery with no key of its own: the same envelope and bytes are one mail."""
    digest = hashlib.sha256()
    digest.update((envelope.mail_from or "").lower().encode("utf-8", "surrogateescape"))
    digest.update(b"\0")
    digest.update(",".join(sorted(r.lower() for r in envelope.rcpt_to)).encode("utf-8", "surrogateescape"))
    digest.update(b"\0")
    digest.update(raw)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One mail to store: its bytes, its envelope, when it was received (and, where the source knows,
    when it arrived there), and its source key (None: the envelope and bytes make it)."""

    raw: bytes
    source: str
    envelope: Envelope
    received_at: datetime
    source_key: str | None = None
    arrived_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.source_key or content_source_key(self.raw, self.envelope)


def store_inbound(db: Database, raw: bytes, *, source: str, envelope: Envelope,
                  received_at: datetime, source_key: str | None = None,
                  arrived_at: datetime | None = None) -> Stored:
    """Store one raw message in the inbound queue and commit; raise StorageError if it could not.

    Returning normally means the bytes are durably in the database: only then may a source
    acknowledge its peer (250, IMAP \\Seen or move, exit 0). A delivery whose source key is
    already stored is a duplicate and changes nothing.
    """
    return store_deliveries(db, [Delivery(raw, source, envelope, received_at, source_key, arrived_at)])[0]


def store_inbound_many(db: Database, items: list[tuple[str, bytes]], *, source: str, envelope: Envelope,
                       received_at: datetime, arrived_at: Mapping[str, datetime | None] | None = None
                       ) -> list[Stored]:
    """Store several (source_key, raw) messages in ONE transaction and commit; all or none.

    ``arrived_at`` is when the source itself received a message (IMAP INTERNALDATE): mail
    that waited in a mailbox while the gateway was down is received when it arrived there,
    and its SLA clock runs from then. A time after ``received_at`` (a server whose clock is
    ahead) is not believed.

    For sources that fetch in batches (IMAP): one commit, one fsync, for the batch, and still
    nothing is acknowledged to the server before it returns. On any failure nothing is stored
    and StorageError is raised; the caller may then store one by one to isolate a bad message.
    """
    arrived = arrived_at or {}
    return store_deliveries(db, [Delivery(raw, source, envelope, received_at, key, arrived.get(key))
                                 for key, raw in items])


def store_deliveries(db: Database, deliveries: list[Delivery]) -> list[Stored]:
    """Store the deliveries in ONE transaction and commit (one fsync for all): all or none, and
    StorageError when not. Each comes back as stored, or as a duplicate of what already was."""
    if not deliveries:
        return []
    try:
        try:
            result = _insert_new(db, deliveries)
        except IntegrityError:
            # Another process stored one of these keys between our check and our insert:
            # the second try finds it stored.
            result = _insert_new(db, deliveries)
    except SQLAlchemyError as exc:
        sources = ", ".join(sorted({d.source for d in deliveries}))
        log.error("could not store %d message(s) from %s: %s", len(deliveries), sources, exc.__class__.__name__)
        raise StorageError(f"could not store the message(s): {exc.__class__.__name__}: {exc}") from exc
    fresh = [(s.inbound_id, d) for s, d in zip(result, deliveries, strict=True) if not s.duplicate]
    if len(fresh) == 1:
        log.info("inbound %d stored from %s (%d bytes)", fresh[0][0], fresh[0][1].source, len(fresh[0][1].raw))
    elif fresh:
        log.info("%d inbound messages stored from %s in one commit", len(fresh),
                 ", ".join(sorted({d.source for _id, d in fresh})))
    return result


def _insert_new(db: Database, deliveries: list[Delivery]) -> list[Stored]:
    keys = [d.key for d in deliveries]
    # A Core connection, not an ORM session: no objects are loaded or flushed here, and the
    # session's bookkeeping was half of what a stored mail cost before its commit.
    with db.engine.begin() as conn:
        existing = dict(conn.execute(_STORED_KEYS, {"keys": keys}).all())
        fresh: dict[str, Delivery] = {}
        for key, d in zip(keys, deliveries, strict=True):
            if key not in existing:
                fresh.setdefault(key, d)  # the same key twice in one batch is stored once
        new_ids: dict[str, int] = {}
        if fresh:
            # Core INSERT ... RETURNING: one statement for the batch, no unit-of-work overhead.
            inserted = conn.execute(_INSERT_RETURNING_KEYS, [
                {"source": d.source, "source_key": key, "mail_from": d.envelope.mail_from,
                 "rcpt_to": list(d.envelope.rcpt_to), "raw": d.raw, "size": len(d.raw),
                 "message_id": raw_message_id(d.raw), "received_at": _earliest(d.received_at, d.arrived_at),
                 "state": "pending", "attempts": 0}
                for key, d in fresh.items()])
            new_ids = {row[0]: row[1] for row in inserted}
    seen: set[str] = set()
    result = []
    for key in keys:
        if key in new_ids and key not in seen:
            result.append(Stored(inbound_id=new_ids[key], duplicate=False))
        else:
            result.append(Stored(inbound_id=existing.get(key) or new_ids[key], duplicate=True))
        seen.add(key)
    return result


def _earliest(received_at: datetime, arrived: datetime | None) -> datetime:
    return arrived if arrived is not None and arrived < received_at else received_at
