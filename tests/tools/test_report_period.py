"""A report replays only the tickets its period can count, and counts what the whole history says.

Tickets that span the period's start (Wednesday 25 November, London, on UTC in November): a clock
started on Tuesday and stopped on Wednesday; one stopped before Wednesday, not counted; one that
fell due on Wednesday with nothing written that day; one paused since Monday (and whose clock was
withdrawn on Thursday); one stopped only after the period; a priority lowered on Tuesday; a
ticket reopened on Wednesday. Each figure is
worked out by hand, and each period's runs are compared with those of the whole replay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.app import App
from gateway.clock import FakeClock
from gateway.processing.worker import Processor
from gateway.reports.sla_history import Run, clock_runs
from gateway.reports.sla_report import report
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Ticket
from gateway.tickets.workflow import public_update, set_priority, set_status
from gateway.timekeeping.scheduler import SlaScheduler
from tests import worlds
from tests.support import customer_mail

# P2 round the clock: answered in 15 minutes, resolved in 4 hours. P3 in London business hours
# (09:00-17:00): answered in 4 business hours, resolved in 16. P4: answered in 8, no resolution clock.
POLICY = worlds.world(
    worlds.UK_CALENDAR,
    worlds.plan(default_priority="P3", priorities={
        "P2": {"first_response": "15m", "resolution": "4h", "calendar": "24x7"},
        "P3": {"first_response": "4 business hours", "resolution": "16 business hours"},
        "P4": {"first_response": "8 business hours"},
    }),
    worlds.OWN_RULES,
    worlds.rule("zebra", ["zebra"], priority="P2"),
)
WEDNESDAY = (datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))


def _on(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _open(app: App, sender: str, subject: str) -> int:
    store_inbound(app.db, customer_mail(sender, subject, "Please help."), source="t",
                  envelope=Envelope(sender, ("support@example.com",)), received_at=app.clock.now())
    Processor(app).drain()
    with app.db.sessions() as session:
        return max(t.id for t in session.query(Ticket))


def _do(app: App, clock: FakeClock, when: datetime, number: int, action: Callable[..., None], *args: str) -> None:
    clock.set(when)
    with app.db.transaction() as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None
        action(session, app, ticket, *args, when, "dana")


@pytest.fixture
def desk(make_app: Callable[..., App], clock: FakeClock) -> tuple[App, dict[str, int]]:
    app = make_app("max_per_address_per_hour = 100\n" + POLICY)
    t: dict[str, int] = {}
    clock.set(_on(23, 10))
    t["before"] = _open(app, "ann@customer.example", "zebra one")       # P2, all settled on Monday
    _do(app, clock, _on(23, 10, 5), t["before"], public_update)
    _do(app, clock, _on(23, 12), t["before"], set_status, "resolved")
    clock.set(_on(23, 11))
    t["paused"] = _open(app, "bob@customer.example", "zebra two")       # P2, pending since Monday
    _do(app, clock, _on(23, 11, 5), t["paused"], public_update)
    _do(app, clock, _on(23, 11, 10), t["paused"], set_status, "pending")
    clock.set(_on(23, 14))
    t["reopened"] = _open(app, "cat@customer.example", "zebra three")   # P2, resolved Monday, reopened
    _do(app, clock, _on(23, 14, 5), t["reopened"], public_update)
    _do(app, clock, _on(23, 15), t["reopened"], set_status, "resolved")
    clock.set(_on(24, 15))
    t["lowered"] = _open(app, "dan@customer.example", "zebra four")     # P2, lowered to P3 on Tuesday
    _do(app, clock, _on(24, 15, 10), t["lowered"], set_priority, "P3")
    clock.set(_on(24, 16))
    t["spans"] = _open(app, "eve@customer.example", "question five")    # P3: due Wednesday 12:00
    clock.set(_on(24, 16, 30))
    t["silent"] = _open(app, "fay@customer.example", "question six")    # P3: due Wednesday 12:30
    clock.set(_on(24, 19))
    t["late"] = _open(app, "gus@customer.example", "zebra seven")       # P2: due 19:15, resolved by 23:00
    clock.set(_on(24, 21))
    SlaScheduler(app).run_due()                                          # the first response breached at 21:00
    _do(app, clock, _on(25, 9), t["late"], public_update)
    _do(app, clock, _on(25, 10), t["late"], set_status, "resolved")     # 11 hours after 23:00
    _do(app, clock, _on(25, 10), t["lowered"], public_update)
    _do(app, clock, _on(25, 10), t["reopened"], set_status, "open")     # 3 hours left: due 13:00
    _do(app, clock, _on(25, 11), t["spans"], public_update)
    _do(app, clock, _on(25, 12), t["reopened"], set_status, "resolved")
    _do(app, clock, _on(26, 10), t["silent"], public_update)            # after the period
    # After the period, the paused one lowered to a priority with no resolution clock: its clock's
    # row is gone, its run waited paused through Wednesday all the same.
    _do(app, clock, _on(26, 11), t["paused"], set_priority, "P4")
    clock.set(_on(26, 12))
    return app, t


def _counted(runs: list[Run], start: datetime, end: datetime, known: datetime) -> list[tuple[Any, ...]]:
    """What a report over [start, end) as known at ``known`` counts of ``runs``, in full."""
    out = []
    for r in runs:
        outcome, at = r.outcome(known)
        if (at is not None and start <= at < end) or (at is None and r.started < end):
            out.append((r.ticket, r.clock, r.started, r.priority, r.target, r.deadline, r.ended, r.met,
                        r.breached, r.paused_since, tuple(r.pauses), r.automatic, outcome, at))
    return sorted(out, key=repr)


def test_a_day_counts_what_spans_its_start_as_the_whole_history_does(desk: tuple[App, dict[str, int]]) -> None:
    app, t = desk
    with app.db.sessions() as session:
        data = report(session, app.config.policy, *WEDNESDAY, now=app.clock.now())
        replayed = {r.ticket for r in clock_runs(session, WEDNESDAY[1], since=WEDNESDAY[0])}
    # Settled on Monday: not even read. The paused one and the one that fell due in silence are,
    # though nothing was written of them on Wednesday.
    assert replayed == set(t.values()) - {t["before"]}
    rows = {r["clock"]: r for r in data["rows"]}
    first = rows["first_response"]
    # Lowered: its P3 promise from Tuesday 15:10 kept at 10:00 (the P2 one withdrawn); "spans": Tuesday
    # 16:00 to 11:00; "silent": missed at 12:30 with nothing written; "late" breached on Tuesday.
    assert (first["due"], first["met"], first["missed"], first["running"], first["paused"]) == (3, 2, 1, 0, 0)
    assert first["wall_minutes"] == {"median": 1135.0, "mean": 1135.0, "p90": 1140.0}  # 18 h 50, 19 h
    assert first["business_minutes"] == {"median": 175.0, "mean": 175.0, "p90": 180.0}  # 110 + 60, 60 + 120
    resolution = rows["resolution"]
    # "late" resolved 11 hours after 23:00; "reopened" resolved within its 4 hours (1 on Monday, 2 on
    # Wednesday); the three P3 resolutions run into Thursday; "paused" waits since Monday.
    assert (resolution["due"], resolution["met"], resolution["missed"]) == (2, 1, 1)
    assert (resolution["running"], resolution["paused"]) == (3, 1)
    assert resolution["wall_minutes"] == {"median": 540.0, "mean": 540.0, "p90": 900.0}  # 180, 900
    breaches = [(b["ticket"], b["clock"], b["late_wall_minutes"], b["late_business_minutes"], b["settled"])
                for b in data["breaches"]]
    assert breaches == [(t["late"], "resolution", 660.0, None, True),
                        (t["silent"], "first_response", 690.0, 270.0, False)]


@pytest.mark.parametrize("period", [
    (_on(23, 0), _on(24, 0)), (_on(24, 0), _on(25, 0)), WEDNESDAY, (_on(25, 11, 30), _on(25, 12, 30)),
    (_on(26, 0), _on(27, 0)), (_on(27, 0), _on(28, 0)), (_on(16, 0), _on(30, 0)), (_on(24, 20), _on(26, 11))])
def test_each_period_counts_the_runs_the_whole_replay_counts(desk: tuple[App, dict[str, int]],
                                                            period: tuple[datetime, datetime]) -> None:
    app, _t = desk
    start, end = period
    known = min(end, app.clock.now())
    with app.db.sessions() as session:
        whole = _counted(clock_runs(session, known), start, end, known)
        bounded = _counted(clock_runs(session, known, since=start), start, end, known)
    assert bounded == whole
    assert whole or start > app.clock.now()
