"""SQLite's one write lock shared by a process's threads in turn, the sender's writes first.

A transaction that finds SQLite's write lock taken waits in its busy handler, which sleeps and
looks again (1, 2, 5, 10 ... 100 ms): it never queues. A thread that commits and at once begins
again (the processor going from one batch to the next) took the lock back before a sleeper woke:
the listener's store of a mail (and with it the client's 250) and the sender's record of a mail
sent waited whole batches, many of them; in a storm acknowledgements reached the relay a median
85-109 s after the 250. The gate lines this process's writers up on a lock of its own before they
ask SQLite, and hands the turn straight to the next one as the holder commits. Writes marked
``first`` (the sender's: short, and a mail waits on each) go ahead of the line, and the processor
ends its batch early when one has waited (``first_waiting``). Between processes (the listener and
its workers, the CLI) the turn is taken in order too, once a process's writer has its turn here
(store/process_turn.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from gateway.store.process_turn import ProcessTurn

_HOLDS = "helpdesk.write_gate"  # in a pooled connection's info: it holds the gate


class WriteGate:
    """A lock handed to its waiters in the order they came (threading.Lock is not: the thread that
    releases it can take it straight back, which is the convoy this gate is here to end), those
    marked ``first`` ahead of the rest."""

    def __init__(self, timeout: float, between: ProcessTurn | None = None) -> None:
        self._between = between  # the turn among the processes on the same file, taken after ours
        self._mutex = threading.Lock()
        self._held = False
        self._first: deque[tuple[threading.Event, float]] = deque()
        self._rest: deque[tuple[threading.Event, float]] = deque()
        self._timeout = timeout
        self._mark = threading.local()

    @contextmanager
    def first(self) -> Iterator[None]:
        """This thread's writes meanwhile go ahead of the rest (their turns are short and others
        wait on them: the sender's record of a mail on the wire and sent)."""
        before = getattr(self._mark, "first", False)
        self._mark.first = True
        try:
            yield
        finally:
            self._mark.first = before

    def enter(self, info: dict[str, Any]) -> None:
        """Before BEGIN IMMEDIATE: wait for this process's writers before us to finish."""
        if info.get(_HOLDS):
            return  # already ours (a second BEGIN on the connection before its end was seen)
        with self._mutex:
            free = not self._held
            if free:
                self._held = True
            else:
                turn = threading.Event(), time.monotonic()
                line = self._first if getattr(self._mark, "first", False) else self._rest
                line.append(turn)
        if not free and not turn[0].wait(self._timeout):
            with self._mutex:
                if turn in line:
                    line.remove(turn)
                    # What SQLite itself says when its busy timeout runs out; a thread that opens a
                    # second write transaction while it holds one meets this, as without the gate.
                    raise sqlite3.OperationalError("database is locked (another thread of this process is writing)")
            # handed over as the wait ran out: the turn is ours
        info[_HOLDS] = True
        self._take_between(info)  # outside the mutex: the wait for another process may be long

    def _take_between(self, info: dict[str, Any]) -> None:
        if self._between is None:
            return
        try:
            self._between.take()
        except BaseException:
            self.leave(info)
            raise

    def first_waiting(self, longer_than: float) -> bool:
        """A writer marked ``first`` has waited ``longer_than`` seconds for its turn (a hint)."""
        try:
            return time.monotonic() - self._first[0][1] > longer_than
        except IndexError:
            return False

    def close(self) -> None:
        """Let go of the file the turn among processes is taken on (the engine is disposed of)."""
        if self._between is not None:
            self._between.close()

    def waiting_count(self) -> int:
        return len(self._first) + len(self._rest)

    def leave(self, info: dict[str, Any] | None) -> None:
        """After COMMIT or ROLLBACK (or when the connection is let go): the next writer's turn."""
        if info is None or not info.pop(_HOLDS, False):
            return
        if self._between is not None:
            self._between.give()
        with self._mutex:
            line = self._first or self._rest
            if line:
                line.popleft()[0].set()  # handed straight over: nobody can cut in
            else:
                self._held = False


def install(engine: Engine, begin_sql: str, timeout: float, database_path: str | None = None) -> WriteGate:
    """Every transaction of ``engine`` begins with ``begin_sql`` after its turn at the gate (and,
    for a database file, among the processes on it), and gives the turn up once its COMMIT or
    ROLLBACK has returned."""
    gate = WriteGate(timeout, ProcessTurn(database_path, timeout) if database_path else None)
    dialect: Any = engine.dialect  # this engine's own instance: the wrappers touch no other engine
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            gate.leave(_info(dbapi_connection))

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            gate.leave(_info(dbapi_connection))

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        info = conn.connection.info
        gate.enter(info)
        try:
            conn.exec_driver_sql(begin_sql)
        except BaseException:
            gate.leave(info)
            raise

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        gate.leave(record.info)  # a connection returned with its turn still held (never, but never stuck)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_conn: Any, record: Any, _exc: Any) -> None:
        gate.leave(record.info)

    return gate


def _info(pooled: Any) -> dict[str, Any] | None:
    """The pooled connection's info; None for the bare connection SQLAlchemy tries once at its first
    connect, which has none (and never begins through the gate)."""
    try:
        info: dict[str, Any] = pooled.info
    except (AttributeError, NotImplementedError):
        return None
    return info
