"""End to end: the operator's command-line views hide nothing and refuse nonsense."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from gateway.clock import write_clock_file
from gateway.store.db import Database
from gateway.store.models import Event
from tests import worlds
from tests.support import HELPDESK, OUTSIDE, GatewayProcess, Sink, customer_mail, free_port, wait_for

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
CONTACTS = [f"c{i}@acme.example" for i in range(6)]


def config_text(data: Path, db_url: str, port: int, relay_port: int | None) -> str:
    """Dana (an engineer), Sam (a contact) and Acme's six contacts; strangers are held."""
    return worlds.world(
        worlds.gateway(data, unknown_senders="hold"),
        worlds.database(db_url),
        worlds.smtp(port),
        worlds.outbound(relay_port=relay_port),
        worlds.processing("100ms"),
        worlds.engineers(worlds.dana("network")),
        worlds.SAM,
        worlds.acme(*CONTACTS, plan="standard"),
    )


class Desk:
    """A config, its database and the command line, as an operator has them."""

    def __init__(self, tmp_path: Path, db_url: str, relay_port: int | None = None) -> None:
        self.port = free_port()
        self.clock_file = tmp_path / "clock"
        write_clock_file(self.clock_file, START)
        self.config = tmp_path / "config.toml"
        self.config.write_text(config_text(tmp_path / "var", db_url, self.port, relay_port), encoding="utf-8")
        self.env = {**os.environ, "HELPDESK_SECRET": "operator-views-secret",
                    "HELPDESK_CLOCK_FILE": str(self.clock_file)}
        self.mails = tmp_path / "mails"
        self.mails.mkdir()
        self.db_url = db_url

    def run(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*HELPDESK, "-c", str(self.config), *args], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, env=self.env, cwd=OUTSIDE, timeout=120)
        assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def ingest(self, *raws: bytes, process: bool = True, sender: str | None = None) -> None:
        names = []
        for raw in raws:
            path = self.mails / f"{len(list(self.mails.iterdir())):04}.eml"
            path.write_bytes(raw)
            names.append(str(path))
        self.run("ingest", "-q", *(["--process"] if process else []),
                 *(["--sender", sender, "--recipient", "support@example.com"] if sender else []), *names)

    def gateway(self) -> GatewayProcess:
        return GatewayProcess(self.config, self.port, env=self.env)

    def events(self, kind: str) -> list[Event]:
        db = Database(self.db_url)
        try:
            with db.sessions() as session:
                return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))
        finally:
            db.dispose()


