"""How an IMAP poller waits: a wake-up it can select() on beside its socket, and jittered backoff."""

from __future__ import annotations

import contextlib
import random
import select
import socket
import threading


class Waker:
    """A threading.Event that a select() can also wait on, beside an IMAP socket.

    ``set()`` from another thread interrupts a poller blocked in IDLE at once, which an Event
    alone cannot do. It is also a drop-in for the service's ``worker.wake.set()``.
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._flag = threading.Event()

    def fileno(self) -> int:
        return self._reader.fileno()

    def set(self) -> None:
        self._flag.set()
        with contextlib.suppress(BlockingIOError, OSError):
            self._writer.send(b"!")

    def is_set(self) -> bool:
        return self._flag.is_set()

    def clear(self) -> None:
        self._flag.clear()
        with contextlib.suppress(BlockingIOError, OSError):
            while self._reader.recv(4096):
                pass

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``set()``; True if it was set."""
        if self._flag.is_set():
            return True
        select.select([self._reader], [], [], max(timeout, 0.0))
        return self._flag.is_set()

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


class Backoff:
    """Capped exponential backoff with jitter, so pollers that failed together do not retry together."""

    def __init__(self, first: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> None:
        self.first, self.cap = first, cap
        self._rng = rng or random.Random()
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt: between half and all of first * 2**n, at most cap."""
        ceiling = min(self.cap, self.first * 2.0 ** min(self.attempts, 30))
        self.attempts += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        self.attempts = 0
