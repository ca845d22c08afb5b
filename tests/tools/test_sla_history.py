"""The runs a report counts: a promise replaced before it fell due, and one made and kept at once, are not counted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from gateway.app import App
from gateway.clock import FakeClock
from gateway.processing.worker import Processor
from gateway.reports.sla_report import report
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Ticket
from gateway.tickets.workflow import public_update, set_priority, set_status
from gateway.timekeeping.scheduler import SlaScheduler
from tests import worlds
from tests.support import customer_mail

# P1: first response in 15 minutes and an update every 30, round the clock; P3: 4 business hours.
POLICY = worlds.world(worlds.UK_CALENDAR, worlds.P1_UPDATED_EVERY_30M, worlds.OWN_RULES,
                      worlds.rule("zebra", ["zebra"], priority="P1"))
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # London is on UTC in November
DAY = (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))


def _open(app: App, sender: str, subject: str) -> int:
    store_inbound(app.db, customer_mail(sender, subject, "Please help."), source="t",
                  envelope=Envelope(sender, ("support@example.com",)), received_at=app.clock.now())
    Processor(app).drain()
    with app.db.sessions() as session:
        return max(t.id for t in session.query(Ticket))


def _do(app: App, number: int, action: Callable[..., None], *args: str) -> None:
    with app.db.transaction() as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None
        action(session, app, ticket, *args, app.clock.now(), "dana")


def _at(clock: FakeClock, app: App, minutes: int) -> None:
    clock.set(MONDAY + timedelta(minutes=minutes))
    SlaScheduler(app).run_due()


def _day(app: App) -> dict[str, dict[str, object]]:
    with app.db.sessions() as session:
        data = report(session, app.config.policy, *DAY)
    return {"rows": {r["clock"]: r for r in data["rows"]},
            "breaches": [(b["ticket"], b["priority"], b["clock"], b["late_wall_minutes"], b["settled"])
                         for b in data["breaches"]]}


@pytest.fixture
def app(make_app: Callable[..., App], clock: FakeClock) -> App:
    clock.set(MONDAY)
    return make_app("max_per_address_per_hour = 100\n" + POLICY)


def test_a_promise_replaced_by_a_priority_change_is_not_due_unless_it_had_already_breached(
        app: App, clock: FakeClock) -> None:
    raised = _open(app, "ann@customer.example", "a question")   # P3 at 10:00: first response by 14:00
    lowered = _open(app, "bob@customer.example", "zebra down")  # P1 at 10:00: first response by 10:15
    _at(clock, app, 20)                                          # the P1's first response breached at 10:15
    _do(app, raised, set_priority, "P1")                          # 10:20: now due 10:35
    _do(app, lowered, set_priority, "P3")                         # 10:20: now due 14:20
    _at(clock, app, 30)
    _do(app, raised, public_update)                               # kept, 10 minutes after it was raised
    _do(app, lowered, public_update)                              # the P3 promise kept
    _do(app, raised, set_status, "resolved")                      # no more updates owed
    _at(clock, app, 5 * 60)                                       # 15:00: past the P3 promise Ann had
    day = _day(app)
    first = day["rows"]["first_response"]
    # Ann's P3 promise gave way to the P1 one, kept: one promise, kept. Bob's P1 promise was broken
    # before it was lowered (5 minutes late when it was replaced), and his P3 one kept.
    assert (first["due"], first["met"], first["missed"]) == (3, 2, 1)
    assert day["breaches"] == [(lowered, "P1", "first_response", 5.0, True)]


def test_the_reply_that_resolves_a_ticket_owes_no_further_update(app: App, clock: FakeClock) -> None:
    number = _open(app, "ann@customer.example", "zebra down")   # P1 at 10:00: updates every 30 minutes
    _at(clock, app, 10)
    _do(app, number, public_update)                             # the first update, 10 minutes in
    _at(clock, app, 25)
    with app.db.transaction() as session:                       # "Fixed now" with #status resolved
        ticket = session.get(Ticket, number)
        assert ticket is not None
        public_update(session, app, ticket, clock.now(), "dana")
        set_status(session, app, ticket, "resolved", clock.now(), "dana")
    update = _day(app)["rows"]["update"]
    # Two updates were owed (10:00-10:10, 10:10-10:25), both given: the reply that resolved the
    # ticket started no third promise.
    assert (update["due"], update["met"]) == (2, 2)
    assert update["wall_minutes"] == {"median": 12.5, "mean": 12.5, "p90": 15.0}
