"""End to end through `helpdesk run` on a clock the test controls: the weekly SLA report reaches the
relay once per week, across a restart and with a second process on the same database."""

from __future__ import annotations

import json
import smtplib
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.clock import write_clock_file
from tests import worlds
from tests.support import GatewayProcess, Received, Sink, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow
LONDON = ZoneInfo("Europe/London")
SUNDAY = datetime(2026, 11, 22, 12, 0, tzinfo=LONDON)
MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)

POLICY = worlds.world(
    worlds.sla("100ms"),
    worlds.UK_CALENDAR,
    worlds.plan(default_priority="P3", priorities={"P3": worlds.FOUR_BUSINESS_HOURS}),
    worlds.contact("sam", "Sam Delivery", roles=["service-delivery-manager"], locale="en_GB"),
    worlds.table("[[digests]]", kind="sla-weekly", at="mon 08:00"),
)


def _gateway(tmp_path: Path, sink: Sink, clock: Path, name: str, db: Path) -> GatewayProcess:
    port = free_port()
    (tmp_path / name).mkdir()
    config = write_config(tmp_path / name / "config.toml", smtp_port=port, relay_port=sink.port, extra=POLICY,
                          db_url=f"sqlite:///{db}")
    return GatewayProcess(config, port, env={"HELPDESK_CLOCK_FILE": str(clock), "HELPDESK_SECRET": "e2e-secret"})


def _digests(sink: Sink) -> list[Received]:
    return [m for m in sink.messages if m.rcpt_tos == ["sam@example.com"]]


def test_the_weekly_report_goes_once_a_week_across_a_restart_and_two_processes(tmp_path: Path, sink: Sink) -> None:
    clock, db = tmp_path / "clock", tmp_path / "shared.sqlite3"
    write_clock_file(clock, SUNDAY)
    first = _gateway(tmp_path, sink, clock, "first", db)
    with running(first):
        wait_for(lambda: json.loads(first.cli("digests", "--json").stdout)[0]["scheduled"], what="the schedule")
        with smtplib.SMTP("127.0.0.1", first.smtp_port) as client:
            client.sendmail("ops@customer.example", ["support@example.com"],
                            customer_mail("Ops <ops@customer.example>", "Printer", "The printer jams."))
        sink.wait(1)  # the acknowledgement
        write_clock_file(clock, MONDAY_8AM + timedelta(minutes=1))
        [week] = wait_for(lambda: _digests(sink) or None, what="the weekly report")
        subject = " ".join(str(week.message["Subject"]).split())
        assert subject == "Weekly SLA report, 16 – 22 Nov 2026: nothing fell due"
        assert "still running at the end: 1." in week.message.get_body(("plain",)).get_content()  # type: ignore
    # Started again that Monday afternoon, with a second process on the same database from now on.
    write_clock_file(clock, MONDAY_8AM + timedelta(hours=5, minutes=30))
    second = _gateway(tmp_path, sink, clock, "second", db)
    with running(first), running(second):
        # #1's first response was due at 13:00: its breach says a wake-up ran after the restart.
        wait_for(lambda: "sla-breach" in _events(first), what="a wake-up of the restarted gateways")
        write_clock_file(clock, MONDAY_8AM + timedelta(days=7, minutes=1))
        wait_for(lambda: len(_digests(sink)) >= 2, what="the next week's report")
        wait_for(lambda: _outbox(db) == [("sent",), ("sent",)], what="every digest handed to the relay")
    subjects = [" ".join(str(m.message["Subject"]).split()) for m in _digests(sink)]
    assert subjects == ["Weekly SLA report, 16 – 22 Nov 2026: nothing fell due",
                        "Weekly SLA report, 23 – 29 Nov 2026: 0% kept"]


def _events(gw: GatewayProcess) -> list[str]:
    return [e["kind"] for e in json.loads(gw.cli("tickets", "show", "1", "--json").stdout)["events"]]


def _outbox(db: Path) -> list[tuple[str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT state FROM outbox WHERE kind = 'sla-weekly' ORDER BY id").fetchall()
