"""Mail our MTA held while the gateway was down starts its SLA clock when the MTA accepted it."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from gateway.sources.arrival import mta_arrival
from tests.support import GatewayProcess, customer_mail, free_port, running, wait_for, write_config

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MTA = frozenset({"mx.example.com"})


def _received(by: str, when: datetime) -> str:
    return (f"from mail.customer.example (mail.customer.example [198.51.100.7])\r\n"
            f"\tby {by} (Postfix) with ESMTPS id 4ABCD\r\n\tfor <support@example.com>; {format_datetime(when)}")


def _mail(*top: tuple[str, str]) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in top).encode()
    return head + customer_mail("alice@customer.example", "Nobody can log in", "Since 09:00.")


def test_our_mtas_received_time_is_believed() -> None:
    accepted = NOW - timedelta(minutes=40)
    assert mta_arrival(_mail(("Received", _received("mx.example.com", accepted))), MTA, NOW) == accepted
    # The delivery agent's trace fields may stand above it; the host name's case is no matter.
    raw = _mail(("Delivered-To", "support@example.com"), ("Return-Path", "<alice@customer.example>"),
                ("Received", _received("MX.Example.COM.", accepted)))
    assert mta_arrival(raw, MTA, NOW) == accepted


@pytest.mark.parametrize("raw", [
    _mail(("Received", _received("mail.attacker.example", NOW - timedelta(hours=3)))),  # not our MTA
    _mail(("X-Spam", "no"), ("Received", _received("mx.example.com", NOW - timedelta(hours=3)))),  # below a sender's
    _mail(("Received", _received("mx.example.com", NOW - timedelta(days=9)))),  # older than any queue keeps mail
    _mail(("Received", "from x by mx.example.com; not a date")),
    _mail(("Received", "by mx.example.com with no date")),
    _mail(),
], ids=["other host", "below another header", "too old", "bad date", "no date", "no Received"])
def test_anything_else_is_not_believed(raw: bytes) -> None:
    assert mta_arrival(raw, MTA, NOW) is None


def test_nothing_is_believed_without_mta_hosts() -> None:
    assert mta_arrival(_mail(("Received", _received("mx.example.com", NOW - timedelta(minutes=5)))),
                       frozenset(), NOW) is None


@pytest.mark.slow
@pytest.mark.parametrize("lmtp", [False, True], ids=["smtp", "lmtp"])
def test_the_ticket_opens_when_our_mta_accepted_the_mail(tmp_path: Path, lmtp: bool) -> None:
    clock = tmp_path / "clock"
    clock.write_text(NOW.isoformat())
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None, lmtp=lmtp,
                          smtp_extra='mta_hosts = ["mx.example.com"]')
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "s", "HELPDESK_CLOCK_FILE": str(clock)})
    accepted = NOW - timedelta(minutes=25)  # the gateway was down; Postfix kept the mail
    with running(gw):
        client = smtplib.LMTP("127.0.0.1", port) if lmtp else smtplib.SMTP("127.0.0.1", port)
        with client:
            client.sendmail("alice@customer.example", ["support@example.com"],
                            _mail(("Received", _received("mx.example.com", accepted))))
        gw.cli("ingest", "--sender", "bob@customer.example", "--recipient", "support@example.com",
               input=_mail(("Received", _received("elsewhere.example", accepted)))
               .replace(b"alice@", b"bob@").replace(b"log in", b"print"))
        wait_for(lambda: json.loads(gw.cli("tickets", "list", "--json").stdout)["total"] == 2, what="two tickets")
    by_customer = {}
    for number in (1, 2):
        shown = json.loads(gw.cli("tickets", "show", str(number), "--json").stdout)
        by_customer[shown["customer"]] = datetime.fromisoformat(shown["created_at"])
    assert by_customer["alice@customer.example"] == accepted
    assert by_customer["bob@customer.example"] == NOW  # another host's Received proves nothing
