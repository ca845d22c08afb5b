"""#eta, #update-every, #merge and #reply by mail, through the processor and the scheduler on a fake clock."""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import OutboxMessage, Ticket
from gateway.timekeeping.scheduler import SlaScheduler
from gateway.tools.views import show_ticket
from tests import worlds
from tests.support import customer_mail

SUPPORT = "support@example.com"
DANA = "dana@example.com"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday; the customers are in London (GMT)

RESTORED = ("Hello {{ customer.name }}, ticket #{{ ticket.number }} is fixed."
            "{% if ticket.eta %} ETA was {{ ticket.eta }}.{% endif %}")


def config_text(tmp: Path) -> str:
    """Dana for Acme (London; Anna reads German) and Globex, a P1 updated every 30 minutes round the
    clock, at most 4 automatic mails an hour on a ticket, and three canned replies (one broken)."""
    return worlds.world(
        worlds.gateway(tmp / "var"),
        worlds.outbound(directory=tmp / "outbox", max_per_address_per_hour=100, max_per_ticket_per_hour=4),
        worlds.engineers(worlds.dana()),
        worlds.plan(calendar="24x7", default_priority="P3", priorities={
            "P1": {"first_response": "15 minutes", "update_every": "30 minutes"},
            "P3": {"first_response": "4 hours"}}),
        worlds.customer("Acme", "acme.example", timezone="Europe/London", contacts=[
            "alice@acme.example", "bob@acme.example", {"address": "anna@acme.example", "language": "de"}]),
        worlds.customer("Globex", "globex.example", contacts=["gil@globex.example"]),
        worlds.OWN_RULES,
        worlds.rule("outage", ["everything is down"], "Everything down: P1.", priority="P1"),
        worlds.table("canned.restored", description="Service restored", text=RESTORED, languages={
            "de": "Guten Tag {{ customer.name }}, Ticket #{{ ticket.number }} ist behoben."}),
        worlds.table("canned.eta",
                     text="We expect a fix by {{ ticket.eta }}; updates every {{ ticket.update_every }}."),
        worlds.table("canned.broken", text="Hello {{ customer.nickname }}"),
    )


