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

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from gateway.clock import Clock
from gateway.db import Database
from gateway.errors import StorageError
from gateway.imap_config import ImapAccount
from gateway.imap_session import ImapSession
from gateway.imap_state import StateStore
from gateway.intake import Envelope, store_inbound
from gateway.models import InboundMessage

log = logging.getLogger("gateway.imap")

BATCH_MESSAGES = 50
BATCH_BYTES = 8 * 1000**2
# This many storage failures in a row means the database is down, not one bad message.
FAILURES_BEFORE_GIVING_UP = 3
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

    def run(self, session: ImapSession, should_stop: Callable[[], bool] = lambda: False) -> PassResult:
        name = self.account.name
        box = session.select()
        highest = 0 if box.uidnext else max(session.client.search("ALL") or [0])
        position = self.state.begin(box.uidvalidity, box.uidnext, highest)
        result = PassResult(resynced=position.resynced)
        if position.resynced:
            log.warning("imap[%s]: UIDVALIDITY of %r changed to %d: reading the folder again; "
                        "mail already stored is recognised as a duplicate", name, self.account.folder,
                        box.uidvalidity)
        candidates = session.candidates(position.last_uid)
        result.candidates = len(candidates)
        held = {uid: why for uid, why in position.held.items() if uid in set(candidates)}
        keys = {uid: source_key(name, box.uidvalidity, uid) for uid in candidates}
        already = self._already_stored(keys)
        # Stored by an earlier pass that died before acknowledging: acknowledge, do not fetch.
        session.acknowledge(already)
        result.already_stored = result.acknowledged = len(already)
        todo = [uid for uid in candidates if uid not in set(already)]
        sizes = session.sizes(todo)
        fits: list[int] = []
        for uid in todo:
            size = sizes.get(uid)
            if size is None:
                continue  # expunged by someone else since the search
            if size > self.account.max_message_size:
                self._hold(held, uid, f"{size} bytes is larger than max_message_size "
                                      f"({self.account.max_message_size} bytes)")
            else:
                fits.append(uid)
        last_uid, in_a_row, giving_up = position.last_uid, 0, False
        for batch in self._batches(fits, sizes):
            bodies, refused = session.fetch(batch)
            for uid, why in refused.items():
                self._hold(held, uid, why)
            done: list[int] = []
            new: list[int] = []
            for uid in batch:
                raw = bodies.get(uid)
                if raw is None:
                    if uid not in refused:
                        self._hold(held, uid, "the server returned no body for it")
                    continue
                try:
                    stored = store_inbound(self.db, raw, source="imap", envelope=NO_ENVELOPE,
                                           received_at=self.clock.now(), source_key=keys[uid])
                except StorageError:
                    result.failed += 1
                    in_a_row += 1
                    giving_up = in_a_row >= FAILURES_BEFORE_GIVING_UP
                    if giving_up:
                        break
                    continue
                in_a_row = 0
                done.append(uid)
                if stored.duplicate:
                    result.already_stored += 1
                else:
                    new.append(uid)
                if held.pop(uid, None) is not None:
                    log.info("imap[%s]: UID %d, held back before, is now stored", name, uid)
            # Every message in `done` is committed: now, and only now, acknowledge them.
            session.acknowledge(done)
            result.acknowledged += len(done)
            result.stored += len(new)
            if new:
                self.on_stored()
                last_uid = max(last_uid, *new)
            remaining = len(candidates) - result.acknowledged
            if not self.state.record(stored=new, last_uid=last_uid, backlog=remaining, held=held,
                                     contact=True):
                result.lease_lost = True
                break
            if giving_up:
                raise StorageError(f"{in_a_row} messages in a row could not be stored")
            if should_stop():
                result.stopped = True
                break
        result.held = len(held)
        result.backlog = len(candidates) - result.acknowledged
        if not result.lease_lost and not self.state.record(stored=(), last_uid=last_uid,
                                                           backlog=result.backlog, held=held):
            result.lease_lost = True
        return result

    def _hold(self, held: dict[int, str], uid: int, why: str) -> None:
        """Leave a message in the mailbox and report it, once (the report is kept in the state row)."""
        if held.get(uid) == why:
            return
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
        """Several messages per UID FETCH round trip, bounded in count and in bytes."""
        batch: list[int] = []
        total = 0
        for uid in uids:
            if batch and (len(batch) >= self.batch_messages or total + sizes[uid] > self.batch_bytes):
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += sizes[uid]
        if batch:
            yield batch
