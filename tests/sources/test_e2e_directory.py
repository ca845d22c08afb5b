"""Designated contacts end to end: plans by customer, strangers held or politely refused once a day."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import write_clock_file
from tests import worlds
from tests.support import GatewayProcess, Sink, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow

DIRECTORY = worlds.world(
    worlds.sla("200ms"),
    worlds.plan("gold", "24x7", priorities={"P3": {"first_response": "1h"}, "P4": {"first_response": "2h"}}),
    worlds.plan(calendar="24x7"),
    worlds.acme("alice", plan="gold", timezone="Australia/Sydney"),
)


def _send(port: int, raw: bytes, sender: str) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail(sender, ["support@example.com"], raw)


def test_contacts_get_their_plan_strangers_are_held_or_refused(tmp_path: Path, sink: Sink) -> None:
    clock_file = tmp_path / "clock"
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    write_clock_file(clock_file, start)
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=sink.port, extra=DIRECTORY)
    text = config.read_text().replace('timezone = "Europe/London"',
                                      'timezone = "Europe/London"\nunknown_senders = "reject"\nnon_contacts = "hold"')
    config.write_text(text)
    gw = GatewayProcess(config, port, env={"HELPDESK_CLOCK_FILE": str(clock_file)})
    with running(gw):
        gw.cli("check-config")
        _send(port, customer_mail("Alice <alice@acme.example>", "Report question", "How do I export?"),
              "alice@acme.example")
        [ack] = sink.wait(1)
        assert ack.rcpt_tos == ["alice@acme.example"]
        assert "AEDT" in ack.message.get_body(("plain",)).get_content()  # the customer's own time zone
        ticket = json.loads(gw.cli("tickets", "show", "1", "--json").stdout)
        assert (ticket["plan"], ticket["organisation"]) == ("gold", "Acme")

        # A colleague who is not a designated contact: held for an engineer, no mail.
        _send(port, customer_mail("bob@acme.example", "Me too", "Same question"), "bob@acme.example")
        held = wait_for(lambda: json.loads(gw.cli("held", "list", "--json").stdout)["held"], what="the held mail")
        assert "bob@acme.example" in held[0]["reason"]

        # A stranger: one polite refusal, not two on the same day, none to an auto-reply.
        _send(port, customer_mail("eve@else.example", "Hello", "Can you help?"), "eve@else.example")
        refusal = sink.wait(2)[1]
        assert refusal.rcpt_tos == ["eve@else.example"]
        assert "designated" in refusal.message.get_body(("plain",)).get_content()
        _send(port, customer_mail("eve@else.example", "Hello again", "Anyone?"), "eve@else.example")
        _send(port, customer_mail("eve@else.example", "Out of office", "I am away",
                                  extra={"Auto-Submitted": "auto-replied"}), "eve@else.example")
        _send(port, customer_mail("robot@else.example", "Auto: away", "away",
                                  extra={"Auto-Submitted": "auto-replied"}), "robot@else.example")
        wait_for(lambda: json.loads(gw.cli("status", "--json").stdout)["inbound"].get("rejected") == 2,
                 what="the second refusal recorded")
        wait_for(lambda: json.loads(gw.cli("status", "--json").stdout)["inbound"].get("screened") == 2,
                 what="the auto-replies screened")

        # The engineer approves Bob's mail: it opens a ticket and Bob is acknowledged.
        gw.cli("held", "approve", str(held[0]["id"]))
        third = sink.wait(3)[2]
        assert third.rcpt_tos == ["bob@acme.example"]

        # The next day the stranger may be told once more.
        write_clock_file(clock_file, start + timedelta(days=1))
        _send(port, customer_mail("eve@else.example", "Tomorrow", "Still need help"), "eve@else.example")
        sink.wait(4)
    assert [m.rcpt_tos[0] for m in sink.messages].count("eve@else.example") == 2
    assert len(sink.messages) == 4
