"""Database engines, sessions and migrations: SQLite (WAL) embedded, PostgreSQL shared."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.store import write_gate

log = logging.getLogger("gateway.db")

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 256 * 1024 * 1024  # at most this much of the file is mapped
SQLITE_CACHE_KIB = 16 * 1024  # a connection's own page cache


class Database:
    """One engine and its session factory; the unit every component is handed."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        # On SQLite the gate the process's writers take turns at (store/write_gate.py); None on PostgreSQL.
        self.engine, self._gate = make_engine(url, schema=schema)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no write lock: on SQLite (WAL) a deferred transaction reads a snapshot
        # while a writer works, so `tickets show` never waits behind the processor.
        self._read_engine = _sqlite_engine(url, immediate=False)[0] if url.startswith("sqlite") else self.engine
        self.read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def writers_first(self) -> AbstractContextManager[None]:
        """This thread's write transactions meanwhile take their turn ahead of the rest of the
        process's (SQLite); nothing on PostgreSQL, where writers do not queue for one lock."""
        return self._gate.first() if self._gate is not None else nullcontext()

    def first_writer_waiting(self, longer_than: float) -> bool:
        """A writer marked first has waited that long (SQLite): a long write should end and let it in."""
        return self._gate is not None and self._gate.first_waiting(longer_than)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        upgrade(self.engine)

    def schema_state(self) -> SchemaState:
        """Whether this version of the code can use this database, and if not, why and the fix."""
        return schema_state(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()
        if self._gate is not None:
            self._gate.close()


def make_engine(url: str, *, schema: str | None = None) -> tuple[Engine, write_gate.WriteGate | None]:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args), None


def _sqlite_engine(url: str, *, immediate: bool = True) -> tuple[Engine, write_gate.WriteGate | None]:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None hands transaction control to SQLAlchemy's begin event below,
    # so every transaction is BEGIN IMMEDIATE: a worker that reads a pending row holds the
    # write lock, and two processes can never claim the same row (the SQLite answer to
    # FOR UPDATE SKIP LOCKED).
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                              "isolation_level": None,
                                              "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we answer 250; NORMAL could lose the last commits
        # on power loss, which would turn an accepted mail into a lost one.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # Reads of a large file through the OS page cache without a system call per page, and a
        # page cache of its own larger than SQLite's 2 MB: with a million tickets the indexes of a
        # mail's lookups (threading, dedupe, participants) no longer fit in 2 MB.
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.close()

    if immediate:
        on_disk = path if url.startswith("sqlite:///") and path not in ("", ":memory:") and "?" not in path else None
        return engine, write_gate.install(engine, "BEGIN IMMEDIATE", SQLITE_BUSY_TIMEOUT_MS / 1000, on_disk)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine, None


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("gateway.store") / "migrations"))
    return cfg


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Whether the code can use this database: ``kind`` is current, missing (never migrated),
    older, newer or unreachable; ``problem`` says so in one line with the fix (None if current)."""

    kind: str
    problem: str | None = None


def schema_state(engine: Engine) -> SchemaState:
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        return SchemaState("unreachable", f"database.url: cannot reach {where} ({reason}); "
                                          "start the database or correct database.url")
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    if not current:
        return SchemaState("missing", f"database.url: {where} has no helpdesk schema (it was never migrated); "
                                      "run `helpdesk db upgrade` once, then start the gateway")
    if current == (head,):
        return SchemaState("current")
    known = {rev.revision for rev in scripts.walk_revisions()}
    if any(rev not in known for rev in current):
        return SchemaState("newer", f"database.url: {where} is at schema {', '.join(current)}, newer than "
                                    f"this helpdesk knows (its newest is {head}); install the helpdesk "
                                    "version that migrated it")
    return SchemaState("older", f"database.url: {where} is at schema {', '.join(current)}, older than this "
                                f"helpdesk needs ({head}); run `helpdesk db upgrade`")


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
