"""End to end through `helpdesk run`: one outage, three customers, one update by mail, each recipient once.

Three customers (London, New York, Sydney) report the same outage. The engineer opens an incident
from the first ticket by replying to her notification, links the second the same way and the third
from the command line, then writes one update to the incident's own address (the Reply-To of the
notice it sent her). Each customer gets the update once, in their own ticket's thread; each
organisation's status contact once; and a restart of the gateway, or the same mail delivered
again, sends nothing twice.
"""

from __future__ import annotations

import email.utils
import json
import smtplib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import write_clock_file
from tests.support import GatewayProcess, Received, Sink, customer_mail, free_port, wait_for

pytestmark = pytest.mark.slow

SUPPORT = "support@example.com"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
TITLE = "Voice platform outage"
CUSTOMERS = (("Alice <alice@acme.example>", "noc@acme.example", "10:20 GMT"),
             ("Hank <hank@globex.example>", "status@globex.example", "05:20 EST"),
             ("Peter <peter@initech.example>", "ops@initech.example", "21:20 AEDT"))

CONFIG = """
[gateway]
support_address = "support@example.com"
name = "Example Support"
timezone = "Europe/London"
data_dir = "{data}"

[smtp]
host = "127.0.0.1"
port = {port}

[outbound]
transport = "smtp"
host = "127.0.0.1"
port = {relay}

[processing]
poll_interval = "100ms"

[sla]
sweep_interval = "200ms"

[[engineers.team]]
handle = "dana"
name = "Dana Scully"
address = "dana@example.com"
groups = ["network"]

[plans.standard]
calendar = "24x7"
default_priority = "P3"

[plans.standard.priorities.P1]
first_response = "15 minutes"
update_every = "30 minutes"

[[customers]]
name = "Acme"
domains = ["acme.example"]
contacts = ["alice@acme.example"]
timezone = "Europe/London"
status_contacts = ["noc@acme.example"]

[[customers]]
name = "Globex"
domains = ["globex.example"]
contacts = ["hank@globex.example"]
timezone = "America/New_York"
status_contacts = ["status@globex.example"]

[[customers]]
name = "Initech"
domains = ["initech.example"]
contacts = ["peter@initech.example"]
timezone = "Australia/Sydney"
status_contacts = ["ops@initech.example"]

[rule_set]
mode = "replace"

[[rules]]
name = "outage"
when = {{ words = ["outage"] }}
then = {{ priority = "P1" }}
"""


@dataclass
class Desk:
    gw: GatewayProcess
    sink: Sink
    clock: Path
    db: Path

    def at(self, instant: datetime) -> None:
        write_clock_file(self.clock, instant)

    def send(self, raw: bytes, sender: str, rcpt: str = SUPPORT) -> None:
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with smtplib.SMTP("127.0.0.1", self.gw.smtp_port) as client:
            client.sendmail(sender, [rcpt], crlf)

    def settle(self) -> None:
        """Every stored mail processed and everything it queued handed to the sink."""
        def idle() -> bool:
            with sqlite3.connect(self.db) as conn:
                waiting_in = conn.execute("SELECT count(*) FROM inbound_messages WHERE state = 'pending'").fetchone()
                waiting_out = conn.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')") \
                    .fetchone()
            return bool(waiting_in[0] == 0 and waiting_out[0] == 0)
        wait_for(idle, 20, what="the gateway to process and send everything")

    def mail(self, predicate: Callable[[Received], bool], what: str) -> EmailMessage:
        found = wait_for(lambda: next((m for m in self.sink.messages if predicate(m)), None), 20, what=what)
        assert found is not None
        return found.message

    def count(self, predicate: Callable[[Received], bool]) -> int:
        return sum(1 for m in self.sink.messages if predicate(m))

    def cli(self, *args: str) -> str:
        return self.gw.cli(*args).stdout.decode()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    sink = Sink().start()
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "var", port=port, relay=sink.port), encoding="utf-8")
    clock = tmp_path / "clock"
    write_clock_file(clock, START)
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "incidents-e2e-secret",
                                           "HELPDESK_CLOCK_FILE": str(clock)})
    gw.start()
    try:
        yield Desk(gw, sink, clock, tmp_path / "var" / "helpdesk.sqlite3")
    finally:
        gw.stop()
        sink.stop()


def engineer_mail(to: str, body: str, subject: str = "Re: incident") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Dana Scully <dana@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(START)
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    msg.set_content(body)
    return msg.as_bytes()


def reply_to(msg: EmailMessage) -> str:
    return str(msg["Reply-To"].addresses[0].addr_spec)


def to(address: str, subject_has: str) -> Callable[[Received], bool]:
    return lambda m: m.rcpt_tos == [address] and subject_has in str(m.message["Subject"])


