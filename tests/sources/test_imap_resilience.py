"""The IMAP poller when things go wrong: refused and oversized mail, dead sockets, leases, TLS."""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.config.imap import ImapAccount
from gateway.sources.imap.poller import ImapPoller
from gateway.sources.imap.session import ImapSession
from gateway.sources.imap.state import _MACHINE, LEASE_TTL
from gateway.sources.imap.waiting import Backoff
from gateway.store.db import Database
from tests.imap_server import (
    Dovecot,
    account,
    count,
    find_state_row,
    mails,
    polling,
    running_dovecot,
    state_row,
)
from tests.support import customer_mail, wait_for

pytestmark = pytest.mark.dovecot
QUICK = Backoff(0.02, 0.2)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'imap.sqlite3'}")
    database.upgrade()
    yield database
    database.dispose()


def _imap_lines(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.imap" and needle in r.getMessage()]


def test_refused_and_oversized_mail_stays_in_the_mailbox_reported_once(
        db: Database, dovecot: Dovecot, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    raws = mails(5, "held")
    raws[1] = customer_mail("big@customer.example", "held big", "x" * 20_000)
    raws[3] = customer_mail("bad@customer.example", "held unreadable", "UNREADABLE-MARKER")
    dovecot.append(raws)
    [big] = dovecot.uids(criteria=["SUBJECT", "held big"])
    [bad] = dovecot.uids(criteria=["SUBJECT", "held unreadable"])
    # Dovecot cannot open this file: it answers the FETCH with BYE and drops the connection.
    dovecot.mail_file(b"UNREADABLE-MARKER").chmod(0)
    poller = ImapPoller(account(dovecot, max_message_size=10_000, idle=False,
                                poll_interval=timedelta(milliseconds=50)), db, clock, backoff=QUICK)
    with caplog.at_level(logging.INFO, logger="gateway.imap"), polling(poller):
        wait_for(lambda: len(getattr(find_state_row(db), "held", {})) == 2, 20, what="both messages held")
        passes = poller.passes
        wait_for(lambda: poller.passes >= passes + 5, 20, what="five more passes")
        assert count(db) == 3
        assert sorted(dovecot.uids(criteria="UNSEEN")) == sorted([big, bad])
        held = state_row(db).held
        assert "larger than max_message_size" in held[str(big)]
        assert "drops the connection" in held[str(bad)]
        # Reported once each, however many passes have seen them since.
        assert len(_imap_lines(caplog, f"UID {big} stays")) == 1
        assert len(_imap_lines(caplog, f"UID {bad} stays")) == 1

        dovecot.mail_file(b"UNREADABLE-MARKER").chmod(0o600)  # Dovecot has moved it to cur/ meanwhile
        poller.sync.retry_held_now()
        wait_for(lambda: count(db) == 4, 20, what="the once-unreadable mail stored")
    assert list(state_row(db).held) == [str(big)] and dovecot.uids(criteria="UNSEEN") == [big]
    assert len(_imap_lines(caplog, f"UID {bad}, held back before, is now stored")) == 1


def _without(capability: bytes) -> Callable[[ImapAccount], ImapSession]:
    def connect(acc: ImapAccount) -> ImapSession:
        session = ImapSession.open(acc)
        session.capabilities = session.capabilities - {capability, b"MOVE"}
        return session
    return connect


@pytest.mark.parametrize("missing", [b"MOVE", b"UIDPLUS"])
def test_without_move_copy_then_delete(db: Database, dovecot: Dovecot, clock: FakeClock, missing: bytes) -> None:
    dovecot.append(mails(5, "copy"))
    poller = ImapPoller(account(dovecot, done_folder="Done"), db, clock, connect=_without(missing))
    assert poller.sync_once().stored == 5
    assert len(dovecot.uids("Done")) == 5
    if missing == b"MOVE":  # COPY, \Deleted, UID EXPUNGE
        assert dovecot.uids("INBOX") == []
    else:  # no UIDPLUS: left \Deleted for the mailbox's owner to expunge; never taken again
        assert len(dovecot.uids("INBOX", ["DELETED"])) == 5
    again = poller.sync_once()
    assert (again.candidates, again.stored) == (0, 0) and len(dovecot.uids("Done")) == 5


def test_one_poller_per_mailbox_holds_the_lease_until_it_expires(
        db: Database, dovecot: Dovecot, clock: FakeClock) -> None:
    acc = account(dovecot)
    first = ImapPoller(acc, db, clock, owner="host-a:101:aaaa:m1")
    second = ImapPoller(acc, db, clock, owner="host-b:202:bbbb:m2")
    dovecot.append(mails(2, "lease"))
    assert first.sync_once().stored == 2
    with pytest.raises(RuntimeError, match="held by host-a"):
        second.sync_once()
    clock.advance(LEASE_TTL + timedelta(seconds=1))
    dovecot.append(mails(1, "later"))
    assert second.sync_once().stored == 1
    assert state_row(db).lease_owner == "host-b:202:bbbb:m2"
    with pytest.raises(RuntimeError, match="held by host-b"):
        first.sync_once()


def test_a_killed_holder_on_this_machine_is_taken_over_at_once(
        db: Database, dovecot: Dovecot, clock: FakeClock) -> None:
    if not _MACHINE:
        pytest.skip("no /proc to tell this machine's processes apart")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    acc = account(dovecot)
    ImapPoller(acc, db, clock, owner=f"{socket.gethostname()}:{dead.pid}:dead:{_MACHINE}").sync_once()
    assert ImapPoller(acc, db, clock).sync_once().candidates == 0
    assert str(os.getpid()) in (state_row(db).lease_owner or "")


def test_a_standby_poller_takes_over_when_the_holder_stops(db: Database, dovecot: Dovecot,
                                                           clock: FakeClock) -> None:
    acc = account(dovecot)
    ttl = timedelta(milliseconds=300)
    holder = ImapPoller(acc, db, clock, owner="host-a:1:aaaa:m1", lease_ttl=ttl)
    holder.sync_once()  # takes the lease; the fake clock never lets it expire
    standby = ImapPoller(acc, db, clock, lease_ttl=ttl)
    with polling(standby):
        dovecot.append(mails(1, "standby"))
        wait_for(lambda: standby.failures == 0 and standby.standing_by, 10, what="the standby")
        assert count(db) == 0
        holder.state.release_lease()
        wait_for(lambda: count(db) == 1, 10, what="the standby to take over")


def test_stale_poller_says_so_once_and_recovery_once(
        db: Database, dovecot: Dovecot, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    acc = account(dovecot, stale_after=timedelta(minutes=10), poll_interval=timedelta(minutes=1))
    poller = ImapPoller(acc, db, clock, backoff=QUICK)
    with caplog.at_level(logging.INFO, logger="gateway.imap"), polling(poller):
        wait_for(lambda: poller.passes >= 1, 10, what="a first pass")
        dovecot.stop(graceful=False)
        wait_for(lambda: poller.failures >= 2, 10, what="failures")
        assert _imap_lines(caplog, "STALE") == []
        clock.advance(timedelta(minutes=11))
        wait_for(lambda: _imap_lines(caplog, "STALE"), 10, what="the stale warning")
        failures = poller.failures
        wait_for(lambda: poller.failures >= failures + 3, 10, what="more failures")
        dovecot.start()
        wait_for(lambda: _imap_lines(caplog, "recovered"), 20, what="the recovery")
    assert len(_imap_lines(caplog, "STALE")) == 1
    assert len(_imap_lines(caplog, "retrying with backoff")) == 1
    assert len(_imap_lines(caplog, "recovered")) == 1
    assert state_row(db).last_error is not None


def test_an_idle_connection_that_dies_silently_is_replaced(
        db: Database, dovecot: Dovecot, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    poller = ImapPoller(account(dovecot, poll_interval=timedelta(hours=1), stale_after=timedelta(hours=2)),
                        db, clock, backoff=QUICK)
    with caplog.at_level(logging.INFO, logger="gateway.imap"), polling(poller):
        wait_for(poller.idling.is_set, 10, what="the poller to IDLE")
        # SIGKILL the server process of the session: EOF without a BYE, on a socket in IDLE.
        assert dovecot.kill_sessions() == 1
        wait_for(lambda: poller.failures >= 1 and poller.idling.is_set(), 10, what="a new IDLE session")
        dovecot.append(mails(1, "after"))
        wait_for(lambda: count(db) == 1, 5, what="mail through the new session")
    assert len(_imap_lines(caplog, "retrying with backoff")) == 1
    assert len(_imap_lines(caplog, "recovered")) == 1


def test_a_server_that_stops_answering_times_out_and_is_replaced(
        db: Database, dovecot: Dovecot, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    acc = account(dovecot, timeout=timedelta(milliseconds=500), poll_interval=timedelta(milliseconds=300))
    poller = ImapPoller(acc, db, clock, backoff=QUICK)
    with caplog.at_level(logging.INFO, logger="gateway.imap"), polling(poller):
        wait_for(poller.idling.is_set, 10, what="the poller to IDLE")
        [frozen] = dovecot.session_pids()
        os.kill(frozen, signal.SIGSTOP)  # the connection stays open; nothing answers on it
        try:
            wait_for(lambda: poller.failures >= 1, 10, what="the timeout")
            dovecot.append(mails(1, "thawed"))
            wait_for(lambda: count(db) == 1, 10, what="mail through a new session")
        finally:
            os.kill(frozen, signal.SIGKILL)
    assert any("no answer within 0.5s" in line for line in _imap_lines(caplog, "retrying with backoff"))


def test_stop_interrupts_idle_at_once(db: Database, dovecot: Dovecot, clock: FakeClock) -> None:
    poller = ImapPoller(account(dovecot, poll_interval=timedelta(hours=1), stale_after=timedelta(hours=2)),
                        db, clock)
    with polling(poller):
        wait_for(poller.idling.is_set, 10, what="the poller to IDLE")
        started = time.monotonic()
    assert time.monotonic() - started < 2
    assert state_row(db).lease_owner is None  # released on the way out


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_with_a_private_ca(db: Database, clock: FakeClock, security: str) -> None:
    with running_dovecot(tls=True) as server:
        server.append(mails(2, security))
        port = server.tls_port if security == "tls" else server.port
        acc = account(server, security=security, port=port, ca_file=server.cert)
        assert ImapPoller(acc, db, clock).sync_once().stored == 2
        untrusted = account(server, security=security, port=port, name="untrusted")
        with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
            ImapPoller(untrusted, db, clock).sync_once()


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    for attempt, delay in enumerate(delays):
        ceiling = min(8.0, 2.0 ** attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays[4:])) == 4  # jittered, not in lockstep
    backoff.reset()
    assert backoff.next() <= 1.0


def test_the_protocol_trace_is_there_for_whoever_turns_its_logger_to_debug(
        dovecot: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    # Otherwise imaplib's trace formatting is turned off: it cost 40% of a bulk fetch.
    dovecot.append([customer_mail("ann@customer.example", "Trace", "Traced body line")])
    with caplog.at_level(logging.DEBUG, logger="imapclient.imaplib"):
        session = ImapSession.open(account(dovecot))
        try:
            session.select()
            bodies, _refused = session.fetch(session.candidates(0))
        finally:
            session.close()
    assert [b"Traced body line" in f.raw for f in bodies.values()] == [True]
    trace = [r.getMessage() for r in caplog.records if r.name == "imapclient.imaplib"]
    assert any("Traced body line" in line for line in trace)
    assert not any(dovecot.users["support"] in line for line in trace)  # the password stays out
