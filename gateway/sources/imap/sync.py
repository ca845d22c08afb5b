"""One pass over an IMAP folder: store and commit each message, and only then acknowledge it.

The order of effects, per message, is the whole point (DESIGN.md "Accept"):

1. ``UID FETCH ... BODY.PEEK[]``: reading never sets \\Seen.
2. ``store_inbound``: the raw bytes are committed under the source key
   ``imap:<account>:<uidvalidity>:<uid>``.
3. Only then MOVE to the done folder (or COPY, \\Deleted, UID EXPUNGE), or set \\Seen, in
   batches after their commits.

A crash between 2 and 3 leaves a stored message unacknowledged. It is still a candidate on
the next pass (it is still in the folder, or still unseen), its source key is found already
stored, and it is only acknowledged: nothing is stored twice. What selects the candidates is
the mailbox itself (everything in the folder, or everything unseen plus anything above the
highest UID stored), never "above the highest UID stored" alone, so a message whose commit,
flag or move failed is retried until it is done.
"""

from __future__ import annotations

import imaplib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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

BATCH_MESSAGES = 200
BATCH_BYTES = 8 * 1000**2
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


def source_key(account: str, uidvalidity: int, uid: int) -> str:
    return f"imap:{account}:{uidvalidity}:{uid}"


