"""End to end: a P1 through `helpdesk run`, on a clock the test controls: ack, updates every 30 minutes."""

from __future__ import annotations

import json
import smtplib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.clock import write_clock_file
from tests import worlds
from tests.support import GatewayProcess, Sink, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow
LONDON = ZoneInfo("Europe/London")

POLICY = worlds.world(
    worlds.sla("100ms"),
    worlds.calendar(hours="09:00-18:00"),
    worlds.P1_UPDATED_EVERY_30M,
    worlds.OWN_RULES,
    worlds.OUTAGE_IS_P1,
    # `helpdesk respond --by` names someone the config knows (a contact here: engineers get mail).
    worlds.DANA_CONTACT,
)


def test_p1_gets_promise_then_updates_every_30_minutes_until_engineer_replies(tmp_path: Path, sink: Sink) -> None:
    clock_file = tmp_path / "clock"
    start = datetime(2026, 11, 22, 2, 0, tzinfo=LONDON)  # a Sunday, 02:00
    write_clock_file(clock_file, start)
    port = free_port()
    gw = GatewayProcess(write_config(tmp_path / "config.toml", smtp_port=port, relay_port=sink.port, extra=POLICY),
                        port, env={"HELPDESK_CLOCK_FILE": str(clock_file)})

    def at(minutes: int) -> None:
        write_clock_file(clock_file, start + timedelta(minutes=minutes))

    with running(gw):
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail("cto@customer.example", ["support@example.com"],
                            customer_mail("CTO <cto@customer.example>", "Site down", "Our whole site is down."))
        [ack] = sink.wait(1)
        text = ack.message.get_body(("plain",)).get_content()
        # Paragraphs are wrapped at 72 columns, never mid-sentence into a long line.
        assert all(len(line) <= 72 for line in text.splitlines()), text
        words = " ".join(text.split())
        assert "around the clock, 24/7. We will respond by Sunday 22 November 2026 02:15 GMT" in words
        at(29)

        def show() -> dict:  # type: ignore[type-arg]
            return json.loads(gw.cli("tickets", "show", "1", "--json").stdout)  # type: ignore[no-any-return]
        # First response was due 02:15: breached; the next thing due is the 02:30 update.
        ticket = wait_for(lambda: (t := show())["next_deadline"] == "2026-11-22T02:30:00+00:00" and t,
                          what="the breach handled and the update due next")
        assert ticket["priority"] == "P1"
        assert any(e["kind"] == "sla-breach" for e in ticket["events"])
        assert len(sink.messages) == 1
        at(30)
        second = sink.wait(2)[1].message
        assert second["Subject"] == "[#1] Update on your request: Site down"
        assert second["In-Reply-To"] == ack.message["In-Reply-To"]
        assert "by Sunday 22 November 2026 03:00 GMT" in second.get_body(("plain",)).get_content()
        at(60)
        sink.wait(3)
        at(70)
        gw.cli("respond", "1", "--by", "dana")
        ticket = show()
        stopped = [e for e in ticket["events"] if e["kind"] == "sla-clock-stopped"]
        assert stopped and stopped[0]["at"] == "2026-11-22T03:10:00+00:00"
        assert stopped[0]["detail"] == {"clock": "first_response", "met": False,
                                        "deadline": "2026-11-22T02:15:00+00:00"}
        wait_for(lambda: show()["next_deadline"] == "2026-11-22T03:40:00+00:00",
                 what="the next update due 30 minutes after the reply")
        assert len(sink.messages) == 3
        at(100)
        sink.wait(4)
    assert len(sink.messages) == 4
