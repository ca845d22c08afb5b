"""Stale cases (fourth seed): a pending ticket's advance notice, then its closure."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import AddressFlag, Event, OutboxMessage, Ticket
from gateway.tickets import workflow
from gateway.timekeeping.scheduler import SlaScheduler
from tests.support import customer_mail

PURECLOUD = Path(__file__).resolve().parents[2] / "examples" / "policies" / "purecloud.toml"
CUSTOMER = "ops@thameslogistics.example"


def _pending_since_monday(tmp_path: Path) -> tuple[App, FakeClock]:
    """A PureCloud ticket answered and set pending on Monday 23 November 2026, 11:00 London."""
    config = load_config(PURECLOUD)
    config = replace(config, gateway=replace(config.gateway, data_dir=tmp_path))
    clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    app = build_app(config, clock, db=Database(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    app.db.upgrade()
    store_inbound(app.db, customer_mail(CUSTOMER, "Export button greyed out", "The export button is greyed out."),
                  source="t", envelope=Envelope(CUSTOMER, ("support@example.com",)), received_at=clock.now())
    Processor(app).drain()
    clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=UTC))
    with app.db.transaction() as s:
        ticket = s.get(Ticket, 1)
        assert ticket is not None
        workflow.public_update(s, app, ticket, clock.now(), "dana")
        workflow.set_status(s, app, ticket, "pending", clock.now(), "dana")
    return app, clock


def _kinds(app: App) -> list[str]:
    with app.db.sessions() as s:
        return list(s.scalars(select(OutboxMessage.kind).where(OutboxMessage.kind.in_(
            ["stale-notice", "closure-notice"])).order_by(OutboxMessage.id)))


def test_a_late_stale_notice_still_gives_its_advance_warning(tmp_path: Path) -> None:
    """The gateway was down past both the notice (Wednesday) and the closure (Thursday): on
    Friday the customer gets the notice, with a closure a business day off, not both at once."""
    app, clock = _pending_since_monday(tmp_path)
    clock.set(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    SlaScheduler(app).run_due()
    assert _kinds(app) == ["stale-notice"]
    with app.db.sessions() as s:
        raw = s.scalar(select(OutboxMessage.raw).where(OutboxMessage.kind == "stale-notice"))
        ticket = s.get(Ticket, 1)
        assert raw is not None and ticket is not None
    body = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",))
    assert body is not None and "Monday 30 November 2026 12:00 GMT" in body.get_content()
    assert ticket.status == "pending" and ticket.next_deadline == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    SlaScheduler(app).run_due()
    assert _kinds(app) == ["stale-notice", "closure-notice"]


def test_a_stale_notice_that_cannot_be_sent_is_not_tried_at_every_wake_up(tmp_path: Path) -> None:
    app, clock = _pending_since_monday(tmp_path)
    with app.db.transaction() as s:  # three hard bounces earlier flagged the customer
        s.add(AddressFlag(address=CUSTOMER, hard_bounces=3, undeliverable=True, updated_at=clock.now()))
    clock.set(datetime(2026, 11, 25, 11, 0, tzinfo=UTC))  # the notice is due
    scheduler = SlaScheduler(app)
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0  # done, though no mail could be queued
    with app.db.sessions() as s:
        notices = s.scalars(select(Event).where(Event.kind == "stale-notice")).all()
        ticket = s.get(Ticket, 1)
        assert ticket is not None
    assert len(notices) == 1 and ticket.next_deadline is not None and ticket.next_deadline > clock.now()
