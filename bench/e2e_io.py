"""SMTP clients in processes of their own, and watchers that see acknowledgements leave the gateway."""

from __future__ import annotations

import multiprocessing as mp
import os
import smtplib
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e_harness import BENCH, SUPPORT, Mail, Server, ack_of

# The monotonic clock is one clock for every process on the machine (Linux CLOCK_MONOTONIC):
# a 250 seen by a client and an acknowledgement seen by a watcher can be compared.
_SPAWN = mp.get_context("spawn")


@dataclass
class Sent:
    start: float
    end: float
    accepted: dict[str, float]  # Message-ID -> when its 250 arrived
    retried: int = 0  # 4xx answers, each tried again


def _client(port: int, mails: list[tuple[str, str, bytes]], barrier: object, results: object) -> None:
    conn = smtplib.SMTP("127.0.0.1", port, timeout=600)
    conn.ehlo("bench.example")
    barrier.wait()  # type: ignore[attr-defined]
    accepted, retried = [], 0
    for mid, sender, raw in mails:
        while True:
            try:
                conn.sendmail(sender, [SUPPORT], raw)
                break
            except smtplib.SMTPResponseException as exc:
                if not 400 <= exc.smtp_code < 500:
                    raise
                retried += 1
                time.sleep(0.05)
        accepted.append((mid, time.monotonic()))
    conn.quit()
    results.put((accepted, retried))  # type: ignore[attr-defined]


def send(mails: list[Mail], clients: int, port: int) -> Sent:
    """Every mail through ``clients`` concurrent SMTP sessions (a thread's mails in order, by one client)."""
    shares: list[list[tuple[str, str, bytes]]] = [[] for _ in range(clients)]
    for mail in mails:
        shares[mail.thread % clients].append((mail.message_id, mail.sender, mail.raw))
    barrier = _SPAWN.Barrier(clients + 1)
    results = _SPAWN.Queue()
    procs = [_SPAWN.Process(target=_client, args=(port, share, barrier, results), daemon=True) for share in shares]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.monotonic()
    accepted: dict[str, float] = {}
    retried = 0
    for _ in procs:
        got, again = results.get(timeout=3600)
        accepted.update(got)
        retried += again
    end = max(accepted.values()) if accepted else time.monotonic()
    for proc in procs:
        proc.join(30)
        if proc.exitcode not in (0, None):
            raise SystemExit(f"an SMTP client failed (exit {proc.exitcode})")
    return Sent(start, end, accepted, retried)


@dataclass
class Acks:
    """Acknowledgements seen leaving: customer Message-ID -> when (first seen), and repeats."""

    seen: dict[str, float] = field(default_factory=dict)
    staff: int = 0
    repeats: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, answered: str | None, at: float) -> None:
        with self.lock:
            if answered is None:
                self.staff += 1
            elif answered in self.seen:
                self.repeats += 1
            else:
                self.seen[answered] = at

    def count(self) -> int:
        with self.lock:
            return len(self.seen)

    def wait(self, expected: int, *, stall: float = 120.0, poll: float = 0.02) -> float:
        """When the ``expected``-th acknowledgement was seen; gives up after ``stall`` s without progress."""
        last, since = -1, time.monotonic()
        while (now := self.count()) < expected:
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > stall:
                raise SystemExit(f"only {now} of {expected} acknowledgements after {stall:.0f}s without progress")
            time.sleep(poll)
        with self.lock:
            return max(self.seen.values())


class DirectoryWatch(threading.Thread):
    """Polls the directory transport's outbox: a new .eml file is a mail written."""

    def __init__(self, directory: Path, acks: Acks, poll: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.directory, self.acks, self.poll = directory, acks, poll
        self.stopping = threading.Event()

    def run(self) -> None:
        known: set[str] = set()
        while not self.stopping.is_set():
            try:
                entries = [e for e in os.scandir(self.directory) if e.name.endswith(".eml") and e.name not in known]
            except FileNotFoundError:
                entries = []
            now = time.monotonic()
            for entry in entries:
                known.add(entry.name)
                with open(entry.path, "rb") as fh:
                    self.acks.note(ack_of(fh.read(4096)), now)
            self.stopping.wait(self.poll)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


class RelaySink:
    """bench/relay_sink.py in a process of its own; its stdout read into ``acks``."""

    def __init__(self, port: int, log: Path, acks: Acks, delay: float = 0.0) -> None:
        self.server = Server([sys.executable, "-m", "bench.relay_sink", str(port), str(delay)], port, log,
                             env={"PYTHONPATH": str(BENCH.parent)})
        self.acks = acks
        self.reader: threading.Thread | None = None

    def start(self) -> RelaySink:
        self.server.start(stdout=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _read(self) -> None:
        assert self.server.proc is not None and self.server.proc.stdout is not None
        for line in self.server.proc.stdout:
            at, answered = line.decode().split()
            self.acks.note(None if answered == "-" else answered, float(at))

    def stop(self) -> None:
        self.server.stop()
        if self.reader is not None:
            self.reader.join(5)