def _pg_url(request: pytest.FixtureRequest) -> str:
    url, schema = request.getfixturevalue("pg_schema")
    return str(url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helpdesk.sqlite3'}"
        return
    yield _pg_url(request)


@pytest.fixture
def desk(tmp_path: Path, request: pytest.FixtureRequest) -> Desk:
    # The views are the same queries on either database; PostgreSQL, the stricter, runs them here
    # (each command is a process of its own: running every one on both doubled the file's time).
    # What differs by database (the outbound backlog's ages) is tested on both by test_status_....
    d = Desk(tmp_path, _pg_url(request))
    d.run("db", "upgrade")
    return d


def _junk(subject: str) -> bytes:
    """A mail past the 2,000 header fields limit: the processor quarantines it."""
    return "".join(f"X-Junk-{i}: x\r\n" for i in range(2100)).encode() + \
        customer_mail("c0@acme.example", subject, "body")


def test_every_list_says_its_total_and_pages_through_the_rest(desk: Desk) -> None:
    # Empty lists say so, rather than printing nothing.
    assert desk.run("tickets", "list").stdout.strip() == "tickets: none"
    assert desk.run("held", "list").stdout.strip() == "held mails: none"
    assert desk.run("quarantine", "list").stdout.strip() == "quarantined mails: none"

    desk.ingest(*(customer_mail(c, f"Request {i}", "help") for i, c in enumerate(CONTACTS[:5])),
                *(customer_mail(f"stranger{i}@else.example", f"Hello {i}", "hi") for i in range(3)),
                _junk("bad 1"), _junk("bad 2"))

    every = desk.json("tickets", "list", "--all")
    assert (every["total"], every["limit"], every["offset"], len(every["tickets"])) == (5, None, 0, 5)
    numbers = [t["number"] for t in every["tickets"]]
    assert numbers == sorted(numbers, reverse=True)  # newest first
    shown = desk.run("tickets", "list", "--limit", "2").stdout.splitlines()
    assert [line.split()[0] for line in shown[:2]] == [f"#{n}" for n in numbers[:2]]
    assert shown[2] == "showing 1-2 of 5 tickets; next page: --offset 2; all of them: --all"
    last = desk.json("tickets", "list", "--limit", "2", "--offset", "4")
    assert (last["total"], last["limit"], last["offset"]) == (5, 2, 4)
    assert [t["number"] for t in last["tickets"]] == numbers[4:]
    assert desk.run("tickets", "list").stdout.splitlines()[-1] == "5 tickets"
    assert desk.run("tickets", "list", "--status", "closed").stdout.strip() == "tickets with status closed: none"

    # Held mail past a page is reachable, so it can be approved or dropped.
    assert desk.run("held", "list", "--limit", "2").stdout.splitlines()[-1] == \
        "showing 1-2 of 3 held mails; next page: --offset 2; all of them: --all"
    rest = desk.json("held", "list", "--limit", "2", "--offset", "2")
    assert (rest["total"], rest["limit"], rest["offset"], len(rest["held"])) == (3, 2, 2, 1)
    assert rest["held"][0]["from"] == "stranger2@else.example"
    desk.run("held", "approve", str(rest["held"][0]["id"]))
    desk.ingest(customer_mail(CONTACTS[5], "Request 5", "help"))  # processes the approved one too
    assert desk.json("tickets", "list")["total"] == 7
    assert desk.json("held", "list")["total"] == 2

    page = desk.json("quarantine", "list", "--limit", "1")
    assert (page["total"], page["limit"], len(page["quarantine"])) == (2, 1, 1)
    assert desk.run("quarantine", "list").stdout.splitlines()[-1] == "2 quarantined mails"

    # Nonsense is refused with a line, not answered with an empty list.
    for args in (["tickets", "list", "--limit", "0"], ["tickets", "list", "--status", "opne"],
                 ["tickets", "list", "--all", "--limit", "5"], ["held", "list", "--offset", "-1"]):
        refused = desk.run(*args, code=2)
        assert refused.stderr.strip() and "Traceback" not in refused.stderr, args


def test_ticket_events_are_shown_in_time_order(desk: Desk) -> None:
    """A mail read ten minutes after it arrived: its acknowledgement is dated from its arrival."""
    desk.ingest(customer_mail("c0@acme.example", "VPN down", "Nobody can connect"), process=False)
    write_clock_file(desk.clock_file, START + timedelta(minutes=10))
    desk.ingest(customer_mail("c1@acme.example", "Other", "x"))
    events = desk.json("tickets", "show", "1")["events"]
    assert len(events) >= 3
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def test_quarantine_show_tells_everything_escaped_and_drop_is_recorded(desk: Desk) -> None:
    raw = _junk("bad").replace(b"Subject:", b"X-Odd: caf\xe9 \xe2\x80\xae\x1b[31mRED\r\nSubject:", 1)
    desk.ingest(raw, sender="c0@acme.example")
    [row] = desk.json("quarantine", "list")["quarantine"]
    shown = desk.run("quarantine", "show", str(row["id"])).stdout
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "header fields" in shown  # the reason
    assert "envelope: from c0@acme.example to support@example.com" in shown
    assert f"{len(raw)} bytes" in shown
    assert "X-Junk-2099: x" in shown and "X-Odd: caf\ufffd \\u202e [31mRED" in shown
    detail = desk.json("quarantine", "show", str(row["id"]))
    assert (detail["size"], detail["envelope"]["rcpt_to"]) == (len(raw), ["support@example.com"])
    assert ["X-Odd", "caf\ufffd \u202e [31mRED"] in detail["headers"]  # control characters out

    assert desk.run("quarantine", "drop", str(row["id"])).stdout.strip() == f"inbound {row['id']}: dropped"
    assert desk.run("quarantine", "list").stdout.strip() == "quarantined mails: none"
    assert desk.run("quarantine", "show", str(row["id"]), code=1).stderr.strip() == \
        f"inbound {row['id']} is not in quarantine"
    [dropped] = desk.events("quarantine-dropped")
    assert dropped.inbound_id == row["id"] and dropped.actor.startswith("operator")
    assert desk.json("status")["inbound"]["dropped"] == 1


def test_status_is_text_for_a_person_with_the_outbound_backlog(tmp_path: Path, db_url: str) -> None:
    refusing = Controller(_Refuses(), hostname="127.0.0.1", port=free_port())
    desk = Desk(tmp_path, db_url, relay_port=refusing.port)
    desk.run("db", "upgrade")
    desk.ingest(customer_mail("c0@acme.example", "VPN down", "Nobody can connect"))
    write_clock_file(desk.clock_file, START + timedelta(hours=1, minutes=5))
    out = desk.json("status")["outbound"]
    waiting = out["pending"]  # the acknowledgement, and the engineers' notification
    assert waiting >= 1 and (out["oldest_pending_age_seconds"], out["failed"]) == (3900, 0)
    text = desk.run("status").stdout
    assert not text.startswith("{")
    assert f"outbound: {waiting} waiting to be sent, the oldest for 1h 5m" in text and "; 0 failed" in text

    refusing.start()  # the relay answers 550 for every recipient: the mail fails for good
    try:
        gw = desk.gateway().start()
        try:
            wait_for(lambda: desk.json("status")["outbound"]["failed"] == waiting, 30, what="the refused mails failed")
        finally:
            assert gw.stop() == 0
    finally:
        refusing.stop()
    out = desk.json("status")["outbound"]
    assert (out["pending"], out["oldest_pending_age_seconds"]) == (0, None)
    assert f"nothing waiting to be sent; {waiting} failed" in desk.run("status").stdout


class _Refuses:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 no such user"


def test_respond_and_ack_take_only_names_of_people_the_config_knows(desk: Desk) -> None:
    desk.ingest(customer_mail("c0@acme.example", "VPN down", "Nobody can connect"))
    for command, name in (("ack", "nobody"), ("respond", "mallory"), ("set", "eve")):
        extra = ["--status", "pending"] if command == "set" else []
        refused = desk.run(command, "1", "--by", name, *extra, code=2)
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0], lines
        assert "[[engineers.team]]: dana" in lines[0] and "[contacts.NAME]: sam" in lines[0]
    ticket = desk.json("tickets", "show", "1")
    assert ticket["status"] == "open"
    assert not [e for e in ticket["events"] if e["kind"] in ("public-response", "escalation-acknowledged")]
    desk.run("respond", "1", "--by", "dana@example.com")
    desk.run("ack", "1", "--by", "SAM")
    actors = {e["kind"]: e["actor"] for e in desk.json("tickets", "show", "1")["events"]}
    assert (actors["public-response"], actors["escalation-acknowledged"]) == ("dana", "sam")


