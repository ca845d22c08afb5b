"""A database with a long history, fast: a template made by the real gateway, cloned in SQL.

The template is what `helpdesk run` itself writes for T tickets (a request, its acknowledgement
and a quoted reply: three messages each, with their inbound rows, outbox rows, events, clocks and
participants). A database of N tickets holds N/T - 1 clones of it as history (ids below the
template's, every instant moved back so the clones spread over ``years``, every ticket closed and
its clocks stopped with their events, every Message-ID, source and cause key made unique), then
the template itself, unchanged but for its ids: the recent tickets, the same in a small database
and a large one. Each clone is one INSERT ... SELECT per table, run by the database itself (a
recursive series on SQLite, generate_series on PostgreSQL), so the seed costs what the database
takes to write its rows and their indexes.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC
from pathlib import Path

from sqlalchemy import Connection, DateTime, MetaData, Table, create_engine, inspect, text
from sqlalchemy.engine import Engine

# In the order their foreign keys need. Blobs are content-addressed (clones share them);
# address flags, IMAP state and the schema version are not history.
TABLES = ("tickets", "inbound_messages", "messages", "attachments", "participants", "outbox", "events",
          "sla_clocks", "escalations", "escalation_schedules")
# Columns holding the id of a row of another table (or of their own).
REFS = {"ticket_id": "tickets", "parent_id": "tickets", "inbound_id": "inbound_messages",
        "message_pk": "messages"}
MESSAGE_IDS = {("messages", "message_id"), ("outbox", "message_id"), ("inbound_messages", "message_id")}
HISTORY_ENDS = 31 * 86400  # seconds before the template's instants
SUFFIXED = {("inbound_messages", "source_key"), ("outbox", "cause_key")}


class Dialect:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def shifted(self, col: str, seconds: str) -> str:
        if self.sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff': move the seconds, keep the fraction
            return f"(strftime('%Y-%m-%d %H:%M:%S', {col}, '-' || ({seconds}) || ' seconds') || substr({col}, 20))"
        return f"({col} - ({seconds}) * interval '1 second')"

    def plus_hour(self, col: str) -> str:
        if self.sqlite:
            return f"(strftime('%Y-%m-%d %H:%M:%S', {col}, '+1 hour') || substr({col}, 20))"
        return f"({col} + interval '1 hour')"

    def tagged_id(self, col: str) -> str:  # <abc@host> -> <hK.abc@host>
        return f"('<h' || s.k || '.' || substr({col}, 2))"

    def dedupe(self, col: str) -> str:  # 64 hex digits: the last 12 become the clone's number
        if self.sqlite:
            return f"(substr({col}, 1, 52) || printf('%012d', s.k))"
        return f"(substr({col}, 1, 52) || lpad(s.k::text, 12, '0'))"

    def stopped_detail(self) -> str:
        if self.sqlite:
            return "json_object('clock', c.name, 'met', json('true'))"
        return "json_build_object('clock', c.name, 'met', true)"

    def series(self, first: str, last: str) -> str:
        if self.sqlite:
            return f"WITH RECURSIVE s(k) AS (SELECT {first} UNION ALL SELECT k + 1 FROM s WHERE k < {last}) "
        return ""

    def series_from(self, first: str, last: str) -> str:
        return "s" if self.sqlite else f"generate_series({first}, {last}) AS s(k)"


def _columns(engine: Engine, table: str) -> list[tuple[str, bool]]:
    """(name, is a datetime) of each column of ``table``."""
    return [(c["name"], isinstance(c["type"], DateTime)) for c in inspect(engine).get_columns(table)]


def _select(d: Dialect, table: str, cols: list[tuple[str, bool]], strides: dict[str, int], *,
            history: bool) -> str:
    """The SELECT list of one clone (``history``) or of the recent copy, over template rows ``t``."""
    out = []
    for name, is_time in cols:
        col = f't."{name}"'
        if name == "id" and table != "escalation_schedules":
            expr = f"({col} + s.k * {strides[table]})"
        elif name in REFS:
            expr = f"({col} + s.k * {strides[REFS[name]]})"
        elif not history:
            expr = col
        elif (table, name) in MESSAGE_IDS:
            expr = d.tagged_id(col)
        elif (table, name) in SUFFIXED:
            expr = f"({col} || '#h' || s.k)"
        elif name == "dedupe_key":
            expr = d.dedupe(col)
        elif table == "tickets" and name == "status":
            expr = "'closed'"
        elif (table, name) in {("tickets", "next_deadline"), ("escalation_schedules", "next_at")}:
            expr = "NULL"
        elif table == "sla_clocks" and name == "stopped_at":
            expr = d.shifted(f"COALESCE({col}, {d.plus_hour('t.started_at')})", ":shift_of_k")
        elif is_time:
            expr = d.shifted(col, ":shift_of_k")
        else:
            expr = col
        out.append(expr)
    return ", ".join(out)


def clone(conn: Connection, d: Dialect, cols: dict[str, list[tuple[str, bool]]], strides: dict[str, int],
          first: int, last: int, copies: int, spacing: int, prefix: str, *, history: bool) -> None:
    """Clones ``first``..``last`` (history) or the recent copy (``history`` False, first = last = copies)."""
    # The history ends a month and a day before the recent tickets: a month's report reads the same
    # tickets in a small database and a large one.
    shift = f"({HISTORY_ENDS} + ({copies} - s.k) * {spacing})" if history else "0"
    for table in TABLES:
        names = ", ".join(f'"{n}"' for n, _ in cols[table])
        select = _select(d, table, cols[table], strides, history=history).replace(":shift_of_k", shift)
        conn.execute(text(f"{d.series(str(first), str(last))}INSERT INTO {table} ({names}) "
                          f"SELECT {select} FROM {prefix}{table} AS t, {d.series_from(str(first), str(last))} "
                          f"ORDER BY s.k, 1"))
    if history:  # each clock still running in the template stopped an hour after it started
        at = d.shifted(d.plus_hour("c.started_at"), shift)
        conn.execute(text(
            f"{d.series(str(first), str(last))}INSERT INTO events (id, ticket_id, inbound_id, at, kind, actor, detail) "
            f"SELECT s.k * {strides['events']} + {strides['events'] // 2} + c.id, c.ticket_id + s.k * "
            f"{strides['tickets']}, NULL, {at}, 'sla-clock-stopped', 'gateway', {d.stopped_detail()} "
            f"FROM {prefix}sla_clocks AS c, {d.series_from(str(first), str(last))} WHERE c.stopped_at IS NULL "
            f"ORDER BY s.k, c.id"))


def _same_schema(conn: Connection, template: Path) -> None:
    with sqlite3.connect(template) as source:
        theirs = source.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    ours = conn.scalar(text("SELECT version_num FROM alembic_version"))
    if theirs != ours:
        raise SystemExit(f"{template} is at schema {theirs}, the database at {ours}: make the template again")


def _strides(conn: Connection, prefix: str) -> dict[str, int]:
    strides = {}
    for table in TABLES:
        if table == "escalation_schedules":
            continue
        strides[table] = int(conn.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {prefix}{table}")) or 0) + 1
    clocks = strides["sla_clocks"]
    strides["events"] = 2 * max(strides["events"], clocks)  # room for the stop events of each clone
    return strides


def _stage_on_postgresql(engine: Engine, template: Path) -> None:
    """The template's rows in tpl_* tables beside the real ones (types converted by SQLAlchemy)."""
    source = create_engine(f"sqlite:///{template}")
    src_meta, dst_meta = MetaData(), MetaData()
    src_meta.reflect(source, only=list(TABLES))
    with engine.begin() as conn:
        conn.execute(text("SET TIME ZONE 'UTC'"))
        for table in TABLES:
            conn.execute(text(f"DROP TABLE IF EXISTS tpl_{table}"))
            conn.execute(text(f"CREATE TABLE tpl_{table} (LIKE {table})"))
        dst_meta.reflect(conn, only=[f"tpl_{t}" for t in TABLES])
        with source.connect() as src:
            for table in TABLES:
                rows = [dict(r._mapping) for r in src.execute(src_meta.tables[table].select())]
                for row in rows:
                    for key, value in row.items():
                        if hasattr(value, "tzinfo") and value.tzinfo is None:
                            row[key] = value.replace(tzinfo=UTC)
                if rows:
                    conn.execute(Table(f"tpl_{table}", dst_meta).insert(), rows)
    source.dispose()


