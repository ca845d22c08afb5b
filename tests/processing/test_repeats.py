"""Repeats of one alert fold into one ticket: a monitoring loop opens a few tickets, not thousands."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from gateway.app import App
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.processing import repeats
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Base, OutboxMessage, SlaClock, Ticket
from gateway.tickets.workflow import set_status
from gateway.tools.explain import explain, format_explanation
from gateway.tools.views import show_ticket
from tests import worlds
from tests.support import customer_mail, wait_for

MONITOR = "Monitoring <alerts@monitoring.example>"


class Desk:
    def __init__(self, app: App, clock: FakeClock) -> None:
        self.app, self.clock = app, clock
        self.sent = 0

    def alert(self, subject: str | None = None, sender: str = MONITOR) -> str:
        """One more alert, a minute after the last; its outcome."""
        self.sent += 1
        self.clock.advance(timedelta(minutes=1))
        raw = customer_mail(sender, subject or f"ALERT {4100 + self.sent}: db{self.sent % 3} down",
                            f"CRITICAL: host db{self.sent % 3}.prod is unreachable (check {self.sent})")
        store_inbound(self.app.db, raw, source="smtp", envelope=Envelope("alerts@monitoring.example",
                                                                         ("support@example.com",)),
                      received_at=self.clock.now())
        outcome = Processor(self.app).process_one()
        assert outcome is not None
        return outcome

    def tickets(self) -> list[dict[str, Any]]:
        with self.app.db.sessions() as session:
            numbers = session.scalars(select(Ticket.id).order_by(Ticket.id)).all()
            return [t for n in numbers if (t := show_ticket(session, n)) is not None]

    def set_status(self, number: int, status: str) -> None:
        """An engineer sets the ticket's status."""
        with self.app.db.transaction() as session:
            ticket = session.get(Ticket, number)
            assert ticket is not None
            set_status(session, self.app, ticket, status, self.clock.now(), "dana")

    def count(self, what: Any) -> int:
        with self.app.db.sessions() as session:
            return session.scalar(select(func.count()).select_from(what)) or 0


# Every priority promised a first response, round the clock: each ticket opened starts a clock.
PROMISES = worlds.world(worlds.UK_CALENDAR, worlds.plan(priorities={
    p: {"first_response": "1h", "calendar": "24x7"} for p in ("P1", "P2", "P3", "P4")}))


@pytest.fixture
def desk(make_app: Callable[..., App], clock: FakeClock) -> Desk:
    return Desk(make_app(PROMISES), clock)


def test_a_monitoring_loop_opens_five_tickets_and_its_repeats_join_the_fifth(desk: Desk) -> None:
    outcomes = [desk.alert() for _ in range(12)]

    assert outcomes == ["ticket"] * 5 + ["repeat"] * 7
    tickets = desk.tickets()
    assert len(tickets) == 5
    fifth = tickets[-1]
    assert fifth["repeats"] == 7 and fifth["last_repeat_at"] == desk.clock.now().isoformat()
    assert [m["kind"] for m in fifth["messages"] if m["direction"] == "in"] == ["customer"] + ["repeat"] * 7
    assert [e["detail"]["count"] for e in fifth["events"] if e["kind"] == "repeat"] == list(range(1, 8))
    # Every mail is stored; only the five tickets are acknowledged, and only they have clocks.
    assert sum(1 for t in tickets for m in t["messages"] if m["direction"] == "in") == 12
    assert desk.count(select(OutboxMessage.id).where(OutboxMessage.kind == "acknowledgement").subquery()) == 5
    with desk.app.db.sessions() as session:
        assert set(session.scalars(select(SlaClock.ticket_id))) == {t["number"] for t in tickets}


def test_a_customer_writing_twice_with_one_subject_opens_two_tickets(desk: Desk) -> None:
    customer = "Alice <alice@acme.example>"
    assert [desk.alert("Invoice 1234 is wrong", sender=customer) for _ in range(2)] == ["ticket", "ticket"]
    assert [desk.alert("Login fails", sender=customer) for _ in range(4)] == ["ticket"] * 4


def test_other_shapes_and_other_senders_are_not_repeats(desk: Desk) -> None:
    for _ in range(5):
        desk.alert()
    assert desk.alert("ALERT 9999: disk full on web3") == "ticket"  # other words: another alert
    assert desk.alert(sender="Other Monitor <alerts@other.example>") == "ticket"
    assert desk.alert() == "repeat"


def test_the_fold_lasts_while_repeats_come_and_ends_after_a_quiet_window(desk: Desk) -> None:
    for _ in range(5):
        desk.alert()
    for _ in range(4):  # every 50 minutes for over three hours: each within an hour of the last
        desk.clock.advance(timedelta(minutes=49))
        assert desk.alert() == "repeat"
    desk.clock.advance(timedelta(hours=2))  # quiet: the same alert again is a new occurrence
    assert desk.alert() == "ticket"
    assert len(desk.tickets()) == 6


