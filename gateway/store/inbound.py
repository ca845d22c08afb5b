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


def store_inbound(db: Database, raw: bytes, *, source: str, envelope: Envelope,
                  received_at: datetime, source_key: str | None = None,
                  arrived_at: datetime | None = None) -> Stored:
    """Store one raw message in the inbound queue and commit; raise StorageError if it could not.

    Returning normally means the bytes are durably in the database: only then may a source
    acknowledge its peer (250, IMAP \\Seen or move, exit 0). A delivery whose source key is
    already stored is a duplicate and changes nothing.
    """
    key = source_key or content_source_key(raw, envelope)
    return store_inbound_many(db, [(key, raw)], source=source, envelope=envelope, received_at=received_at,
                              arrived_at={key: arrived_at})[0]


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
    if not items:
        return []
    try:
        try:
            result = _insert_new(db, items, source, envelope, received_at, arrived_at or {})
        except IntegrityError:
            # Another process stored one of these keys between our check and our insert:
            # the second try finds it stored.
            result = _insert_new(db, items, source, envelope, received_at, arrived_at or {})
    except SQLAlchemyError as exc:
        log.error("could not store %d message(s) from %s: %s", len(items), source, exc.__class__.__name__)
        raise StorageError(f"could not store the message(s): {exc.__class__.__name__}: {exc}") from exc
    fresh = [s.inbound_id for s in result if not s.duplicate]
    if len(items) == 1 and fresh:
        log.info("inbound %d stored from %s (%d bytes)", fresh[0], source, len(items[0][1]))
    elif fresh:
        log.info("%d inbound messages stored from %s in one commit", len(fresh), source)
    return result


def _insert_new(db: Database, items: list[tuple[str, bytes]], source: str, envelope: Envelope,
                received_at: datetime, arrived_at: Mapping[str, datetime | None]) -> list[Stored]:
    keys = [key for key, _raw in items]
    # A Core connection, not an ORM session: no objects are loaded or flushed here, and the
    # session's bookkeeping was half of what a stored mail cost before its commit.
    with db.engine.begin() as conn:
        existing = dict(conn.execute(_STORED_KEYS, {"keys": keys}).all())
        fresh: dict[str, bytes] = {}
        for key, raw in items:
            if key not in existing:
                fresh.setdefault(key, raw)  # the same key twice in one batch is stored once
        new_ids: dict[str, int] = {}
        if fresh:
            # Core INSERT ... RETURNING: one statement for the batch, no unit-of-work overhead.
            inserted = conn.execute(_INSERT_RETURNING_KEYS, [
                {"source": source, "source_key": key, "mail_from": envelope.mail_from,
                 "rcpt_to": list(envelope.rcpt_to), "raw": raw, "size": len(raw), "message_id": raw_message_id(raw),
                 "received_at": _earliest(received_at, arrived_at.get(key)), "state": "pending", "attempts": 0}
                for key, raw in fresh.items()])
            new_ids = {row[0]: row[1] for row in inserted}
    seen: set[str] = set()
    result = []
    for key, _raw in items:
        if key in new_ids and key not in seen:
            result.append(Stored(inbound_id=new_ids[key], duplicate=False))
        else:
            result.append(Stored(inbound_id=existing.get(key) or new_ids[key], duplicate=True))
        seen.add(key)
    return result


def _earliest(received_at: datetime, arrived: datetime | None) -> datetime:
    return arrived if arrived is not None and arrived < received_at else received_at
