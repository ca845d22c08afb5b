"""Mail kept from a ticket (held for review, or refused) leaves a line in the gateway's log."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from tests.support import GatewayProcess, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("policy", ["hold", "reject"])
def test_held_and_refused_mail_is_logged(tmp_path: Path, policy: str) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None)
    text = config.read_text().replace("[gateway]\n", f'[gateway]\nunknown_senders = "{policy}"\n', 1)
    config.write_text(text)
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "s"})
    with running(gw):
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail("eve@stranger.example", ["support@example.com"],
                            customer_mail("eve@stranger.example", "Hello", "Who are you?"))
        state = "held" if policy == "hold" else "rejected"
        wait_for(lambda: f"inbound 1 {state}: eve@stranger.example is not" in gw.log.read_text(),
                 what=f"a log line for the {state} mail")
