"""Engineers in the thread, through the processor on a fake clock: notify, relay, commands, forgeries."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from string import Template
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.outbound import reply_token
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import InboundMessage, OutboxMessage, Ticket
from gateway.tools.views import show_ticket
from tests import worlds
from tests.support import customer_mail

DATA = Path(__file__).parents[1] / "data" / "engineers"
SUPPORT = "support@example.com"
MX = "mx.example.com"
DKIM_PASS = f"Authentication-Results: {MX}; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\n"


def config_text(tmp: Path, **engineer_keys: str) -> str:
    """Dana (network) and Fox (billing) for Acme, on a 24x7 plan, with one routing rule."""
    return worlds.world(
        worlds.gateway(tmp / "var", reopen_window="2h"),
        worlds.outbound(directory=tmp / "outbox", max_per_address_per_hour=100),
        worlds.engineers(worlds.dana("network"), worlds.fox("billing"), **engineer_keys),
        worlds.plan(calendar="24x7", default_priority="P3", priorities={
            "P2": {"first_response": "1 hour", "update_every": "2 hours"},
            "P3": {"first_response": "4 hours", "update_every": "1 day"},
        }),
        worlds.acme("alice", "bob"),
        worlds.OWN_RULES,
        worlds.rule("billing", ["invoice"], "Invoices go to the billing group.", route="billing"),
    )


@dataclass
class Desk:
    """The gateway's processor on a fake clock, with what it queued in the outbox."""

    app: App
    clock: FakeClock

    def deliver(self, raw: bytes, *, rcpt: str = SUPPORT, mail_from: str = "someone@example.net") -> str:
        store_inbound(self.app.db, raw, source="smtp", envelope=Envelope(mail_from, (rcpt,)),
                      received_at=self.clock.now())
        outcome = Processor(self.app).process_one()
        assert outcome is not None
        return outcome

    def outbox(self, kind: str | None = None, to: str | None = None) -> list[EmailMessage]:
        with self.app.db.sessions() as session:
            rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        found = []
        for row in rows:
            if (kind is None or row.kind == kind) and (to is None or to in row.rcpt_to):
                msg = email.message_from_bytes(row.raw, policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                found.append(msg)
        return found

    def ticket(self, number: int) -> dict[str, Any]:
        with self.app.db.sessions() as session:
            data = show_ticket(session, number)
        assert data is not None
        return data

    def inbound(self) -> list[InboundMessage]:
        with self.app.db.sessions() as session:
            return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))

    def approve_last(self, *, as_engineer: bool = False) -> str:
        """What `helpdesk held approve [--as-engineer]` does to the latest held mail, then its processing."""
        with self.app.db.transaction() as session:
            row = session.scalars(select(InboundMessage).where(InboundMessage.state == "held")
                                  .order_by(InboundMessage.id.desc())).first()
            assert row is not None
            row.state, row.verdict = "pending", "approved-engineer" if as_engineer else "approved"
        outcome = Processor(self.app).process_one()
        assert outcome is not None
        return outcome

    def open(self, subject: str = "VPN down", body: str = "Nobody can connect since 9:00.", *,
             sender: str = "Alice <alice@acme.example>", cc: str | None = None) -> tuple[int, str]:
        """A customer mail that opens a ticket: its number and the customer's Message-ID."""
        mid = email.utils.make_msgid(domain="acme.example")
        extra = {"Cc": cc} if cc else None
        assert self.deliver(customer_mail(sender, subject, body, message_id=mid, extra=extra)) == "ticket"
        with self.app.db.sessions() as session:
            number = session.scalar(select(func.max(Ticket.id)))
        assert number is not None
        return number, mid

    def token_for(self, number: int, engineer: str) -> str:
        """The Reply-To of the latest notification about ticket ``number`` to ``engineer``."""
        for msg in reversed(self.outbox("engineer-notification", to=engineer)):
            if f"[#{number}]" in str(msg["Subject"]):
                return str(msg["Reply-To"].addresses[0].addr_spec)
        raise AssertionError(f"no notification about #{number} to {engineer}")