class FolderSync:
    """Runs passes over one account's folder through a logged-in ImapSession."""

    def __init__(self, account: ImapAccount, db: Database, clock: Clock, state: StateStore,
                 on_stored: Callable[[], None] = lambda: None, *,
                 batch_messages: int = BATCH_MESSAGES, batch_bytes: int = BATCH_BYTES) -> None:
        self.account, self.db, self.clock, self.state = account, db, clock, state
        self.on_stored = on_stored
        self.batch_messages, self.batch_bytes = batch_messages, batch_bytes
        # UID -> connections lost while fetching it: such a UID is then fetched on its own.
        self._suspects: dict[int, int] = {}
        # UID -> monotonic time before which a message the server refused is not asked for again.
        self._retry_after: dict[int, float] = {}

    def retry_held_now(self) -> None:
        self._retry_after.clear()

    def run(self, session: ImapSession, should_stop: Callable[[], bool] = lambda: False) -> PassResult:
        box = session.select()
        highest = 0 if box.uidnext else max(session.client.search("ALL") or [0])
        position = self.state.begin(box.uidvalidity, box.uidnext, highest)
        if position.resynced:
            self._suspects.clear()
            self._retry_after.clear()
            log.warning("imap[%s]: UIDVALIDITY of %r changed to %d: reading the folder again; "
                        "mail already stored is recognised as a duplicate", self.account.name,
                        self.account.folder, box.uidvalidity)
        candidates = session.candidates(position.last_uid)
        present = set(candidates)
        p = _Pass(candidates, {u: w for u, w in position.held.items() if u in present},
                  {u: source_key(self.account.name, box.uidvalidity, u) for u in candidates},
                  position.last_uid, PassResult(candidates=len(candidates), resynced=position.resynced),
                  last_contact=position.last_contact)
        # Stored by an earlier pass that died before acknowledging: acknowledge, do not fetch.
        already = self._already_stored(p.keys)
        session.acknowledge(already)
        p.result.already_stored = p.result.acknowledged = len(already)
        done_before = set(already)
        todo = [uid for uid in candidates if uid not in done_before]
        # Sizes are asked only of the few large messages: the rest are known to be at most
        # ``small``, which bounds a batch's bytes as well as an exact size would.
        small = min(self.account.max_message_size, self.batch_bytes // self.batch_messages)
        large = session.larger_than(small)
        sizes = session.sizes([uid for uid in todo if uid in large])
        sizes.update((uid, small) for uid in todo if uid not in large)
        # Pipelined: while one batch is being stored and committed (in the store thread), the
        # next is fetched, and the one before is acknowledged. A batch is acknowledged only
        # after its own commit.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-store") as pool:
            storing: Future[list[int]] | None = None
            for batch in self._batches(self._fetchable(p, todo, sizes), sizes):
                try:
                    bodies, refused = session.fetch(batch)
                except (imaplib.IMAP4.abort, OSError) as exc:
                    if storing is not None:
                        storing.result()  # its commits stand; unacknowledged, they are found next pass
                    self._suspect(p, batch, exc)
                    self._record(p)
                    raise
                done: list[int] | None = None
                if storing is not None:
                    done, storing = storing.result(), None
                    if self._should_end(p, should_stop):
                        self._acknowledge(session, p, done)
                        break
                storing = pool.submit(self._store_batch, p, batch, bodies, refused)
                # The store thread is the slower half: it gets the next batch before the
                # acknowledgement's round trip, not after it.
                if done is not None and not self._acknowledge(session, p, done):
                    storing.result()  # committed and left unacknowledged: found stored by the next reader
                    storing = None
                    break
            if storing is not None:
                self._acknowledge(session, p, storing.result())
            self._send_acknowledgements(session, p)
            if storing is not None:
                self._should_end(p, should_stop)
        p.result.held = len(p.held)
        p.result.backlog = len(candidates) - p.result.acknowledged
        if not p.result.lease_lost and not self._record(p):
            p.result.lease_lost = True
        return p.result

    def _fetchable(self, p: _Pass, todo: list[int], sizes: dict[int, int]) -> list[int]:
        fits: list[int] = []
        now = time.monotonic()
        for uid in todo:
            size = sizes.get(uid)
            if size is None:
                continue  # a large message expunged by someone else since the search
            if size > self.account.max_message_size:
                self._hold(p.held, uid, f"{size} bytes is larger than max_message_size "
                                        f"({self.account.max_message_size} bytes)")
            elif self._retry_after.get(uid, 0.0) <= now:
                fits.append(uid)
        return fits

    def _store(self, p: _Pass, batch: list[int], bodies: dict[int, Fetched],
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

    def _store_batch(self, p: _Pass, batch: list[int], bodies: dict[int, Fetched],
                     refused: dict[int, str]) -> list[int]:
        """Runs in the store thread: note refused messages, then store and commit the rest."""
        for uid, why in refused.items():
            self._hold(p.held, uid, why)
            self._retry_after[uid] = time.monotonic() + HELD_RETRY.total_seconds()
        return self._store(p, batch, bodies, refused)

    def _acknowledge(self, session: ImapSession, p: _Pass, done: list[int]) -> bool:
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

    def _send_acknowledgements(self, session: ImapSession, p: _Pass) -> None:
        done, p.unacknowledged = p.unacknowledged, []
        session.acknowledge(done)
        p.result.acknowledged += len(done)

    def _should_end(self, p: _Pass, should_stop: Callable[[], bool]) -> bool:
        if p.giving_up:
            raise StorageError(f"{p.in_a_row} messages in a row could not be stored")
        if should_stop():
            p.result.stopped = True
            return True
        return False

    def _store_one(self, p: _Pass, uid: int, fetched: Fetched) -> Stored | None:
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

    def _record(self, p: _Pass) -> bool:
        new, p.new = p.new, []
        return self.state.record(stored=new, last_uid=p.last_uid, held=p.held,
                                 backlog=len(p.candidates) - p.result.acknowledged)

    def _suspect(self, p: _Pass, batch: list[int], exc: BaseException) -> None:
        """The connection died during a fetch: fetch those UIDs alone; hold one that kills it twice."""
        if len(batch) > 1:
            for uid in batch:
                self._suspects.setdefault(uid, 0)
            return
        uid = batch[0]
        strikes = self._suspects.get(uid, 0) + 1
        if strikes < 2:
            self._suspects[uid] = strikes
            return
        self._suspects.pop(uid, None)
        self._retry_after[uid] = time.monotonic() + HELD_RETRY.total_seconds()
        self._hold(p.held, uid, f"the server drops the connection when asked for it: {exc}"[:300])

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

    def _batches(self, uids: Sequence[int], sizes: dict[int, int]) -> Iterator[list[int]]:
        """Several messages per UID FETCH round trip, bounded in count and bytes; suspects alone."""
        batch: list[int] = []
        total = 0
        for uid in uids:
            if uid in self._suspects:
                if batch:
                    yield batch
                    batch, total = [], 0
                yield [uid]
                continue
            if batch and (len(batch) >= self.batch_messages or total + sizes[uid] > self.batch_bytes):
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += sizes[uid]
        if batch:
            yield batch


@dataclass
class _Pass:
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
