"""End to end: customers written to in their own language through `helpdesk run`, on a clock the test controls."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import write_clock_file
from tests.support import GatewayProcess, Received, Sink, customer_mail, free_port, running, write_config

pytestmark = pytest.mark.slow

POLICY = """
[sla]
sweep_interval = "100ms"

[plans.standard]
calendar = "24x7"
default_priority = "P3"

[plans.standard.priorities.P3]
first_response = "1h"
update_every = "30m"

[rule_set]
mode = "replace"

[[rules]]
name = "outage"
description = "Everything is down."
when = { words = ["outage"] }
then = { priority = "P1" }

[[customers]]
name = "Musterfirma"
domains = ["muster.example"]
timezone = "Europe/Berlin"
contacts = ["anna@muster.example", { address = "pierre@muster.example", language = "fr" }]
"""

GERMAN = ("Guten Morgen,\n\nseit heute früh bricht der Export der Stundenzettel nach wenigen Sekunden ab. "
          "Wir brauchen die Daten für die Abrechnung am Freitag.\n\nViele Grüße\nAnna Schmidt\n")
ENGLISH = ("Hello,\n\nsince this morning the timesheet export stops after a few seconds. We need the data for "
           "Friday's invoicing run.\n\nBest regards,\nPierre Martin\n")


def _send(port: int, sender: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail(sender, ["support@example.com"], raw)


def _words(received: Received) -> str:
    return " ".join(received.message.get_body(("plain",)).get_content().split())


def test_each_customer_is_written_to_in_their_language(tmp_path: Path, sink: Sink) -> None:
    clock_file = tmp_path / "clock"
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday; 10:00 in Berlin
    write_clock_file(clock_file, start)
    port = free_port()
    gw = GatewayProcess(write_config(tmp_path / "config.toml", smtp_port=port, relay_port=sink.port, extra=POLICY),
                        port, env={"HELPDESK_CLOCK_FILE": str(clock_file)})
    with running(gw):
        gw.cli("check-config")
        _send(port, "anna@muster.example",
              customer_mail("Anna Schmidt <anna@muster.example>", "Export bricht ab", GERMAN))
        [german] = sink.wait(1)
        # Pierre's contact entry says French: his English mail is answered in French all the same.
        _send(port, "pierre@muster.example",
              customer_mail("Pierre Martin <pierre@muster.example>", "Timesheet export stops", ENGLISH))
        french = sink.wait(2)[1]

        assert german.rcpt_tos == ["anna@muster.example"]
        assert german.message["Subject"] == "[#1] Export bricht ab"
        words = _words(german)
        assert words.startswith("Guten Tag Anna Schmidt, vielen Dank für Ihre Nachricht an Example Support.")
        assert "Sie erhalten spätestens am Montag, 23. November 2026, 11:00 MEZ eine Antwort (P3)" in words
        assert "in Abständen von höchstens 30 Minuten auf dem Laufenden" in words
        html = german.message.get_body(("html",)).get_content()
        assert "<strong>Montag, 23. November 2026, 11:00 MEZ</strong>" in html

        assert french.rcpt_tos == ["pierre@muster.example"]
        words = _words(french)
        assert words.startswith("Bonjour Pierre Martin, Merci d'avoir contacté Example Support.")
        assert "Nous vous répondrons au plus tard le lundi 23 novembre 2026, 11:00 CET (P3)" in words

        # Half an hour on, the update notices go out, each in its customer's language, once.
        write_clock_file(clock_file, start + timedelta(minutes=30))
        updates = {r.rcpt_tos[0]: r for r in sink.wait(4)[2:]}
        assert updates["anna@muster.example"].message["Subject"] == \
            "[#1] Aktueller Stand Ihrer Anfrage: Export bricht ab"
        assert "Sie hören spätestens am Montag, 23. November 2026, 11:00 MEZ wieder von uns." in \
            _words(updates["anna@muster.example"])
        assert updates["pierre@muster.example"].message["Subject"] == \
            "[#2] Point sur votre demande : Timesheet export stops"

        tickets = {n: json.loads(gw.cli("tickets", "show", str(n), "--json").stdout) for n in (1, 2)}
    assert [t["language"] for t in tickets.values()] == ["de", "fr"]
    opened = [next(e["detail"]["language"] for e in t["events"] if e["kind"] == "ticket-opened")
              for t in tickets.values()]
    assert opened == [{"code": "de", "from": "detected"}, {"code": "fr", "from": "contact"}]
    assert len(sink.messages) == 4
