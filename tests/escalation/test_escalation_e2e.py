"""End to end: `helpdesk run` pages the on-call engineer after hours, on a clock the test moves."""

from __future__ import annotations

import signal
import smtplib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.clock import write_clock_file
from tests import worlds
from tests.support import GatewayProcess, Received, Sink, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow
LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 11, 22, 2, 0, tzinfo=LONDON)  # Sunday 02:00; GMT, so London time is UTC

POLICY = worlds.world(
    worlds.sla("200ms"),
    worlds.UK_CALENDAR,
    worlds.plan(escalation="critical", priorities={"P1": {"first_response": "1 hour", "calendar": "24x7"}}),
    worlds.ONCALL,
    worlds.page_tier("critical", "on-call", notify=["on-call"]),
    worlds.OWN_RULES,
    worlds.OUTAGE_IS_P1,
)


def _gateway(tmp_path: Path, sink: Sink, clock: Path, name: str = "gw", db: Path | None = None) -> GatewayProcess:
    port = free_port()
    d = tmp_path / name
    d.mkdir()
    config = write_config(d / "config.toml", smtp_port=port, relay_port=sink.port, extra=POLICY,
                          db_url=f"sqlite:///{db}" if db else None)
    return GatewayProcess(config, port, env={"HELPDESK_CLOCK_FILE": str(clock), "HELPDESK_SECRET": "e2e-secret"})


def _report_outage(gw: GatewayProcess) -> None:
    with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
        client.sendmail("ops@customer.example", ["support@example.com"],
                        customer_mail("Ops <ops@customer.example>", "Site down", "The whole site is down."))


def _pages(sink: Sink) -> list[Received]:
    return [m for m in sink.messages if "PAGE" in str(m.message["Subject"])]


def _minutes(mails: list[Received]) -> list[int]:
    """When each mail was written (its Date header, from the gateway's clock), in minutes after START."""
    return [int((m.message["Date"].datetime - START) / timedelta(minutes=1)) for m in mails]


def _db(gw: GatewayProcess) -> Path:
    return Path(gw.config.read_text().split('url = "sqlite:///', 1)[1].split('"', 1)[0])


def _next_deadline(gw: GatewayProcess) -> datetime | None:
    """Read straight from the database: a CLI call costs seconds of imports."""
    with sqlite3.connect(_db(gw)) as conn:
        row = conn.execute("SELECT next_deadline FROM tickets WHERE id = 1").fetchone()
    return datetime.fromisoformat(row[0]).replace(tzinfo=UTC) if row and row[0] else None


def _outbox(gw: GatewayProcess, kind: str) -> list[tuple[str, str]]:
    with sqlite3.connect(_db(gw)) as conn:
        return list(conn.execute("SELECT cause_key, state FROM outbox WHERE kind = ? ORDER BY id", (kind,)))


def _events(gw: GatewayProcess) -> list[tuple[str, str, str]]:
    with sqlite3.connect(_db(gw)) as conn:
        rows = conn.execute("SELECT kind, actor, at FROM events WHERE kind IN ('on-call-paged', "
                            "'escalation-acknowledged') ORDER BY id").fetchall()
    return [(k, a, datetime.fromisoformat(t).strftime("%H:%M")) for k, a, t in rows]


def test_p1_on_sunday_night_pages_on_call_until_acked_and_the_customer_hears_at_one_hour(
        tmp_path: Path, sink: Sink) -> None:
    clock = tmp_path / "clock"
    write_clock_file(clock, START)
    gw = _gateway(tmp_path, sink, clock)

    def at(minutes: int) -> None:
        write_clock_file(clock, START + timedelta(minutes=minutes))

    with running(gw):
        assert gw.cli("oncall").stdout.decode().startswith("alice: Alice Oncall <alice@example.com>")
        _report_outage(gw)
        wait_for(lambda: len(_pages(sink)) == 1, what="the page at once")
        [page] = _pages(sink)
        assert page.rcpt_tos == ["alice@example.com"]
        assert page.message["Subject"] == "[#1] PAGE P1 after hours: Site down"
        at(15)
        wait_for(lambda: len(_pages(sink)) == 2, what="the second page, 15 minutes on")
        at(30)
        wait_for(lambda: len(_pages(sink)) == 3, what="the third page")
        at(35)
        gw.cli("ack", "1", "--by", "alice")
        # Acknowledged: no page at 02:45; the next instant is the SLA's near-breach warning (80% of 1 hour).
        wait_for(lambda: _next_deadline(gw) == START + timedelta(minutes=48), what="the repeats gone")
        at(60)
        notice = wait_for(lambda: [m for m in sink.messages if m.rcpt_tos == ["ops@customer.example"]
                                   and "Status" in str(m.message["Subject"])], what="the status notice")[0]
        text = notice.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Our on-call engineer has been paged" in text
        wait_for(lambda: all(state == "sent" for _k, state in _outbox(gw, "on-call-page")), what="all sent")
    assert _minutes(_pages(sink)) == [0, 15, 30]
    assert _minutes([notice]) == [60]
    assert _events(gw) == [("on-call-paged", "gateway", "02:00"), ("on-call-paged", "gateway", "02:15"),
                           ("on-call-paged", "gateway", "02:30"), ("escalation-acknowledged", "alice", "02:35")]


def test_restart_between_a_page_s_instant_and_its_mail_sends_it_exactly_once(tmp_path: Path, sink: Sink) -> None:
    clock = tmp_path / "clock"
    write_clock_file(clock, START)
    db = tmp_path / "shared.sqlite3"
    first = _gateway(tmp_path, sink, clock, "first", db)
    with running(first):
        _report_outage(first)
        wait_for(lambda: len(_pages(sink)) == 1, what="the first page")
        write_clock_file(clock, START + timedelta(minutes=10))
    # Down across 02:15, when the second page falls due; started again at 02:20.
    write_clock_file(clock, START + timedelta(minutes=20))
    second = _gateway(tmp_path, sink, clock, "second", db)
    first.start(wait_listener=False)  # and two processes share the database from now on
    second.start()
    try:
        wait_for(first._listening, 20, what="the first gateway again")
        wait_for(lambda: len(_pages(sink)) == 2, what="the page that fell due while down")
        write_clock_file(clock, START + timedelta(minutes=35))
        wait_for(lambda: len(_pages(sink)) == 3, what="the next page, 15 minutes after the late one")
        write_clock_file(clock, START + timedelta(minutes=50))
        wait_for(lambda: len(_pages(sink)) == 4, what="the fourth page")
    finally:  # killed without a clean stop: whatever was committed stands
        first.stop(signal.SIGKILL)
        second.stop(signal.SIGKILL)
    with running(first):
        write_clock_file(clock, START + timedelta(minutes=51))
        wait_for(lambda: _next_deadline(first) == START + timedelta(minutes=60), what="the restarted gateway settled")
        pages = _outbox(first, "on-call-page")
    assert _minutes(_pages(sink)) == [0, 20, 35, 50]
    assert pages == [(f"escalation:1:critical:on-call:{n}:alice", "sent") for n in (1, 2, 3, 4)]
