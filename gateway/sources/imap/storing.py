"""How a pass stores what it fetched: a batch per commit, each message acknowledged only after it.

A batch whose commit fails is stored one message at a time; a message that cannot be stored
is held back in the mailbox. The working state of a pass, and its result, are here too."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway.clock import Clock
from gateway.config.imap import ImapAccount
from gateway.errors import StorageError
from gateway.sources.imap.session import Fetched, ImapSession
from gateway.sources.imap.state import StateStore
from gateway.store.db import Database
from gateway.store.inbound import Envelope, Stored, store_inbound, store_inbound_many
from gateway.store.models import InboundMessage

log = logging.getLogger("gateway.imap")

# This many storage failures in a row means the database is down, not one bad message.
FAILURES_BEFORE_GIVING_UP = 3
# A message the server refused is asked for again after this long (and at each start).
HELD_RETRY = timedelta(minutes=30)
# Stored messages acknowledged per STORE (or MOVE) round trip.
ACK_EVERY = 200
# How often a long pass writes its heartbeat and renews its lease (the lease lasts 60 s).
RECORD_EVERY_S = 5.0
# IMAP has no envelope: the processor reads Return-Path and Delivered-To from the headers.
NO_ENVELOPE = Envelope(mail_from=None, rcpt_to=())


@dataclass
class PassResult:
    """What one pass did; ``failed`` messages stay in the mailbox and are tried again."""

    candidates: int = 0
    stored: int = 0
    already_stored: int = 0
    acknowledged: int = 0
    failed: int = 0
    held: int = 0
    backlog: int = 0
    resynced: bool = False
    lease_lost: bool = False
    stopped: bool = False


@dataclass
class PassState:
    """The working state of one pass."""

    candidates: list[int]
    held: dict[int, str]
    keys: dict[int, str]
    last_uid: int
    result: PassResult
    new: list[int] = field(default_factory=list)
    unacknowledged: list[int] = field(default_factory=list)
    in_a_row: int = 0
    giving_up: bool = False
    recorded_at: float = field(default_factory=time.monotonic)
    last_contact: datetime | None = None

    def arrival(self, fetched: Fetched) -> datetime | None:
        """When the message reached the mailbox, as far as we believe the server (INTERNALDATE).

        Not before our last contact with the server: a date before it belongs to mail moved in
        since from another folder or an archive (IMAP keeps INTERNALDATE across COPY and MOVE),
        which must not open with its SLA already breached. Not believed at all on a first look
        at a mailbox (or a new UIDVALIDITY): what is there was not waiting for us. (The caller
        also caps it at our own clock.)
        """
        if self.last_contact is None or fetched.arrived is None:
            return None
        return max(fetched.arrived, self.last_contact)


class BatchStore:
    """Stores one account's fetched batches, acknowledges them after their commit, and keeps,
    from pass to pass, which UIDs broke a fetch and which the server refused."""

    def __init__(self, account: ImapAccount, db: Database, clock: Clock, state: StateStore,
                 on_stored: Callable[[], None] = lambda: None) -> None:
        self.account, self.db, self.clock, self.state = account, db, clock, state
        self.on_stored = on_stored
        # UID -> connections lost while fetching it: such a UID is then fetched on its own.
        self._suspects: dict[int, int] = {}
        # UID -> monotonic time before which a message the server refused is not asked for again.
        self._retry_after: dict[int, float] = {}

    def _store(self, p: PassState, batch: list[int], bodies: dict[int, Fetched],
               refused: dict[int, str]) -> list[int]:
        """Store and commit each fetched message; return the UIDs now safely in the database."""
        done: list[int] = []
        new: list[int] = []
        present: list[int] = []
        for uid in batch:
            if bodies.get(uid) is None:
                if uid not in refused:
                    self._hold(p.held, uid, "the server returned no body for it (refused, or expunged meanwhile)")
                continue
            present.append(uid)
        try:
            # The whole fetched batch in one commit; only after it does anything get acknowledged.
            stored_all = store_inbound_many(self.db, [(p.keys[uid], bodies[uid].raw) for uid in present],
                                            source="imap", envelope=NO_ENVELOPE, received_at=self.clock.now(),
                                            arrived_at={p.keys[uid]: p.arrival(bodies[uid]) for uid in present})
            outcomes: list[tuple[int, Stored | None]] = list(zip(present, stored_all, strict=True))
        except StorageError:
            outcomes = []
            for uid in present:
                one = self._store_one(p, uid, bodies[uid])
                if one is not None:
                    p.in_a_row = 0
                outcomes.append((uid, one))
        for uid, stored in outcomes:
            if p.giving_up:
                break
            if stored is None:
                continue
            p.in_a_row = 0
            done.append(uid)
            self._suspects.pop(uid, None)
            self._retry_after.pop(uid, None)
            if stored.duplicate:
                p.result.already_stored += 1
            else:
                new.append(uid)
            if p.held.pop(uid, None) is not None:
                log.info("imap[%s]: UID %d, held back before, is now stored", self.account.name, uid)
        if new:
            p.new.extend(new)
            p.last_uid = max(p.last_uid, *new)
            p.result.stored += len(new)
            self.on_stored()
        return done

    def _store_batch(self, p: PassState, batch: list[int], bodies: dict[int, Fetched],
                     refused: dict[int, str]) -> list[int]:
        """Runs in the store thread: note refused messages, then store and commit the rest."""
        for uid, why in refused.items():
            self._hold(p.held, uid, why)
            self._retry_after[uid] = time.monotonic() + HELD_RETRY.total_seconds()
        return self._store(p, batch, bodies, refused)

    def _acknowledge(self, session: ImapSession, p: PassState, done: list[int]) -> bool:
        """Every message in ``done`` is committed: now it may be acknowledged.

        Acknowledgements go out ACK_EVERY messages at a time (and at the end of the pass):
        one STORE or MOVE round trip for several commits. One not sent because the pass
        broke off is sent by the next pass, which finds the message stored.

        The heartbeat and lease are written every few seconds, not per batch: each write is a
        commit, and a lagging last-UID is harmless (stored mail is recognised). False when the
        lease was lost to another process.
        """
        p.unacknowledged.extend(done)
        if len(p.unacknowledged) >= ACK_EVERY:
            self._send_acknowledgements(session, p)
        if time.monotonic() - p.recorded_at >= RECORD_EVERY_S:
            if not self._record(p):
                p.result.lease_lost = True
                return False
            p.recorded_at = time.monotonic()
        return True

    def _send_acknowledgements(self, session: ImapSession, p: PassState) -> None:
        done, p.unacknowledged = p.unacknowledged, []
        session.acknowledge(done)
        p.result.acknowledged += len(done)

    def _store_one(self, p: PassState, uid: int, fetched: Fetched) -> Stored | None:
        """The batch failed: store this message alone, so one bad message cannot block the rest."""
        if p.giving_up:
            return None
        try:
            return store_inbound(self.db, fetched.raw, source="imap", envelope=NO_ENVELOPE,
                                 received_at=self.clock.now(), source_key=p.keys[uid],
                                 arrived_at=p.arrival(fetched))
        except StorageError:
            p.result.failed += 1
            p.in_a_row += 1
            if p.in_a_row >= FAILURES_BEFORE_GIVING_UP:
                p.giving_up = True
            return None

    def _record(self, p: PassState) -> bool:
        new, p.new = p.new, []
        return self.state.record(stored=new, last_uid=p.last_uid, held=p.held,
                                 backlog=len(p.candidates) - p.result.acknowledged)

    def _hold(self, held: dict[int, str], uid: int, why: str) -> None:
        """Leave a message in the mailbox and report it, once (the report is kept in the state row)."""
        if uid not in held:
            log.warning("imap[%s]: UID %d stays in %r and is not stored: %s", self.account.name, uid,
                        self.account.folder, why)
        held[uid] = why

    def _already_stored(self, keys: dict[int, str]) -> list[int]:
        by_key = {key: uid for uid, key in keys.items()}
        found: list[int] = []
        names = list(by_key)
        with self.db.sessions() as session:
            for start in range(0, len(names), 500):
                chunk = names[start:start + 500]
                found.extend(by_key[k] for k in session.scalars(
                    select(InboundMessage.source_key).where(InboundMessage.source_key.in_(chunk))))
        return sorted(found)
