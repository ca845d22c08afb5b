"""Prometheus metrics: what the database says of the gateway's work, read at each scrape.

Totals come from the rows themselves (inbound mail by source and state, outgoing mail by kind
and state, SLA clocks by plan and priority), so every process sharing a database reports the
same figures and a restart loses nothing. Only processing latency is measured in the process
that did the work, as a histogram from a mail's arrival to the commit that queued its answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.imap import ImapAccount
from gateway.store.claimed import Claimed
from gateway.store.models import CLOSED_STATUSES, Escalation, ImapState, InboundMessage, OutboxMessage, SlaClock, Ticket

# From arrival to the answer queued: seconds for a listener's mail, minutes after an outage.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class GatewayCollector(Collector):
    """Reads the gateway's figures from the database at each scrape."""

    def __init__(self, app: App, accounts: tuple[ImapAccount, ...]) -> None:
        self.app = app
        self.accounts = accounts

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        now = self.app.clock.now()
        with self.app.db.read_sessions() as session:
            yield _counted(session, CounterMetricFamily(
                "helpdesk_inbound_mails", "Mails stored, by source and what became of them (pending, done, "
                "screened, held, rejected, quarantined, dropped)", labels=["source", "state"]),
                InboundMessage.source, InboundMessage.state)
            yield _counted(session, CounterMetricFamily(
                "helpdesk_outbound_mails", "Mails the gateway wrote, by kind and state (pending, sent, failed, "
                "suppressed)", labels=["kind", "state"]), OutboxMessage.kind, OutboxMessage.state)

            unknown = session.scalar(select(func.coalesce(func.sum(OutboxMessage.unknown_outcomes), 0)))
            yield CounterMetricFamily("helpdesk_outbound_unknown_outcomes", "Sends whose outcome a crash hid "
                                      "(the relay may have taken the mail): sent again with the same Message-ID",
                                      value=unknown or 0)
            backlog, oldest = outbox_backlog(session)
            yield GaugeMetricFamily("helpdesk_outbox_backlog", "Mails waiting to be sent", value=backlog)
            yield GaugeMetricFamily("helpdesk_outbox_oldest_age_seconds",
                                    "Age of the oldest mail waiting to be sent (0 when none waits)",
                                    value=_age(now, oldest))
            yield from self._clocks(session, now)
            waiting = session.scalar(select(func.count()).select_from(Escalation)
                                     .where(Escalation.acknowledged_at.is_(None)))
            yield GaugeMetricFamily("helpdesk_escalations_unacknowledged",
                                    "Escalations fired and not yet acknowledged", value=waiting or 0)
            yield self._imap(session, now)

    def _clocks(self, session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
        running = and_(SlaClock.stopped_at.is_(None), SlaClock.paused_remaining.is_(None),
                       Ticket.status.not_in(CLOSED_STATUSES))
        near = GaugeMetricFamily("helpdesk_sla_clocks_near_breach", "Running SLA clocks past their warning "
                                 "point and not yet due", labels=["plan", "priority", "clock"])
        late = GaugeMetricFamily("helpdesk_sla_clocks_breached", "SLA clocks of open tickets that missed "
                                 "their deadline", labels=["plan", "priority", "clock"])
        base = select(Ticket.plan, Ticket.priority, SlaClock.name, func.count()).join(
            Ticket, Ticket.id == SlaClock.ticket_id).group_by(Ticket.plan, Ticket.priority, SlaClock.name)
        for plan, priority, clock, count in session.execute(base.where(
                running, SlaClock.breached_at.is_(None), SlaClock.warn_at <= now, SlaClock.deadline > now)):
            near.add_metric([plan, priority, clock], count)
        for plan, priority, clock, count in session.execute(base.where(
                SlaClock.breached_at.is_not(None), Ticket.status.not_in(CLOSED_STATUSES))):
            late.add_metric([plan, priority, clock], count)
        yield near
        yield late

    def _imap(self, session: Session, now: datetime) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily("helpdesk_imap_seconds_since_success", "Seconds since each IMAP "
                                  "account's last successful pass (+Inf before its first)", labels=["account"])
        last = imap_last_success(session)
        for account in self.accounts:
            seen = last.get(account.name)
            gauge.add_metric([account.name], _age(now, seen) if seen else float("inf"))
        return gauge


def outbox_backlog(session: Session) -> tuple[int, datetime | None]:
    """How many mails wait to be sent, and when the oldest of them was written: due or waiting for
    a retry (pending), or in a sender's hands (sending: on the wire, or a relay being tried again).
    Counting only the pending ones, a mail retried against a relay that is gone dropped out of the
    count while each try lasted, and readiness could say all was well."""
    count, oldest = session.execute(select(func.count(), func.min(OutboxMessage.created_at))
                                    .where(OutboxMessage.state.in_(("pending", "sending")))).one()
    return count, oldest


def imap_last_success(session: Session) -> dict[str, datetime]:
    """Each IMAP account's last successful pass (over its folders)."""
    rows = session.execute(select(ImapState.account, func.max(ImapState.last_success_at))
                           .group_by(ImapState.account)).tuples()
    return {account: seen for account, seen in rows if seen is not None}


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class Metrics:
    """The registry ``/metrics`` serves: the database's figures and this process's latency."""

    def __init__(self, app: App, accounts: tuple[ImapAccount, ...]) -> None:
        self.app = app
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(GatewayCollector(app, accounts))
        self.latency = Histogram("helpdesk_processing_latency_seconds", "From a mail's arrival to the commit "
                                 "that recorded its outcome (and queued its acknowledgement)",
                                 ["outcome"], buckets=_LATENCY_BUCKETS, registry=self.registry)

    def processed(self, rows: list[Claimed]) -> None:
        now = self.app.clock.now()
        for row in rows:
            self.latency.labels(row.state).observe(max(0.0, (now - row.received_at).total_seconds()))


def _counted(session: Session, family: CounterMetricFamily, *columns: Any) -> CounterMetricFamily:
    """``family`` with a sample per combination of ``columns``' values: the rows that have it."""
    for *labels, count in session.execute(select(*columns, func.count()).group_by(*columns)):
        family.add_metric([str(label) for label in labels], count)
    return family
