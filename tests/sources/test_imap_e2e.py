"""`helpdesk run` with [[imap]] accounts, as a user runs it: broken accounts, SIGKILL, status."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import smtplib
import sqlite3
from pathlib import Path

import pytest

from tests import worlds
from tests.imap_server import mails, running_dovecot
from tests.support import GatewayProcess, customer_mail, free_port, running, wait_for, write_config

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]


def _scalar(db: Path, sql: str) -> int:
    """Read the gateway's SQLite database beside it (a plain reader takes no write lock)."""
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


TICKETS = "SELECT count(*) FROM tickets"
INBOUND = "SELECT count(*) FROM inbound_messages"


def test_a_broken_account_does_not_stop_the_others_or_the_gateway(tmp_path: Path) -> None:
    with running_dovecot({"support": "secret", "sales": "secret2"}) as server:
        server.append(mails(10, "good"))
        server.append(mails(3, "sales"), user="sales")
        smtp_port = free_port()
        config = write_config(tmp_path / "config.toml", smtp_port=smtp_port, relay_port=None,
                              extra=worlds.imap("good", server.port, "support", password_env="GOOD_IMAP_PASSWORD")
                              + worlds.imap("broken", server.port, "sales", password_env="BROKEN_IMAP_PASSWORD"))
        gw = GatewayProcess(config, smtp_port, env={"GOOD_IMAP_PASSWORD": "secret",
                                                    "BROKEN_IMAP_PASSWORD": "not-the-password"})
        db = tmp_path / "var" / "helpdesk.sqlite3"
        assert b"OK" in gw.cli("check-config").stdout
        with running(gw):
            wait_for(lambda: _scalar(db, TICKETS) == 10, 60, what="the good account's 10 tickets")
            # The listener beside the pollers still takes mail.
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
                smtp.sendmail("walkin@customer.example", ["support@example.com"],
                              customer_mail("walkin@customer.example", "by SMTP", "hello"))
            wait_for(lambda: _scalar(db, TICKETS) == 11, 30, what="the SMTP mail's ticket")
            server.append(mails(2, "more"))
            wait_for(lambda: _scalar(db, TICKETS) == 13, 30, what="later IMAP mail")
            status = json.loads(gw.cli("status", "--json").stdout)
        assert gw.proc is not None and gw.proc.returncode == 0
        assert len(server.uids(user="sales", criteria="UNSEEN")) == 3
    heartbeat = {h["account"]: h for h in status["imap"]}
    assert set(heartbeat) == {"good", "broken"}
    good, broken = heartbeat["good"], heartbeat["broken"]
    assert good["stored"] == 12 and good["last_success_at"] and not good["stale"] and good["backlog"] == 0
    assert broken["last_success_at"] is None and broken["stale"] and broken["stored"] == 0
    assert "login refused for user 'sales'" in broken["last_error"]
    log = gw.log.read_text()
    failures = [line for line in log.splitlines() if "imap[broken]" in line and "login refused" in line]
    assert len(failures) == 1, failures  # once, not once per retry
    assert "not-the-password" not in log


def test_sigkill_at_random_moments_stores_every_mail_once(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    with running_dovecot() as server:
        server.append(mails(500, "kill"))
        smtp_port = free_port()
        config = write_config(tmp_path / "config.toml", smtp_port=smtp_port, relay_port=None,
                              extra=worlds.imap("support", server.port, password_env="IMAP_PASSWORD",
                                                done_folder="Done"))
        gw = GatewayProcess(config, smtp_port, env={"IMAP_PASSWORD": "secret"})
        db = tmp_path / "var" / "helpdesk.sqlite3"
        for threshold in sorted(rng.sample(range(5, 495), 5)):
            gw.start()
            wait_for(lambda t=threshold: _scalar(db, INBOUND) >= t, 60,  # type: ignore[misc]
                     what=f"{threshold} mails stored (seed {seed})")
            gw.stop(signal.SIGKILL)
        with running(gw):
            wait_for(lambda: _scalar(db, TICKETS) == 500 and not server.uids(), 120,
                     what=f"500 tickets and an empty INBOX (seed {seed})")
        assert len(server.uids("Done")) == 500
    assert _scalar(db, INBOUND) == 500, seed
    assert _scalar(db, "SELECT count(*) FROM inbound_messages WHERE state != 'done'") == 0, seed
    assert _scalar(db, "SELECT count(DISTINCT message_id) FROM messages WHERE direction = 'in'") == 500
    assert _scalar(db, "SELECT count(*) FROM messages WHERE direction = 'in'") == 500
