"""The SLA scheduler: claims tickets whose next deadline has come and emits what is due, once."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.escalation.due import escalate, remind_engineers
from gateway.incidents.reports import due_incidents, earliest_incident, evaluate_incident
from gateway.outbound.notices import local_time, to_customer
from gateway.sla import clocks
from gateway.sla.timers import stale_close_at, stale_notice_key, ticket_timers
from gateway.store.models import CLOSED_STATUSES, SlaClock, Ticket
from gateway.store.tickets import record
from gateway.tickets.stages import inform_due
from gateway.tickets.wakeup import refresh_next_deadline
from gateway.tickets.workflow import set_status
from gateway.time.durations import deadline, parse_target

log = logging.getLogger("gateway.sla")

BATCH = 100


class SlaScheduler:
    """One wake-up costs in proportion to the tickets due, not the tickets open (``next_deadline`` index)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def run_due(self, now: datetime | None = None) -> int:
        """Handle every ticket due at ``now``; return how many were handled."""
        handled = 0
        while True:
            batch = self._run_batch(now or self.app.clock.now())
            handled += batch
            if batch < BATCH:
                return handled + self._run_incidents(now or self.app.clock.now())
            # Let a waiting writer (the listener storing a mail) in between batches: SQLite's
            # busy handler is not fair, and a backlog of notices must not starve intake.
            time.sleep(0.005)

    def _run_batch(self, now: datetime) -> int:
        db = self.app.db
        with db.sessions() as session, session.begin():
            query = select(Ticket).where(Ticket.next_deadline <= now).order_by(Ticket.next_deadline).limit(BATCH)
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            tickets = list(session.scalars(query))
            for ticket in tickets:
                with session.begin_nested():
                    evaluate(session, self.app, ticket, now)
            return len(tickets)

    def _run_incidents(self, now: datetime) -> int:
        """The reports incidents owe: reminders and breaches due at ``now`` (few: one batch is enough)."""
        with self.app.db.sessions() as session, session.begin():
            incidents = due_incidents(session, now, BATCH, lock=not self.app.db.is_sqlite)
            for incident in incidents:
                with session.begin_nested():
                    evaluate_incident(session, self.app, incident, now)
            return len(incidents)

    def earliest(self) -> datetime | None:
        with self.app.db.read_sessions() as session:
            ticket = session.scalar(select(Ticket.next_deadline).where(Ticket.next_deadline.is_not(None))
                                    .order_by(Ticket.next_deadline).limit(1))
            incident = earliest_incident(session)
        return min((t for t in (ticket, incident) if t is not None), default=None)


def evaluate(session: Session, app: App, ticket: Ticket, now: datetime) -> None:
    """Emit everything due on ``ticket`` at ``now``; each notice has a unique cause key."""
    policy = app.config.policy
    for c in clocks.clocks_of(session, ticket.id):
        if c.stopped_at is not None or c.deadline is None or ticket.status in CLOSED_STATUSES:
            continue
        if c.name == "update":
            _update_clock(session, app, ticket, c, now)
            continue
        if c.warn_at is not None and c.warned_at is None and c.warn_at <= now:
            c.warned_at = now
            record(session, ticket.id, "sla-near-breach", now, clock=c.name, deadline=c.deadline.isoformat(),
                   due_at=c.warn_at.isoformat())
            log.warning("#%d: %s deadline %s is near", ticket.id, c.name, c.deadline.isoformat())
        if c.breached_at is None and c.deadline <= now:
            c.breached_at = now
            record(session, ticket.id, "sla-breach", now, clock=c.name, deadline=c.deadline.isoformat())
            log.warning("#%d: %s deadline %s breached", ticket.id, c.name, c.deadline.isoformat())
    for name, instant in ticket_timers(session, policy, ticket):
        if instant <= now:
            _fire_timer(session, app, ticket, name, instant, now)
    escalate(session, app, ticket, now)
    inform_due(session, app, ticket, now)
    refresh_next_deadline(session, policy, ticket)


def _update_clock(session: Session, app: App, ticket: Ticket, c: SlaClock, now: datetime) -> None:
    assert c.deadline is not None
    policy = app.config.policy
    lead = policy.plan(ticket.plan).reminder_lead
    if c.reminded_at is None and (ticket.assignee or ticket.route_group) and c.deadline - lead <= now:
        c.reminded_at = now
        remind_engineers(session, app, ticket, c.deadline, now)
    if c.deadline > now:
        return
    due = c.deadline
    zone = ticket.timezone or app.config.gateway.timezone.key
    target, calendar = parse_target(c.target), policy.calendar(c.calendar)
    following = deadline(target, due, calendar)
    if following is not None and following <= now:  # the gateway was down: no burst of notices
        following = deadline(target, now, calendar)
    to_customer(session, app, ticket, kind="update-notice", cause_key=f"update:{ticket.id}:{due.isoformat()}",
                template="update_notice", now=now,
                context={"sla": {"next_update": local_time(following, zone), "due": local_time(due, zone)}})
    record(session, ticket.id, "sla-update-notice", now, deadline=due.isoformat(),
           next=following.isoformat() if following else None)
    c.started_at, c.deadline, c.reminded_at = due, following, None


def _fire_timer(session: Session, app: App, ticket: Ticket, name: str, instant: datetime, now: datetime) -> None:

    zone = ticket.timezone or app.config.gateway.timezone.key
    if name == "stale-notice":
        closes = stale_close_at(app.config.policy, ticket, now)
        to_customer(session, app, ticket, kind="stale-notice", cause_key=stale_notice_key(ticket),
                    template="stale_notice", now=now, context={"sla": {"closes_at": local_time(closes, zone)}})
        record(session, ticket.id, "stale-notice", now, due=instant.isoformat())
    elif name in ("stale-close", "proposed-close"):
        reason = "no answer from the customer" if name == "stale-close" else "resolution proposed, no issue reported"
        since = ticket.status_since.isoformat() if ticket.status_since else ""
        set_status(session, app, ticket, "closed", now, "gateway")
        record(session, ticket.id, "auto-closed", now, reason=reason, due=instant.isoformat())
        to_customer(session, app, ticket, kind="closure-notice", cause_key=f"{name}:{ticket.id}:{since}",
                    template="closure_notice", now=now, context={"reason": reason})
