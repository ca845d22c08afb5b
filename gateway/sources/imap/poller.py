"""An IMAP account's poller: lease, connect, pass, IDLE or poll, and reconnect with backoff."""

from __future__ import annotations

import functools
import logging
import select
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from gateway.app import App
from gateway.clock import Clock
from gateway.config.imap import ImapAccount, load_imap_accounts
from gateway.errors import GatewayError
from gateway.sources.imap.connection import IMAP_ERRORS, describe
from gateway.sources.imap.oauth_providers import token_source
from gateway.sources.imap.session import ImapSession
from gateway.sources.imap.state import LEASE_TTL, StateStore, new_owner
from gateway.sources.imap.storing import PassResult
from gateway.sources.imap.sync import FolderSync
from gateway.sources.imap.waiting import Backoff, Waker
from gateway.store.db import Database

log = logging.getLogger("gateway.imap")

# RFC 2177: servers may drop an IDLE after 30 minutes; re-issue it well inside that.
IDLE_REISSUE = timedelta(minutes=10)
# After a pass that could not store everything, try again this soon, then backing off.
RETRY_SOON = timedelta(seconds=5)
FAILURES: tuple[type[BaseException], ...] = (*IMAP_ERRORS, GatewayError, SQLAlchemyError)


class ImapPoller:
    """Keeps one account's folder drained into the inbound queue until ``stop()``."""

    def __init__(self, account: ImapAccount, db: Database, clock: Clock, *,
                 on_stored: Callable[[], None] = lambda: None, stopping: threading.Event | None = None,
                 owner: str | None = None, lease_ttl: timedelta = LEASE_TTL, backoff: Backoff | None = None,
                 connect: Callable[[ImapAccount], ImapSession] | None = None) -> None:
        self.account, self.db, self.clock = account, db, clock
        self.stopping = stopping or threading.Event()
        self.wake = Waker()
        self.idling = threading.Event()  # set while blocked in IDLE: for status and tests
        self.state = StateStore(db, clock, account, owner or new_owner(), lease_ttl)
        self.sync = FolderSync(account, db, clock, self.state, on_stored)
        self.backoff = backoff or Backoff()
        retry = min(RETRY_SOON, account.poll_interval).total_seconds()
        self._store_retry = Backoff(retry, max(retry, account.poll_interval.total_seconds()))
        self.tokens = None if account.oauth2 is None else token_source(
            account.name, account.oauth2, clock, account.timeout.total_seconds())
        self.connect = connect or functools.partial(ImapSession.open, tokens=self.tokens)
        self._renew_every = lease_ttl.total_seconds() / 3
        self._failing_since: datetime | None = None
        self._failures = 0
        self.passes = 0  # completed passes, and failed attempts, since start: for status and tests
        self.failures = 0
        self._last_success = clock.now()
        self._stale_reported = False
        self.standing_by = False

    @property
    def name(self) -> str:
        return self.account.name

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # The loop ----------------------------------------------------------------------------------

    def run(self) -> None:
        """Poll until stopped. Every failure is retried; none ends the thread."""
        try:
            while not self.stopping.is_set():
                try:
                    self._round()
                except FAILURES as exc:
                    self._failed(exc)
                    self._sleep(self.backoff.next())
                except Exception as exc:
                    log.exception("imap[%s]: unexpected failure; will retry", self.name)
                    self._failed(exc)
                    self._sleep(self.backoff.next())
        finally:
            self._release()
            self.wake.close()

    def sync_once(self) -> PassResult:
        """Connect, make one pass, disconnect: for tests, the bench and one-off runs."""
        self.state.ensure()
        holder = self.state.take_lease()
        if holder is not None:
            raise RuntimeError(f"imap[{self.name}]: the lease is held by {holder}")
        session = self.connect(self.account)
        try:
            session.ensure_done_folder()
            result = self.sync.run(session)
        finally:
            session.close()
        self._succeeded()
        return result

    def _round(self) -> None:
        self.state.ensure()
        holder = self.state.take_lease()
        if holder is not None:
            if not self.standing_by:
                log.info("imap[%s]: %s holds the lease for this mailbox; standing by", self.name, holder)
                self.standing_by = True
            self._sleep(self._renew_every)
            return
        if self.standing_by:
            log.info("imap[%s]: took the lease; polling", self.name)
            self.standing_by = False
        session = self.connect(self.account)
        try:
            session.ensure_done_folder()
            self._serve(session)
        finally:
            session.close()

    def _serve(self, session: ImapSession) -> None:
        use_idle = self.account.idle and session.can(b"IDLE")
        while not self.stopping.is_set():
            if session.renew_at is not None and self.clock.now() >= session.renew_at:
                # Log in again with a new OAuth2 token before this one expires: Exchange Online
                # ends a session whose token has expired.
                log.info("imap[%s]: OAuth2 token due for renewal; logging in again", self.name)
                return
            self.wake.clear()
            result = self.sync.run(session, self.stopping.is_set)
            self.passes += 1
            self._succeeded()
            if result.stored or result.failed:
                log.info("imap[%s]: stored %d, held %d, failed %d, backlog %d", self.name,
                         result.stored, result.held, result.failed, result.backlog)
            if result.lease_lost:
                log.warning("imap[%s]: another process took the lease; standing by", self.name)
                return
            if result.failed:
                # Some could not be stored: try again soon, then less and less often.
                self._sleep_renewing(self._store_retry.next())
                continue
            self._store_retry.reset()
            if use_idle and session.news_since_select():
                continue  # mail arrived during the pass: look again before going idle
            if use_idle:
                if not self._idle(session):
                    log.warning("imap[%s]: another process took the lease; standing by", self.name)
                    return
            else:
                self._sleep_renewing(self.account.poll_interval.total_seconds())

    def _idle(self, session: ImapSession) -> bool:
        """IDLE until new mail, the re-issue time, or a wake; False when the lease was lost."""
        now = time.monotonic()
        deadline = now + min(self.account.poll_interval, IDLE_REISSUE).total_seconds()
        renew_at = now + self._renew_every
        news, kept = session.idle_start(), True
        self.idling.set()
        try:
            sock, waker = session.socket().fileno(), self.wake.fileno()
            while kept and not news and not self.stopping.is_set() and not self.wake.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                if now >= renew_at:  # however chatty the socket, the lease is renewed on time
                    kept, renew_at = self._keep_lease(), now + self._renew_every
                    continue
                if session.buffered_news():
                    news = True
                    break
                ready = select.select([sock, waker], [], [], min(deadline, renew_at) - now)[0]
                if sock in ready:
                    news = session.idle_check()
        finally:
            self.idling.clear()
        session.idle_done()
        return kept

    # Bookkeeping -------------------------------------------------------------------------------

    def _keep_lease(self) -> bool:
        return self.state.take_lease() is None

    def _sleep(self, seconds: float) -> None:
        if not self.stopping.is_set():
            self.wake.wait(seconds)
            self.wake.clear()

    def _sleep_renewing(self, seconds: float) -> None:
        """Wait, renewing the lease meanwhile (a poll interval may be longer than the lease)."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and (remaining := deadline - time.monotonic()) > 0:
            if self.wake.wait(min(remaining, self._renew_every)):
                break
            self._keep_lease()

    def _succeeded(self) -> None:
        now = self.clock.now()
        if self._failing_since is not None:
            log.warning("imap[%s]: recovered: %s reached again after %d failed attempts since %s",
                        self.name, self.account.host, self._failures, self._failing_since.isoformat())
        self._failing_since, self._failures, self._stale_reported = None, 0, False
        self._last_success = now
        self.backoff.reset()

    def _failed(self, exc: BaseException) -> None:
        reason = describe(exc, self.account)
        self._failures += 1
        self.failures += 1
        if self._failing_since is None:
            self._failing_since = self.clock.now()
            log.error("imap[%s]: %s (%s:%d, folder %r); retrying with backoff", self.name, reason,
                      self.account.host, self.account.port, self.account.folder)
        else:
            log.debug("imap[%s]: attempt %d failed: %s", self.name, self._failures, reason)
        try:
            self.state.ensure()
            self.state.record_error(reason)
        except SQLAlchemyError as db_exc:
            log.debug("imap[%s]: cannot record the error: %s", self.name, db_exc.__class__.__name__)
        self._check_stale(reason)

    def _check_stale(self, reason: str) -> None:
        quiet = self.clock.now() - self._last_success
        if quiet > self.account.stale_after and not self._stale_reported:
            self._stale_reported = True
            log.error("imap[%s]: STALE: no successful contact with %s for %s (stale_after %s); "
                      "last error: %s", self.name, self.account.host, _minutes(quiet),
                      _minutes(self.account.stale_after), reason)

    def _release(self) -> None:
        try:
            self.state.release_lease()
        except (SQLAlchemyError, LookupError) as exc:
            log.debug("imap[%s]: could not release the lease: %s", self.name, exc.__class__.__name__)


class ImapWorker(threading.Thread):
    """One account's poller in its own thread, so a slow account stalls nothing else."""

    def __init__(self, poller: ImapPoller) -> None:
        super().__init__(name=f"imap-{poller.name}", daemon=True)
        self.poller = poller
        self.wake = poller.wake

    def run(self) -> None:
        self.poller.run()


def start_imap_pollers(app: App, stopping: threading.Event,
                       on_stored: Callable[[], None]) -> list[ImapWorker]:
    """Start a poller thread per ``[[imap]]`` account; raise ConfigError before starting any."""
    accounts = load_imap_accounts(app.config)
    # imapclient logs every protocol line, message bodies included, at DEBUG (`helpdesk -v`).
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    workers = [ImapWorker(ImapPoller(a, app.db, app.clock, on_stored=on_stored, stopping=stopping))
               for a in accounts]
    for worker in workers:
        worker.start()
    for account in accounts:
        log.info("imap[%s]: polling %s@%s:%d folder %r (%s)", account.name, account.username,
                 account.host, account.port, account.folder,
                 f"then move to {account.done_folder!r}" if account.done_folder else "then mark \\Seen")
    return workers


def stop_imap_pollers(workers: list[ImapWorker], timeout: float = 10.0) -> None:
    """Stop the pollers (an IDLE is interrupted at once) and wait for their threads."""
    for worker in workers:
        worker.poller.stop()
    for worker in workers:
        worker.join(timeout)


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s"
