"""The SLA scheduler on a real database: notices once per cause, pauses that keep the time left."""

from __future__ import annotations

import email
import email.policy
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Message, OutboxMessage, SlaClock, Ticket
from gateway.tickets.workflow import set_priority, set_status
from gateway.timekeeping.scheduler import SlaScheduler
from tests import worlds
from tests.support import customer_mail

POLICY = worlds.world(
    worlds.UK_CALENDAR,
    worlds.P1_UPDATED_EVERY_30M,
    worlds.OWN_RULES,
    worlds.rule("outage", ["down"], "Everything is down.", priority="P1"),
)


def _app(make_app: Callable[..., App]) -> App:
    return make_app("max_per_address_per_hour = 100\n" + POLICY)


def _open(app: App, n: int, subject: str = "site down") -> None:
    env = Envelope("c@customer.example", ("support@example.com",))
    for i in range(n):
        store_inbound(app.db, customer_mail(f"c{i}@customer.example", subject, "help"), source="t", envelope=env,
                      received_at=app.clock.now())
    Processor(app).drain()


def _kinds(app: App) -> Counter[str]:
    with app.db.sessions() as s:
        return Counter(s.scalars(select(OutboxMessage.kind)))


def test_two_schedulers_and_a_restart_emit_each_notice_once(make_app: Callable[..., App], clock: FakeClock) -> None:
    app = _app(make_app)
    _open(app, 30)
    assert _kinds(app) == {"acknowledgement": 30}
    clock.advance(timedelta(minutes=31))
    # Two scheduler instances (as two processes would run) wake at the same deadline.
    other = build_app(app.config, clock, db=Database(app.db.url, schema=app.db.schema))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def wake(a: App) -> None:
        try:
            barrier.wait()
            SlaScheduler(a).run_due()
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=wake, args=(a,)) for a in (app, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.db.dispose()
    assert not errors
    assert _kinds(app) == {"acknowledgement": 30, "update-notice": 30}
    with app.db.sessions() as s:
        raw = s.scalars(select(OutboxMessage.raw).where(OutboxMessage.kind == "update-notice")).first()
    assert raw is not None
    body = email.message_from_bytes(raw, policy=email.policy.default).get_content().replace("\r\n", "\n")
    assert "at the latest.\n\nYou can add information" in body  # its own paragraph
    # A restarted scheduler at the same instant finds nothing left to send.
    restarted = build_app(app.config, clock, db=Database(app.db.url, schema=app.db.schema))
    assert SlaScheduler(restarted).run_due() == 0
    restarted.db.dispose()
    assert _kinds(app)["update-notice"] == 30


def test_wake_up_claims_only_due_tickets(make_app: Callable[..., App], clock: FakeClock) -> None:
    app = _app(make_app)
    _open(app, 3)                                  # P1: due in 15 minutes (first response)
    _open(app, 5, subject="question about invoices")  # P3: due in 4 business hours
    clock.advance(timedelta(minutes=16))
    assert SlaScheduler(app).run_due() == 3


def test_pending_for_two_days_resumes_with_the_time_left(make_app: Callable[..., App], clock: FakeClock) -> None:
    app = _app(make_app)
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))   # Monday 10:00 London: P3, 4 business hours
    _open(app, 1, subject="question about invoices")
    with app.db.sessions() as s:
        first = s.scalars(select(SlaClock).where(SlaClock.name == "first_response")).one()
    assert first.deadline == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=UTC))   # one business hour used, three left
    with app.db.transaction() as s:
        set_status(s, app, s.get(Ticket, 1), "pending", clock.now(), "dana")  # type: ignore[arg-type]
    clock.set(datetime(2026, 11, 25, 11, 0, tzinfo=UTC))   # two days later the customer answers
    SlaScheduler(app).run_due()
    with app.db.transaction() as s:
        set_status(s, app, s.get(Ticket, 1), "open", clock.now(), "customer")  # type: ignore[arg-type]
    with app.db.sessions() as s:
        first = s.scalars(select(SlaClock).where(SlaClock.name == "first_response")).one()
    # Wednesday 11:00 + the three business hours left = 14:00, not a fresh 4 hours (15:00)
    # and not exhausted (breached at once).
    assert first.deadline == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert first.breached_at is None


def test_a_raised_priority_restarts_every_running_clock_on_its_targets(make_app: Callable[..., App],
                                                                        clock: FakeClock) -> None:
    """P3 -> P1 five minutes in: first response due 15 minutes after the change, updates every 30."""
    app = _app(make_app)
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    _open(app, 1, subject="question about invoices")
    changed = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
    with app.db.transaction() as s:
        set_priority(s, app, s.get(Ticket, 1), "P1", changed, "dana")  # type: ignore[arg-type]
    with app.db.sessions() as s:
        deadlines = {c.name: c.deadline for c in s.scalars(select(SlaClock))}
        ticket = s.get(Ticket, 1)
        assert ticket is not None
    assert deadlines == {"first_response": changed + timedelta(minutes=15),
                         "update": changed + timedelta(minutes=30)}
    assert ticket.next_deadline is not None and ticket.next_deadline <= changed + timedelta(minutes=15)


def test_a_reply_that_waited_in_the_mailbox_resumes_the_clock_from_its_arrival(
        make_app: Callable[..., App], clock: FakeClock) -> None:
    """The gateway was down while the customer's answer sat in the mailbox (IMAP keeps when it
    arrived): the paused clock runs again from then, not from when the gateway read it."""
    app = _app(make_app)
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))   # Monday 10:00 London: P3, 4 business hours
    _open(app, 1, subject="question about invoices")
    clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=UTC))   # one business hour used, three left
    with app.db.transaction() as s:
        set_status(s, app, s.get(Ticket, 1), "pending", clock.now(), "dana")  # type: ignore[arg-type]
    arrived = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)    # Wednesday 11:00 the answer arrives ...
    clock.set(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))   # ... and is read at 14:00
    reply = customer_mail("c0@customer.example", "Re: question about invoices", "here it is",
                          extra={"In-Reply-To": _first_message_id(app)})
    store_inbound(app.db, reply, source="imap", envelope=Envelope(None, ()), received_at=clock.now(),
                  source_key="imap:support:1:7", arrived_at=arrived)
    assert Processor(app).drain() == {"reply": 1}
    with app.db.sessions() as s:
        first = s.scalars(select(SlaClock).where(SlaClock.name == "first_response")).one()
        ticket = s.get(Ticket, 1)
        assert ticket is not None
    assert ticket.status == "open" and ticket.status_since == arrived
    assert first.deadline == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 11:00 + the three hours left


def _first_message_id(app: App) -> str:
    with app.db.sessions() as s:
        mid = s.scalar(select(Message.message_id).where(Message.direction == "in").order_by(Message.id).limit(1))
    assert mid is not None
    return mid
