"""SQLite's write lock among a process's threads: each writer gets its turn, the sender's first."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.store.db import Database
from tests.support import wait_for


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'gate.sqlite3'}")
    with db.transaction() as s:
        s.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)"))
    return db


def _write(db: Database, who: str) -> None:
    with db.transaction() as s:
        s.execute(text("INSERT INTO log (who) VALUES (:who)"), {"who": who})


def _order(db: Database) -> list[str]:
    with db.read_sessions() as s:
        return [r[0] for r in s.execute(text("SELECT who FROM log ORDER BY id"))]


def test_a_writer_that_commits_and_begins_again_at_once_does_not_shut_another_out(tmp_path: Path) -> None:
    """The processor going from batch to batch, the listener storing one mail (a client waits for
    its 250): the store goes in at the next commit, not when the loop is done."""
    db = _db(tmp_path)
    started = threading.Event()

    def loop() -> None:
        for _ in range(300):
            with db.transaction() as s:
                s.execute(text("INSERT INTO log (who) VALUES ('loop')"))
                started.set()
                for _ in range(20):
                    s.execute(text("SELECT count(*) FROM log")).scalar()

    looping = threading.Thread(target=loop)
    looping.start()
    started.wait(10)
    _write(db, "store")
    looping.join(30)
    order = _order(db)
    assert order.index("store") < 10, f"the store went in after {order.index('store')} of the loop's 300 commits"
    db.dispose()


def test_the_senders_writes_go_ahead_of_those_waiting_before_them(tmp_path: Path) -> None:
    db = _db(tmp_path)
    gate = db._gate
    assert gate is not None
    held = db.sessions()
    held.begin()
    held.execute(text("INSERT INTO log (who) VALUES ('holder')"))  # the write lock is this session's
    rest = threading.Thread(target=_write, args=(db, "store"))
    rest.start()
    wait_for(lambda: gate.waiting_count() == 1, what="the store waiting")

    def sender() -> None:
        with db.writers_first():
            _write(db, "sender")

    first = threading.Thread(target=sender)
    first.start()
    wait_for(lambda: gate.waiting_count() == 2, what="the sender waiting")
    assert db.first_writer_waiting(0.0)
    held.commit()
    held.close()
    rest.join(10)
    first.join(10)
    assert _order(db) == ["holder", "sender", "store"]
    assert not db.first_writer_waiting(0.0)
    db.dispose()


def test_a_second_write_transaction_in_the_thread_that_holds_one_fails_as_sqlite_would(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gate.sqlite3'}")
    gate = db._gate
    assert gate is not None
    gate._timeout = 0.2
    outer = db.sessions()
    outer.begin()
    outer.execute(text("CREATE TABLE t (x INTEGER)"))
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        _write(db, "inner")
    outer.rollback()
    outer.close()
    with db.transaction() as s:  # the gate is free again
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    db.dispose()