@pytest.fixture
def desk_factory(tmp_path: Path, database: Database) -> Iterator[Any]:
    def make(**engineer_keys: str) -> Desk:
        clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
        loaded = load_config(None, text=config_text(tmp_path, **engineer_keys))
        return Desk(build_app(loaded, clock, db=database), clock)
    yield make


@pytest.fixture
def desk(desk_factory: Any) -> Desk:
    desk: Desk = desk_factory()
    return desk


def engineer_mail(sender: str, to: str, body: str, *, subject: str = "Re: [#1] VPN down", top: str = "",
                  in_reply_to: str | None = None, extra: dict[str, str] | None = None,
                  cc: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:05:00 +0000"
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(body)
    return top.encode() + msg.as_bytes()


def data_mail(name: str, **values: str) -> bytes:
    return Template((DATA / name).read_text(encoding="utf-8")).safe_substitute(values).encode("utf-8")


QUOTED = ("\n\nDana\n-- \nDana Scully | Network team | +44 20 7946 0000\n\n"
          "On Mon, 23 Nov 2026 at 10:00, Example Support <support@example.com> wrote:\n"
          "> -- Reply above this line --\n> New ticket #1 (P3, open): VPN down\n> #status closed\n")


def events(desk: Desk, number: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in desk.ticket(number)["events"] if e["kind"] == kind]


# --- notifications ---------------------------------------------------------------------------

def test_new_ticket_notifies_every_engineer_with_their_own_reply_address(desk: Desk) -> None:
    number, _mid = desk.open()
    notes = desk.outbox("engineer-notification")
    assert sorted(str(n["To"]) for n in notes) == ["Dana Scully <dana@example.com>", "Fox Mulder <fox@example.com>"]
    for note, engineer in ((n, n["To"].addresses[0].addr_spec) for n in notes):
        token = reply_token.parse_reply_address(note["Reply-To"].addresses[0].addr_spec, (SUPPORT,))
        assert token is not None and token.ticket_id == number
        assert reply_token.verify(desk.app.secret, token, bound_to=engineer)
        assert not reply_token.verify(desk.app.secret, token)  # not a customer token
        body = note.get_content()
        assert body.startswith("-- Reply above this line --")
        assert "Nobody can connect since 9:00." in body
        assert "First response" in body and "due by Monday 23 November 2026 14:00 GMT" in body
        assert "#status open|pending|resolution-proposed|resolved|closed" in body
        lines = body.splitlines()
        assert "From:      Alice <alice@acme.example>" in lines  # a line of its own
        assert any(line.startswith("Plan:      ") for line in lines)
        assert note["Auto-Submitted"] == "auto-generated"
        assert f"[#{number}] New ticket (P3): VPN down" == note["Subject"]


def test_routed_ticket_notifies_its_group_and_an_assigned_one_its_assignee(desk: Desk) -> None:
    number, mid = desk.open("Wrong invoice", "The invoice for March is wrong.")
    assert [n["To"].addresses[0].addr_spec for n in desk.outbox("engineer-notification")] == ["fox@example.com"]
    desk.deliver(engineer_mail("Fox <fox@example.com>", desk.token_for(number, "fox@example.com"), "#assign dana"))
    desk.deliver(customer_mail("alice@acme.example", "Re: invoice", "Any news?", in_reply_to=mid))
    latest = desk.outbox("engineer-notification")[-1]
    assert latest["To"].addresses[0].addr_spec == "dana@example.com"
    assert latest["Subject"] == f"[#{number}] Customer reply (P3): Wrong invoice"
    assert len(desk.outbox("engineer-notification")) == 2


# --- the relay -------------------------------------------------------------------------------

def test_engineer_reply_reaches_the_customer_clean_and_threaded(desk: Desk) -> None:
    number, mid = desk.open()
    desk.clock.advance(timedelta(minutes=25))
    at = desk.clock.now()
    raw = engineer_mail("Dana Scully <dana@example.com>", desk.token_for(number, "dana@example.com"),
                        "#priority P2 whole office affected\nHello Alice,\n\nplease restart the VPN gateway."
                        + QUOTED, extra={"X-Internal-Secret": "do-not-leak", "X-Mailer": "Thunderbird"})
    assert desk.deliver(raw) == "engineer"
    (out,) = desk.outbox("relay")
    assert str(out["From"]) == "Dana Scully via Example Support <support@example.com>"
    assert out["To"].addresses[0].addr_spec == "alice@acme.example"
    assert out["In-Reply-To"] == mid
    assert out["Subject"] == f"Re: [#{number}] VPN down"
    assert out["Auto-Submitted"] is None
    assert "X-Internal-Secret" not in out and "X-Mailer" not in out
    token = reply_token.parse_reply_address(out["Reply-To"].addresses[0].addr_spec, (SUPPORT,))
    assert token is not None and reply_token.verify(desk.app.secret, token)
    text = out.get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Alice,\n\nplease restart the VPN gateway.")
    for leak in ("#priority", "Reply above", "+44 20", "#status closed"):
        assert leak not in text
    # The customer's conversation only: their mail and our acknowledgement, no internal Message-IDs.
    assert set(str(out["References"]).split()) == {mid, desk.outbox("acknowledgement")[0]["Message-ID"]}

    ticket = desk.ticket(number)
    assert [m["kind"] for m in ticket["messages"]][-2:] == ["engineer", "relay"]
    assert ticket["messages"][-2]["text"].startswith("Hello Alice")
    stopped = [e for e in ticket["events"] if e["kind"] == "sla-clock-stopped"]
    assert stopped[0]["detail"]["clock"] == "first_response" and stopped[0]["at"] == at.isoformat()
    assert stopped[0]["actor"] == "dana@example.com" and stopped[0]["detail"]["met"] is True
    assert events(desk, number, "public-response")[0]["at"] == at.isoformat()
    change = events(desk, number, "priority-changed")[0]
    assert (change["actor"], change["detail"]["new"], change["detail"]["reason"]) == \
        ("dana@example.com", "P2", "whole office affected")


def test_dkim_pass_without_token_works_through_the_thread(desk: Desk) -> None:
    desk.open()
    note_id = desk.outbox("engineer-notification", to="fox@example.com")[0]["Message-ID"]
    raw = engineer_mail("Fox <fox@example.com>", SUPPORT, "On it.", top=DKIM_PASS, in_reply_to=note_id)
    assert desk.deliver(raw) == "engineer"
    assert str(desk.outbox("relay")[0]["From"]).startswith("Fox Mulder via Example Support")


def test_dkim_pass_with_a_subject_tag_only(desk: Desk) -> None:
    number, _ = desk.open()
    raw = engineer_mail("fox@example.com", SUPPORT, "#status pending\nCould you send the logs?",
                        subject=f"[#{number}] logs please", top=DKIM_PASS)
    assert desk.deliver(raw) == "engineer"
    assert desk.ticket(number)["status"] == "pending"


def test_reply_all_that_already_reached_the_customer_is_not_sent_twice(desk: Desk) -> None:
    number, _ = desk.open()
    raw = engineer_mail("dana@example.com", desk.token_for(number, "dana@example.com"), "Looking at it now.",
                        cc="Alice <alice@acme.example>")
    assert desk.deliver(raw) == "engineer"
    assert desk.outbox("relay") == []
    assert events(desk, number, "public-response")
    assert events(desk, number, "relay-skipped")[0]["detail"]["reason"] == "the engineer wrote to the customer directly"


# --- commands --------------------------------------------------------------------------------

def test_each_command_is_an_event_with_who_and_when(desk: Desk) -> None:
    number, _ = desk.open()
    to = desk.token_for(number, "dana@example.com")
    desk.clock.advance(timedelta(minutes=5))
    at = desk.clock.now().isoformat()
    body = ("#status pending\n#priority P2 customer confirmed\n#assign fox\n#ack\n"
            "#cc add carol@partner.example\n")
    assert desk.deliver(engineer_mail("dana@example.com", to, body)) == "engineer"
    assert desk.outbox("relay") == []  # only commands: nothing for the customer
    ticket = desk.ticket(number)
    assert (ticket["status"], ticket["priority"], ticket["assignee"]) == ("pending", "P2", "fox")
    assert "carol@partner.example" in [p["address"] for p in ticket["participants"]]
    for kind in ("status-changed", "priority-changed", "assigned", "escalation-acknowledged", "participant-added"):
        (event,) = events(desk, number, kind)
        # escalation.ack names people by handle; the other events by address.
        assert event["actor"] == ("dana" if kind == "escalation-acknowledged" else "dana@example.com"), kind
        assert event["at"] == at, kind
    assert ticket["messages"][-1]["kind"] == "commands"
    assert not events(desk, number, "public-response")

    # Next reply goes to the customer and the participant the engineer added; then remove it.
    assert desk.deliver(engineer_mail("dana@example.com", to, "#cc remove carol@partner.example\nFixed.")) \
        == "engineer"
    relay = desk.outbox("relay")[0]
    assert [a.addr_spec for a in relay["Cc"].addresses] == ["carol@partner.example"]
    assert "carol@partner.example" not in [p["address"] for p in desk.ticket(number)["participants"]]
    assert events(desk, number, "participant-removed")[0]["actor"] == "dana@example.com"


def test_assign_me_and_a_group(desk: Desk) -> None:
    number, _ = desk.open()
    to = desk.token_for(number, "dana@example.com")
    desk.deliver(engineer_mail("dana@example.com", to, "#assign me"))
    assert desk.ticket(number)["assignee"] == "dana"
    desk.deliver(engineer_mail("dana@example.com", to, "#assign billing"))
    ticket = desk.ticket(number)
    assert (ticket["assignee"], ticket["group"]) == (None, "billing")


def test_note_is_never_relayed(desk: Desk) -> None:
    number, _ = desk.open()
    raw = engineer_mail("dana@example.com", desk.token_for(number, "dana@example.com"),
                        "#note\n#status pending\nCustomer is on the old firmware; do not tell them yet." + QUOTED)
    assert desk.deliver(raw) == "engineer"
    assert desk.outbox("relay") == []
    ticket = desk.ticket(number)
    assert ticket["messages"][-1]["kind"] == "note"
    assert ticket["messages"][-1]["text"] == "Customer is on the old firmware; do not tell them yet.\n\nDana"
    assert ticket["status"] == "pending"
    assert events(desk, number, "internal-note")[0]["actor"] == "dana@example.com"
    assert not events(desk, number, "public-response")


@pytest.mark.parametrize(("body", "why"), [
    ("#status done\nHello Alice, all fixed.", "#status needs one of"),
    ("#status resolved\n#frobnicate\nHello Alice, all fixed.", "unknown command #frobnicate"),
    ("#assign walter\nHello", "no engineer or group is called 'walter'"),
    ("#cc remove alice@acme.example\nHello", "the ticket's customer cannot be removed"),
    ("#cc add fox@example.com\nHello", "engineers are not copied"),
    ("#cc add support+3-abc@example.com\nHello", "a support address cannot be a participant"),
])
def test_a_refused_command_applies_nothing_and_says_why(desk: Desk, body: str, why: str) -> None:
    number, _ = desk.open()
    assert desk.deliver(engineer_mail("dana@example.com", desk.token_for(number, "dana@example.com"), body)) == "held"
    assert desk.outbox("relay") == []
    ticket = desk.ticket(number)
    assert ticket["status"] == "open" and ticket["assignee"] is None
    assert not events(desk, number, "status-changed")
    (refusal,) = desk.outbox("command-refused")
    assert refusal["To"].addresses[0].addr_spec == "dana@example.com"
    assert why in refusal.get_content()
    assert "Nothing was sent to the customer" in refusal.get_content()
    token = reply_token.parse_reply_address(refusal["Reply-To"].addresses[0].addr_spec, (SUPPORT,))
    assert token is not None and reply_token.verify(desk.app.secret, token, bound_to="dana@example.com")
    assert desk.inbound()[-1].state == "held"


def test_an_empty_reply_is_refused(desk: Desk) -> None:
    number, _ = desk.open()
    assert desk.deliver(engineer_mail("dana@example.com", desk.token_for(number, "dana@example.com"),
                                      QUOTED.lstrip().split("\n", 1)[1])) == "held"
    assert "nothing to do" in desk.outbox("command-refused")[0].get_content()


def test_the_engineers_files_reach_the_customer_and_those_kept_back_are_recorded(desk: Desk) -> None:
    number, _ = desk.open()
    msg = email.message_from_bytes(engineer_mail("dana@example.com", desk.token_for(number, "dana@example.com"),
                                                 "See the attached config."), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(b"interface vpn0\n", maintype="text", subtype="plain", filename="vpn.conf")
    msg.add_attachment(b"%PDF-1.4 runbook", maintype="application", subtype="pdf", filename="../../etc/runbook.pdf")
    msg.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="fix.exe")
    assert desk.deliver(msg.as_bytes()) == "engineer"
    (relayed,) = desk.outbox("relay")
    assert relayed.get_body(("plain",)).get_content().startswith("See the attached config.")
    files = {part.get_filename(): (part.get_content_type(), part.get_content())
             for part in relayed.iter_attachments()}
    # The name is shown, never a path; a blocked type stays behind, on the ticket's record.
    assert files == {"vpn.conf": ("text/plain", "interface vpn0\n"),
                     "runbook.pdf": ("application/pdf", b"%PDF-1.4 runbook")}
    assert events(desk, number, "attachments-relayed")[0]["detail"]["files"] == ["vpn.conf", "runbook.pdf"]
    kept = events(desk, number, "attachments-not-relayed")[0]["detail"]
    assert kept["files"] == ["fix.exe"] and kept["reasons"] == ["blocked type .exe"]


def test_a_file_a_mail_client_marks_inline_is_still_a_file(desk: Desk) -> None:
    """Apple Mail sends attached files inline; only images the HTML body shows stay behind."""
    number, _ = desk.open()
    msg = email.message_from_bytes(engineer_mail("dana@example.com", desk.token_for(number, "dana@example.com"),
                                                 "The corrected export is attached."), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(b"%PDF-1.4 export", maintype="application", subtype="pdf", filename="export.pdf",
                       disposition="inline")
    assert desk.deliver(msg.as_bytes()) == "engineer"
    (relayed,) = desk.outbox("relay")
    assert [part.get_filename() for part in relayed.iter_attachments()] == ["export.pdf"]


def test_engineer_mail_without_a_ticket_is_refused(desk: Desk) -> None:
    assert desk.deliver(engineer_mail("dana@example.com", SUPPORT, "Hi all", subject="lunch?", top=DKIM_PASS)) \
        == "held"
    assert "no ticket found" in desk.outbox("command-refused")[0].get_content()


# --- forgeries -------------------------------------------------------------------------------

def _nothing_happened(desk: Desk, number: int) -> None:
    assert desk.outbox("relay") == []
    ticket = desk.ticket(number)
    assert (ticket["status"], ticket["priority"], ticket["assignee"]) == ("open", "P3", None)
    assert not events(desk, number, "public-response")
    assert [m["kind"] for m in ticket["messages"]] == ["customer", "acknowledgement"] + \
        ["engineer-notification"] * 2


def test_forgeries_get_nothing(desk: Desk) -> None:
    one, _ = desk.open()
    two, _ = desk.open("Printer", "It jams.", sender="bob@acme.example")
    dana_one = desk.token_for(one, "dana@example.com")
    dana_one_on_two = dana_one.replace(f"+{one}-", f"+{two}-")
    attack = "#status closed\n#assign fox\nWe are closing this; pay at http://evil.example"
    cases = {
        "forged From alone": (engineer_mail("dana@example.com", SUPPORT, attack, subject=f"[#{one}] x"), SUPPORT),
        "forged A-R below ours": (data_mail("forged_ar_below.eml", to=SUPPORT, subject=f"[#{one}] VPN"), SUPPORT),
        "forged A-R below the sender's headers": (
            data_mail("forged_ar_under_headers.eml", to=SUPPORT, subject=f"[#{one}] VPN"), SUPPORT),
        "A's token used by B": (engineer_mail("fox@example.com", dana_one, attack), dana_one),
        "ticket 1's token on ticket 2": (engineer_mail("dana@example.com", dana_one_on_two, attack), dana_one_on_two),
        "engineer token from a customer": (engineer_mail("alice@acme.example", dana_one, attack), dana_one),
        "token only in the envelope, From engineer": (engineer_mail("dana@example.com", SUPPORT, attack), SUPPORT),
        # Dana wrote to the customer directly, who thus saw her reply address; our MTA says the
        # From is forged: her address proves nothing then.
        "engineer's token, From forged per our MTA": (engineer_mail(
            "dana@example.com", dana_one, attack,
            top=f"Authentication-Results: {MX}; spf=fail smtp.mailfrom=evil.example; dkim=none; "
                "dmarc=fail header.from=example.com\n"), dana_one),
    }
    for name, (raw, rcpt) in cases.items():
        assert desk.deliver(raw, rcpt=rcpt) == "held", name
        assert desk.inbound()[-1].reason, name
    for number in (one, two):
        _nothing_happened(desk, number)
    # The real engineers are told, once a day each, whatever the number of forgeries.
    alerts = desk.outbox("engineer-alert")
    assert sorted(a["To"].addresses[0].addr_spec for a in alerts) == ["dana@example.com", "fox@example.com"]
    assert "could not verify" in alerts[0].get_content()
    desk.clock.advance(timedelta(days=1))
    desk.deliver(engineer_mail("dana@example.com", SUPPORT, attack + " again"))
    assert len(desk.outbox("engineer-alert", to="dana@example.com")) == 2


def test_a_reviewer_can_release_held_engineer_mail(desk: Desk) -> None:
    number, _ = desk.open()
    assert desk.deliver(engineer_mail("dana@example.com", SUPPORT, "Restarted it.", subject=f"[#{number}] x")) \
        == "held"
    alert = desk.outbox("engineer-alert")[0].get_content()
    assert f"helpdesk held approve {desk.inbound()[-1].id} --as-engineer\n" in alert.replace("\r\n", "\n")
    assert desk.approve_last(as_engineer=True) == "engineer"
    assert desk.outbox("relay")[0].get_content().startswith("Restarted it.")
    assert events(desk, number, "engineer-mail")[0]["detail"]["proof"] == "approved"


def test_approval_does_not_make_a_customer_an_engineer(desk: Desk) -> None:
    number, _ = desk.open()
    raw = engineer_mail("alice@acme.example", desk.token_for(number, "dana@example.com"), "#status closed")
    assert desk.deliver(raw) == "held"
    assert desk.approve_last(as_engineer=True) == "held"
    assert "cannot make a non-engineer's mail an engineer's" in (desk.inbound()[-1].reason or "")
    assert desk.ticket(number)["status"] == "open"
    # Approved as what it is, the customer's own reply: on the ticket, its command only text.
    assert desk.approve_last() == "reply"
    assert desk.ticket(number)["status"] == "open"
    assert desk.outbox("relay") == []


def test_plain_approval_of_unproven_engineer_mail_runs_no_command_and_relays_nothing(desk: Desk) -> None:
    """Issue 14: approving mail that only claims to be an engineer's must not act as that engineer."""
    number, mid = desk.open()
    raw = engineer_mail("dana@example.com", SUPPORT, "#status closed\nAll fixed, closing.",
                        subject=f"Re: [#{number}] VPN down", in_reply_to=mid)
    assert desk.deliver(raw) == "held"
    assert desk.approve_last() == "reply"
    assert desk.ticket(number)["status"] == "open"
    assert desk.outbox("relay") == []
    assert not events(desk, number, "engineer-mail")


def test_engineer_out_of_office_is_never_relayed(desk: Desk) -> None:
    number, _ = desk.open()
    to = desk.token_for(number, "dana@example.com")
    outcome = desk.deliver(data_mail("ooo_engineer.eml", to=to, top=DKIM_PASS), rcpt=to)
    assert outcome == "screened"
    assert desk.outbox("relay") == []
    assert not events(desk, number, "public-response")


# --- third parties and participants ----------------------------------------------------------

def test_ticket_trick_third_party_mail_is_held(desk: Desk) -> None:
    number, _ = desk.open("Help", "hi", sender="mallory@freemail.example")
    ack = desk.outbox("acknowledgement")[0]
    token_address = ack["Reply-To"].addresses[0].addr_spec
    before = len(desk.outbox())
    raw = data_mail("third_party_verification.eml", to=token_address)
    assert desk.deliver(raw, rcpt=token_address) == "held"
    assert len(desk.outbox()) == before  # not to the customer, not even to the engineers
    held = desk.inbound()[-1]
    assert held.state == "held" and "neither the customer" in (held.reason or "")
    assert [m["kind"] for m in desk.ticket(number)["messages"]].count("customer") == 1
    # A reviewer who knows better may still let it on the ticket (never to the customer).
    assert desk.approve_last() == "reply"
    assert [m["kind"] for m in desk.ticket(number)["messages"]].count("customer") == 2
    assert desk.outbox("relay") == []


def test_customer_cc_adds_designated_contacts_only(desk: Desk) -> None:
    number, mid = desk.open(cc="Bob <bob@acme.example>, Eve <eve@acme.example>, x@other.example")
    assert [p["address"] for p in desk.ticket(number)["participants"]] == ["alice@acme.example", "bob@acme.example"]
    # Bob may now write to the ticket; Eve (same domain, not a contact) may not.
    assert desk.deliver(customer_mail("bob@acme.example", "Re: VPN", "same here", in_reply_to=mid)) == "reply"
    assert desk.deliver(customer_mail("eve@acme.example", "Re: VPN", "me too", in_reply_to=mid)) == "held"
    desk.deliver(engineer_mail("dana@example.com", desk.token_for(number, "dana@example.com"), "Restarting."))
    relay = desk.outbox("relay")[0]
    assert [a.addr_spec for a in relay["Cc"].addresses] == ["bob@acme.example"]


@pytest.mark.parametrize(("policy", "expected"), [
    ("domain", ["alice@acme.example", "eve@acme.example"]),
    ("none", ["alice@acme.example"]),
])
def test_cc_participants_policy(desk_factory: Any, policy: str, expected: list[str]) -> None:
    desk = desk_factory(cc_participants=policy)
    number, mid = desk.open()
    desk.deliver(customer_mail("alice@acme.example", "Re: VPN", "adding Eve", in_reply_to=mid,
                               extra={"Cc": "eve@acme.example, x@other.example"}))
    assert [p["address"] for p in desk.ticket(number)["participants"]] == expected


def test_designated_colleague_may_write_with_the_token(desk: Desk) -> None:
    number, _ = desk.open()
    token_address = desk.outbox("acknowledgement")[0]["Reply-To"].addresses[0].addr_spec
    assert desk.deliver(customer_mail("bob@acme.example", "logs", "attached", to=token_address),
                        rcpt=token_address) == "reply"
    assert "bob@acme.example" in [p["address"] for p in desk.ticket(number)["participants"]]


# --- reopen ----------------------------------------------------------------------------------

def test_reply_after_resolution_reopens_within_the_window_then_opens_a_linked_ticket(desk: Desk) -> None:
    number, mid = desk.open()
    to = desk.token_for(number, "dana@example.com")
    desk.deliver(engineer_mail("dana@example.com", to, "#status resolved\nFixed: the gateway was restarted."))
    assert desk.ticket(number)["status"] == "resolved"
    desk.clock.advance(timedelta(hours=1))
    assert desk.deliver(customer_mail("alice@acme.example", "Re: VPN", "It is down again", in_reply_to=mid)) \
        == "reply"
    assert desk.ticket(number)["status"] == "open"
    desk.deliver(engineer_mail("dana@example.com", to, "#status resolved\nFixed for good."))
    desk.clock.advance(timedelta(hours=3))
    assert desk.deliver(customer_mail("alice@acme.example", "Re: VPN", "Down once more", in_reply_to=mid)) \
        == "ticket"
    old = desk.ticket(number)
    assert old["status"] == "resolved"
    (follow,) = events(desk, number, "follow-up-ticket")
    new = desk.ticket(follow["detail"]["ticket"])
    assert events(desk, new["number"], "ticket-opened")[0]["detail"]["parent"] == number
