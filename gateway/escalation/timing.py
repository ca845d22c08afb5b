"""When each tier of a ticket's escalation policy falls due, whether a fired tier is still live, and
each ticket's next escalation instant, kept where ``tickets.wakeup`` can see it.

The tiers' instants need the escalation policies, which only the scheduler has; ``refresh_next_deadline``
is called from everywhere with the SLA policy alone. So the scheduler stores the next instant with a
digest of the ticket state it was computed from (``EscalationSchedule``), and a ticket whose state has
moved since (a clock stopped or resumed, the priority changed, an engineer wrote) is due at once, to be
computed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.escalation import EscalationPolicy, Tier
from gateway.config.policy import Policy
from gateway.escalation.triage import triage_reason
from gateway.sla.clocks import clocks_of
from gateway.store.models import CLOSED_STATUSES, Escalation, EscalationSchedule, Event, SlaClock, Ticket
from gateway.time.durations import parse_target

CLOSED = CLOSED_STATUSES


@dataclass
class TicketState:
    """What the tiers of one ticket are computed from, read once per evaluation."""

    session: Session
    sla: Policy
    ticket: Ticket
    policy: EscalationPolicy
    clocks: dict[str, SlaClock]
    rows: dict[str, Escalation]
    since: datetime  # when the ticket got its current priority: what "after hours" is judged on
    rule_contacts: tuple[str, ...]  # the contacts a rule's ``notify`` named when the ticket opened
    since_event: int = 0  # the event that gave the ticket its current priority (0: it opened with it)
    # Why the rules flagged the ticket for triage, while nobody has settled its priority since.
    triage: str | None = None

    @classmethod
    def load(cls, session: Session, sla: Policy, ticket: Ticket, policy: EscalationPolicy) -> TicketState:
        rows = {r.tier: r for r in session.scalars(select(Escalation).where(
            Escalation.ticket_id == ticket.id, Escalation.policy == policy.name))}
        changed = session.execute(select(Event.id, Event.at).where(
            Event.ticket_id == ticket.id, Event.kind == "priority-changed").order_by(Event.id.desc()).limit(1)).first()
        classified = session.scalar(select(Event.detail).where(
            Event.ticket_id == ticket.id, Event.kind == "classified").order_by(Event.id).limit(1))
        notify = classified.get("notify", []) if isinstance(classified, dict) else []
        triage = triage_reason(classified)
        if triage is not None and session.scalar(select(Event.id).where(
                Event.ticket_id == ticket.id, Event.kind == "priority-changed", Event.actor != "rules").limit(1)):
            triage = None  # an engineer has set the priority: confirmed or lowered, triage is done
        return cls(session, sla, ticket, policy, {c.name: c for c in clocks_of(session, ticket.id)}, rows,
                   changed.at if changed else ticket.created_at, tuple(str(n) for n in notify or ()),
                   changed.id if changed else 0, triage)

    def running(self, name: str | None) -> SlaClock | None:
        """The named clock while it runs: started, not stopped, not paused."""
        c = self.clocks.get(name or "")
        return c if c is not None and c.stopped_at is None and c.deadline is not None else None

    def for_triage(self, tier: Tier) -> bool:
        """The tier pages for triage: the ticket is not at a priority it pages for, but may be critical."""
        return tier.pages and self.triage is not None and self.ticket.priority not in tier.priorities

    def after_hours(self) -> bool:
        plan = self.sla.plan(self.ticket.plan)
        return not self.sla.calendar(plan.calendar, self.ticket.timezone).is_open(self.since)

    def wrote_since(self, instant: datetime) -> bool:
        """An engineer has written to the customer at or after ``instant``."""
        last = self.ticket.last_public_update_at
        return last is not None and last >= instant


def applies(state: TicketState, tier: Tier) -> bool:
    """The tier is for this ticket's priority (an after-hours page also for a rule's ``notify``, and for
    a ticket flagged for triage)."""
    if state.ticket.priority in tier.priorities:
        return True
    return tier.pages and (bool(state.rule_contacts) or state.triage is not None)


def trigger_instant(state: TicketState, tier: Tier) -> datetime | None:
    """When the tier's trigger falls on this ticket, or None while it cannot fall."""
    trigger = tier.trigger
    if trigger.kind == "after-hours":
        return state.since if state.after_hours() and not state.wrote_since(state.since) else None
    if trigger.kind == "after":
        ref = state.rows.get(trigger.after or "")
        ref_tier = state.policy.tier(trigger.after or "")
        if ref is None or ref_tier is None or ref.acknowledged_at is not None or not holds(state, ref_tier, ref):
            return None
        # From when the previous tier's people were told: if it fired late (a backlog, a
        # restart), they still get their whole delay to acknowledge before this one fires.
        return max(ref.trigger_at, ref.fired_at) + trigger.delay
    c = state.running(trigger.clock)
    if c is None or c.deadline is None:
        return None
    if trigger.kind == "breach":
        if c.name == "update":
            # The scheduler re-arms a missed update clock before escalation looks: its first miss is
            # recorded by the update notice sent in the customer's place.
            # The first miss under the ticket's current priority: a miss of an earlier priority's
            # update clock is no breach of this one's.
            missed = state.session.scalar(select(Event.detail).where(
                Event.ticket_id == state.ticket.id, Event.kind == "sla-update-notice", Event.id > state.since_event)
                .order_by(Event.id).limit(1))
            if isinstance(missed, dict) and missed.get("deadline"):
                return datetime.fromisoformat(str(missed["deadline"]))
        return c.deadline
    target = parse_target(c.target)
    if target.kind == "clock":
        return c.started_at + (c.deadline - c.started_at) * trigger.share
    calendar = state.sla.calendar(c.calendar)
    return calendar.add(c.started_at, calendar.elapsed(c.started_at, c.deadline) * trigger.share)


