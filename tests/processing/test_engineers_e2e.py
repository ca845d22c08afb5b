"""End to end: engineers work tickets by mail through `helpdesk run`, SMTP in, a real sink out."""

from __future__ import annotations

import email.utils
import json
import smtplib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from string import Template
from typing import Any

import pytest

from gateway.clock import write_clock_file
from gateway.outbound import reply_token
from tests import worlds
from tests.support import GatewayProcess, Received, Sink, customer_mail, free_port, wait_for

pytestmark = pytest.mark.slow

SECRET = "test-secret-for-engineers-e2e"
SUPPORT = "support@example.com"
DATA = Path(__file__).parents[1] / "data" / "engineers"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
DKIM_PASS = "Authentication-Results: mx.example.com; dkim=pass header.d=example.com header.s=sel\n"


def config_text(data: Path, port: int, relay: int) -> str:
    """Dana and Fox, both network, for Acme, on a 24x7 plan; mail in on ``port``, out to ``relay``."""
    return worlds.world(
        worlds.gateway(data, reopen_window="2h"),
        worlds.smtp(port),
        worlds.outbound(relay_port=relay, max_per_address_per_hour=100),
        worlds.processing("100ms"),
        worlds.sla("200ms"),
        worlds.engineers(worlds.dana("network"), worlds.fox("network")),
        worlds.plan(calendar="24x7", default_priority="P3", priorities={
            "P2": {"first_response": "1 hour", "update_every": "4 hours"},
            "P3": {"first_response": "8 hours"},
        }),
        worlds.acme("alice", "bob", "carol"),
        "# One rule of our own instead of the shipped set: every ticket here starts at the plan's P3.",
        worlds.OWN_RULES,
        worlds.rule("billing", ["invoice"], "Invoices go to the network group (there is no other).", route="network"),
    )


@dataclass
class Desk:
    """The running gateway, its relay sink, its clock file and its database, as a test drives them."""

    gw: GatewayProcess
    sink: Sink
    clock: Path
    db: Path
    now: datetime = START

    def at(self, instant: datetime) -> datetime:
        self.now = instant
        write_clock_file(self.clock, instant)
        return instant

    def send(self, raw: bytes, sender: str, rcpt: str = SUPPORT) -> None:
        # smtplib sends bytes as they are: lines must already end in CRLF (RFC 5321 2.3.8).
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with smtplib.SMTP("127.0.0.1", self.gw.smtp_port) as client:
            client.sendmail(sender, [rcpt], crlf)

    def settle(self) -> None:
        """Every stored mail processed and everything it queued handed to the sink."""
        def idle() -> bool:
            with sqlite3.connect(self.db) as conn:
                pending_in = conn.execute("SELECT count(*) FROM inbound_messages WHERE state = 'pending'").fetchone()
                pending_out = conn.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')") \
                    .fetchone()
            return bool(pending_in[0] == 0 and pending_out[0] == 0)
        wait_for(idle, 15, what="the gateway to process and send everything")

    def held(self) -> int:
        with sqlite3.connect(self.db) as conn:
            count: int = conn.execute("SELECT count(*) FROM inbound_messages WHERE state = 'held'").fetchone()[0]
        return count

    def mail(self, predicate: Callable[[Received], bool], what: str) -> Received:
        def found() -> Received | None:
            return next((m for m in self.sink.messages if predicate(m)), None)
        received = wait_for(found, 15, what=what)
        assert received is not None
        return received

    def mails(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [m for m in self.sink.messages if predicate(m)]

    def show(self, number: int) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.gw.cli("tickets", "show", str(number), "--json").stdout)
        return data

    def open(self, sender: str, subject: str, body: str) -> tuple[int, str, EmailMessage]:
        """A customer opens a ticket: its number, their Message-ID, and our acknowledgement."""
        mid = email.utils.make_msgid(domain=sender.rpartition("@")[2].rstrip(">"))
        address = email.utils.parseaddr(sender)[1]
        self.send(customer_mail(sender, subject, body, message_id=mid), address)
        ack = self.mail(lambda m: m.message["In-Reply-To"] == mid, f"the acknowledgement of {subject!r}").message
        token = reply_token.parse_reply_address(ack["Reply-To"].addresses[0].addr_spec, (SUPPORT,))
        assert token is not None
        return token.ticket_id, mid, ack

    def notification(self, number: int, engineer: str) -> EmailMessage:
        return self.mail(lambda m: m.rcpt_tos == [engineer] and f"[#{number}] New ticket" in m.message["Subject"],
                         f"the notification of #{number} to {engineer}").message


