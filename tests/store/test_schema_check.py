"""A database this code cannot use stops every command with one line that names the fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support import GatewayProcess, customer_mail, free_port, write_config

pytestmark = pytest.mark.slow


def _gateway(tmp_path: Path, db_url: str | None = None) -> GatewayProcess:
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=free_port(), db_url=db_url)
    return GatewayProcess(config, port, env={"HELPDESK_SECRET": "s"})


def _one_line_naming(result: object, *words: str) -> str:
    stderr = result.stderr.decode()  # type: ignore[attr-defined]
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_an_unmigrated_postgresql_database_is_refused_by_every_command(
        tmp_path: Path, pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    gw = _gateway(tmp_path, url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}")
    for args in (("run",), ("status",), ("tickets", "list"), ("held", "list"), ("check-config",)):
        result = gw.cli(*args, check=False)
        assert result.returncode == 2, (args, result)
        _one_line_naming(result, "database.url", "never migrated", "helpdesk db upgrade")
    # The pipe from the MTA keeps the mail (75) for when the database is ready.
    mail = customer_mail("alice@customer.example", "Cannot log in", "nobody can log in")
    result = gw.cli("ingest", "--recipient", "support@example.com", input=mail, check=False)
    assert result.returncode == 75
    assert "helpdesk db upgrade" in result.stderr.decode()
    # The fix named works.
    gw.cli("db", "upgrade")
    assert gw.cli("status", check=False).returncode == 0
    assert gw.cli("check-config").stdout.decode().endswith(": OK\n")


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    gw = _gateway(tmp_path)
    gw.cli("status")  # SQLite: created and migrated on first use
    db = next((tmp_path / "var").glob("*.sqlite3"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    result = gw.cli("tickets", "list", check=False)
    assert result.returncode == 2
    _one_line_naming(result, "9999_from_the_future", "newer than this helpdesk knows")
