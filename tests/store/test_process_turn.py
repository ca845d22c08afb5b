"""SQLite's write lock among processes on one file: a writer of another process gets its turn at the
next commit, not after a writer that commits and begins again at once is done."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.store.db import Database
from gateway.store.process_turn import ProcessTurn
from gateway.store.write_gate import WriteGate
from tests.support import wait_for

LOOP = """
import sys
from sqlalchemy import text
from gateway.store.db import Database
db = Database(sys.argv[1])
for i in range(int(sys.argv[2])):
    with db.transaction() as s:
        s.execute(text("INSERT INTO log (who) VALUES ('loop')"))
        for _ in range(20):
            s.execute(text("SELECT count(*) FROM log")).scalar()
db.dispose()
"""


# Another process that takes the turn and keeps it until it is killed.
HOLDER = """
import signal, sys
from gateway.store.process_turn import ProcessTurn
turn = ProcessTurn(sys.argv[1], 5.0)
turn.take()
print("held", flush=True)
signal.pause()
"""


def _order(db: Database) -> list[str]:
    with db.read_sessions() as s:
        return [r[0] for r in s.execute(text("SELECT who FROM log ORDER BY id"))]


def test_a_process_that_commits_and_begins_again_at_once_does_not_shut_another_out(tmp_path: Path) -> None:
    """A worker going from batch to batch, the listener storing one mail (a client waits for its 250):
    the store goes in within a few of the worker's commits (SQLite's busy handler alone sleeps and
    looks again, and the loop has taken the lock back each time)."""
    url = f"sqlite:///{tmp_path / 'turn.sqlite3'}"
    db = Database(url)
    with db.transaction() as s:
        s.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)"))
    root = Path(__file__).resolve().parents[2]
    loop = subprocess.Popen([sys.executable, "-c", LOOP, url, "3000"], cwd=root)
    try:
        wait_for(lambda: len(_order(db)) >= 20, what="the other process writing")
        waited = []
        for n in range(5):
            before = len(_order(db))
            with db.transaction() as s:
                s.execute(text("INSERT INTO log (who) VALUES (:who)"), {"who": f"store{n}"})
            waited.append(_order(db).index(f"store{n}") - before)
        assert loop.wait(120) == 0
    finally:
        loop.kill()
    assert max(waited) < 5, f"each of five stores went in after {waited} more of the other process's commits"
    db.dispose()


def test_the_turn_runs_out_as_sqlites_busy_timeout_does(tmp_path: Path) -> None:
    path = str(tmp_path / "x.sqlite3")
    holder, waiter = ProcessTurn(path, 5.0), ProcessTurn(path, 0.2)
    holder_process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True)
    try:
        assert holder_process.stdout is not None and holder_process.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(Exception, match="database is locked"):
            waiter.take()
        assert 0.2 <= time.monotonic() - started < 5
    finally:
        holder_process.kill()
        holder_process.wait()
    waiter.take()  # the holder's lock went with its process
    waiter.give()
    holder.close()
    waiter.close()


def test_the_turns_file_is_made_like_the_database_file(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'perm.sqlite3'}")
    with db.transaction() as s:
        s.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)"))
    db.dispose()
    (tmp_path / "perm.sqlite3-writers").unlink()
    os.chmod(tmp_path / "perm.sqlite3", 0o640)
    db = Database(f"sqlite:///{tmp_path / 'perm.sqlite3'}")
    with db.transaction() as s:
        s.execute(text("INSERT INTO log (who) VALUES ('one')"))
    db.dispose()
    made = (tmp_path / "perm.sqlite3-writers").stat()
    assert stat.S_IMODE(made.st_mode) == 0o640


def test_writes_go_on_without_a_turns_file_that_cannot_be_opened(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "odd.sqlite3-writers").mkdir()  # what no lock can be taken on
    db = Database(f"sqlite:///{tmp_path / 'odd.sqlite3'}")
    with db.transaction() as s:
        s.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)"))
    with db.transaction() as s:
        s.execute(text("INSERT INTO log (who) VALUES ('one')"))
    assert _order(db) == ["one"]
    assert [r.getMessage() for r in caplog.records if "cannot be opened" in r.getMessage()] != []
    db.dispose()


def test_a_turn_that_runs_out_leaves_this_process_free_to_write(tmp_path: Path) -> None:
    """Another process holds the turn past the timeout: the write here fails "database is locked"
    (as SQLite's busy timeout would), and the process's own gate is left free, not stuck."""
    path = str(tmp_path / "held.sqlite3")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True)
    gate = WriteGate(0.3, ProcessTurn(path, 0.3))
    outcomes: list[str] = []

    def write() -> None:
        info: dict[str, object] = {}
        try:
            gate.enter(info)
        except Exception as exc:
            outcomes.append(str(exc))
        else:
            outcomes.append("entered")
            gate.leave(info)

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        first = threading.Thread(target=write)
        first.start()
        first.join(10)
        assert not first.is_alive(), "the writer never came back"
        assert outcomes == ["database is locked (another process is writing)"]
    finally:
        holder.kill()
        holder.wait()
    second = threading.Thread(target=write)
    second.start()
    second.join(10)
    assert outcomes[1:] == ["entered"]
    gate.close()
