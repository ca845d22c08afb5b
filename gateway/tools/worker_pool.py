"""Worker processes beside the listener (``[processing] workers = N``): they process and send, it receives.

Each worker is ``helpdesk run --worker`` on the same config and database, so the listener's event
loop shares no interpreter lock with processing, and on PostgreSQL the work spreads over cores.
The database is the queue, as between any two gateways on one database (rows are claimed, every
mail has its cause key): a worker that dies loses nothing, and its claims are taken over.

The listener tells a worker that mail was stored by writing a byte to its standard input, to
each worker in turn, one a mail: a worker reads it as "look now" (it also looks every
``poll_interval``, and goes on looking while it finds mail). Waking every worker for every mail
had all but one of them claim nothing, a transaction each (with four workers on PostgreSQL, in
one run, 16.2 ms of CPU a mail against 13.5 one a mail). Standard input is also how a worker
knows its listener is gone: at its end, the worker stops cleanly. A worker that exits on its own
is started again after a pause, and the log says so.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("gateway.service")

RESTART_AFTER = 1.0  # seconds: a worker that keeps failing at start is not spun on
_MAX_UNREAD = 64  # bytes waiting in a worker's pipe: it has been told to look already


class WorkerPool:
    def __init__(self, config_path: Path, count: int, *, verbose: bool = False) -> None:
        self.command = [sys.executable, "-m", "gateway", "-c", str(config_path), *(["-v"] if verbose else []),
                        "run", "--worker"]
        self.count = count
        self._procs: list[asyncio.subprocess.Process | None] = [None] * count
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next = 0  # the worker the next mail wakes

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for index in range(self.count):
            await self._spawn(index)
            self._tasks.append(asyncio.create_task(self._supervise(index)))

    async def _spawn(self, index: int) -> None:
        proc = await asyncio.create_subprocess_exec(*self.command, stdin=asyncio.subprocess.PIPE)
        self._procs[index] = proc
        log.info("worker %d started (pid %d)", index + 1, proc.pid)

    async def _supervise(self, index: int) -> None:
        while True:
            proc = self._procs[index]
            assert proc is not None
            code = await proc.wait()
            # A stop of the whole service (systemd, Ctrl-C) reaches the workers as soon as the
            # listener: what looks like a worker's death may be the start of the listener's own stop.
            await asyncio.sleep(RESTART_AFTER)
            if self._stopping:
                return
            log.error("worker %d (pid %d) exited with %s; starting it again", index + 1, proc.pid, code)
            await self._spawn(index)

    def wake(self) -> None:
        """Tell the next worker in turn to look now; safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._write)

    def _write(self) -> None:
        for _ in range(self.count):  # the next one alive, should a worker be starting again
            proc = self._procs[self._next]
            self._next = (self._next + 1) % self.count
            stdin = proc.stdin if proc is not None and proc.returncode is None else None
            if stdin is None or stdin.is_closing():
                continue
            if stdin.transport.get_write_buffer_size() <= _MAX_UNREAD:
                stdin.write(b"w")
            return  # (a full pipe: that worker has been told to look already)

    def signal(self, signum: int) -> None:
        for proc in self._procs:
            if proc is not None and proc.returncode is None:
                proc.send_signal(signum)

    async def stop(self, patience: float) -> None:
        """Close each worker's input (it finishes the mail on the wire and stops), kill it after ``patience``."""
        self._stopping = True
        for proc in self._procs:
            if proc is not None and proc.stdin is not None:
                proc.stdin.close()
        self.signal(signal.SIGTERM)
        for index, proc in enumerate(self._procs):
            if proc is None:
                continue
            try:
                await asyncio.wait_for(proc.wait(), timeout=patience)
            except TimeoutError:
                log.error("worker %d (pid %d) did not stop within %.0fs; killed", index + 1, proc.pid, patience)
                proc.kill()
                await proc.wait()
        for task in self._tasks:
            task.cancel()


def follow_listener(on_wake: Callable[[], None], on_gone: Callable[[], None]) -> threading.Thread:
    """In a worker: each byte on standard input wakes it; the end of input means the listener is gone."""
    def read() -> None:
        fd = sys.stdin.fileno()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                on_gone()
                return
            on_wake()

    thread = threading.Thread(target=read, name="listener-pipe", daemon=True)
    thread.start()
    return thread
