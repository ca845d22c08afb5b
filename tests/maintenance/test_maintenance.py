"""Maintenance windows on the shipped ipSCAPE policy: lead times, refusals, notices once, calendars, the ack line.

Every expected instant here is worked by hand from the guide (seed 000, section 3) and the
Sydney business calendar (Monday to Friday 09:00-18:00, New South Wales holidays).
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.maintenance import lifecycle, windows
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Event, MaintenanceWindow, OutboxMessage
from gateway.timekeeping.maintenance import MaintenanceScheduler
from tests.support import customer_mail

POLICY = Path(__file__).resolve().parents[2] / "examples" / "policies" / "ipscape.toml"
SYD = ZoneInfo("Australia/Sydney")
STATUS = ["it-status@tailspin.example", "noc@northwind.example", "status@contoso.example"]


def syd(*args: int) -> datetime:
    return datetime(*args, tzinfo=SYD)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(syd(2026, 12, 9, 10, 0).astimezone(UTC))  # Wednesday


@pytest.fixture
def app(tmp_path: Path, database: Database, clock: FakeClock) -> App:
    config = load_config(POLICY)
    config = replace(config, gateway=replace(config.gateway, data_dir=tmp_path))
    return build_app(config, clock, db=database)


def ask(kind: str, start: datetime, hours: int = 4, **keys: object) -> windows.Schedule:
    return windows.Schedule(kind=kind, title="Core switch replacement", text="We replace the core switch.",
                            starts_at=start, ends_at=start + timedelta(hours=hours),
                            organisations=keys.pop("organisations", None),  # type: ignore[arg-type]
                            by="sam", force=bool(keys.pop("force", False)))


def schedule(app: App, asked: windows.Schedule) -> int:
    with app.db.transaction() as session:
        window = windows.schedule(session, app.config, asked, app.clock.now())
        lifecycle.advance(session, app, window, app.clock.now())
        return window.id


def mails(app: App, kind: str | None = None) -> list[OutboxMessage]:
    with app.db.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.cause_key.startswith("maintenance:"))
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        rows = list(session.scalars(query.order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def at(app: App, clock: FakeClock, instant: datetime) -> None:
    clock.set(instant.astimezone(UTC))
    MaintenanceScheduler(app).run_due()


def test_lead_times_are_read_from_the_calendar(app: App) -> None:
    kinds = app.config.maintenance.kinds
    calendar = windows.lead_calendar(app.config)
    told_by = windows.told_by
    # Saturday 19 December 22:00: five business days before are Monday 14 to Friday 18.
    assert told_by(kinds["with-downtime"].notice, syd(2026, 12, 19, 22, 0), calendar) == syd(2026, 12, 14, 9, 0)
    # Saturday 2 January 2027: Friday 1 January (New Year's Day), Monday 28 December (Boxing Day,
    # moved from the Saturday) and Friday 25 (Christmas) are holidays in New South Wales; the five
    # business days are Wednesday 23, Thursday 24, Tuesday 29, Wednesday 30 and Thursday 31.
    assert told_by(kinds["with-downtime"].notice, syd(2027, 1, 2, 22, 0), calendar) == syd(2026, 12, 23, 9, 0)
    # A Wednesday 14:00 start: the same point of the day, five business days before.
    assert told_by(kinds["with-downtime"].notice, syd(2026, 12, 16, 14, 0), calendar) == syd(2026, 12, 9, 14, 0)
    # Clock hours count every hour: 48 before, never fewer than 24.
    assert told_by(kinds["no-downtime"].notice, syd(2026, 12, 22, 20, 0), calendar) == syd(2026, 12, 20, 20, 0)
    assert told_by(kinds["no-downtime"].minimum, syd(2026, 12, 22, 20, 0), calendar) == syd(2026, 12, 21, 20, 0)
    assert told_by(kinds["emergency-no-downtime"].notice, syd(2026, 12, 22, 20, 0), calendar) is None


def test_too_late_is_refused_and_names_the_deadline_unless_forced(app: App) -> None:
    with pytest.raises(windows.MaintenanceRefused, match=r"5 business days.*2026-12-06T22:00:00\+00:00.*--force"):
        schedule(app, ask("with-downtime", syd(2026, 12, 12, 22, 0)))
    assert mails(app) == []
    window_id = schedule(app, ask("with-downtime", syd(2026, 12, 12, 22, 0), force=True))
    with app.db.sessions() as session:
        window = session.get(MaintenanceWindow, window_id)
        assert window is not None and window.forced and window.noticed_at == app.clock.now()
    # Forced: told at once, all three status contacts (Fabrikam has none).
    assert sorted(m.rcpt_to[0] for m in mails(app, "maintenance-notice")) == STATUS


@pytest.mark.parametrize("bad, reason", [
    ({"kind": "weekly"}, "no maintenance kind 'weekly'; the kinds are no-downtime"),
    ({"hours": -1}, "ends before it starts"),
    ({"organisations": ("Nobody Ltd",)}, "no organisation 'Nobody Ltd'"),
])
def test_a_bad_schedule_says_what_is_wrong(app: App, bad: dict[str, object], reason: str) -> None:
    asked = ask(str(bad.get("kind", "no-downtime")), syd(2026, 12, 30, 22, 0), int(bad.get("hours", 2)),  # type: ignore[call-overload]
                organisations=bad.get("organisations"))
    with pytest.raises(windows.MaintenanceRefused, match=reason):
        schedule(app, asked)


def test_notice_reminder_completion_each_once_in_each_zone(app: App, clock: FakeClock) -> None:
    schedule(app, ask("with-downtime", syd(2026, 12, 19, 22, 0)))
    at(app, clock, syd(2026, 12, 14, 8, 59))
    assert mails(app) == []
    at(app, clock, syd(2026, 12, 14, 9, 0))
    notices = mails(app, "maintenance-notice")
    assert sorted(m.rcpt_to[0] for m in notices) == STATUS
    london = next(m for m in notices if m.rcpt_to[0] == "it-status@tailspin.example")
    assert "Saturday 19 December 2026 11:00 GMT" in " ".join(text_of(london).split())
    at(app, clock, syd(2026, 12, 19, 22, 0))
    for _ in range(2):  # a second run, and a second scheduler, find nothing more to do
        at(app, clock, syd(2026, 12, 20, 3, 0))
        MaintenanceScheduler(app).run_due()
    assert [len(mails(app, k)) for k in ("maintenance-notice", "maintenance-started", "maintenance-completed")] == \
        [3, 3, 3]
    # The later mails thread under the notice, per contact.
    started = next(m for m in mails(app, "maintenance-started") if m.rcpt_to[0] == "status@contoso.example")
    first = next(m for m in notices if m.rcpt_to[0] == "status@contoso.example")
    assert parsed(started)["In-Reply-To"] == first.message_id


def test_the_notice_carries_the_window_and_a_cancellation_removes_it(app: App, clock: FakeClock) -> None:
    window_id = schedule(app, ask("no-downtime", syd(2026, 12, 22, 20, 0), organisations=("Northwind Travel",)))
    at(app, clock, syd(2026, 12, 20, 20, 0))
    [notice] = mails(app, "maintenance-notice")
    assert notice.rcpt_to == ["noc@northwind.example"]
    event = calendar_of(notice)
    assert str(event["uid"]).startswith(f"maintenance-{window_id}@")
    assert event.decoded("dtstart") == syd(2026, 12, 22, 20, 0)
    assert event.decoded("dtend") == syd(2026, 12, 23, 0, 0)
    with app.db.transaction() as session:
        window = session.get(MaintenanceWindow, window_id)
        assert window is not None
        assert lifecycle.cancel_now(session, app, window, "Withdrawn.", clock.now()) == ["noc@northwind.example"]
    [cancelled] = mails(app, "maintenance-cancelled")
    gone = calendar_of(cancelled)
    assert (str(gone["uid"]), gone["status"], gone["sequence"]) == (str(event["uid"]), "CANCELLED", 1)
    at(app, clock, syd(2026, 12, 23, 1, 0))  # nothing starts or completes once cancelled
    assert len(mails(app)) == 2


def test_an_emergency_without_downtime_tells_nobody_but_the_ack_mentions_it(app: App, clock: FakeClock,
                                                                            database: Database) -> None:
    schedule(app, ask("emergency-no-downtime", syd(2026, 12, 9, 10, 30), organisations=("Contoso Contact Centre",)))
    at(app, clock, syd(2026, 12, 9, 11, 0))
    for sender, subject in (("ops@contoso.example", "Slow reports"), ("noc@fabrikam.example", "Slow reports too")):
        store_inbound(database, customer_mail(sender, subject, "The reports are slow to load this morning."),
                      source="test", envelope=Envelope(sender, ("support@ipscape.example",)), received_at=clock.now())
    Processor(app).drain()
    at(app, clock, syd(2026, 12, 9, 15, 0))
    assert mails(app) == []  # "No notification"
    with app.db.sessions() as session:
        acks = {o.rcpt_to[0]: " ".join(text_of(o).split()) for o in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement"))}
        linked = [e.ticket_id for e in session.scalars(select(Event).where(Event.kind == "maintenance-window"))]
    assert "Emergency change - no downtime is under way: Core switch replacement, until Wednesday 9 " \
           "December 2026 14:30 AEDT." in acks["ops@contoso.example"]
    assert "under way" not in acks["noc@fabrikam.example"]  # not an organisation it affects
    assert len(linked) == 1


def test_a_batch_of_mails_sees_each_window_under_way_at_its_own_instant(app: App, clock: FakeClock,
                                                                         database: Database) -> None:
    """One transaction for the batch: each acknowledgement still names what was under way as that mail
    arrived, including a window that started more than an hour after the batch's first mail."""
    first = schedule(app, ask("emergency-no-downtime", syd(2026, 12, 9, 10, 30), hours=1))
    second = schedule(app, ask("emergency-no-downtime", syd(2026, 12, 9, 12, 0), hours=1))
    at(app, clock, syd(2026, 12, 9, 10, 45))  # a backlog: mails of the morning processed late
    received = {"before@contoso.example": syd(2026, 12, 9, 10, 20), "during@contoso.example": syd(2026, 12, 9, 10, 45),
                "between@contoso.example": syd(2026, 12, 9, 11, 40), "later@contoso.example": syd(2026, 12, 9, 12, 10)}
    clock.set(syd(2026, 12, 9, 12, 15).astimezone(UTC))
    for sender, when in received.items():
        store_inbound(database, customer_mail(sender, "Slow reports", "The reports are slow to load this morning."),
                      source="test", envelope=Envelope(sender, ("support@ipscape.example",)),
                      received_at=when.astimezone(UTC))
    assert len(Processor(app).process_batch()) == 4  # the four in one transaction
    with app.db.sessions() as session:
        acks = {o.rcpt_to[0]: " ".join(text_of(o).split()) for o in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement"))}
        linked = sorted(e.detail["maintenance"] for e in session.scalars(
            select(Event).where(Event.kind == "maintenance-window")))
    assert len(acks) == 4
    assert [sender for sender, text in acks.items() if "under way" in text] == ["during@contoso.example",
                                                                               "later@contoso.example"]
    assert "until Wednesday 9 December 2026 11:30 AEDT" in acks["during@contoso.example"]
    assert "until Wednesday 9 December 2026 13:00 AEDT" in acks["later@contoso.example"]
    assert linked == [first, second]


def parsed(row: OutboxMessage) -> EmailMessage:
    mail = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def text_of(row: OutboxMessage) -> str:
    body = parsed(row).get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def calendar_of(row: OutboxMessage) -> Any:
    [part] = [p for p in parsed(row).iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = Calendar.from_ical(part.get_payload(decode=True))
    assert cal["method"] == ("CANCEL" if row.kind == "maintenance-cancelled" else "PUBLISH")
    [event] = cal.walk("VEVENT")
    return event


def test_after_a_long_stop_nothing_is_announced_that_is_over(app: App, clock: FakeClock) -> None:
    """The gateway was down from before the notice until after the work: no notice of work that is done,
    no "starting now" and no completion of work nobody was told of; the window is closed all the same."""
    window_id = schedule(app, ask("no-downtime", syd(2026, 12, 22, 20, 0)))
    at(app, clock, syd(2026, 12, 23, 9, 0))
    assert mails(app) == []
    with app.db.sessions() as session:
        window = session.get(MaintenanceWindow, window_id)
        assert window is not None and (window.status, window.next_at) == ("completed", None)
