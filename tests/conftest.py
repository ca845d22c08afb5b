"""Shared fixtures: databases (SQLite and PostgreSQL), the relay sink, a gateway subprocess."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.store.db import Database
from tests import worlds
from tests.support import Sink, require

PG_URL = os.environ.get("HELPDESK_TEST_DATABASE_URL")


def _pg_admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema for one test: (url, schema)."""
    require(bool(PG_URL), "HELPDESK_TEST_DATABASE_URL is not set: no PostgreSQL to test against")
    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(PG_URL))
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        require(False, f"PostgreSQL at {PG_URL} is not reachable: {exc.__class__.__name__}")
    yield PG_URL, schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same storage test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    else:
        url, schema = request.getfixturevalue("pg_schema")
        db = Database(url, schema=schema)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))


@pytest.fixture
def make_app(tmp_path: Path, database: Database, clock: FakeClock) -> Callable[..., App]:
    def factory(extra: str = "") -> App:
        """``extra`` adds keys to [outbound] (and may replace its transport)."""
        out = worlds.table("outbound") if "transport" in extra else worlds.outbound(directory=tmp_path / "outbox")
        config = load_config(None, text=worlds.world(worlds.gateway(tmp_path / "var"), out, extra))
        return build_app(config, clock, db=database)
    return factory


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink().start()
    yield s
    s.stop()
