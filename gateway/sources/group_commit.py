"""Group commit for the listener: mails whose DATA ends together share one commit.

The first mail is stored at once, on its own. Those whose DATA ends while that store is under way
wait for it, then go together: one transaction, one fsync, up to ``LIMIT`` mails. Each client still
hears its 250 only once the commit that holds its own mail has returned. On a disk where an fsync
takes milliseconds, a commit a mail caps the listener at a few hundred mails a second, whatever
the number of clients; grouped, the cap grows with them.

Should a group's store fail, each of its mails is stored again on its own: a mail the database
refuses turns only its own 250 into 451, and trouble that is the database's (it is down) reaches
every client as the 451 it would have had alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor

from gateway.store.inbound import Delivery, Stored

log = logging.getLogger("gateway.intake")

LIMIT = 64  # mails in one commit at most
Store = Callable[[list[Delivery]], list[Stored]]


class GroupCommit:
    """Stores deliveries through ``store`` (one transaction for the list it is given) in ``executor``."""

    def __init__(self, store: Store, executor: Executor, limit: int = LIMIT) -> None:
        self._store = store
        self._executor = executor
        self._limit = limit
        self._waiting: list[tuple[Delivery, asyncio.Future[Stored]]] = []
        self._drain: asyncio.Task[None] | None = None
        self.commits = 0  # groups committed (one mail or more)

    async def store(self, delivery: Delivery) -> Stored:
        """The delivery stored and committed (or StorageError, as storing it alone would raise)."""
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[Stored] = loop.create_future()
        self._waiting.append((delivery, stored))
        if self._drain is None:
            self._drain = loop.create_task(self._run())
        return await stored

    async def _run(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:self._limit], self._waiting[self._limit:]
                await self._commit(group)
        finally:
            self._drain = None

    async def _commit(self, group: list[tuple[Delivery, asyncio.Future[Stored]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._store, [d for d, _f in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            log.warning("a group of %d mails could not be stored together (%s); storing each alone",
                        len(group), exc.__class__.__name__)
            for one in group:
                await self._commit([one])
            return
        self.commits += 1
        for (_delivery, future), result in zip(group, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[Stored], outcome: Stored | Exception) -> None:
    if future.done():
        return  # its client went away meanwhile (the mail is stored: sent again, it is a duplicate)
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
