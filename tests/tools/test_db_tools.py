"""``helpdesk db backup|check|copy`` as an operator runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from gateway.store.models import Base
from tests.support import GatewayProcess, customer_mail, free_port, write_config

pytestmark = pytest.mark.slow


def _desk(tmp_path: Path) -> GatewayProcess:
    port = free_port()
    gw = GatewayProcess(write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None), port,
                        env={"HELPDESK_SECRET": "s"})
    mails = []
    for i in range(5):
        mail = tmp_path / f"m{i}.eml"
        mail.write_bytes(customer_mail(f"c{i}@customer.example", f"Request {i}", "Our site is down for everyone.",
                                       message_id=f"<r{i}@customer.example>"))
        mails.append(str(mail))
    gw.cli("ingest", "--process", *mails)
    return gw


def test_backup_restores_to_a_readable_desk(tmp_path: Path) -> None:
    gw = _desk(tmp_path)
    backup = tmp_path / "backup.sqlite3"
    assert "a consistent copy" in gw.cli("db", "backup", str(backup)).stdout.decode()
    refused = gw.cli("db", "backup", str(backup), check=False)
    assert refused.returncode == 2 and "exists" in refused.stderr.decode()
    # Restore: the backup becomes the database of a new desk, which reads its tickets.
    restored = tmp_path / "restored"
    restored.mkdir()
    other = GatewayProcess(write_config(restored / "config.toml", smtp_port=free_port(), relay_port=None,
                                        db_url=f"sqlite:///{backup}"), 0)
    tickets = json.loads(other.cli("tickets", "list", "--json").stdout)["tickets"]
    assert sorted(t["subject"] for t in tickets) == [f"Request {i}" for i in range(5)]
    assert "passes SQLite's integrity check" in other.cli("db", "check").stdout.decode()


def test_check_finds_a_damaged_database(tmp_path: Path) -> None:
    gw = _desk(tmp_path)
    db = tmp_path / "var" / "helpdesk.sqlite3"
    with sqlite3.connect(db) as conn:  # an index that no longer matches its table
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = replace(sql, '(message_id)', '(subject)') "
                     "WHERE type = 'index' AND name = 'ix_messages_message_id'")
    result = gw.cli("db", "check", check=False)
    assert result.returncode == 1, result
    assert "integrity:" in result.stdout.decode()


def test_copy_from_sqlite_to_postgresql_carries_every_row(tmp_path: Path, pg_schema: tuple[str, str]) -> None:
    gw = _desk(tmp_path)
    url, schema = pg_schema
    target = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    out = gw.cli("db", "copy", "--to", target).stdout.decode()
    assert out.startswith("copied ")
    source = create_engine(f"sqlite:///{tmp_path / 'var' / 'helpdesk.sqlite3'}")
    dest = create_engine(target.replace("postgresql://", "postgresql+psycopg://", 1))
    with source.connect() as a, dest.connect() as b:
        for table in Base.metadata.sorted_tables:
            assert a.scalar(select(func.count()).select_from(table)) == \
                b.scalar(select(func.count()).select_from(table)), table.name
        for table in ("tickets", "messages", "events", "outbox"):
            t = Base.metadata.tables[table]
            assert [tuple(r) for r in a.execute(select(t).order_by(t.c.id).limit(3))] == \
                [tuple(r) for r in b.execute(select(t).order_by(t.c.id).limit(3))], table
        assert b.scalar(text("SELECT nextval(pg_get_serial_sequence('tickets', 'id'))")) == 6
    source.dispose()
    dest.dispose()
    again = gw.cli("db", "copy", "--to", target, check=False)
    assert again.returncode == 2 and "already has rows" in again.stderr.decode()
