"""The listener wakes its workers one a mail, each in turn (waking all for every mail had all but
one claim nothing), and passes a dead worker's turn to the next."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.tools.worker_pool import WorkerPool
from tests.support import wait_for

# A stand-in worker: counts the wake-ups on its standard input and, at its end, writes how many.
COUNTER = """
import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.path.join(sys.argv[1], f"{os.getpid()}.ready"), "w").close()
seen = 0
while True:
    data = os.read(0, 4096)
    if not data:
        break
    seen += len(data)
with open(os.path.join(sys.argv[1], str(os.getpid())), "w") as f:
    f.write(str(seen))
"""


async def _run(tmp_path: Path, wakes: int, kill_first: bool) -> list[int]:
    pool = WorkerPool(tmp_path / "config.toml", 3)
    pool.command = [sys.executable, "-c", COUNTER, str(tmp_path)]
    await pool.start()
    procs = list(pool._procs)
    wait_for(lambda: all((tmp_path / f"{p.pid}.ready").exists() for p in procs if p is not None),
             what="the workers started")
    if kill_first:
        assert procs[0] is not None
        procs[0].kill()
        await procs[0].wait()
    for _ in range(wakes):
        pool.wake()
    await asyncio.sleep(0)  # the wake-ups are written by the event loop, at its next turn
    await pool.stop(10)
    counts = []
    for proc in procs:
        assert proc is not None
        count = tmp_path / str(proc.pid)
        counts.append(int(count.read_text()) if count.exists() else -1)
    return counts


def test_each_mail_wakes_one_worker_in_turn(tmp_path: Path) -> None:
    counts = asyncio.run(_run(tmp_path, 30, kill_first=False))
    assert counts == [10, 10, 10]


def test_a_dead_workers_turn_passes_to_the_next(tmp_path: Path) -> None:
    counts = asyncio.run(_run(tmp_path, 20, kill_first=True))
    assert counts == [-1, 10, 10]  # the dead one wrote nothing; every wake-up reached a live worker
