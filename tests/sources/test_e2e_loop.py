"""Two auto-responders answering each other: the loop guard stops them, and no ticket explosion."""

from __future__ import annotations

import json
import smtplib
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support import GatewayProcess, Sink, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow


class NaivePeer:
    """Another system's auto-responder with none of the manners RFC 3834 asks for: it answers
    every mail it gets with a fresh one (no Auto-Submitted, no threading headers)."""

    def __init__(self, gateway_port: int) -> None:
        self.gateway_port = gateway_port
        self.received = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received += 1
            n = self.received
        threading.Thread(target=self._answer, args=(n,), daemon=True).start()
        return "250 OK"

    def _answer(self, n: int) -> None:
        msg = EmailMessage()
        msg["From"] = "helpdesk@peer.example"
        msg["To"] = "support@example.com"
        msg["Subject"] = f"Your request has been logged as PEER-{n}"
        msg["Message-ID"] = f"<peer-{n}@peer.example>"
        msg.set_content("Thank you, we will get back to you.")
        with smtplib.SMTP("127.0.0.1", self.gateway_port) as client:
            client.send_message(msg, from_addr="helpdesk@peer.example", to_addrs=["support@example.com"])


def test_two_auto_responders_stop_at_the_cap(tmp_path: Path) -> None:
    port, peer_port = free_port(), free_port()
    peer = NaivePeer(port)
    controller = Controller(peer, hostname="127.0.0.1", port=peer_port)
    controller.start()
    gw = GatewayProcess(write_config(tmp_path / "config.toml", smtp_port=port, relay_port=peer_port,
                                     extra="[sla]\nsweep_interval = \"200ms\"\n"), port)
    try:
        with running(gw):
            # The first mail comes from the peer's system, as if a user there wrote to us.
            with smtplib.SMTP("127.0.0.1", port) as client:
                client.sendmail("helpdesk@peer.example", ["support@example.com"],
                                customer_mail("helpdesk@peer.example", "Order 1234", "Where is my order?"))

            def suppressed() -> list[dict[str, Any]]:
                rows = json.loads(gw.cli("tickets", "list", "--json").stdout)["tickets"]
                return [t for t in rows if any(o["state"] == "suppressed" for o in json.loads(
                    gw.cli("tickets", "show", str(t["number"]), "--json").stdout)["outbox"])]
            wait_for(suppressed, timeout=60, what="the loop guard to hold an acknowledgement back")
            tickets = json.loads(gw.cli("tickets", "list", "--json").stdout)["tickets"]
            status = json.loads(gw.cli("status", "--json").stdout)
    finally:
        controller.stop()
    # Default cap: 5 automatic mails to one address per hour. The peer got 5 and answered 5;
    # the 6th mail opened a ticket whose acknowledgement was recorded, not sent.
    assert peer.received == 5
    assert len(tickets) == 6
    assert status["inbound"] == {"done": 6}


def test_a_storm_of_one_alert_opens_five_tickets_and_the_rest_join_the_fifth(tmp_path: Path, sink: Sink) -> None:
    """A monitoring system in a loop: 40 alerts, one shape, numbers changing, through the listener."""
    port = free_port()
    gw = GatewayProcess(write_config(tmp_path / "config.toml", smtp_port=port, relay_port=sink.port), port)
    with running(gw):
        with smtplib.SMTP("127.0.0.1", port) as client:
            for n in range(40):
                client.sendmail("alerts@monitoring.example", ["support@example.com"], customer_mail(
                    "Monitoring <alerts@monitoring.example>", f"ALERT {7000 + n}: db{n % 4}.prod down",
                    f"CRITICAL: db{n % 4}.prod is unreachable (check {n})"))
        wait_for(lambda: json.loads(gw.cli("status", "--json").stdout)["inbound"] == {"done": 40},
                 timeout=60, what="all 40 alerts processed")
        tickets = json.loads(gw.cli("tickets", "list", "--json").stdout)["tickets"]
        fifth = max(t["number"] for t in tickets)
        shown = gw.cli("tickets", "show", str(fifth)).stdout.decode()
        listed = gw.cli("tickets", "list").stdout.decode()
        status = gw.cli("status").stdout.decode()
        full = json.loads(gw.cli("tickets", "show", str(fifth), "--json").stdout)
        another = tmp_path / "another-alert.eml"
        another.write_bytes(customer_mail("Monitoring <alerts@monitoring.example>", "ALERT 9999: db1.prod down",
                                          "CRITICAL"))
        explained = json.loads(gw.cli("explain", "--json", str(another)).stdout)
        acks = sink.wait(5)
    assert len(tickets) == 5
    assert full["repeats"] == 35
    assert sum(1 for m in full["messages"] if m["kind"] == "repeat") == 35  # each one kept
    # The person reading it sees the count, a few of them, and where the rest are.
    assert "ALERT 7004: db0.prod down (+35 repeats)" in listed
    # The on-call's first look: which storm is being folded, into which ticket.
    assert (f"repeats:  #{fifth} alerts@monitoring.example 'ALERT 7004: db0.prod down': 35 repeats, "
            "the last at") in status
    assert "35 repeat(s) of its first mail from the same sender joined it" in shown
    assert f"... and 32 more repeat(s), not shown here: `tickets show {fifth} --json` lists every message" in shown
    assert (explained["outcome"], explained["ticket"], explained["acknowledge"]) == ("repeat", fifth, False)
    # One acknowledgement for each ticket, none for a repeat.
    assert len(acks) == 5 and len(sink.messages) == 5