def seed(url: str, template: Path, tickets: int, *, years: float = 3.0, chunk: int = 50,
         progress: bool = True) -> float:
    """Fill the empty, migrated database at ``url`` to about ``tickets`` tickets; returns seconds taken."""
    started = time.monotonic()
    engine = create_engine(url)
    d = Dialect(engine.dialect.name)
    if d.sqlite:
        prefix = "tpl."
        engine = create_engine(url, connect_args={"isolation_level": None})
    else:
        prefix = "tpl_"
        _stage_on_postgresql(engine, template)
    with engine.connect() as conn:
        if d.sqlite:
            conn.exec_driver_sql(f"ATTACH DATABASE '{template}' AS tpl")
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.exec_driver_sql("PRAGMA synchronous=OFF")  # a seed is made again if it crashes
        else:
            conn.execute(text("SET synchronous_commit = off"))
            conn.execute(text("SET session_replication_role = replica"))  # no FK triggers while seeding
            conn.commit()
        strides = _strides(conn, prefix)
        cols = {t: _columns(engine, t) for t in TABLES}
        _same_schema(conn, template)
        per = strides["tickets"] - 1
        copies = max(0, tickets // max(per, 1) - 1)
        spacing = int(years * 365 * 86400 / max(copies, 1))
        for first in range(0, copies, chunk):
            last = min(first + chunk, copies) - 1
            _in_transaction(conn, d, lambda c, a=first, b=last: clone(
                c, d, cols, strides, a, b, copies, spacing, prefix, history=True))
            if progress:
                print(f"    seeded {(last + 1) * per:,} of {copies * per:,} history tickets "
                      f"({time.monotonic() - started:.0f}s)", flush=True)
        _in_transaction(conn, d, lambda c: clone(c, d, cols, strides, copies, copies, copies, 0, prefix,
                                                 history=False))
        if not d.sqlite:
            for table in TABLES:
                if table != "escalation_schedules":
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
                conn.execute(text(f"DROP TABLE tpl_{table}"))
            conn.execute(text("SET session_replication_role = origin"))
            conn.commit()
            conn.execute(text("ANALYZE"))  # what autovacuum does soon after a bulk load
            conn.commit()
        else:
            conn.exec_driver_sql("DETACH DATABASE tpl")
    engine.dispose()
    return time.monotonic() - started


def _in_transaction(conn: Connection, d: Dialect, work) -> None:  # type: ignore[no-untyped-def]
    if d.sqlite:
        conn.exec_driver_sql("BEGIN")
        work(conn)
        conn.exec_driver_sql("COMMIT")
    else:
        work(conn)
        conn.commit()