def _send(port: int, raw: bytes, sender: str) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail(sender, ["support@example.com"], raw)


def test_held_engineer_mail_is_shown_then_approved_as_the_senders_own_unless_told(
        tmp_path: Path, db_url: str, sink: Sink) -> None:
    desk = Desk(tmp_path, db_url, relay_port=sink.port)
    desk.run("db", "upgrade")
    gw = desk.gateway().start()
    try:
        mid = "<vpn@acme.example>"
        _send(desk.port, customer_mail("c0@acme.example", "VPN down", "Nobody can connect", message_id=mid),
              "c0@acme.example")
        sink.wait(2)  # the acknowledgement, and dana's notification
        # Mail in dana's name without proof (no reply token, no trusted Authentication-Results).
        forged = customer_mail("Dana Scully <dana@example.com>", "Re: [#1] VPN down",
                               "#status closed\nAll fixed \x1b[2J, closing.", in_reply_to=mid)
        _send(desk.port, forged, "dana@example.com")
        [held] = wait_for(lambda: desk.json("held", "list")["held"], what="the forged mail held")
        shown = desk.run("held", "show", str(held["id"])).stdout
        assert "in the name of engineer dana, without proof" in shown
        assert "#status closed" in shown and "\\u001b[2J" in shown and "\x1b" not in shown
        assert f"helpdesk held approve {held['id']} --as-engineer:" in shown
        assert "Message-ID: " in shown and "envelope: from dana@example.com" in shown
        detail = desk.json("held", "show", str(held["id"]))
        assert (detail["held_as"], detail["engineer"]) == ("unproven-engineer", "dana")

        # Approved plainly: a customer's reply on the ticket; no command runs, nothing is relayed.
        approved = desk.run("held", "approve", str(held["id"])).stdout
        assert "its #commands do not run" in approved and "--as-engineer" in approved
        wait_for(lambda: any(e["kind"] == "customer-reply" for e in desk.json("tickets", "show", "1")["events"]),
                 what="the approved mail processed")
        ticket = desk.json("tickets", "show", "1")
        assert ticket["status"] == "open"
        assert not [o for o in ticket["outbox"] if o["kind"] == "relay"]
        assert not [e for e in ticket["events"] if e["kind"] == "engineer-mail"]
        assert [e["detail"]["as_engineer"] for e in ticket["events"] if e["kind"] == "held-approved"] == [False]

        # A customer's held mail cannot be approved "as an engineer".
        _send(desk.port, customer_mail("stranger@else.example", "Hello", "hi"), "stranger@else.example")
        [stranger] = wait_for(lambda: desk.json("held", "list")["held"], what="the stranger held")
        refused = desk.run("held", "approve", str(stranger["id"]), "--as-engineer", code=2)
        assert "not mail in an engineer's name" in refused.stderr

        # Approved as dana's, explicitly: the command runs and the text reaches the customer.
        again = customer_mail("Dana Scully <dana@example.com>", "Re: [#1] VPN down",
                              "#status pending\nRestarted the concentrator.", in_reply_to=mid)
        _send(desk.port, again, "dana@example.com")
        wait_for(lambda: len(desk.json("held", "list")["held"]) == 2, what="the second forged mail held")
        second = desk.json("held", "list")["held"][1]["id"]
        desk.run("held", "approve", str(second), "--as-engineer")
        relay = wait_for(lambda: [m for m in sink.messages if m.rcpt_tos == ["c0@acme.example"]
                                  and "Restarted" in m.message.get_body(("plain",)).get_content()],
                         what="the relay to the customer")
        assert "closing" not in relay[0].message.get_body(("plain",)).get_content()
        assert desk.json("tickets", "show", "1")["status"] == "pending"
    finally:
        assert gw.stop() == 0


