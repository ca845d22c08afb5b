"""Imported at start by every Python process whose PYTHONPATH holds this directory: when
HELPDESK_SQLTRACE names a file, every SQL statement any SQLAlchemy engine runs is counted and
timed (cursor execute to its return), and at exit the totals per statement are written there as
JSON, with the parameters of its first execution (for EXPLAIN). Nothing of the gateway is imported:
it listens on SQLAlchemy's Engine class, so it follows the code wherever it moves."""

from __future__ import annotations

import atexit
import json
import os
import threading
import time

_PATH = os.environ.get("HELPDESK_SQLTRACE")

if _PATH:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _stats: dict[str, list] = {}  # statement -> [count, seconds, sample parameters, dialect]
    _lock = threading.Lock()

    def _plain(value: object) -> object:
        if isinstance(value, bytes | bytearray | memoryview):
            return None
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if hasattr(value, "isoformat"):
            return value.isoformat()  # type: ignore[attr-defined]
        return str(value)

    def _sample(parameters: object, executemany: bool) -> object:
        if executemany and isinstance(parameters, list | tuple) and parameters:
            parameters = parameters[0]
        if isinstance(parameters, dict):
            return {k: _plain(v) for k, v in parameters.items()}
        if isinstance(parameters, list | tuple):
            return [_plain(v) for v in parameters]
        return None

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info.setdefault("_bench_t0", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        took = time.perf_counter() - conn.info["_bench_t0"].pop()
        with _lock:
            entry = _stats.get(statement)
            if entry is None:
                _stats[statement] = [1, took, _sample(parameters, executemany), conn.dialect.name]
            else:
                entry[0] += 1
                entry[1] += took

    @atexit.register
    def _dump() -> None:
        with _lock:
            rows = [{"sql": s, "count": c, "seconds": t, "params": p, "dialect": d}
                    for s, (c, t, p, d) in _stats.items()]
        with open(f"{_PATH}.{os.getpid()}.json", "w", encoding="utf-8") as fh:
            json.dump(rows, fh)
