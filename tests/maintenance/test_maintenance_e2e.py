"""End to end through `helpdesk run` on a clock the test controls: a maintenance window scheduled from
the command line reaches each status contact's mailbox once per stage, with its calendar event,
across a restart and with a second process on the same database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from gateway.clock import write_clock_file
from tests import worlds
from tests.support import GatewayProcess, Received, Sink, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow
LONDON = ZoneInfo("Europe/London")
WEDNESDAY = datetime(2026, 12, 9, 10, 0, tzinfo=LONDON)
START = datetime(2026, 12, 12, 22, 0, tzinfo=LONDON)  # Saturday night; "48 hours" before: Thursday 22:00
STATUS = ["noc@acme.example", "status@globex.example"]

POLICY = worlds.world(
    worlds.sla("100ms"),
    worlds.UK_CALENDAR,
    worlds.plan(default_priority="P3", priorities={"P3": worlds.FOUR_BUSINESS_HOURS}),
    worlds.SAM,
    worlds.acme(status_contacts=["noc@acme.example"]),
    worlds.customer("Globex", "globex.example", timezone="Australia/Sydney", status_contacts=["status@globex.example"]),
    worlds.table("maintenance", calendar="uk"),
)


def _gateway(tmp_path: Path, sink: Sink, clock: Path, name: str, db: Path) -> GatewayProcess:
    port = free_port()
    (tmp_path / name).mkdir()
    config = write_config(tmp_path / name / "config.toml", smtp_port=port, relay_port=sink.port, extra=POLICY,
                          db_url=f"sqlite:///{db}")
    return GatewayProcess(config, port, env={"HELPDESK_CLOCK_FILE": str(clock), "HELPDESK_SECRET": "e2e-secret"})


def _stage(sink: Sink, subject_start: str) -> list[Received]:
    return [m for m in sink.messages if str(m.message["Subject"]).startswith(subject_start)]


def _calendar(mail: Received) -> Calendar:
    [part] = [p for p in mail.message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True))


def test_a_window_is_announced_started_and_completed_once_each(tmp_path: Path, sink: Sink) -> None:
    clock, db = tmp_path / "clock", tmp_path / "shared.sqlite3"
    write_clock_file(clock, WEDNESDAY)
    first = _gateway(tmp_path, sink, clock, "first", db)
    with running(first):
        said = first.cli("maintenance", "schedule", "--kind", "no-downtime", "--start", "2026-12-12T22:00",
                         "--end", "2026-12-13T02:00", "--title", "Core switch replacement", "--by", "sam",
                         "--text", "We replace the core switch.").stdout.decode()
        assert "notice goes 2026-12-10T22:00:00+00:00 to 2 status contact(s)" in said
        write_clock_file(clock, datetime(2026, 12, 10, 22, 1, tzinfo=LONDON))
        notices = wait_for(lambda: len(_stage(sink, "Maintenance - no downtime")) == 2
                           and _stage(sink, "Maintenance - no downtime"), what="the two notices")
        assert sorted(m.rcpt_tos[0] for m in notices) == STATUS
        sydney = next(m for m in notices if m.rcpt_tos == ["status@globex.example"])
        body = " ".join(sydney.message.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
        assert "from Sunday 13 December 2026 09:00 AEDT to Sunday 13 December 2026 13:00 AEDT" in body
        [event] = _calendar(sydney).walk("VEVENT")
        assert event.decoded("dtstart") == START
    # Started again on the Saturday evening, with a second process on the same database from now on.
    second = _gateway(tmp_path, sink, clock, "second", db)
    with running(first), running(second):
        write_clock_file(clock, START + timedelta(minutes=1))
        wait_for(lambda: len(_stage(sink, "Starting now")) == 2, what="the start, to both")
        write_clock_file(clock, START + timedelta(hours=4, minutes=1))
        wait_for(lambda: len(_stage(sink, "Completed")) == 2, what="the completion, to both")
        shown = json.loads(first.cli("maintenance", "show", "1", "--json").stdout)
        assert shown["status"] == "completed"
        wait_for(lambda: all(m["state"] == "sent" for m in json.loads(
            first.cli("maintenance", "show", "1", "--json").stdout)["mail"]), what="every mail handed to the relay")
    assert len(sink.messages) == 6  # two notices, two starts, two completions: nothing twice