def holds(state: TicketState, tier: Tier, row: Escalation) -> bool:
    """Whether what the fired tier is about is still at stake (acknowledgement aside)."""
    if state.ticket.status in CLOSED or not applies(state, tier):
        return False
    trigger = tier.trigger
    if trigger.kind == "after-hours":
        return not state.wrote_since(row.trigger_at)
    if trigger.kind == "after":
        ref, ref_tier = state.rows.get(trigger.after or ""), state.policy.tier(trigger.after or "")
        return ref is not None and ref_tier is not None and holds(state, ref_tier, ref)
    return state.running(trigger.clock) is not None


def live(state: TicketState, tier: Tier, row: Escalation) -> bool:
    """A fired tier keeps repeating while unacknowledged and still at stake."""
    return row.acknowledged_at is None and holds(state, tier, row)


def next_round_at(tier: Tier, row: Escalation) -> datetime | None:
    return row.last_round_at + tier.repeat if tier.repeat is not None else None


def status_notice_at(state: TicketState, tier: Tier, row: Escalation) -> datetime | None:
    """When the customer is told the on-call engineer was paged, unless an engineer wrote first."""
    if tier.status_notice is None or row.status_notice_at is not None or state.ticket.status in CLOSED:
        return None
    if state.ticket.priority not in tier.priorities:  # paged for a rule's notify: no critical promise made
        return None
    if state.wrote_since(row.trigger_at):
        return None
    return row.trigger_at + tier.status_notice


def next_wakeup(state: TicketState, now: datetime) -> datetime | None:
    """The earliest instant after ``now`` at which some tier fires, repeats or notifies."""
    if state.ticket.status in CLOSED:
        return None
    instants: list[datetime | None] = []
    for tier in state.policy.tiers:
        row = state.rows.get(tier.name)
        if row is None:
            instants.append(trigger_instant(state, tier) if applies(state, tier) else None)
            continue
        instants.append(next_round_at(tier, row) if live(state, tier, row) else None)
        instants.append(status_notice_at(state, tier, row))
    future = [i for i in instants if i is not None and i > now]
    return min(future) if future else None


def basis(session: Session, ticket: Ticket) -> str:
    """A digest of the ticket state tier instants depend on; see EscalationSchedule."""

    def iso(value: datetime | None) -> str:
        return value.isoformat() if value else "-"

    parts: list[Any] = [ticket.status, ticket.priority, ticket.plan, iso(ticket.first_response_at),
                        iso(ticket.last_public_update_at)]
    for c in clocks_of(session, ticket.id):
        parts += [c.name, iso(c.started_at), iso(c.deadline), iso(c.stopped_at)]
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def store_schedule(session: Session, ticket: Ticket, next_at: datetime | None, now: datetime) -> None:
    row = session.get(EscalationSchedule, ticket.id)
    digest = basis(session, ticket)
    if row is None:
        session.add(EscalationSchedule(ticket_id=ticket.id, next_at=next_at, basis=digest, computed_at=now))
    else:
        row.next_at, row.basis, row.computed_at = next_at, digest, now


def escalation_wakeup(session: Session, policy: Policy, ticket: Ticket) -> datetime | None:
    """When the scheduler must next look at ``ticket`` for escalation (None: not for escalation)."""
    if ticket.status in CLOSED or policy.plan(ticket.plan).escalation is None:
        return None
    row = session.get(EscalationSchedule, ticket.id)
    if row is None or row.basis != basis(session, ticket):
        return ticket.created_at  # already past: due at the next wake-up
    return row.next_at
