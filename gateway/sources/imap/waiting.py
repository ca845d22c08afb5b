"""How an IMAP poller waits: a wake-up it can select() on beside its socket, and jittered backoff."""

from __future__ import annotations

import contextlib
import random
import socket
import threading


class Waker:
    """A threading.Event that a select() can also wait on, beside an IMAP socket.

    ``set()`` from another thread interrupts a poller blocked in IDLE at once, which an Event
    alone cannot do. It is also a drop-in for the service's ``worker.wake.set()``. The socket
    pair is made on first use of ``fileno()``, so a poller that never IDLEs holds none.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._lock = threading.Lock()
        self._pair: tuple[socket.socket, socket.socket] | None = None

    def fileno(self) -> int:
        with self._lock:
            if self._pair is None:
                self._pair = socket.socketpair()
                for end in self._pair:
                    end.setblocking(False)
                if self._flag.is_set():
                    self._pair[1].send(b"!")
            return self._pair[0].fileno()

    def set(self) -> None:
        with self._lock:
            self._flag.set()
            if self._pair is not None:
                with contextlib.suppress(OSError):
                    self._pair[1].send(b"!")

    def is_set(self) -> bool:
        return self._flag.is_set()

    def clear(self) -> None:
        with self._lock:
            self._flag.clear()
            if self._pair is not None:
                with contextlib.suppress(OSError):
                    while self._pair[0].recv(4096):
                        pass

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``set()``; True if it was set."""
        return self._flag.wait(max(timeout, 0.0))

    def close(self) -> None:
        with self._lock:
            if self._pair is not None:
                for end in self._pair:
                    end.close()
                self._pair = None


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
