"""#escalate STAGE by mail: the stage's clocks start then, its people are told once and kept informed
until the ticket is resolved; on SQLite and PostgreSQL, on a fake clock."""

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
from gateway.store.models import Event, OutboxMessage, SlaClock, Ticket
from gateway.timekeeping.scheduler import SlaScheduler
from tests import worlds
from tests.support import customer_mail

SUPPORT = "support@example.com"
DANA = "dana@example.com"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 10:00 in London (GMT)
ENTERED = START + timedelta(hours=1)
# 2 business days (09:00-17:00 London, Monday to Friday) from Monday 11:00: Wednesday 11:00.
ACTION_PLAN_DUE = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


def config_text(tmp: Path) -> str:
    """A P1 answered in 15 minutes whose workaround counts from its escalation to development; Sam
    (New York) is told then, kept informed each business day, and escalated to at half the time."""
    return worlds.world(
        worlds.gateway(tmp / "var"),
        worlds.outbound(directory=tmp / "outbox"),
        worlds.engineers(worlds.dana()),
        worlds.UK_CALENDAR,
        worlds.plan(escalation="ladder", priorities={
            "P1": {"first_response": "15m", "workaround": "2 business days"}}),
        worlds.table("plans.standard.stages.development", title="Product Development", starts=["workaround"],
                     notify=["contact:sam"], inform_every="1 business day"),
        worlds.contact("sam", "Sam Duty", roles=["duty-manager"], timezone="America/New_York"),
        worlds.tier("ladder", "half-workaround", at="50% workaround", notify=["contact:sam"], priorities=["P1"]),
        worlds.customer("Acme", "acme.example", contacts=["alice@acme.example"], timezone="Europe/London"),
        worlds.OWN_RULES,
        worlds.rule("outage", ["everything is down"], "Everything down: P1.", priority="P1"),
    )


