"""SQLite's write lock taken in turn by the processes that share a database file.

Within a process the write gate lines threads up (store/write_gate.py); between processes (the
listener and its workers, the CLI) SQLite's busy handler decides, and it never queues: a writer
that finds the lock taken sleeps 1, 2, 5, 10 ... 100 ms and looks again, so a listener storing a
mail while a worker processes the one before waits a sleep longer than the worker's transaction,
and a worker that commits and begins again at once takes the lock back before the sleeper wakes.

The turn here is two byte-range locks on a file beside the database: ``HELD`` for the writer,
``NEXT`` for the one waiting for it. A writer takes NEXT, then HELD, then lets NEXT go: the one
that waits for HELD keeps NEXT meanwhile, so the holder that lets HELD go and wants it again has
to wait for NEXT, until the waiter is in. Both are looked at every ``POLL`` seconds at most (a
wait with a deadline: SQLite's busy timeout keeps its meaning, "database is locked" when it runs
out). POSIX locks belong to the process: the write gate has only one thread of a process here at
a time, and they go with the process when it dies.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
import weakref

HELD, NEXT = 0, 1  # the bytes locked
POLL = 0.001  # the longest wait between two looks
_FIRST_POLL = 0.0001


class ProcessTurn:
    """The turn at one database file among processes; ``take`` before BEGIN, ``give`` after the end."""

    def __init__(self, database_path: str, timeout: float) -> None:
        self.path = database_path + "-writers"
        self._timeout = timeout
        self._fd: int | None = None
        self._held = False

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._closer = weakref.finalize(self, os.close, self._fd)  # a turn dropped unclosed
        return self._fd

    def take(self) -> None:
        """Wait for the turn (queued behind a process already waiting for it); raises SQLite's own
        "database is locked" once the busy timeout has run out."""
        fd = self._file()
        deadline = time.monotonic() + self._timeout
        _lock(fd, NEXT, deadline)
        try:
            _lock(fd, HELD, deadline)
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, NEXT)
        self._held = True

    def give(self) -> None:
        if self._held:
            self._held = False
            fcntl.lockf(self._file(), fcntl.LOCK_UN, 1, HELD)

    def close(self) -> None:
        if self._fd is not None:
            self._closer()
            self._fd, self._held = None, False


def _lock(fd: int, byte: int, deadline: float) -> None:
    pause = _FIRST_POLL
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, byte)
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError("database is locked (another process is writing)") from None
            time.sleep(pause)
            pause = min(pause * 2, POLL)
