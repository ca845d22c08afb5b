"""``helpdesk db backup|check|copy``: a consistent copy, a health check, and a move to PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine, make_url

from gateway.store.db import Database, schema_state
from gateway.store.models import Base

COPY_CHUNK = 1000


def sqlite_path(db: Database) -> Path:
    database = make_url(db.url).database
    if not database or database == ":memory:":
        raise ValueError("database.url names no SQLite file")
    return Path(database)


def backup(db: Database, target: Path) -> int:
    """Copy a SQLite database to ``target`` with SQLite's online backup API (the gateway may keep
    running: the copy is one consistent snapshot); return its size in bytes."""
    if not db.is_sqlite:
        raise ValueError("db backup copies SQLite databases; for PostgreSQL use pg_dump "
                         "(pg_dump -Fc -f FILE DBNAME), as README shows")
    if target.exists():
        raise ValueError(f"{target} exists; give a new file name")
    source = sqlite3.connect(f"file:{sqlite_path(db)}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    return target.stat().st_size


def check(db: Database) -> list[str]:
    """What is wrong with the database, one line each: its schema, and SQLite's integrity check."""
    state = schema_state(db.engine)
    if state.problem:
        return [state.problem]
    problems: list[str] = []
    if db.is_sqlite:
        with db.engine.connect() as conn:
            answers = [row[0] for row in conn.execute(text("PRAGMA integrity_check"))]
        if answers != ["ok"]:
            problems.extend(f"integrity: {answer}" for answer in answers[:20])
    return problems


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table.name: conn.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables}


def copy(source: Database, target: Database, progress: Callable[[str, int], None] = lambda _t, _n: None
         ) -> dict[str, int]:
    """Every row of every table from ``source`` to an empty ``target`` (migrated first), parents
    before children; PostgreSQL's id sequences then continue after the copied ids."""
    problem = schema_state(source.engine).problem
    if problem:
        raise ValueError(f"the source: {problem}")
    target.upgrade()
    if any(counts(target.engine).values()):
        raise ValueError("the target database already has rows; copy into an empty one")
    copied: dict[str, int] = {}
    with source.engine.connect() as src, target.engine.begin() as dst:
        for table in Base.metadata.sorted_tables:
            rows = src.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            n = 0
            while chunk := rows.fetchmany(COPY_CHUNK):
                dst.execute(insert(table), [dict(row) for row in chunk])
                n += len(chunk)
                progress(table.name, n)
            copied[table.name] = n
        if target.engine.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                if "id" in table.columns:
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"))
    return copied
