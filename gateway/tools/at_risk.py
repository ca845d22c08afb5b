"""``helpdesk tickets at-risk``: open tickets by their next real deadline, with the time left.

The next deadline here is a promise's (first response, update, workaround, resolution), not the
scheduler's next wake-up (``tickets.next_deadline`` also holds warning points, reminders and
escalation rounds). Time left is given in wall time and in the clock's own business time, so
"2 business hours" on a Friday evening reads as what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.policy import Policy
from gateway.store.models import CLOSED_STATUSES, Escalation, SlaClock, Ticket
from gateway.time.durations import parse_target


@dataclass(frozen=True, slots=True)
class AtRisk:
    ticket: Ticket
    clock: SlaClock
    wall_left: timedelta
    business_left: timedelta | None  # None for a wall-clock target
    tier: str | None

    def as_dict(self) -> dict[str, Any]:
        t = self.ticket
        return {
            "number": t.id, "subject": t.subject, "priority": t.priority, "plan": t.plan, "status": t.status,
            "customer": t.customer_address, "assignee": t.assignee, "group": t.route_group,
            "clock": self.clock.name, "target": self.clock.target,
            "deadline": self.clock.deadline.isoformat() if self.clock.deadline else None,
            "breached": self.clock.breached_at is not None,
            "wall_seconds_left": int(self.wall_left.total_seconds()),
            "business_seconds_left": (int(self.business_left.total_seconds())
                                      if self.business_left is not None else None),
            "escalation_tier": self.tier,
        }


def next_deadline(clocks: list[SlaClock]) -> SlaClock | None:
    """The running clock (not stopped, not paused) whose deadline comes first."""
    running = [c for c in clocks if c.stopped_at is None and c.deadline is not None]
    return min(running, key=lambda c: c.deadline or datetime.max) if running else None


def at_risk(session: Session, policy: Policy, now: datetime, within: timedelta | None = None) -> list[AtRisk]:
    """Open tickets ordered by their next deadline (missed ones first), those due ``within``."""
    rows = session.execute(
        select(Ticket, SlaClock).join(SlaClock, SlaClock.ticket_id == Ticket.id).where(
            Ticket.status.not_in(CLOSED_STATUSES), SlaClock.stopped_at.is_(None), SlaClock.deadline.is_not(None))
    ).all()
    clocks: dict[int, tuple[Ticket, list[SlaClock]]] = {}
    for ticket, clock in rows:
        clocks.setdefault(ticket.id, (ticket, []))[1].append(clock)
    tiers = _tiers(session, list(clocks))
    result = []
    for ticket, own in clocks.values():
        first = next_deadline(own)
        if first is None or first.deadline is None:
            continue
        if within is not None and first.deadline > now + within:
            continue
        result.append(AtRisk(ticket, first, first.deadline - now, _business_left(policy, first, now),
                             tiers.get(ticket.id)))
    result.sort(key=lambda r: (r.clock.deadline, r.ticket.id))
    return result


def _business_left(policy: Policy, clock: SlaClock, now: datetime) -> timedelta | None:
    if clock.deadline is None or parse_target(clock.target).kind == "clock":
        return None
    calendar = policy.calendar(clock.calendar)
    if clock.deadline >= now:
        return calendar.elapsed(now, clock.deadline)
    return -calendar.elapsed(clock.deadline, now)


def _tiers(session: Session, ticket_ids: list[int]) -> dict[int, str]:
    """The last escalation tier fired on each ticket."""
    tiers: dict[int, str] = {}
    if not ticket_ids:
        return tiers
    for ticket_id, tier in session.execute(
            select(Escalation.ticket_id, Escalation.tier).where(Escalation.ticket_id.in_(ticket_ids))
            .order_by(Escalation.fired_at, Escalation.id)):
        tiers[ticket_id] = tier
    return tiers


def describe(span: timedelta | None) -> str:
    """``3h 05m``, ``-0h 20m`` (overdue), ``2d 1h``."""
    if span is None:
        return "-"
    seconds = int(span.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{sign}{days}d {hours}h" if days else f"{sign}{hours}h {rest // 60:02d}m"


def lines(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "none at risk"
    out = [f"{'#':<7}{'pri':<5}{'clock':<16}{'deadline':<27}{'wall left':>11}{'business left':>15}  "
           f"{'tier':<10}{'assignee':<14}customer"]
    for r in rows:
        wall = describe(timedelta(seconds=r["wall_seconds_left"]))
        business = (describe(timedelta(seconds=r["business_seconds_left"]))
                    if r["business_seconds_left"] is not None else "(wall clock)")
        clock = r["clock"] + (" MISSED" if r["breached"] else "")
        out.append(f"#{r['number']:<6}{r['priority']:<5}{clock:<16}{r['deadline']:<27}{wall:>11}{business:>15}  "
                   f"{r['escalation_tier'] or '-':<10}{r['assignee'] or r['group'] or '-':<14}{r['customer']}")
    return "\n".join(out)