def test_sighup_does_not_kill_the_gateway(desk: Desk) -> None:
    gw = desk.gateway().start()
    try:
        assert gw.proc is not None
        gw.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "SIGHUP: nothing to reopen" in gw.log.read_text(), what="the SIGHUP logged")
        assert gw.proc.poll() is None
        _send(desk.port, customer_mail("c0@acme.example", "Still there?", "hello"), "c0@acme.example")
        wait_for(lambda: desk.json("tickets", "list")["total"] == 1, what="mail processed after SIGHUP")
    finally:
        assert gw.stop() == 0
    assert "stopped" in gw.log.read_text()


def test_sighup_reopens_the_log_file_logrotate_moved(desk: Desk, tmp_path: Path) -> None:
    log = tmp_path / "helpdesk.log"
    desk.config.write_text(desk.config.read_text() + f'\n[logging]\nfile = "{log}"\n', encoding="utf-8")
    gw = desk.gateway().start()
    try:
        assert gw.proc is not None
        wait_for(lambda: "gateway running" in log.read_text(), what="the gateway's log file")
        log.rename(tmp_path / "helpdesk.log.1")  # what logrotate does, before its postrotate SIGHUP
        gw.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: log.exists() and "SIGHUP: reopened the log file" in log.read_text(), what="a new log file")
        assert gw.proc.poll() is None
    finally:
        assert gw.stop() == 0
    assert "stopped" in log.read_text()
    assert "gateway running" in (tmp_path / "helpdesk.log.1").read_text()