def test_once_its_ticket_is_resolved_the_next_alert_opens_a_new_one_which_then_folds(desk: Desk) -> None:
    for _ in range(6):
        desk.alert()
    fifth = desk.tickets()[-1]["number"]
    desk.set_status(fifth, "resolved")
    assert [desk.alert(), desk.alert()] == ["ticket", "repeat"]
    assert desk.tickets()[-1]["repeats"] == 1


def test_a_repeat_on_a_ticket_waiting_for_the_customer_reopens_it(desk: Desk) -> None:
    for _ in range(5):
        desk.alert()
    fifth = desk.tickets()[-1]["number"]
    desk.set_status(fifth, "pending")
    assert desk.alert() == "repeat"
    assert desk.tickets()[-1]["status"] == "open"


def test_explain_says_a_mail_would_be_a_repeat_and_not_acknowledged(desk: Desk) -> None:
    for _ in range(5):
        desk.alert()
    fifth = desk.tickets()[-1]["number"]
    found = explain(desk.app, customer_mail(MONITOR, "ALERT 77: db2 down", "CRITICAL"), at=desk.clock.now())
    assert (found["outcome"], found["ticket"], found["acknowledge"]) == ("repeat", fifth, False)
    assert f"repeats ticket #{fifth}" in found["reason"]
    assert found["thread"]["repeat_of"] == fifth
    assert f"Thread:      ticket #{fifth}, as a repeat" in format_explanation(found)


def test_repeats_after_zero_turns_the_folding_off(make_app: Callable[..., App], clock: FakeClock) -> None:
    desk = Desk(make_app(worlds.world(PROMISES, worlds.table("processing", repeats_after=0))), clock)
    assert [desk.alert() for _ in range(8)] == ["ticket"] * 8


@pytest.mark.parametrize("bad", ["-1", "1001", '"5"', "true", "2.5"])
def test_a_bad_repeats_after_is_refused_naming_the_key(bad: str) -> None:
    text = worlds.world(worlds.gateway("/tmp/unused"), f"[processing]\nrepeats_after = {bad}\n")
    with pytest.raises(ConfigError, match=r"processing\.repeats_after.*repeats_after = 5"):
        load_config(None, text=text)


def _waiting_for_a_lock(desk: Desk) -> bool:
    with desk.app.db.sessions() as session:
        return bool(session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


def test_two_workers_counting_repeats_at_once_lose_none(desk: Desk) -> None:
    """PostgreSQL, several processes: a repeat counted while another worker holds the ticket's row
    (counting one of its own) adds to that count once it commits, instead of overwriting it."""
    if desk.app.db.is_sqlite:
        pytest.skip("SQLite has one writer: no two workers ever count at once")
    for _ in range(5):
        desk.alert()
    fifth = desk.tickets()[-1]["number"]
    other = desk.app.db.engine.connect()
    other_tx = other.begin()
    other.execute(text("UPDATE tickets SET repeats = repeats + 1 WHERE id = :id"), {"id": fifth})
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(desk.alert()))
    worker.start()
    try:
        wait_for(lambda: _waiting_for_a_lock(desk) or not worker.is_alive(),
                 what="the repeat to wait for the other worker's row lock")
        assert worker.is_alive(), "the repeat did not wait for the ticket's row"
    finally:
        other_tx.commit()
        other.close()
        worker.join(timeout=30)
    assert outcome == ["repeat"]
    ticket = desk.tickets()[-1]
    assert ticket["repeats"] == 2  # the other worker's and this one's
    assert [e["detail"]["count"] for e in ticket["events"] if e["kind"] == "repeat"] == [2]


def test_the_migration_makes_what_the_model_says_and_the_lookups_search_its_index(database: Database) -> None:
    """The two lookups every new ticket makes stay index searches however long the history grows."""
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diff if "repeat" in repr(d)] == []
        at = datetime(2026, 12, 7, tzinfo=UTC)
        params = {"key": "k" * 32, "since": at - timedelta(hours=1), "until": at, "after": 5}
        for statement in (repeats._LATEST, repeats._OPENED_IN_WINDOW):
            compiled = statement.compile(conn)
            values = compiled.construct_params(params)
            if database.is_sqlite:
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}", tuple(values[k] for k in compiled.positiontup or ())))
                assert "USING INDEX ix_tickets_repeat" in plan or "USING COVERING INDEX ix_tickets_repeat" in plan
                assert "TEMP B-TREE" not in plan  # no sort of every ticket of the key
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an empty table: ask what it would do at size
                plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}", values))
                assert "ix_tickets_repeat" in plan and "Sort" not in plan, plan
