"""One way in: every source hands raw bytes here, and they are stored and committed."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.db import Database
from gateway.errors import StorageError
from gateway.models import InboundMessage

log = logging.getLogger("gateway.intake")


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
                  received_at: datetime, source_key: str | None = None) -> Stored:
    """Store one raw message in the inbound queue and commit; raise StorageError if it could not.

    Returning normally means the bytes are durably in the database: only then may a source
    acknowledge its peer (250, IMAP \\Seen or move, exit 0). A delivery whose source key is
    already stored is a duplicate and changes nothing.
    """
    key = source_key or content_source_key(raw, envelope)
    try:
        with db.transaction() as session:
            existing = session.scalar(select(InboundMessage.id).where(InboundMessage.source_key == key))
            if existing is not None:
                return Stored(inbound_id=existing, duplicate=True)
            row = InboundMessage(source=source, source_key=key, mail_from=envelope.mail_from,
                                 rcpt_to=list(envelope.rcpt_to), raw=raw, size=len(raw),
                                 received_at=received_at, state="pending", attempts=0)
            session.add(row)
            session.flush()
            inbound_id = row.id
    except IntegrityError:
        # Another process stored the same delivery between our check and our insert.
        with db.sessions() as session:
            existing = session.scalar(select(InboundMessage.id).where(InboundMessage.source_key == key))
        if existing is None:
            raise StorageError("inbound row vanished after a unique-key conflict") from None
        return Stored(inbound_id=existing, duplicate=True)
    except SQLAlchemyError as exc:
        log.error("%s: could not store inbound message: %s", key[:23], exc.__class__.__name__)
        raise StorageError(f"could not store the message: {exc.__class__.__name__}: {exc}") from exc
    log.info("inbound %d stored from %s (%d bytes)", inbound_id, source, len(raw))
    return Stored(inbound_id=inbound_id, duplicate=False)


def store_inbound_many(db: Database, items: list[tuple[str, bytes]], *, source: str, envelope: Envelope,
                       received_at: datetime) -> list[Stored]:
    """Store several (source_key, raw) messages in ONE transaction and commit; all or none.

    For sources that fetch in batches (IMAP): one commit, one fsync, for the batch, and still
    nothing is acknowledged to the server before it returns. On any failure nothing is stored
    and StorageError is raised; the caller may then store one by one to isolate a bad message.
    """
    if not items:
        return []
    keys = [key for key, _raw in items]
    try:
        with db.transaction() as session:
            existing = dict(session.execute(select(InboundMessage.source_key, InboundMessage.id)
                                            .where(InboundMessage.source_key.in_(keys))).all())
            fresh: dict[str, bytes] = {}
            for key, raw in items:
                if key not in existing:
                    fresh.setdefault(key, raw)  # the same key twice in one batch is stored once
            if fresh:
                # Core INSERT ... RETURNING: one statement for the batch, no unit-of-work overhead.
                inserted = session.execute(insert(InboundMessage).returning(
                    InboundMessage.source_key, InboundMessage.id), [
                    {"source": source, "source_key": key, "mail_from": envelope.mail_from,
                     "rcpt_to": list(envelope.rcpt_to), "raw": raw, "size": len(raw),
                     "received_at": received_at, "state": "pending", "attempts": 0}
                    for key, raw in fresh.items()])
                new_ids = {row[0]: row[1] for row in inserted}
            else:
                new_ids = {}
            seen: set[str] = set()
            result = []
            for key, _raw in items:
                if key in new_ids and key not in seen:
                    result.append(Stored(inbound_id=new_ids[key], duplicate=False))
                else:
                    result.append(Stored(inbound_id=existing.get(key) or new_ids[key], duplicate=True))
                seen.add(key)
    except SQLAlchemyError as exc:
        log.error("could not store a batch of %d messages: %s", len(items), exc.__class__.__name__)
        raise StorageError(f"could not store the batch: {exc.__class__.__name__}: {exc}") from exc
    log.info("%d inbound messages stored from %s in one commit", sum(not s.duplicate for s in result), source)
    return result
