"""``[logging]``: JSON lines to a file an operator's tools read, and config errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import GatewayProcess, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow


def test_logs_as_json_lines_to_a_file(tmp_path: Path) -> None:
    import smtplib
    port = free_port()
    log_file = tmp_path / "gateway.jsonl"
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None,
                          extra=f'[logging]\nformat = "json"\nfile = "{log_file}"\nlevel = "info"\n')
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "not-in-any-log"})
    with running(gw):
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail("alice@customer.example", ["support@example.com"],
                            customer_mail("alice@customer.example", "Printer", "It is jammed."))
        wait_for(lambda: "opened ticket #1" in log_file.read_text(), what="the ticket in the log file")
    text = log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert all({"time", "level", "area", "message"} <= set(line) for line in lines)
    assert any(line["message"].startswith("gateway running") for line in lines)
    assert lines[-1]["message"] == "stopped"
    assert "not-in-any-log" not in text
    assert "gateway running" not in gw.log.read_text()  # stderr no longer carries it


@pytest.mark.parametrize(("table", "expected"), [
    ('level = "loud"', "logging.level: 'LOUD' is not a level"),
    ('format = "xml"', "logging.format: 'xml'"),
    ('file = "/no/such/dir/gw.log"', "logging.file: /no/such/dir is not a directory"),
    ("colour = true", "logging.colour: unknown key"),
])
def test_logging_config_errors_name_the_key(tmp_path: Path, table: str, expected: str) -> None:
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None,
                          extra=f"[logging]\n{table}\n")
    result = GatewayProcess(config, 0).cli("check-config", check=False)
    assert result.returncode == 2
    assert expected in result.stderr.decode()
