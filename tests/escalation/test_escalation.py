"""Escalation tiers on a fake clock: who is mailed when, repeats, acknowledgement, exactly once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import DatabaseSettings, load_config
from gateway.escalation.tiers import fire_due_tiers
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Escalation, Event, InboundMessage, OutboxMessage, Ticket
from gateway.tickets import workflow
from gateway.tickets.ack import acknowledge, acknowledge_reply
from gateway.timekeeping.scheduler import SlaScheduler
from tests import worlds
from tests.support import customer_mail

LONDON = ZoneInfo("Europe/London")
SUNDAY_2AM = datetime(2026, 11, 22, 2, 0, tzinfo=LONDON)  # GMT: London time is UTC
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)

POLICY = "desk"  # the escalation policy of the standard plan
CONFIG = worlds.world(
    worlds.gateway(),
    worlds.outbound(max_per_address_per_hour=50, max_per_ticket_per_hour=100),
    worlds.UK_CALENDAR,
    worlds.plan(escalation=POLICY, priorities={
        "P1": {"first_response": "20m", "resolution": "4h", "calendar": "24x7"},
        "P2": {"first_response": "1h"},
        "P3": {"first_response": "2 business hours", "update_every": "1 business hour"},
    }),
    worlds.acme(account_manager="amy", timezone="Europe/London"),
    worlds.customer("Globex", "globex.example", timezone="Europe/London"),
    worlds.SAM,
    worlds.contact("amy", "Amy Accounts", timezone="America/New_York"),
    worlds.contact("alex", "Alex Accounts", roles=["account-manager"]),
    worlds.contact("hana", "Hana Head", roles=["head"]),
    worlds.ONCALL,
    worlds.page_tier(POLICY, "page"),
    worlds.tier(POLICY, "warn", at="50% first_response", notify=["role:duty-manager"], priorities=["P1", "P2"],
                repeat="10m"),
    worlds.tier(POLICY, "breach", at="breach first_response", notify=["role:account-manager"],
                priorities=["P1", "P2"], repeat="30m"),
    worlds.tier(POLICY, "head", at="+30m after breach", notify=["role:head"], priorities=["P1", "P2"]),
    worlds.tier(POLICY, "resolution", at="breach resolution", notify=["contact:hana", "on-call"]),
    worlds.tier(POLICY, "p3-warn", at="75% first_response", notify=["contact:hana"], priorities=["P3"]),
    worlds.tier(POLICY, "p3-update-missed", at="breach update", notify=["contact:hana"], priorities=["P3"]),
    worlds.OWN_RULES,
    worlds.rule("outage", ["down", "outage"], "Down: P1.", priority="P1"),
    worlds.rule("slow", ["slow"], "Slow: P2.", priority="P2"),
    worlds.rule("security", ["security"], "Security: tell Sam.", notify=["sam"]),
)


class Desk:
    """One gateway process on a fake clock: processor and SLA scheduler, no network."""

    def __init__(self, db: Path | Database, start: datetime, data_dir: Path, extra: str = "") -> None:
        database = db if isinstance(db, Database) else Database(f"sqlite:///{db}")
        loaded = load_config(None, text=CONFIG + extra)
        loaded = replace(loaded, database=DatabaseSettings(url=database.url),
                         gateway=replace(loaded.gateway, data_dir=data_dir))
        self.clock = FakeClock(start)
        self.app: App = build_app(loaded, self.clock, db=database)
        self.app.db.upgrade()
        self.scheduler = SlaScheduler(self.app)

    def mail(self, sender: str, subject: str, body: str) -> None:
        store_inbound(self.app.db, customer_mail(sender, subject, body), source="test",
                      envelope=Envelope(sender, ("support@example.com",)), received_at=self.clock.now())
        Processor(self.app).drain()
        self.scheduler.run_due()

    def advance(self, instant: datetime) -> None:
        """Move time on, waking at every deadline on the way as the scheduler does."""
        while (earliest := self.scheduler.earliest()) is not None and earliest <= instant:
            self.clock.set(max(earliest, self.clock.now()))
            self.scheduler.run_due()
        self.clock.set(max(instant, self.clock.now()))
        self.scheduler.run_due()

    def act(self, action: Callable[[Session, App, Ticket, datetime], Any], number: int = 1) -> Any:
        with self.app.db.transaction() as session:
            ticket = session.get(Ticket, number)
            assert ticket is not None
            return action(session, self.app, ticket, self.clock.now())

    def mails(self, *kinds: str) -> list[tuple[str, str, str]]:
        """(London time HH:MM, kind, first recipient) of every queued mail of ``kinds``, in that order."""
        with self.app.db.sessions() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind.in_(kinds)))
            return sorted((f"{r.created_at.astimezone(LONDON):%H:%M}", r.kind, r.recipient) for r in rows)

    def message(self, kind: str, to: str, index: int = 0) -> EmailMessage:
        with self.app.db.sessions() as session:
            raws = list(session.scalars(select(OutboxMessage.raw).where(
                OutboxMessage.kind == kind, OutboxMessage.recipient == to).order_by(OutboxMessage.id)))
        msg = email.message_from_bytes(raws[index], policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    def reply(self, to: EmailMessage, sender: str, body: str) -> None:
        """``sender`` answers mail ``to`` as a mail client would: to its Reply-To, In-Reply-To it."""
        rcpt = to["Reply-To"].addresses[0].addr_spec
        raw = customer_mail(sender, f"Re: {to['Subject']}", body, to=rcpt, in_reply_to=str(to["Message-ID"]))
        address = sender.rpartition("<")[2].rstrip(">")
        store_inbound(self.app.db, raw, source="test", envelope=Envelope(address, (rcpt,)),
                      received_at=self.clock.now())
        Processor(self.app).drain()
        self.scheduler.run_due()

    def events(self, kind: str) -> list[Event]:
        with self.app.db.sessions() as session:
            return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))

    def next_deadline(self, number: int = 1) -> datetime | None:
        with self.app.db.sessions() as session:
            ticket = session.get(Ticket, number)
            assert ticket is not None
            return ticket.next_deadline


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(tmp_path / "desk.sqlite3", SUNDAY_2AM, tmp_path)


def at(hh_mm: str, day: datetime = SUNDAY_2AM) -> datetime:
    hours, minutes = map(int, hh_mm.split(":"))
    return day.replace(hour=hours, minute=minutes)


PAGE, ESC = "on-call-page", "escalation"


def test_a_p1_after_hours_climbs_the_ladder_each_tier_once_per_trigger(database: Database, tmp_path: Path) -> None:
    desk = Desk(database, SUNDAY_2AM, tmp_path)
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("03:00"))
    assert desk.mails(PAGE, ESC, "status-paged") == sorted([
        ("02:00", PAGE, "alice@example.com"),          # after hours: the on-call engineer, at once
        ("02:10", ESC, "sam@example.com"),              # 50% of the 20-minute first response
        ("02:15", PAGE, "alice@example.com"),           # every 15 minutes until acknowledged
        ("02:20", ESC, "sam@example.com"),
        ("02:20", ESC, "amy@example.com"),              # breach: Acme's own account manager, not Alex
        ("02:30", PAGE, "alice@example.com"),
        ("02:30", ESC, "sam@example.com"),
        ("02:40", ESC, "sam@example.com"),
        ("02:45", PAGE, "alice@example.com"),
        ("02:50", ESC, "sam@example.com"),
        ("02:50", ESC, "amy@example.com"),
        ("02:50", ESC, "hana@example.com"),             # 30 minutes after the breach, unacknowledged
        ("03:00", PAGE, "alice@example.com"),
        ("03:00", ESC, "sam@example.com"),
        ("03:00", "status-paged", "ops@acme.example"),  # nobody wrote within the hour
    ])
    with desk.app.db.sessions() as session:
        rows = {r.tier: r.rounds for r in session.scalars(select(Escalation))}
    assert rows == {"page": 5, "warn": 6, "breach": 2, "head": 1}
    paged = desk.events("on-call-paged")
    assert [(e.detail["round"], e.detail["contact"]) for e in paged] == [(n, "alice") for n in range(1, 6)]


def test_tier_instants_wake_the_scheduler(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    # Earlier than the SLA's own near-breach warning (80%: 02:16) and the page's repeat (02:15).
    assert desk.next_deadline() == at("02:10")
    desk.advance(at("02:10"))
    assert desk.next_deadline() == at("02:15")


def test_acknowledgement_stops_the_repeats_and_the_tier_that_follows(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("02:25"))
    acked = desk.act(lambda s, app, t, now: acknowledge(s, app, t, "AMY@example.com", now))
    assert acked == ["page", "warn", "breach"]
    desk.advance(at("06:30"))
    assert [m for m in desk.mails(PAGE, ESC) if m[0] > "02:25"] == sorted([
        ("06:00", ESC, "hana@example.com"),             # a new promise broken: resolution, 4 hours,
        ("06:00", ESC, "alice@example.com"),            # to Hana and whoever is on call then
    ])
    [event] = desk.events("escalation-acknowledged")
    assert (event.actor, event.at, event.detail) == ("amy", at("02:25"), {"tiers": ["page", "warn", "breach"]})
    assert desk.mails("status-paged") == sorted([("03:00", "status-paged", "ops@acme.example")])


def test_an_engineer_writing_stops_pages_reminders_and_the_status_notice(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("02:12"))
    desk.act(lambda s, app, t, now: workflow.public_update(s, app, t, now, "alice"))
    assert desk.next_deadline() == desk.act(lambda s, app, t, now: t.created_at)  # to be looked at again
    desk.advance(at("04:00"))
    assert desk.mails(PAGE, ESC, "status-paged") == sorted([
        ("02:00", PAGE, "alice@example.com"), ("02:10", ESC, "sam@example.com")])


def test_an_ack_reply_acknowledges_the_tier_of_the_mail_it_answers(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("02:12"))
    warn = desk.message(ESC, "sam@example.com")
    acked = desk.act(lambda s, app, t, now: acknowledge_reply(s, app, t, "sam@example.com", now,
                                                              [str(warn["Message-ID"])]))
    assert acked == ["warn"]
    desk.advance(at("02:31"))
    assert [m for m in desk.mails(PAGE, ESC) if m[0] > "02:12"] == sorted([
        ("02:15", PAGE, "alice@example.com"), ("02:20", ESC, "amy@example.com"),
        ("02:30", PAGE, "alice@example.com")])


ENGINEERS = worlds.engineers(worlds.dana())


@pytest.mark.parametrize("engineers", ["", ENGINEERS], ids=["no engineers", "with engineers"])
def test_the_on_call_contact_stops_the_pages_by_replying_ack_from_their_phone(tmp_path: Path, engineers: str) -> None:
    """The on-call person is a contact, not an engineer: their #ack counts whether or not the
    desk has engineers working tickets in the thread."""
    desk = Desk(tmp_path / "desk.sqlite3", SUNDAY_2AM, tmp_path, engineers)
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("02:16"))
    page = desk.message(PAGE, "alice@example.com", 1)  # the 02:15 page
    desk.reply(page, "Alice Oncall <alice@example.com>", "#ack\nOn it, logging in now.")
    desk.advance(at("03:01"))
    assert [m for m in desk.mails(PAGE) if m[2] == "alice@example.com"] == [
        ("02:00", PAGE, "alice@example.com"), ("02:15", PAGE, "alice@example.com")]
    [event] = desk.events("escalation-acknowledged")
    assert (event.actor, event.at, event.detail) == ("alice", at("02:16"), {"tiers": ["page"]})
    [note] = desk.events("contact-reply")
    assert note.actor == "alice" and note.detail["acknowledged"] == ["page"]
    # Her words stay on the ticket as an internal note: nothing reaches the customer.
    assert desk.mails("relay") == []
    with desk.app.db.sessions() as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        notes = [m.reply_text for m in ticket.messages if m.kind == "note"]
    assert notes == ["On it, logging in now."]


def test_a_contact_may_only_ack_and_nobody_else_may_use_their_reply_address(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("02:12"))
    warn = desk.message(ESC, "sam@example.com")
    desk.reply(warn, "Sam Duty <sam@example.com>", "#ack\n#status resolved\nDone.")
    desk.reply(warn, "Mallory <mallory@evil.example>", "#ack")
    assert desk.events("escalation-acknowledged") == []
    with desk.app.db.sessions() as session:
        held = [r.reason for r in session.scalars(select(InboundMessage).where(InboundMessage.state == "held"))]
    assert len(held) == 2 and "only #ack is taken from a contact, not #status resolved" in held[0]
    assert desk.act(lambda s, app, t, now: t.status) == "open"
    desk.reply(warn, "Sam Duty <sam@example.com>", "#ack")
    assert [e.detail["tiers"] for e in desk.events("escalation-acknowledged")] == [["warn"]]


def test_business_hours_p2_goes_to_the_role_when_the_customer_has_no_own_manager(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "d.sqlite3", MONDAY_10AM, tmp_path)
    desk.mail("Ops <ops@globex.example>", "Everything slow", "Pages are slow.")
    desk.advance(at("12:00", MONDAY_10AM))
    assert desk.mails(PAGE, ESC) == sorted([
        ("10:30", ESC, "sam@example.com"), ("10:40", ESC, "sam@example.com"), ("10:50", ESC, "sam@example.com"),
        ("11:00", ESC, "sam@example.com"), ("11:00", ESC, "alex@example.com"), ("11:10", ESC, "sam@example.com"),
        ("11:20", ESC, "sam@example.com"), ("11:30", ESC, "sam@example.com"), ("11:30", ESC, "alex@example.com"),
        ("11:30", ESC, "hana@example.com"), ("11:40", ESC, "sam@example.com"), ("11:50", ESC, "sam@example.com"),
        ("12:00", ESC, "sam@example.com"), ("12:00", ESC, "alex@example.com")])


def test_business_time_shares_and_a_missed_update(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "d.sqlite3", at("16:00", MONDAY_10AM), tmp_path)
    desk.mail("Ops <ops@globex.example>", "Export question", "The export has a typo.")
    desk.advance(datetime(2026, 11, 24, 11, 0, tzinfo=LONDON))
    # The hourly update is missed at 17:00 (the customer gets the automatic notice; Hana hears of it,
    # once, not at every later miss). 75% of 2 business hours is 1h30m of open time: 16:00-17:00
    # Monday, then Tuesday 09:00-09:30.
    assert desk.mails(ESC) == [("09:30", ESC, "hana@example.com"), ("17:00", ESC, "hana@example.com")]
    [missed, warned] = desk.events("escalation")
    assert (missed.at, missed.detail["tier"], missed.detail["clock"]) == (
        at("17:00", MONDAY_10AM), "p3-update-missed", "update")
    assert warned.at == datetime(2026, 11, 24, 9, 30, tzinfo=LONDON)
    assert len(desk.mails("update-notice")) >= 2


def test_a_p1_in_business_hours_pages_nobody(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "d.sqlite3", MONDAY_10AM, tmp_path)
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("11:30", MONDAY_10AM))
    assert desk.mails(PAGE, "status-paged") == []


def test_a_rule_s_notify_pages_on_call_with_the_named_contact_after_hours(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Security question", "Was there a security problem last night?")
    desk.advance(at("03:30"))
    assert desk.mails(PAGE, ESC, "status-paged") == sorted([
        ("02:00", PAGE, "alice@example.com"), ("02:00", PAGE, "sam@example.com"),
        ("02:15", PAGE, "alice@example.com"), ("02:15", PAGE, "sam@example.com"),
        ("02:30", PAGE, "alice@example.com"), ("02:30", PAGE, "sam@example.com"),
        ("02:45", PAGE, "alice@example.com"), ("02:45", PAGE, "sam@example.com"),
        ("03:00", PAGE, "alice@example.com"), ("03:00", PAGE, "sam@example.com"),
        ("03:15", PAGE, "alice@example.com"), ("03:15", PAGE, "sam@example.com"),
        ("03:30", PAGE, "alice@example.com"), ("03:30", PAGE, "sam@example.com"),
    ])  # a P3 made no critical promise: no status notice to the customer
    assert desk.mails("rule-notification") == []  # the page is the one mail that asks Sam to act


def test_a_rule_s_notify_tells_the_named_contact_at_once_in_business_hours(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "d.sqlite3", MONDAY_10AM, tmp_path)
    desk.mail("Ops <ops@acme.example>", "Security question", "Was there a security problem last night?")
    desk.mail("Ops <ops@acme.example>", "Another security question", "And the security of backups?")
    desk.advance(at("17:00", MONDAY_10AM))
    # One notice per ticket, at once; nobody is paged in business hours.
    assert desk.mails("rule-notification", PAGE) == [("10:00", "rule-notification", "sam@example.com")] * 2
    notice = desk.message("rule-notification", "sam@example.com")
    assert notice["Subject"].startswith("[#1] For your attention (P3): Security question")
    assert notice["Auto-Submitted"] == "auto-generated"
    body = notice.get_content()
    assert "the rule security matched" in body and "Was there a security problem last night?" in body
    assert "From:      Ops <ops@acme.example>" in body.splitlines()  # a line of its own


def test_a_priority_raised_to_p1_after_hours_pages_then(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "d.sqlite3", at("01:00"), tmp_path)
    desk.mail("Ops <ops@acme.example>", "Question", "How do I export a report?")
    desk.advance(at("01:40"))
    desk.act(lambda s, app, t, now: workflow.set_priority(s, app, t, "P1", now, "rules", "customer reply"))
    desk.advance(at("01:55"))
    assert desk.mails(PAGE) == sorted([("01:40", PAGE, "alice@example.com"), ("01:55", PAGE, "alice@example.com")])


def test_closing_the_ticket_stops_everything(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("02:05"))
    desk.act(lambda s, app, t, now: workflow.set_status(s, app, t, "resolved", now, "alice"))
    desk.advance(at("08:00"))
    assert desk.mails(PAGE, ESC, "status-paged") == sorted([("02:00", PAGE, "alice@example.com")])
    assert desk.next_deadline() is None


def test_exactly_once_across_processes_and_restarts(database: Database, tmp_path: Path) -> None:
    """Two processes on one database (SQLite, and PostgreSQL when configured), then a restart."""
    def connect() -> Database:
        return Database(database.url, schema=database.schema)

    first, second = Desk(connect(), SUNDAY_2AM, tmp_path), Desk(connect(), SUNDAY_2AM, tmp_path)
    first.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    second.scheduler.run_due()
    first.app.db.dispose()  # the first process goes away between the repeat's instant and its mail
    second.clock.set(at("02:16"))
    for _ in range(3):
        second.scheduler.run_due()
    with second.app.db.transaction() as session:  # and a direct second call at the same instant
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        fire_due_tiers(session, second.app, ticket, at("02:16"))
    second.app.db.dispose()
    restarted = Desk(connect(), at("02:16"), tmp_path)
    restarted.scheduler.run_due()
    assert restarted.mails(PAGE, ESC) == sorted([
        ("02:00", PAGE, "alice@example.com"), ("02:16", ESC, "sam@example.com"),
        ("02:16", PAGE, "alice@example.com")])
    with restarted.app.db.sessions() as session:
        keys = list(session.scalars(select(OutboxMessage.cause_key).where(OutboxMessage.kind == PAGE)))
    assert keys == ["escalation:1:desk:page:1:alice", "escalation:1:desk:page:2:alice"]
    restarted.app.db.dispose()


def test_the_mail_says_what_is_at_risk_by_when_in_the_reader_s_zone(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down since 01:30.")
    desk.advance(at("02:20"))
    breach = desk.message(ESC, "amy@example.com")
    text = breach.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert breach["Subject"] == ("[#1] Escalation P1: first response breached, due Saturday 21 November 2026 "
                                 "21:20 EST - Site down")
    assert "first response (20 minutes) was due by Saturday 21 November 2026 21:20 EST and is BREACHED" in text
    assert "> Everything is down since 01:30." in text
    assert "Saturday 21 November 2026 21:00 EST: on-call paged, round 1, to Alice Oncall" in text
    assert "Saturday 21 November 2026 21:10 EST: tier warn, round 1, to Sam Duty" in text
    assert "#ack" in text and "helpdesk ack 1 --by amy" in text
    # Amy is a contact, not an engineer: she may acknowledge, not take the ticket.
    assert "#assign me" not in text and "kept on the ticket as an internal note" in text
    assert str(breach["Reply-To"]).startswith("support+1-")
    assert breach["Auto-Submitted"] == "auto-generated"
    page = desk.message(PAGE, "alice@example.com", 1)
    page_text = page.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "as the on-call engineer (on call until Monday 23 November 2026 09:00 GMT)" in page_text
    assert "Page 2: nobody has acknowledged it yet" in page_text
    assert "the customer is told at\nSunday 22 November 2026 03:00 GMT" in page_text
    assert page["In-Reply-To"] == desk.message(PAGE, "alice@example.com", 0)["Message-ID"]


def test_status_notice_tells_the_customer_the_on_call_engineer_was_paged(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.advance(at("03:00"))
    notice = desk.message("status-paged", "ops@acme.example")
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Our on-call engineer has been paged (Sunday 22 November 2026 02:00 GMT)" in text
    assert notice["Subject"] == "[#1] Status of your request: Site down"


@pytest.mark.parametrize(("change", "problem"), [
    (('escalation = "desk"', 'escalation = "dsk"'), "plans.standard.escalation: no escalation policy named 'dsk'"),
    (('"role:head"', '"role:ceo"'), "escalation.desk.tiers[3].notify: no contact has the role 'ceo'"),
    (('"+30m after breach"', '"+30m after head"'), "escalation.desk.tiers[3].at: '+30m after head' follows no"),
    (('"50% first_response"', '"50% response"'), "escalation.desk.tiers[1].at: '50% response': 'response' is not"),
    (('"breach first_response"', '"when it breaks"'), "escalation.desk.tiers[2].at: cannot read trigger"),
    (('repeat = "10m"', 'repeat = "often"'), "escalation.desk.tiers[1].repeat: 'often' is not an interval"),
    (('name = "head"', 'name = "warn"'), "escalation.desk.tiers[3].name: 'warn' is used by an earlier tier"),
    (('account_manager = "amy"', 'account_manager = "amyy"'), "customers[0].account_manager: no contact 'amyy'"),
    (('"contact:hana"', '"contact:hannah"'), "escalation.desk.tiers[4].notify: no contact or engineer 'hannah'"),
    (('"contact:hana"', '"boss"'), "escalation.desk.tiers[4].notify: 'boss' is not"),
    (('notify = ["role:duty-manager"]', 'notify = ["role:duty-manager"]\nstatus_notice = "1h"'),
     "escalation.desk.tiers[1].status_notice: only an after-hours tier"),
    (('priorities = ["P1"]\nrepeat = "15m"', 'priorities = ["P0"]\nrepeat = "15m"'),
     "escalation.desk.tiers[0].priorities:"),
])
def test_config_problems_name_the_key_and_the_fix(change: tuple[str, str], problem: str) -> None:
    from gateway.errors import ConfigError
    assert change[0] in CONFIG
    with pytest.raises(ConfigError) as err:
        load_config(None, text=CONFIG.replace(change[0], change[1], 1))
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_on_call_without_oncall_table_is_a_problem() -> None:
    from gateway.errors import ConfigError
    start = CONFIG.index("[oncall]")
    text = CONFIG[:start] + CONFIG[CONFIG.index("[[escalation.desk.tiers]]"):]
    with pytest.raises(ConfigError) as err:
        load_config(None, text=text)
    assert 'escalation.desk.tiers[0].notify: "on-call" needs an [oncall] table' in err.value.problems[0]


def test_the_migration_creates_the_tables_the_models_describe(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gateway.store.db import Database
    from gateway.store.models import Base
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diff if "escalation" in repr(d)]
    assert mine == []
    db.dispose()


def test_a_ticket_due_for_a_fresh_look_is_settled_by_the_next_wake_up(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Site down", "Everything is down.")
    desk.clock.set(at("02:05"))
    desk.act(lambda s, app, t, now: workflow.set_status(s, app, t, "pending", now, "alice"))
    stale = desk.next_deadline()
    assert stale is not None and stale <= desk.clock.now()  # the clocks paused: tier instants moved
    desk.scheduler.run_due()
    assert desk.next_deadline() == at("02:15")  # only the page repeats while the clocks are paused


def _arrive(desk: Desk, sender: str, subject: str, body: str, arrived: datetime) -> None:
    """A mail that reached the mailbox at ``arrived`` and is read now (a backlog, a restart)."""
    address = sender.rpartition("<")[2].rstrip(">")
    store_inbound(desk.app.db, customer_mail(sender, subject, body), source="imap",
                  envelope=Envelope(address, ("support@example.com",)), received_at=desk.clock.now(),
                  source_key=f"imap:support:1:{arrived.timestamp():.0f}", arrived_at=arrived)
    Processor(desk.app).drain()
    desk.scheduler.run_due()


@pytest.mark.parametrize(("subject", "body"), [("Site down", "Everything is down."),
                                               ("Security question", "Was there a security problem?")])
def test_mail_that_arrived_after_hours_pages_though_read_in_business_hours(tmp_path: Path, subject: str,
                                                                        body: str) -> None:
    """Arrived Monday 08:50 (before opening), read 09:05: critical mail, and mail a rule's notify
    names a contact for, page the on-call (and the contact) as after-hours mail does."""
    desk = Desk(tmp_path / "d.sqlite3", at("09:05", MONDAY_10AM), tmp_path)
    _arrive(desk, "Ops <ops@acme.example>", subject, body, at("08:50", MONDAY_10AM))
    pages = desk.mails(PAGE)
    assert ("09:05", PAGE, "bob@example.com") in pages  # Monday: bob's week on call
    assert desk.mails("rule-notification") == []


def test_a_tier_after_another_gives_its_people_their_whole_delay_when_it_fired_late(tmp_path: Path) -> None:
    """A P1 that arrived at 01:00 is read at 02:00: first response breached (01:20) and the
    breach tier fires at once, at 02:00; "+30m after breach" then waits until 02:30."""
    desk = Desk(tmp_path / "d.sqlite3", at("02:00"), tmp_path)
    _arrive(desk, "Ops <ops@acme.example>", "Site down", "Everything is down.", at("01:00"))
    desk.advance(at("02:40"))
    heads = [m for m in desk.mails(ESC) if m[2] == "hana@example.com"]
    assert heads == [("02:30", ESC, "hana@example.com")]


def test_a_missed_update_of_an_earlier_priority_is_no_breach_of_the_new_one(tmp_path: Path) -> None:
    """A P3 missed its update Monday 17:00; on Tuesday 10:00 it becomes P1 (updates hourly): the
    P1 "breach update" tier waits for a P1 update to be missed (11:00)."""
    config = CONFIG.replace('''[plans.standard.priorities.P1]
first_response = "20m"
resolution = "4h"
calendar = "24x7"''', '''[plans.standard.priorities.P1]
first_response = "20m"
update_every = "1h"
calendar = "24x7"''').replace('''name = "p3-update-missed"
at = "breach update"
notify = ["contact:hana"]
priorities = ["P3"]''', '''name = "p1-update-missed"
at = "breach update"
notify = ["contact:hana"]
priorities = ["P1"]''')
    assert "p1-update-missed" in config and 'update_every = "1h"' in config
    desk = Desk(tmp_path / "d.sqlite3", at("16:00", MONDAY_10AM), tmp_path)
    desk.app = build_app(replace(load_config(None, text=config), database=desk.app.config.database,
                                 gateway=desk.app.config.gateway), desk.clock, db=desk.app.db)
    desk.scheduler = SlaScheduler(desk.app)
    desk.mail("Ops <ops@globex.example>", "Export question", "The export has a typo.")
    tuesday = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    desk.advance(tuesday)
    desk.act(lambda s, app, t, now: workflow.set_priority(s, app, t, "P1", now, "rules", "customer reply"))
    desk.advance(tuesday + timedelta(minutes=59))
    assert [e for e in desk.events("escalation") if e.detail["tier"] == "p1-update-missed"] == []
    desk.advance(tuesday + timedelta(minutes=61))
    [fired] = [e for e in desk.events("escalation") if e.detail["tier"] == "p1-update-missed"]
    assert fired.detail["due"] == (tuesday + timedelta(hours=1)).astimezone(UTC).isoformat()
