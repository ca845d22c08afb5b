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
a time, and they go with the process when it dies. Two Database objects on one file in one process
(never in the service: a test, `helpdesk db copy` onto itself) share the process's locks: between
those two SQLite's busy handler decides, as before this file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
import weakref

log = logging.getLogger("gateway.db")

HELD, NEXT = 0, 1  # the bytes locked
POLL = 0.001  # the longest wait between two looks
_FIRST_POLL = 0.0001


class ProcessTurn:
    """The turn at one database file among processes; ``take`` before BEGIN, ``give`` after the end."""

    def __init__(self, database_path: str, timeout: float) -> None:
        self.database_path = database_path
        self.path = database_path + "-writers"
        self._timeout = timeout
        self._fd: int | None = None
        self._held = False
        self._unusable = False

    def _file(self) -> int | None:
        if self._fd is None and not self._unusable:
            try:
                self._fd = _open_like(self.path, self.database_path)
            except OSError as exc:
                self._unusable = True
                log.warning("%s cannot be opened (%s): writes here take SQLite's busy handler's turn",
                            self.path, exc.strerror or exc)
                return None
            self._closer = weakref.finalize(self, os.close, self._fd)  # a turn dropped unclosed
        return self._fd

    def take(self) -> None:
        """Wait for the turn (queued behind a process already waiting for it); raises SQLite's own
        "database is locked" once the busy timeout has run out."""
        fd = self._file()
        if fd is None:
            return
        deadline = time.monotonic() + self._timeout
        _lock(fd, NEXT, deadline)
        try:
            _lock(fd, HELD, deadline)
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, NEXT)
        self._held = True

    def give(self) -> None:
        if self._held and self._fd is not None:
            self._held = False
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, HELD)

    def close(self) -> None:
        if self._fd is not None:
            self._closer()
            self._fd, self._held = None, False


def _open_like(path: str, database_path: str) -> int:
    """``path`` opened for locking, made (if new) with the database file's permissions and owner."""
    try:
        like = os.stat(database_path)
        mode, owner = like.st_mode & 0o666, (like.st_uid, like.st_gid)
    except OSError:  # no database file yet (it is made at the first connection)
        mode, owner = 0o600, None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    os.fchmod(fd, mode)  # as asked, whatever the umask
    if owner is not None and os.geteuid() == 0 and owner != (0, 0):
        os.fchown(fd, *owner)
    return fd


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
