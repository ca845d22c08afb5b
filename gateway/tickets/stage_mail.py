"""Mail to a stage's people: told once when the ticket enters it, then how it goes at each period, every
instant in the reader's own time zone, once per cause (ticket, stage, period and address)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.staff import Recipient
from gateway.config.stages import Stage
from gateway.escalation.mail import PROMISES
from gateway.outbound import reply_token
from gateway.outbound.context import MailContext
from gateway.outbound.notices import base_context, local_time
from gateway.outbound.outbox import Draft, queue
from gateway.sla.clocks import clocks_of
from gateway.store.models import Event, Message, SlaClock, Ticket
from gateway.time.durations import format_duration, format_target

# The mail kinds (outbox) and what each says.
ENTERED = "stage-notice"
PROGRESS = "stage-progress"
_QUOTE_CHARS, _QUOTE_LINES = 800, 12


def cause_key(ticket: Ticket, stage: Stage, kind: str, address: str, period: datetime | None) -> str:
    """Entering: once per ticket, stage and address; progress: once per period too."""
    if kind == ENTERED:
        return f"stage:{ticket.id}:{stage.name}:{address.lower()}"
    assert period is not None
    return f"stage-progress:{ticket.id}:{stage.name}:{period.isoformat()}:{address.lower()}"


def _span(span: timedelta) -> str:
    return format_duration(timedelta(minutes=int(span.total_seconds() // 60)))


def clock_line(c: SlaClock, r: Recipient, now: datetime) -> dict[str, Any]:
    """One promise as the reader sees it: what, its target, by when, and how it stands at ``now``."""
    what = PROMISES.get(c.name, c.name)
    if c.stopped_at is not None:
        met = c.breached_at is None and (c.deadline is None or c.stopped_at <= c.deadline)
        state = f"{'met' if met else 'missed'} {local_time(c.stopped_at, r.zone)}"
    elif c.deadline is None:
        left = timedelta(seconds=c.paused_remaining or 0)
        state = f"paused while the customer is asked, {_span(left)} left"
    elif c.deadline > now:
        state = f"{_span(c.deadline - now)} left"
    else:
        state = f"overdue by {_span(now - c.deadline)}"
    return {"clock": c.name, "what": what, "target": c.target, "due": local_time(c.deadline, r.zone),
            "state": state}


def _last_update(session: Session, ticket: Ticket, r: Recipient) -> dict[str, Any] | None:
    """The last reply the customer was sent by an engineer: when, and how it began."""
    m = session.scalar(select(Message).where(Message.ticket_id == ticket.id, Message.direction == "out",
                                             Message.kind == "relay").order_by(Message.id.desc()).limit(1))
    if m is None:
        return None
    text = (m.body_text or "").split("\n-- \n", 1)[0].strip()  # without the signature (RFC 3676 4.3)
    lines = text[:_QUOTE_CHARS].splitlines()[:_QUOTE_LINES]
    cut = len(text) > _QUOTE_CHARS or len(text.splitlines()) > _QUOTE_LINES
    return {"at": local_time(m.created_at, r.zone), "lines": lines, "cut": cut}


def _entered_at(session: Session, ticket: Ticket, stage: Stage) -> datetime | None:
    for at, detail in session.execute(select(Event.at, Event.detail).where(
            Event.ticket_id == ticket.id, Event.kind == "stage-entered").order_by(Event.id)):
        if isinstance(detail, dict) and detail.get("stage") == stage.name:
            return at  # type: ignore[no-any-return]
    return None


def tell(session: Session, ctx: MailContext, ticket: Ticket, stage: Stage, kind: str, recipients: list[Recipient],
         now: datetime, *, period: datetime | None = None, started: tuple[str, ...] = ()) -> list[str]:
    """Queue ``kind`` (``ENTERED`` with the clocks ``started``, or ``PROGRESS`` for ``period``) to each
    recipient; return their addresses."""
    entered = now if kind == ENTERED else _entered_at(session, ticket, stage)
    clocks = [c for c in clocks_of(session, ticket.id) if kind == PROGRESS or c.name in started]
    template = "stage_entered" if kind == ENTERED else "stage_progress"
    for r in recipients:
        token = reply_token.make_token(ctx.secret, ticket.id, bound_to=r.address)
        context = {**base_context(ctx, ticket, now),
                   "recipient": {"name": r.name, "handle": r.handle, "timezone": r.zone.key,
                                 "engineer": ctx.config.staff.engineer(r.handle) is not None},
                   "stage": {"name": stage.name, "title": stage.title, "entered": local_time(entered, r.zone),
                             "inform_every": format_target(stage.inform_every) if stage.inform_every else None,
                             "next": local_time(ticket.inform_at, r.zone) if stage.inform_every else None},
                   "organisation": ticket.organisation, "assignee": ticket.assignee, "group": ticket.route_group,
                   "opened": local_time(ticket.created_at, r.zone),
                   "clocks": [clock_line(c, r, now) for c in clocks],
                   "last_update": _last_update(session, ticket, r) if kind == PROGRESS else None}
        rendered = ctx.templates.render(template, context, timezone=r.zone.key)
        queue(session, ctx.outbox_policy, Draft(
            kind=kind, cause_key=cause_key(ticket, stage, kind, r.address, period), ticket_id=ticket.id,
            to=((r.name, r.address),), subject=rendered.subject, text=rendered.text,
            reply_to=reply_token.reply_address(ctx.config.gateway.support_address, ticket.id, token),
            auto_submitted="auto-generated"), now)
    return [r.address for r in recipients]