def test_one_update_by_mail_reaches_each_customer_once_in_their_thread_and_survives_a_restart(desk: Desk) -> None:
    mids = []
    for number, (sender, _status, _when) in enumerate(CUSTOMERS, start=1):
        mid = email.utils.make_msgid(domain=sender.rpartition("@")[2].rstrip(">"))
        desk.send(customer_mail(sender, "Calls down", "A total outage: no calls at all.", message_id=mid),
                  email.utils.parseaddr(sender)[1])
        desk.mail(to(email.utils.parseaddr(sender)[1], f"[#{number}]"), f"the acknowledgement of #{number}")
        mids.append(mid)

    # Dana opens the incident from ticket 1 and links ticket 2, each by a reply to her notification.
    for number, body in ((1, f'#incident open "{TITLE}"'), (2, "#incident 1")):
        note = desk.mail(to("dana@example.com", f"[#{number}] New ticket"), f"dana's notification of #{number}")
        desk.send(engineer_mail(reply_to(note), body), "dana@example.com", rcpt=reply_to(note))
    opened = desk.mail(to("dana@example.com", "[incident 1] Opened"), "the incident's notice to dana")
    desk.settle()
    # Ticket 3 from the command line.
    assert "incident #1: linked #3" in desk.cli("incident", "link", "1", "3", "--by", "dana")

    desk.at(datetime(2026, 11, 23, 10, 20, tzinfo=UTC))
    update = engineer_mail(reply_to(opened), "A carrier fault stops the calls; we are rerouting them.",
                           subject="Re: " + str(opened["Subject"]))
    desk.send(update, "dana@example.com", rcpt=reply_to(opened))
    desk.settle()

    def thread_mail(who: str, number: int) -> Callable[[Received], bool]:
        return to(who, f"[#{number}] Incident update: {TITLE}")

    for number, ((sender, status, when), mid) in enumerate(zip(CUSTOMERS, mids, strict=True), start=1):
        customer = email.utils.parseaddr(sender)[1]
        assert desk.count(thread_mail(customer, number)) == 1, customer
        mail = desk.mail(thread_mail(customer, number), f"the update to {customer}")
        assert mail["In-Reply-To"] == mid and mid in str(mail["References"])
        assert f"+{number}-" in reply_to(mail)
        text = mail.get_content()
        assert "A carrier fault stops the calls; we are rerouting them." in text and when in text
        assert desk.count(to(status, f"Service status: {TITLE}")) == 1, status
        assert when in desk.mail(to(status, "Service status"), status).get_content()
    assert desk.count(lambda m: "Incident update" in str(m.message["Subject"])) == 3

    shown: dict[str, Any] = json.loads(desk.cli("incident", "show", "1", "--json"))
    assert [t["number"] for t in shown["tickets"]] == [1, 2, 3]
    assert [(p["kind"], p["by"], p["by_mail"]) for p in shown["posts"]] == [("update", "dana", True)]
    assert {m["state"] for m in shown["mail"]} == {"sent"} and len(shown["mail"]) == 7  # the notice, 3 + 3
    listed = json.loads(desk.cli("incident", "list", "--json"))
    assert (listed["total"], listed["incidents"][0]["customers"]) == (1, 3)

    # A restart, and the same mail delivered again: nothing goes twice.
    before = len(desk.sink.messages)
    desk.gw.stop()
    desk.gw.start()
    desk.send(update, "dana@example.com", rcpt=reply_to(opened))  # the very same delivery
    desk.send(update, "mailer@example.com", rcpt=reply_to(opened))  # the same mail, by another way
    desk.settle()
    assert len(desk.sink.messages) == before
    with sqlite3.connect(desk.db) as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM inbound_messages GROUP BY state").fetchall())
    # The same delivery is known at intake (same envelope and bytes); the same mail by another way is
    # stored and found a duplicate (same Message-ID and body). Either way it is posted once.
    assert states == {"done": 6, "duplicate": 1}


def test_the_command_line_refuses_what_cannot_be_done_with_the_reason(desk: Desk) -> None:
    desk.send(customer_mail("Alice <alice@acme.example>", "Calls down", "A total outage."), "alice@acme.example")
    desk.mail(to("alice@acme.example", "[#1]"), "the acknowledgement")
    result = desk.gw.cli("incident", "update", "9", "--text", "hello", "--by", "dana", check=False)
    assert (result.returncode, result.stderr.decode().strip()) == (1, "no incident #9")
    result = desk.gw.cli("incident", "open", TITLE, "--ticket", "1", check=False)
    assert result.returncode == 2 and "--by HANDLE" in result.stderr.decode()
    result = desk.gw.cli("incident", "open", TITLE, "--ticket", "1", "--by", "nobody", check=False)
    assert result.returncode == 2 and "'nobody' is no engineer or contact" in result.stderr.decode()
    assert "incident #1 opened" in desk.cli("incident", "open", TITLE, "--ticket", "1", "--by", "dana")
    result = desk.gw.cli("incident", "update", "1", "--by", "dana", check=False)
    assert result.returncode == 2 and "--text TEXT or --file FILE" in result.stderr.decode()
    assert "resolve sent to 1 ticket(s) (#1) and 1 status contact(s)" in \
        desk.cli("incident", "resolve", "1", "--text", "Restored.", "--by", "dana")
    result = desk.gw.cli("incident", "update", "1", "--text", "More.", "--by", "dana", check=False)
    assert result.returncode == 1 and "is resolved: updates are over" in result.stderr.decode()
    result = desk.gw.cli("incident", "report", "1", "--kind", "summary", "--text", "x", "--by", "dana", check=False)
    assert result.returncode == 1 and "no report called 'summary'; the reports are incident-report, pir, rca" in \
        result.stderr.decode()
    text = desk.cli("incident", "show", "1")
    assert text.startswith(f"Incident #1: {TITLE}\n  resolved, priority P1")
    assert "#1 " in desk.cli("incident", "list", "--status", "resolved") and \
        desk.cli("incident", "list", "--status", "open").strip() == "incidents open: none"
