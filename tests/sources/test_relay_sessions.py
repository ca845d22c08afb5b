"""`[outbound] sessions = N`: mail waiting goes to the relay in N sessions at once, each mail once."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import threading
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.config import ConfigError, load_config
from tests.support import GatewayProcess, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow

HOLD = 20.0  # the longest the relay holds a mail waiting for the others to be in DATA with it


class _SideBySideRelay:
    """A relay that answers no DATA until ``want`` mails are in DATA at once (or HOLD has passed):
    a gateway that hands it one mail at a time is answered only after HOLD, mail by mail."""

    def __init__(self, want: int) -> None:
        self.want = want
        self.inside = 0
        self.most = 0  # the most mails in DATA at one time
        self.received: list[str] = []
        self.lock = threading.Lock()
        self._all_in: asyncio.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._all_in is None:
            self._all_in = asyncio.Event()  # on the relay's own loop
        self.inside += 1
        self.most = max(self.most, self.inside)
        if self.inside >= self.want:
            self._all_in.set()
        try:
            with contextlib.suppress(TimeoutError):  # held long enough: answered, mail by mail
                await asyncio.wait_for(self._all_in.wait(), HOLD)
        finally:
            self.inside -= 1
        with self.lock:
            self.received.extend(envelope.rcpt_tos)
        return "250 OK"


def _gateway(tmp_path: Path, relay_port: int, sessions: int, db_url: str | None) -> GatewayProcess:
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=relay_port, db_url=db_url,
                          outbound={"sessions": sessions})
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "e2e-secret"})
    if db_url:
        gw.cli("db", "upgrade")
    return gw


def _acknowledge(tmp_path: Path, relay: _SideBySideRelay, sessions: int, customers: list[str],
                 count: int, timeout: float, db_url: str | None = None) -> None:
    """``helpdesk run`` with that many sessions to ``relay``: a request from each customer, until
    ``count`` acknowledgements are at the relay."""
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        gw = _gateway(tmp_path, controller.port, sessions, db_url)
        with running(gw), smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            for who in customers:
                client.sendmail(who, ["support@example.com"], customer_mail(who, f"Request from {who}", "Help."))
            wait_for(lambda: len(relay.received) >= count, timeout=timeout,
                     what=f"{count} acknowledgement(s) at the relay")
    finally:
        controller.stop()


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_three_sessions_hand_three_acknowledgements_to_the_relay_at_once(tmp_path: Path, db: str,
                                                                         request: pytest.FixtureRequest) -> None:
    url = None
    if db == "postgres":
        base, schema = request.getfixturevalue("pg_schema")
        url = base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    relay = _SideBySideRelay(want=3)
    customers = [f"user{n}@customer{n}.example" for n in range(3)]
    _acknowledge(tmp_path, relay, 3, customers, count=3, timeout=HOLD - 5, db_url=url)
    assert relay.most == 3, f"at most {relay.most} mail(s) in the relay's hands at once"
    assert sorted(relay.received) == sorted(customers), "each customer acknowledged once"


def test_one_session_hands_mail_over_one_at_a_time(tmp_path: Path) -> None:
    relay = _SideBySideRelay(want=2)
    _acknowledge(tmp_path, relay, 1, ["a@one.example", "b@two.example"], count=1, timeout=HOLD + 10)
    assert relay.most == 1


@pytest.mark.parametrize("value", [0, 17, "4", True])
def test_sessions_out_of_range_are_refused_naming_the_key(tmp_path: Path, value: object) -> None:
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=free_port(),
                          outbound={"sessions": value})
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert "outbound.sessions" in str(refused.value) and "1 to 16" in str(refused.value)
