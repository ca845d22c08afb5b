"""Group commit at the listener: mails whose DATA ends together share one commit, each answered with
its own outcome, and one mail the database refuses does not take the others' 250 with it."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import event, select

from gateway.errors import StorageError
from gateway.sources.group_commit import GroupCommit
from gateway.store.db import Database
from gateway.store.inbound import Delivery, Envelope, Stored, store_deliveries
from gateway.store.models import InboundMessage
from tests.support import customer_mail

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _delivery(n: int) -> Delivery:
    sender = f"user{n}@customer.example"
    return Delivery(customer_mail(sender, f"Request {n}", f"Please help with {n}."), "smtp",
                    Envelope(sender, ("support@example.com",)), NOW)


def _count_commits(db: Database) -> list[int]:
    commits = [0]

    @event.listens_for(db.engine, "commit")
    def _on_commit(_conn: object) -> None:
        commits[0] += 1

    return commits


async def _store_all(committer: GroupCommit, deliveries: list[Delivery]) -> list[Stored | BaseException]:
    return await asyncio.gather(*(committer.store(d) for d in deliveries), return_exceptions=True)


def test_mails_that_arrive_together_share_one_commit(database: Database) -> None:
    commits = _count_commits(database)
    deliveries = [_delivery(n) for n in range(20)]
    with ThreadPoolExecutor(2) as executor:
        committer = GroupCommit(lambda ds: store_deliveries(database, ds), executor)
        results = asyncio.run(_store_all(committer, deliveries))
        again = asyncio.run(_store_all(committer, deliveries[:3]))  # a client that sends again
    assert commits[0] == committer.commits == 2
    assert all(isinstance(r, Stored) and not r.duplicate for r in results)
    assert all(isinstance(r, Stored) and r.duplicate for r in again)
    with database.read_sessions() as session:
        raw = {row.id: row.raw for row in session.execute(select(InboundMessage.id, InboundMessage.raw))}
    assert len(raw) == 20
    # each client is told the row of its own mail
    assert [raw[r.inbound_id] for r in results if isinstance(r, Stored)] == [d.raw for d in deliveries]


def test_a_mail_the_database_refuses_fails_alone(database: Database) -> None:
    def store(ds: list[Delivery]) -> list[Stored]:
        if any(d.envelope.mail_from == "user3@customer.example" for d in ds):
            raise StorageError("could not store the message(s): the database refused it")
        return store_deliveries(database, ds)

    with ThreadPoolExecutor(2) as executor:
        committer = GroupCommit(store, executor)
        results = asyncio.run(_store_all(committer, [_delivery(n) for n in range(6)]))
    assert [type(r).__name__ for r in results] == ["Stored"] * 3 + ["StorageError"] + ["Stored"] * 2
    with database.read_sessions() as session:
        assert len(session.scalars(select(InboundMessage.id)).all()) == 5


def test_a_group_holds_at_most_its_limit(database: Database) -> None:
    commits = _count_commits(database)
    with ThreadPoolExecutor(2) as executor:
        committer = GroupCommit(lambda ds: store_deliveries(database, ds), executor, limit=4)
        results = asyncio.run(_store_all(committer, [_delivery(n) for n in range(10)]))
    assert all(isinstance(r, Stored) for r in results)
    assert commits[0] == 3  # 4 + 4 + 2