@dataclass
class Desk:
    app: App
    clock: FakeClock

    def deliver(self, raw: bytes, rcpt: str, mail_from: str) -> str:
        store_inbound(self.app.db, raw, source="smtp", envelope=Envelope(mail_from, (rcpt,)),
                      received_at=self.clock.now())
        outcome = Processor(self.app).process_one()
        assert outcome is not None
        return outcome

    def open(self) -> int:
        raw = customer_mail("Alice <alice@acme.example>", "Everything down", "Everything is down since 9:50.")
        assert self.deliver(raw, SUPPORT, "alice@acme.example") == "ticket"
        with self.app.db.sessions() as session:
            number = session.scalar(select(func.max(Ticket.id)))
        assert number is not None
        return number

    def engineer(self, number: int, body: str) -> str:
        (note,) = [m for m in self.outbox("engineer-notification") if f"[#{number}]" in str(m["Subject"])]
        to = note["Reply-To"].addresses[0].addr_spec
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = f"Dana Scully <{DANA}>", to, f"Re: [#{number}]"
        msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
        msg.set_content(body)
        return self.deliver(msg.as_bytes(), to, DANA)

    def outbox(self, kind: str) -> list[EmailMessage]:
        with self.app.db.sessions() as session:
            rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                        .order_by(OutboxMessage.id)))
        found = []
        for row in rows:
            msg = email.message_from_bytes(row.raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            found.append(msg)
        return found

    def events(self, number: int, kind: str) -> list[dict[str, Any]]:
        with self.app.db.sessions() as session:
            return [{"at": e.at, "actor": e.actor, **(e.detail or {})} for e in session.scalars(
                select(Event).where(Event.ticket_id == number, Event.kind == kind).order_by(Event.id))]

    def clock_of(self, number: int, name: str) -> SlaClock | None:
        with self.app.db.sessions() as session:
            return session.scalar(select(SlaClock).where(SlaClock.ticket_id == number, SlaClock.name == name))

    def ticket(self, number: int) -> Ticket:
        with self.app.db.sessions() as session:
            found = session.get(Ticket, number)
            assert found is not None
            session.expunge(found)
            return found

    def at(self, instant: datetime) -> None:
        self.clock.set(instant)
        SlaScheduler(self.app).run_due()


@pytest.fixture
def desk(tmp_path: Path, database: Database) -> Iterator[Desk]:
    clock = FakeClock(START)
    yield Desk(build_app(load_config(None, text=config_text(tmp_path)), clock, db=database), clock)


def text_of(msg: EmailMessage) -> str:
    return " ".join(msg.get_content().split())


def test_the_workaround_waits_for_the_stage_then_counts_from_it(desk: Desk) -> None:
    number = desk.open()
    assert desk.clock_of(number, "workaround") is None  # not from intake
    assert desk.clock_of(number, "first_response") is not None
    desk.clock.set(ENTERED)
    assert desk.engineer(number, "#escalate development\nOur developers are on it.") == "engineer"
    c = desk.clock_of(number, "workaround")
    assert c is not None and (c.started_at, c.deadline) == (ENTERED, ACTION_PLAN_DUE)
    (entered,) = desk.events(number, "stage-entered")
    assert entered["actor"] == DANA and entered["stage"] == "development"
    assert entered["clocks"] == {"workaround": ACTION_PLAN_DUE.isoformat()} and entered["to"] == ["sam@example.com"]
    (told,) = desk.outbox("stage-notice")
    assert told["To"].addresses[0].addr_spec == "sam@example.com"
    assert "escalated to Product Development" in str(told["Subject"])
    said = text_of(told)
    assert f"Ticket #{number} was escalated to Product Development at Monday 23 November 2026 06:00 EST" in said
    assert "workaround (2 business days): due by Wednesday 25 November 2026 06:00 EST" in said
    assert "next by Tuesday 24 November 2026 06:00 EST" in said


def test_entering_a_stage_twice_changes_nothing_the_second_time(desk: Desk) -> None:
    number = desk.open()
    desk.clock.set(ENTERED)
    desk.engineer(number, "#escalate development")
    desk.clock.set(ENTERED + timedelta(hours=2))
    assert desk.engineer(number, "#escalate development") == "engineer"
    c = desk.clock_of(number, "workaround")
    assert c is not None and c.started_at == ENTERED  # not restarted
    assert len(desk.outbox("stage-notice")) == 1
    assert len(desk.events(number, "stage-entered")) == 1
    (again,) = desk.events(number, "stage-repeated")
    assert again["stage"] == "development"
    assert desk.ticket(number).stages == ["development"]


def test_a_stage_the_plan_lacks_is_refused_naming_the_stages_it_has(desk: Desk) -> None:
    number = desk.open()
    assert desk.engineer(number, "#escalate legal\nOver to legal.") == "held"
    (refused,) = desk.events(number, "commands-refused")
    assert [r["why"] for r in refused["refused"]] == [
        "plan 'standard' has no stage 'legal'; its stages are: development (Product Development)"]
    assert desk.clock_of(number, "workaround") is None and not desk.outbox("stage-notice")
    (reply,) = desk.outbox("command-refused")
    assert "its stages are: development (Product Development)" in text_of(reply)
    assert desk.engineer(number, "#escalate") == "held"
    assert desk.events(number, "commands-refused")[-1]["refused"][0]["why"].startswith(
        "#escalate needs the name of one stage")


def test_kept_informed_each_business_day_until_resolved_and_the_wakeup_says_when(desk: Desk) -> None:
    number = desk.open()
    desk.clock.set(START + timedelta(minutes=5))
    desk.engineer(number, "We are looking into it.")  # the first response: its clock stops
    desk.clock.set(ENTERED)
    desk.engineer(number, "#escalate development")
    tuesday = ENTERED + timedelta(days=1)
    ticket = desk.ticket(number)
    assert ticket.inform_at == tuesday and ticket.stage_at == ENTERED
    # Its next wake-up: the progress mail and the tier at half the workaround, both Tuesday 11:00.
    desk.at(ENTERED + timedelta(minutes=1))
    assert desk.ticket(number).next_deadline == tuesday
    desk.at(tuesday)
    (progress,) = desk.outbox("stage-progress")
    said = text_of(progress)
    assert "workaround (2 business days): due by Wednesday 25 November 2026 06:00 EST, 1 day left" in said
    assert "Last update to the customer, Monday 23 November 2026 05:05 EST: > We are looking into it." in said
    assert "Next report by Wednesday 25 November 2026 06:00 EST" in said
    (escalated,) = desk.outbox("escalation")  # the tier on the staged clock works from its start
    assert "half-workaround" in text_of(escalated)
    desk.at(tuesday)  # the same instant again: once per period and address
    assert len(desk.outbox("stage-progress")) == 1
    assert desk.ticket(number).inform_at == ACTION_PLAN_DUE
    desk.clock.set(tuesday + timedelta(hours=1))
    desk.engineer(number, "#status resolved\nFixed.")
    assert desk.ticket(number).next_deadline is None  # resolved: no more progress mail is due
    desk.at(ACTION_PLAN_DUE + timedelta(days=3))
    assert len(desk.outbox("stage-progress")) == 1


def test_a_stage_entered_while_the_customer_is_asked_starts_its_clock_paused(desk: Desk) -> None:
    number = desk.open()
    desk.clock.set(ENTERED)
    desk.engineer(number, "#status pending\nCould you send us the logs?")
    desk.engineer(number, "#escalate development")
    c = desk.clock_of(number, "workaround")
    assert c is not None and c.deadline is None and c.paused_remaining == 2 * 8 * 3600  # 2 business days
    (told,) = desk.outbox("stage-notice")
    assert "workaround (2 business days): paused while the customer is asked, 16 hours left" in text_of(told)
    desk.engineer(number, "#status resolution-proposed")
    assert desk.engineer(number, "#escalate development") == "held"
    assert desk.events(number, "commands-refused")[-1]["refused"][0]["why"] == (
        f"ticket #{number} is resolution-proposed: reopen it first (#status open)")
