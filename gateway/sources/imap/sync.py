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

This module holds the pass itself: select, candidates, sizes, batches and the pipeline that
fetches one batch while the one before is stored. How a batch is stored, committed and
acknowledged is in ``storing``.
"""

from __future__ import annotations

import imaplib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from gateway.clock import Clock
from gateway.config.imap import ImapAccount
from gateway.errors import StorageError
from gateway.sources.imap.session import ImapSession
from gateway.sources.imap.state import StateStore
from gateway.sources.imap.storing import HELD_RETRY, BatchStore, PassResult, PassState
from gateway.store.db import Database

log = logging.getLogger("gateway.imap")

BATCH_MESSAGES = 200
BATCH_BYTES = 8 * 1000**2


def source_key(account: str, uidvalidity: int, uid: int) -> str:
    return f"imap:{account}:{uidvalidity}:{uid}"


class FolderSync(BatchStore):
    """Runs passes over one account's folder through a logged-in ImapSession."""

    def __init__(self, account: ImapAccount, db: Database, clock: Clock, state: StateStore,
                 on_stored: Callable[[], None] = lambda: None, *,
                 batch_messages: int = BATCH_MESSAGES, batch_bytes: int = BATCH_BYTES) -> None:
        super().__init__(account, db, clock, state, on_stored)
        self.batch_messages, self.batch_bytes = batch_messages, batch_bytes

    def retry_held_now(self) -> None:
        self._retry_after.clear()

    def run(self, session: ImapSession, should_stop: Callable[[], bool] = lambda: False) -> PassResult:
        p = self._begin(session)
        # Stored by an earlier pass that died before acknowledging: acknowledge, do not fetch.
        already = self._already_stored(p.keys)
        session.acknowledge(already)
        p.result.already_stored = p.result.acknowledged = len(already)
        done_before = set(already)
        todo = [uid for uid in p.candidates if uid not in done_before]
        sizes = self._sizes(session, todo)
        self._fetch_and_store(session, p, self._fetchable(p, todo, sizes), sizes, should_stop)
        p.result.held = len(p.held)
        p.result.backlog = len(p.candidates) - p.result.acknowledged
        if not p.result.lease_lost and not self._record(p):
            p.result.lease_lost = True
        return p.result

    def _begin(self, session: ImapSession) -> PassState:
        """Select the folder, take up the account's position in it, and find the candidates."""
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
        return PassState(candidates, {u: w for u, w in position.held.items() if u in present},
                         {u: source_key(self.account.name, box.uidvalidity, u) for u in candidates},
                         position.last_uid, PassResult(candidates=len(candidates), resynced=position.resynced),
                         last_contact=position.last_contact)

    def _sizes(self, session: ImapSession, todo: list[int]) -> dict[int, int]:
        """Each UID's size, or a bound on it.

        Sizes are asked only of the few large messages: the rest are known to be at most
        ``small``, which bounds a batch's bytes as well as an exact size would.
        """
        small = min(self.account.max_message_size, self.batch_bytes // self.batch_messages)
        large = session.larger_than(small)
        sizes = session.sizes([uid for uid in todo if uid in large])
        sizes.update((uid, small) for uid in todo if uid not in large)
        return sizes

    def _fetch_and_store(self, session: ImapSession, p: PassState, uids: list[int], sizes: dict[int, int],
                         should_stop: Callable[[], bool]) -> None:
        """Pipelined: while one batch is being stored and committed (in the store thread), the
        next is fetched, and the one before is acknowledged. A batch is acknowledged only
        after its own commit."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-store") as pool:
            storing: Future[list[int]] | None = None
            for batch in self._batches(uids, sizes):
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

    def _fetchable(self, p: PassState, todo: list[int], sizes: dict[int, int]) -> list[int]:
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

    def _should_end(self, p: PassState, should_stop: Callable[[], bool]) -> bool:
        if p.giving_up:
            raise StorageError(f"{p.in_a_row} messages in a row could not be stored")
        if should_stop():
            p.result.stopped = True
            return True
        return False

    def _suspect(self, p: PassState, batch: list[int], exc: BaseException) -> None:
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