@dataclass
class Desk:
    app: App
    clock: FakeClock

    def deliver(self, raw: bytes, *, rcpt: str = SUPPORT, mail_from: str = "someone@example.net") -> str:
        store_inbound(self.app.db, raw, source="smtp", envelope=Envelope(mail_from, (rcpt,)),
                      received_at=self.clock.now())
        outcome = Processor(self.app).process_one()
        assert outcome is not None
        return outcome

    def open(self, subject: str = "VPN down", body: str = "Nobody can connect.", *,
             sender: str = "Alice <alice@acme.example>") -> tuple[int, str]:
        mid = email.utils.make_msgid(domain=sender.rpartition("@")[2].rstrip(">"))
        assert self.deliver(customer_mail(sender, subject, body, message_id=mid)) == "ticket"
        with self.app.db.sessions() as session:
            number = session.scalar(select(func.max(Ticket.id)))
        assert number is not None
        return number, mid

    def reply_address(self, number: int) -> str:
        for msg in reversed(self.outbox("engineer-notification")):
            if f"[#{number}]" in str(msg["Subject"]):
                return str(msg["Reply-To"].addresses[0].addr_spec)
        raise AssertionError(f"no notification about #{number}")

    def engineer(self, number: int, body: str) -> str:
        """Dana replies to her notification about ticket ``number``."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = f"Dana Scully <{DANA}>", self.reply_address(number), f"Re: [#{number}]"
        msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
        msg.set_content(body)
        return self.deliver(msg.as_bytes(), rcpt=self.reply_address(number), mail_from=DANA)

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
            data = show_ticket(session, number, "Europe/London")
        assert data is not None
        return data

    def events(self, number: int, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.ticket(number)["events"] if e["kind"] == kind]

    def refused(self, number: int) -> list[str]:
        """Why the latest refused mail on ``number`` was refused, one reason per command."""
        return [r["why"] for r in self.events(number, "commands-refused")[-1]["detail"]["refused"]]

    def at(self, instant: datetime) -> None:
        self.clock.set(instant)
        SlaScheduler(self.app).run_due()


@pytest.fixture
def desk(tmp_path: Path, database: Database) -> Iterator[Desk]:
    clock = FakeClock(START)
    config = load_config(None, text=config_text(tmp_path))
    yield Desk(build_app(config, clock, db=database), clock)


def text_of(msg: EmailMessage) -> str:
    return " ".join(msg.get_content().split())


# --- #eta -----------------------------------------------------------------------------------

def test_eta_reaches_the_update_notices_in_the_customers_time_zone_and_tickets_show(desk: Desk) -> None:
    number, _mid = desk.open("Everything down", "Everything is down since 9:50.")
    desk.clock.set(START + timedelta(minutes=5))
    assert desk.engineer(number, "#eta +4h") == "engineer"
    shown = desk.ticket(number)
    assert shown["eta"] == "2026-11-23T14:05:00+00:00"
    assert shown["eta_local"] == "Monday 23 November 2026 14:05 GMT"
    assert desk.events(number, "eta-set")[0]["actor"] == DANA
    assert not desk.outbox("relay")  # a command alone tells the customer nothing
    desk.at(START + timedelta(minutes=30))
    (notice,) = desk.outbox("update-notice")
    assert "Our estimated time to resolution: Monday 23 November 2026 14:05 GMT." in text_of(notice)


def test_an_instant_is_read_in_the_customers_zone_unless_it_names_one(desk: Desk) -> None:
    number, _mid = desk.open()
    desk.engineer(number, "#eta 2027-07-01 09:00")  # London in summer: BST, UTC+1
    assert desk.ticket(number)["eta"] == "2027-07-01T08:00:00+00:00"
    desk.engineer(number, "#eta 2026-11-24 15:00 Europe/Berlin")
    assert desk.ticket(number)["eta"] == "2026-11-24T14:00:00+00:00"
    desk.engineer(number, "#eta none")
    assert desk.ticket(number)["eta"] is None
    assert desk.events(number, "eta-cleared")[0]["detail"]["was"] == "2026-11-24T14:00:00+00:00"


def test_eta_in_the_past_or_on_a_closed_ticket_is_refused_and_nothing_runs(desk: Desk) -> None:
    number, _mid = desk.open()
    assert desk.engineer(number, "#eta 2026-11-23 09:00\n#status pending\nSorry for the wait.") == "held"
    assert desk.refused(number) == ["Monday 23 November 2026 09:00 GMT is not ahead (it is now Monday 23 November "
                                    "2026 10:00 GMT in the customer's time zone)"]
    assert desk.ticket(number)["status"] == "open" and not desk.outbox("relay")
    (told,) = desk.outbox("command-refused")
    assert "is not ahead" in text_of(told)
    desk.engineer(number, "#status closed")
    desk.engineer(number, "#eta +2h")
    assert desk.refused(number) == [f"ticket #{number} is closed: there is nothing left to estimate"]


def test_a_passed_eta_is_not_stated_in_a_notice(desk: Desk) -> None:
    number, _mid = desk.open("Everything down", "Everything is down.")
    desk.engineer(number, "#eta +20m")
    desk.at(START + timedelta(minutes=30))
    (notice,) = desk.outbox("update-notice")
    assert "estimated time to resolution" not in text_of(notice)


def test_a_german_customer_reads_the_eta_in_german(desk: Desk) -> None:
    number, _mid = desk.open("Alles ist ausgefallen", "Everything is down, bitte dringend helfen.",
                             sender="Anna <anna@acme.example>")
    desk.engineer(number, "#eta 2026-11-23 16:00")
    desk.at(START + timedelta(minutes=30))
    (notice,) = desk.outbox("update-notice")
    assert "Voraussichtlich ist das Problem bis Montag, 23. November 2026, 16:00 GMT gelöst." in text_of(notice)


# --- #update-every --------------------------------------------------------------------------

def test_an_agreed_cadence_replaces_the_plans_until_set_back(desk: Desk) -> None:
    number, _mid = desk.open("Everything down", "Everything is down.")
    desk.clock.set(START + timedelta(minutes=5))
    desk.engineer(number, "#update-every 2h\nWe will write every two hours, as agreed on the phone.")
    assert desk.ticket(number)["update_every"] == "2 hours"
    (cadence,) = desk.events(number, "update-cadence")
    assert cadence["detail"] == {"every": "2 hours", "agreed": True, "plan": "30 minutes"}
    desk.at(START + timedelta(minutes=36))
    assert not desk.outbox("update-notice")  # the plan's 30 minutes no longer apply
    desk.at(START + timedelta(hours=2, minutes=5))
    assert len(desk.outbox("update-notice")) == 1
    desk.clock.set(START + timedelta(hours=2, minutes=10))
    desk.engineer(number, "#update-every plan")
    assert desk.ticket(number)["update_every"] is None
    desk.at(START + timedelta(hours=2, minutes=40))
    assert len(desk.outbox("update-notice")) == 2


def test_an_agreed_cadence_survives_a_priority_change_and_starts_where_the_plan_has_none(desk: Desk) -> None:
    number, _mid = desk.open()  # P3: no updates promised
    desk.engineer(number, "#update-every 1 hour")
    desk.engineer(number, "#priority P1 the whole office now")
    clocks = {e["detail"]["clock"]: e["detail"] for e in desk.events(number, "sla-clock-started")}
    assert clocks["update"]["target"] == "1 hour"
    desk.at(START + timedelta(minutes=61))
    assert len(desk.outbox("update-notice")) == 1


@pytest.mark.parametrize(("line", "why"), [
    ("#update-every soon", "cannot read 'soon' as an interval: write 2h, 90 minutes or 4 business hours"),
    ("#update-every case by case", "'case by case' is no cadence: write an interval like 2h, or plan"),
    ("#update-every mean 30 minutes", "'mean 30 minutes' is no cadence: write an interval like 2h, or plan"),
    ("#update-every 5m", "an update every 5m is too often: at least 15 minutes (the gateway sends at most 4 "
                         "automatic mails an hour on a ticket)"),
])
def test_a_cadence_that_cannot_be_kept_is_refused(desk: Desk, line: str, why: str) -> None:
    number, _mid = desk.open()
    assert desk.engineer(number, line) == "held"
    assert desk.refused(number) == [why]


def test_no_cadence_on_a_settled_ticket(desk: Desk) -> None:
    number, _mid = desk.open()
    desk.engineer(number, "#status resolution-proposed")
    desk.engineer(number, "#update-every 2h")
    assert desk.refused(number) == [f"ticket #{number} is resolution-proposed: no updates are due on it"]


# --- #reply ---------------------------------------------------------------------------------

def test_a_canned_reply_goes_as_the_engineers_reply_with_her_own_text_after_it(desk: Desk) -> None:
    number, mid = desk.open()
    desk.clock.set(START + timedelta(minutes=20))
    assert desk.engineer(number, "#reply restored\nPlease restart your client.") == "engineer"
    (out,) = desk.outbox("relay")
    assert out["In-Reply-To"] == mid and str(out["From"]).startswith("Dana Scully via Example Support")
    text = out.get_content().replace("\r\n", "\n")
    assert text.startswith(f"Hello Alice, ticket #{number} is fixed.\n\nPlease restart your client.\n\n-- \nDana")
    assert desk.events(number, "canned-reply")[0]["detail"] == {"name": "restored", "reached_customer": True}
    assert desk.events(number, "public-response")  # the first response, as any reply of hers
    assert desk.ticket(number)["messages"][-1]["text"].startswith("Hello Alice")


def test_a_canned_reply_states_the_promises_set_in_the_same_mail(desk: Desk) -> None:
    number, _mid = desk.open()
    desk.engineer(number, "#eta 2026-11-23 15:00\n#update-every 2h\n#reply eta")
    (out,) = desk.outbox("relay")
    assert "We expect a fix by Monday 23 November 2026 15:00 GMT; updates every 2 hours." in text_of(out)


def test_a_canned_reply_in_the_customers_language(desk: Desk) -> None:
    number, _mid = desk.open("Zugang gesperrt", "Mein Zugang ist seit heute Morgen gesperrt, bitte helfen.",
                             sender="Anna <anna@acme.example>")
    desk.engineer(number, "#reply restored")
    (out,) = desk.outbox("relay")
    assert out.get_content().startswith(f"Guten Tag Anna, Ticket #{number} ist behoben.")


@pytest.mark.parametrize(("body", "why"), [
    ("#reply gone", "no canned reply is called 'gone' (the canned replies: broken, eta, restored)"),
    ("#reply broken", "canned reply 'broken' cannot be written for this ticket: 'dict object' has no attribute "
                      "'nickname'"),
    ("#reply restored\n#reply eta", "one #reply per mail: one canned reply goes to the customer at a time"),
    ("#note\n#reply restored", "#reply sends a canned reply to the customer and #note keeps the mail internal: "
                               "send them in two mails"),
])
def test_a_canned_reply_that_cannot_go_is_refused(desk: Desk, body: str, why: str) -> None:
    number, _mid = desk.open()
    assert desk.engineer(number, body) == "held"
    assert why in desk.refused(number)
    assert not desk.outbox("relay")


def test_the_notification_lists_the_canned_replies_and_the_promises(desk: Desk) -> None:
    number, _mid = desk.open()
    desk.engineer(number, "#eta 2026-11-23 18:00\n#update-every 3h")
    desk.deliver(customer_mail("Alice <alice@acme.example>", f"Re: [#{number}] VPN down", "Any news?"))
    note = text_of(desk.outbox("engineer-notification")[-1])
    assert "ETA: Monday 23 November 2026 18:00 GMT" in note
    assert "Updates: every 3 hours, as agreed with the customer" in note
    assert "restored: Service restored" in note and "#reply NAME" in note
