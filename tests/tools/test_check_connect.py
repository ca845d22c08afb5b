"""``helpdesk check-config --connect`` against real servers: what works and what does not, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import worlds
from tests.imap_server import running_dovecot
from tests.support import GatewayProcess, Sink, free_port, write_config

pytestmark = pytest.mark.slow


def test_connect_says_what_works_and_what_does_not(tmp_path: Path) -> None:
    sink = Sink().start()
    try:
        with running_dovecot() as dovecot:
            imap = "\n".join(worlds.imap(name, dovecot.port, "support", password_env=env)
                              for name, env in (("good", "GOOD_PASS"), ("bad", "BAD_PASS")))
            config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=sink.port,
                                  extra=imap)
            gw = GatewayProcess(config, 0, env={"GOOD_PASS": "secret", "BAD_PASS": "wrong",
                                                "HELPDESK_SECRET": "s"})
            result = gw.cli("check-config", "--connect", check=False)
            out = result.stdout.decode()
            assert result.returncode == 1, out
            lines = out.splitlines()
            assert lines[0].endswith(": OK")
            assert any(line.startswith("ok   database:") for line in lines), out
            assert any(line.startswith(f"ok   relay 127.0.0.1:{sink.port}") and "no login" in line
                       for line in lines), out
            assert any(line.startswith("ok   imap[good]:") and "folder 'INBOX'" in line for line in lines), out
            assert any(line.startswith("FAIL imap[bad]: login refused for user 'support'") for line in lines), out
            assert "wrong" not in out  # secrets are never printed

            # A relay that is not there is said so too.
            config.write_text(config.read_text().replace(f"port = {sink.port}", f"port = {free_port()}"))
            out = gw.cli("check-config", "--connect", check=False).stdout.decode()
            assert any(line.startswith("FAIL relay 127.0.0.1:") for line in out.splitlines()), out
    finally:
        sink.stop()