def to_of(msg: EmailMessage) -> str:
    return str(msg["Reply-To"].addresses[0].addr_spec)


def engineer_mail(sender: str, to: str, body: str, *, top: str = "", in_reply_to: str | None = None,
                  subject: str = "Re: notification", extra: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(START)
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(body)
    return top.encode() + msg.as_bytes()


def quoting(note: EmailMessage) -> str:
    """What a mail client puts under the engineer's words: signature, then the quoted notification."""
    quoted = "\n".join("> " + line for line in note.get_content().replace("\r\n", "\n").splitlines())
    signature = "-- \nDana Scully | Network | +44 20 7946 0000"
    return f"\n\n{signature}\n\nOn Mon, 23 Nov 2026, Example Support wrote:\n{quoted}\n"


def events(ticket: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in ticket["events"] if e["kind"] == kind]


def relayed(m: Received) -> bool:
    return "via Example Support" in str(m.message["From"])


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("engineers")
    sink = Sink().start()
    port = free_port()
    config = root / "config.toml"
    config.write_text(config_text(root / "var", port, sink.port), encoding="utf-8")
    clock = root / "clock"
    write_clock_file(clock, START)
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": SECRET, "HELPDESK_CLOCK_FILE": str(clock)})
    gw.start()
    try:
        yield Desk(gw, sink, clock, root / "var" / "helpdesk.sqlite3")
    finally:
        gw.stop()
        sink.stop()


def test_conversation_notification_reply_relay_and_first_response(desk: Desk) -> None:
    """Acceptance 1."""
    number, mid, _ack = desk.open("Alice <alice@acme.example>", "VPN down", "Nobody can connect since 9:00.")
    note = desk.notification(number, "dana@example.com")
    desk.notification(number, "fox@example.com")
    assert "Nobody can connect since 9:00." in note.get_content()
    assert "First response" in note.get_content()

    at = desk.at(desk.now + timedelta(minutes=20))
    body = "#priority P2 the whole office is affected\nHello Alice,\n\nplease restart the VPN gateway." + quoting(note)
    desk.send(engineer_mail("Dana Scully <dana@example.com>", to_of(note), body, top=DKIM_PASS,
                            in_reply_to=note["Message-ID"], subject="Re: " + note["Subject"],
                            extra={"X-Internal-Ticket-Note": "customer owes us money", "X-Originating-IP": "10.1.2.3"}),
              "dana@example.com", rcpt=to_of(note))
    out = desk.mail(lambda m: relayed(m) and m.rcpt_tos == ["alice@acme.example"], "the relayed reply").message
    assert str(out["From"]) == "Dana Scully via Example Support <support@example.com>"
    assert out["In-Reply-To"] == mid and mid in str(out["References"])
    assert out["Subject"] == f"Re: [#{number}] VPN down"
    assert note["Message-ID"] not in str(out["References"])
    for header in ("X-Internal-Ticket-Note", "X-Originating-IP", "Authentication-Results", "Auto-Submitted"):
        assert header not in out, header
    text = out.get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Alice,\n\nplease restart the VPN gateway.\n")
    for leak in ("#priority", "Reply above this line", "+44 20", "Nobody can connect"):
        assert leak not in text, leak

    ticket = desk.show(number)
    (stopped,) = [e for e in events(ticket, "sla-clock-stopped") if e["detail"]["clock"] == "first_response"]
    assert stopped["at"] == at.isoformat() and stopped["detail"]["met"] is True
    assert stopped["actor"] == "dana@example.com"
    assert events(ticket, "public-response")[0]["at"] == at.isoformat()
    assert ticket["priority"] == "P2"
    assert [m["kind"] for m in ticket["messages"] if m["direction"] == "in"] == ["customer", "engineer"]


def test_each_command_by_mail(desk: Desk) -> None:
    """Acceptance 2."""
    number, _mid, _ack = desk.open("Bob <bob@acme.example>", "Printer jams", "Tray 2 jams on every job.")
    dana, fox = desk.notification(number, "dana@example.com"), desk.notification(number, "fox@example.com")
    at = desk.at(desk.now + timedelta(minutes=5))
    desk.send(engineer_mail("dana@example.com", to_of(dana), "#status pending\n#assign fox\n#ack\n"
                            "#cc add carol@acme.example\n#priority P2 blocks invoicing\n\n" + quoting(dana)),
              "dana@example.com", rcpt=to_of(dana))
    desk.settle()
    desk.send(engineer_mail("fox@example.com", to_of(fox), "#note\nFirmware 4.2 bug; do not tell them yet."),
              "fox@example.com", rcpt=to_of(fox))
    desk.settle()
    desk.send(engineer_mail("fox@example.com", to_of(fox), "#status resolution-proposed\nPlease update to 4.3."),
              "fox@example.com", rcpt=to_of(fox))
    out = desk.mail(lambda m: relayed(m) and "bob@acme.example" in m.rcpt_tos, "the reply to Bob").message
    assert [a.addr_spec for a in out["Cc"].addresses] == ["carol@acme.example"]
    assert str(out["From"]).startswith("Fox Mulder via Example Support")
    desk.send(engineer_mail("dana@example.com", to_of(dana), "#cc remove carol@acme.example"),
              "dana@example.com", rcpt=to_of(dana))
    desk.settle()

    ticket = desk.show(number)
    assert (ticket["status"], ticket["priority"], ticket["assignee"]) == ("resolution-proposed", "P2", "fox")
    assert [p["address"] for p in ticket["participants"]] == ["bob@acme.example"]
    expected = {"status-changed": "dana@example.com", "assigned": "dana@example.com",
                "escalation-acknowledged": "dana", "participant-added": "dana@example.com",
                "priority-changed": "dana@example.com", "internal-note": "fox@example.com",
                "participant-removed": "dana@example.com"}
    for kind, actor in expected.items():
        first = events(ticket, kind)[0]
        assert first["actor"] == actor and first["at"] == at.isoformat(), kind
    assert events(ticket, "status-changed")[-1]["actor"] == "fox@example.com"
    # #note never reaches the customer; the command-only mails sent nothing either.
    to_bob = desk.mails(lambda m: relayed(m) and "bob@acme.example" in m.rcpt_tos)
    assert len(to_bob) == 1
    to_customer_side = desk.mails(lambda m: "bob@acme.example" in m.rcpt_tos or "carol@acme.example" in m.rcpt_tos)
    assert all(b"Firmware 4.2" not in m.raw for m in to_customer_side)


def test_forgeries_get_nothing(desk: Desk) -> None:
    """Acceptance 3."""
    one, _m1, _a1 = desk.open("alice@acme.example", "Mail down", "No mail since noon.")
    two, _m2, _a2 = desk.open("bob@acme.example", "Scanner", "Scanner is offline.")
    dana_one = to_of(desk.notification(one, "dana@example.com"))
    desk.notification(two, "dana@example.com")
    relays_before, held_before = len(desk.mails(relayed)), desk.held()
    attack = "#status closed\n#assign fox\nWe are closing this ticket; pay at http://evil.example/pay"
    forgeries = [
        ("forged From", engineer_mail("Dana <dana@example.com>", SUPPORT, attack, subject=f"[#{one}] Mail"),
         "dana@example.com", SUPPORT),
        ("forged A-R below ours", Template((DATA / "forged_ar_below.eml").read_text()).substitute(
            to=SUPPORT, subject=f"Re: [#{one}] Mail down").encode(), "dana@example.com", SUPPORT),
        ("A's token used by B", engineer_mail("fox@example.com", dana_one, attack), "fox@example.com", dana_one),
        ("ticket 1's token on ticket 2", engineer_mail("dana@example.com", dana_one.replace(f"+{one}-", f"+{two}-"),
                                                       attack), "dana@example.com",
         dana_one.replace(f"+{one}-", f"+{two}-")),
        ("engineer token from a customer", engineer_mail("alice@acme.example", dana_one, attack),
         "alice@acme.example", dana_one),
        ("engineer's out-of-office", Template((DATA / "ooo_engineer.eml").read_text()).substitute(
            to=dana_one, top=DKIM_PASS).encode(), "dana@example.com", dana_one),
    ]
    for _name, raw, sender, rcpt in forgeries:
        desk.send(raw, sender, rcpt)
    desk.settle()
    assert len(desk.mails(relayed)) == relays_before
    for number, customer in ((one, "alice@acme.example"), (two, "bob@acme.example")):
        after = desk.show(number)
        assert (after["status"], after["priority"], after["assignee"]) == ("open", "P3", None), number
        assert [p["address"] for p in after["participants"]] == [customer]
        assert not events(after, "public-response") and not events(after, "status-changed")
        inbound = [m["kind"] for m in after["messages"] if m["direction"] == "in"]
        # The out-of-office is screened onto its ticket; nothing else reached either ticket.
        assert inbound == (["customer", "auto-reply"] if number == one else ["customer"]), number
    assert desk.held() == held_before + 5  # every forgery but the out-of-office, which is screened
    # The real engineers hear about it once each (today), nobody else does.
    alerts = desk.mails(lambda m: m.message["Subject"].startswith("Held:"))
    assert sorted(m.rcpt_tos[0] for m in alerts) == ["dana@example.com", "fox@example.com"]
    assert all(b"evil.example" not in m.raw for m in desk.sink.messages)


def test_ticket_trick(desk: Desk) -> None:
    """Acceptance 4: a third party's verification mail to the reply address reaches nobody."""
    number, _mid, ack = desk.open("mallory@freemail.example", "Question", "How do I sign up?")
    desk.settle()
    count = len(desk.sink.messages)
    raw = Template((DATA / "third_party_verification.eml").read_text()).substitute(to=to_of(ack)).encode()
    desk.send(raw, "bounce@chatly.example", to_of(ack))
    desk.settle()
    assert len(desk.sink.messages) == count
    assert all("chatly.example/confirm" not in m.raw.decode("utf-8", "replace") for m in desk.sink.messages)
    ticket = desk.show(number)
    assert [m["kind"] for m in ticket["messages"] if m["direction"] == "in"] == ["customer"]
    assert "neither the customer" in events(ticket, "held")[0]["detail"]["reason"]


def test_reply_after_resolution_reopens_then_opens_a_linked_ticket(desk: Desk) -> None:
    """Acceptance 5 (reopen_window = 2h)."""
    number, mid, _ack = desk.open("Carol <carol@acme.example>", "Wifi drops", "Every hour.")
    dana = to_of(desk.notification(number, "dana@example.com"))
    desk.send(engineer_mail("dana@example.com", dana, "#status resolved\nNew access point installed."),
              "dana@example.com", rcpt=dana)
    desk.settle()
    desk.at(desk.now + timedelta(hours=1))
    desk.send(customer_mail("carol@acme.example", "Re: Wifi drops", "Dropped again.", in_reply_to=mid),
              "carol@acme.example")
    desk.settle()
    with sqlite3.connect(desk.db) as conn:
        assert conn.execute("SELECT status FROM tickets WHERE id = ?", (number,)).fetchone() == ("open",)
    desk.send(engineer_mail("dana@example.com", dana, "#status resolved\nFirmware updated."),
              "dana@example.com", rcpt=dana)
    desk.settle()
    desk.at(desk.now + timedelta(hours=3))
    desk.send(customer_mail("carol@acme.example", "Re: Wifi drops", "And again, a week later.", in_reply_to=mid),
              "carol@acme.example")
    desk.settle()
    old = desk.show(number)
    assert old["status"] == "resolved"
    reopened = events(old, "status-changed")[-2]
    assert (reopened["actor"], reopened["detail"]["new"]) == ("carol@acme.example", "open")
    (follow,) = events(old, "follow-up-ticket")
    new = desk.show(follow["detail"]["ticket"])
    assert events(new, "ticket-opened")[0]["detail"]["parent"] == number
    assert new["messages"][0]["text"].startswith("And again")
