"""The IMAP poller against a real Dovecot: every mail once, acknowledged only after its commit."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.clock import FakeClock, SystemClock
from gateway.config.imap import ImapAccount
from gateway.processing.worker import Processor
from gateway.sources.imap import session as imap_session
from gateway.sources.imap.poller import ImapPoller
from gateway.sources.imap.session import Fetched, ImapSession
from gateway.sources.imap.waiting import Backoff
from gateway.store.db import Database
from gateway.store.models import InboundMessage, Ticket
from tests.imap_server import (
    Dovecot,
    account,
    commit_checking_connect,
    count,
    mails,
    polling,
    running_dovecot,
    state_row,
    ticket_message_ids,
    tickets,
)
from tests.support import customer_mail, drop_failing_trigger, install_failing_trigger, wait_for

pytestmark = pytest.mark.dovecot


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.mark.parametrize(("database", "done_folder"), [("sqlite", None), ("postgres", "Done")],
                         indirect=["database"])
def test_200_mails_become_200_tickets_once_and_none_is_acknowledged_before_its_commit(
        make_app: Callable[..., App], dovecot: Dovecot, done_folder: str | None) -> None:
    app = make_app()
    raws = mails(200)
    raws[77] = customer_mail("c77@customer.example", "case 77", "FAIL-COMMIT: the database refuses this one",
                             message_id="<case-77@customer.example>")
    dovecot.append(raws)
    [failing] = dovecot.uids(criteria=["SUBJECT", "case 77"])
    install_failing_trigger(app.db)
    acknowledged: list[int] = []
    poller = ImapPoller(account(dovecot, done_folder=done_folder), app.db, app.clock,
                        connect=commit_checking_connect(app.db, acknowledged))

    first = poller.sync_once()
    assert (first.stored, first.failed, first.backlog) == (199, 1, 1)
    assert failing not in acknowledged and count(app.db) == 199
    # The one whose commit failed is untouched: still in INBOX, still unseen.
    assert dovecot.uids(criteria="UNSEEN") == [failing]
    if done_folder:
        assert dovecot.uids() == [failing] and len(dovecot.uids(done_folder)) == 199

    drop_failing_trigger(app.db)
    second = poller.sync_once()
    assert (second.stored, second.failed, second.backlog) == (1, 0, 0)
    assert sorted(acknowledged) == sorted(set(acknowledged)) and len(acknowledged) == 200
    if done_folder:
        assert dovecot.uids() == [] and len(dovecot.uids(done_folder)) == 200
    else:
        assert dovecot.uids(criteria="UNSEEN") == [] and len(dovecot.uids(criteria="SEEN")) == 200
    assert poller.sync_once().candidates == 0

    assert _drain(app) == {"ticket": 200}
    ids = ticket_message_ids(app.db)
    assert len(ids) == len(set(ids)) == 200 and tickets(app.db) == 200
    row = state_row(app.db)
    assert (row.stored_count, row.backlog, row.held, row.last_stored_uid) == (200, 0, {}, failing)


def _drain(app: App) -> dict[str, int]:
    """Process everything pending; on PostgreSQL several processors share the work (SKIP LOCKED)."""
    workers = 1 if app.db.is_sqlite else 4
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: Processor(app).drain(), range(workers)))
    return dict(sum((Counter(r) for r in results), Counter()))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'imap.sqlite3'}")
    db.upgrade()
    yield db
    db.dispose()


def test_mail_arriving_during_idle_is_stored_within_two_seconds(sqlite_db: Database, dovecot: Dovecot,
                                                                clock: FakeClock) -> None:
    # An hour between safety polls: only IDLE can bring the new mail in time.
    poller = ImapPoller(account(dovecot, poll_interval=timedelta(hours=1), stale_after=timedelta(hours=2)),
                        sqlite_db, clock)
    with polling(poller):
        wait_for(poller.idling.is_set, 10, what="the poller to IDLE")
        dovecot.append(mails(1, "idle"))
        started = time.monotonic()
        wait_for(lambda: count(sqlite_db) == 1, 2.0, what="the mail stored while idling")
        elapsed = time.monotonic() - started
        wait_for(lambda: dovecot.uids(criteria="UNSEEN") == [], 5, what="the mail marked seen")
    assert poller.passes >= 2 and elapsed < 2.0


def test_mail_arriving_between_the_search_and_idle_is_not_left_for_the_next_poll(
        sqlite_db: Database, dovecot: Dovecot, clock: FakeClock) -> None:
    once = threading.Event()

    class AppendAfterSearch(ImapSession):
        def candidates(self, last_uid: int) -> list[int]:
            found = super().candidates(last_uid)
            if not once.is_set():
                once.set()  # the server will announce it as the IDLE begins, maybe in one segment
                dovecot.append(mails(1, "racing"))
            return found

    poller = ImapPoller(account(dovecot, poll_interval=timedelta(hours=1), stale_after=timedelta(hours=2)),
                        sqlite_db, clock, connect=AppendAfterSearch.open)
    with polling(poller):
        wait_for(lambda: count(sqlite_db) == 1, 3.0, what="the mail that raced the IDLE")


@pytest.mark.parametrize("done_folder", [None, "Done"])
def test_mail_delivered_while_a_pass_fetches_is_not_left_for_the_next_poll(
        sqlite_db: Database, dovecot: Dovecot, clock: FakeClock, done_folder: str | None) -> None:
    """The server announces it (EXISTS) in its answer to our FETCH, not again when IDLE begins."""
    dovecot.append(mails(5, "waiting"))
    once = threading.Event()

    class AppendDuringFetch(ImapSession):
        def fetch(self, uids: Sequence[int]) -> tuple[dict[int, Fetched], dict[int, str]]:
            if not once.is_set():
                once.set()
                dovecot.append(mails(1, "during"))
            return super().fetch(uids)

    poller = ImapPoller(account(dovecot, done_folder=done_folder, poll_interval=timedelta(hours=1),
                                stale_after=timedelta(hours=2)), sqlite_db, clock, connect=AppendDuringFetch.open)
    with polling(poller):
        wait_for(lambda: count(sqlite_db) == 6, 5.0, what="the mail delivered during the pass")


def test_without_idle_the_poll_interval_brings_mail(sqlite_db: Database, dovecot: Dovecot,
                                                    clock: FakeClock) -> None:
    poller = ImapPoller(account(dovecot, idle=False, poll_interval=timedelta(milliseconds=100)), sqlite_db, clock)
    with polling(poller):
        wait_for(lambda: poller.passes >= 1, 10, what="a first pass")
        dovecot.append(mails(3, "polled"))
        wait_for(lambda: count(sqlite_db) == 3 and not dovecot.uids(criteria="UNSEEN"), 10,
                 what="the mails stored by polling")
    assert not poller.idling.is_set()


def _stop_server_before_first_acknowledgement(server: Dovecot) -> Callable[[ImapAccount], ImapSession]:
    """Sessions that stop the server once, after a batch's commits and before its \\Seen."""
    stopped = threading.Event()

    class Stopping(ImapSession):
        def acknowledge(self, uids: Sequence[int]) -> None:
            if uids and not stopped.is_set():
                stopped.set()
                server.stop(graceful=False)
            super().acknowledge(uids)

    return Stopping.open


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_server_stopped_mid_batch_then_restarted_every_mail_once(
        make_app: Callable[..., App], dovecot: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    # More than two batches: the first acknowledgement goes out while the second batch is
    # being committed, and the server stops under it; the third is never fetched.
    dovecot.append(mails(500))
    poller = ImapPoller(account(dovecot), app.db, app.clock, backoff=Backoff(0.05, 0.5),
                        connect=_stop_server_before_first_acknowledgement(dovecot))
    with caplog.at_level(logging.INFO, logger="gateway.imap"), polling(poller):
        wait_for(lambda: poller.failures >= 3, 20, what="several failed reconnection attempts")
        # The first batch is committed but not marked seen: the crash window, held open.
        at_stop = count(app.db)
        dovecot.start()
        wait_for(lambda: count(app.db) == 500 and dovecot.uids(criteria="UNSEEN") == [], 30,
                 what="every mail stored and seen after the restart")
    assert 0 < at_stop < 500
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.imap"]
    assert sum("retrying with backoff" in line for line in lines) == 1, lines
    assert sum("recovered" in line for line in lines) == 1, lines
    assert Processor(app).drain() == {"ticket": 500}
    ids = ticket_message_ids(app.db)
    assert len(ids) == len(set(ids)) == 500


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_new_uidvalidity_rereads_the_folder_without_duplicate_tickets(
        make_app: Callable[..., App], dovecot: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    raws = mails(20, "valid")
    dovecot.append(raws, folder="Support")
    poller = ImapPoller(account(dovecot, folder="Support"), app.db, app.clock)
    assert poller.sync_once().stored == 20
    assert Processor(app).drain() == {"ticket": 20}
    before = state_row(app.db).uidvalidity

    # The mailbox is recreated with the same messages (a restore from backup, a migration):
    # half of them come back already \Seen, so "unseen" alone would miss them.
    with dovecot.client() as client:
        client.delete_folder("Support")
        client.create_folder("Support")
    dovecot.append(raws[:10], folder="Support")
    dovecot.append(raws[10:], folder="Support", flags=(b"\\Seen",))
    with caplog.at_level(logging.WARNING, logger="gateway.imap"):
        again = poller.sync_once()
    assert state_row(app.db).uidvalidity != before
    assert again.resynced and again.stored == 20
    assert any("UIDVALIDITY" in r.getMessage() for r in caplog.records)
    assert Processor(app).drain() == {"duplicate": 20}
    assert tickets(app.db) == 20 and count(app.db, InboundMessage, InboundMessage.state == "duplicate") == 20
    assert poller.sync_once().candidates == 0


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_mail_that_waited_in_the_mailbox_is_received_when_it_arrived_there(
        make_app: Callable[..., App], dovecot: Dovecot, clock: FakeClock) -> None:
    app = make_app()
    # Dovecot takes no INTERNALDATE from the future (its own clock): the gateway's clock is set
    # four hours behind it, so that there is room for an outage and a server clock running ahead.
    start = SystemClock().now().replace(microsecond=0) - timedelta(hours=4)
    clock.set(start)
    poller = ImapPoller(account(dovecot), app.db, app.clock)
    with dovecot.client() as client:  # already there at the first look: not waiting for us
        client.append("INBOX", customer_mail("old@customer.example", "before", "from last week"),
                      msg_time=start - timedelta(days=7))
    assert poller.sync_once().stored == 1
    clock.set(start + timedelta(hours=3))  # the gateway was down for three hours
    with dovecot.client() as client:
        client.append("INBOX", customer_mail("early@customer.example", "waited", "sent while you were down"),
                      msg_time=start + timedelta(hours=1))
        client.append("INBOX", customer_mail("moved@customer.example", "moved in", "dragged from an archive"),
                      msg_time=start - timedelta(days=30))
        client.append("INBOX", customer_mail("late@customer.example", "ahead", "a server clock running ahead"),
                      msg_time=start + timedelta(hours=3, minutes=30))
    assert poller.sync_once().stored == 3
    assert Processor(app).drain() == {"ticket": 4}
    with app.db.sessions() as session:
        opened = {t.customer_address: t.status_since for t in session.scalars(select(Ticket))}
    # The ticket's timers (and its SLA clocks, under a plan) run from when the mail arrived.
    assert opened == {"old@customer.example": start,
                      "early@customer.example": start + timedelta(hours=1),
                      "moved@customer.example": start,  # no earlier than our last look at the mailbox
                      "late@customer.example": start + timedelta(hours=3)}


def test_a_fetch_answer_in_another_shape_is_read_through_imapclient_the_same(
        dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    raws = mails(3, "shape")
    dovecot.append(raws)
    session = ImapSession.open(account(dovecot))
    try:
        session.select()
        uids = dovecot.uids()
        fast, _refused = session.fetch(uids)
        # As if the server ordered the items differently: nothing matches the common shape.
        monkeypatch.setattr(imap_session, "_LITERAL_PREFIX", re.compile(rb"(?!)"))
        slow, _refused = session.fetch(uids)
    finally:
        session.close()
    assert [fast[u].raw for u in uids] == [slow[u].raw for u in uids] == raws
    assert all(fast[u].arrived is not None and fast[u].arrived == slow[u].arrived for u in uids)
