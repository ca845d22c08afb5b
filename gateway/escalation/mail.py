"""Escalation mail: one per recipient and round, in the reader's time zone, with the ticket's story."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway.config.escalation import Tier
from gateway.config.staff import Recipient
from gateway.escalation.recipients import on_call
from gateway.escalation.timing import TicketState, trigger_instant
from gateway.outbound import reply_token
from gateway.outbound.context import MailContext
from gateway.outbound.notices import base_context, local_time, to_customer
from gateway.outbound.outbox import Draft, queue, stored_cause_key
from gateway.store.models import Escalation, Event, Message, OutboxMessage
from gateway.store.tickets import record
from gateway.time.durations import format_duration

PROMISES = {"first_response": "first response", "update": "update to the customer",
            "workaround": "workaround", "resolution": "resolution"}
HISTORY = ("escalation", "on-call-paged", "escalation-acknowledged")
_QUOTE_CHARS, _QUOTE_LINES = 1500, 25


def cause_key(ticket_id: int, policy: str, tier: str, round_: int, handle: str) -> str:
    """Once per ticket, tier and round (and recipient), across restarts and processes."""
    return f"escalation:{ticket_id}:{policy}:{tier}:{round_}:{handle}"


def promise(state: TicketState, tier: Tier, now: datetime) -> dict[str, Any] | None:
    """The SLA promise the tier is about: which clock, its target, and by when."""
    base = tier
    while base.trigger.kind == "after":
        ref = state.policy.tier(base.trigger.after or "")
        if ref is None:
            return None
        base = ref
    name = "first_response" if base.pages else base.trigger.clock or ""
    c = state.clocks.get(name)
    if c is None or c.deadline is None:
        return None
    due = (trigger_instant(state, base) or c.deadline) if base.trigger.kind == "breach" else c.deadline
    return {"clock": name, "what": PROMISES.get(name, name), "target": c.target, "due_at": due,
            "breached": due <= now, "stopped": c.stopped_at is not None}


def reason(tier: Tier) -> str:
    """Why the tier fired, in words."""
    t = tier.trigger
    what = PROMISES.get(t.clock or "", t.clock or "")
    if t.kind == "share":
        return f"{t.share:.0%} of the {what} target has gone"
    if t.kind == "breach":
        return f"the {what} target has passed"
    if t.kind == "after":
        return f'nobody acknowledged tier "{t.after}" within {format_duration(t.delay)}'
    return "it arrived outside business hours"


def _history(state: TicketState, zone: Any) -> list[str]:
    lines = []
    for e in state.session.scalars(select(Event).where(Event.ticket_id == state.ticket.id,
                                                       Event.kind.in_(HISTORY)).order_by(Event.id)):
        d = e.detail or {}
        when = local_time(e.at, zone)
        if e.kind == "escalation-acknowledged":
            lines.append(f"{when}: acknowledged by {e.actor} ({', '.join(d.get('tiers', [])) or 'nothing open'})")
        else:
            what = "on-call paged" if e.kind == "on-call-paged" else f"tier {d.get('tier')}"
            what += " for triage" if d.get("triage") else ""
            lines.append(f"{when}: {what}, round {d.get('round')}, to {', '.join(d.get('names', []))}")
    return lines


def _last_customer_message(state: TicketState, zone: Any) -> dict[str, Any] | None:
    m = state.session.scalar(select(Message).where(
        Message.ticket_id == state.ticket.id, Message.direction == "in", Message.kind == "customer")
        .order_by(Message.id.desc()).limit(1))
    if m is None:
        return None
    text = (m.reply_text or m.body_text or "").strip()
    lines = text[:_QUOTE_CHARS].splitlines()[:_QUOTE_LINES]
    cut = len(text) > _QUOTE_CHARS or len(text.splitlines()) > _QUOTE_LINES
    return {"from": m.from_address, "at": local_time(m.created_at, zone), "lines": lines, "cut": cut}


def _context(ctx: MailContext, state: TicketState, tier: Tier, row: Escalation, r: Recipient,
             risk: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """What the escalation and page templates see, every instant in the recipient's time zone."""
    ticket, zone = state.ticket, r.zone
    rotation = ctx.config.escalation.oncall
    shift = rotation.shift_at(now) if rotation is not None and tier.pages else None
    return {**base_context(ctx, ticket),
            "recipient": {"name": r.name, "handle": r.handle, "timezone": zone.key,
                          "engineer": ctx.config.staff.engineer(r.handle) is not None},
            "escalation": {"policy": state.policy.name, "tier": tier.name, "round": row.rounds,
                           "trigger": tier.trigger.text, "reason": reason(tier), "repeat": bool(tier.repeat),
                           "due": local_time(row.trigger_at, zone)},
            "promise": None if risk is None else {**risk, "due": local_time(risk["due_at"], zone)},
            "opened": local_time(ticket.created_at, zone),
            "organisation": ticket.organisation, "assignee": ticket.assignee, "group": ticket.route_group,
            "last_message": _last_customer_message(state, zone),
            "history": _history(state, zone),
            "triage": state.triage if state.for_triage(tier) else None,
            "oncall": {"handle": shift.contact if shift else None,
                       "until": local_time(shift.until, zone) if shift and shift.until else None},
            # Only a priority the tier is for promises the customer a status notice (see status_notice_at).
            "status_notice": local_time(row.trigger_at + tier.status_notice, zone)
            if tier.status_notice and ticket.priority in tier.priorities else None}


def _first_round_id(state: TicketState, tier: Tier, handle: str) -> str | None:
    """The first round's Message-ID to this recipient, so later rounds thread under it."""
    first = stored_cause_key(cause_key(state.ticket.id, state.policy.name, tier.name, 1, handle))
    return state.session.scalar(select(OutboxMessage.message_id).where(OutboxMessage.cause_key == first))


def send_round(ctx: MailContext, state: TicketState, tier: Tier, row: Escalation, recipients: list[Recipient],
               now: datetime) -> None:
    """Mail round ``row.rounds`` of ``tier`` to each recipient and record it on the ticket."""
    ticket = state.ticket
    risk = promise(state, tier, now)
    for r in recipients:
        # A token issued to this recipient: their `#ack` reply proves itself, and is theirs alone.
        token = reply_token.make_token(ctx.secret, ticket.id, bound_to=r.address)
        reply_to = reply_token.reply_address(ctx.config.gateway.support_address, ticket.id, token)
        rendered = ctx.templates.render("oncall_page" if tier.pages else "escalation",
                                        _context(ctx, state, tier, row, r, risk, now))
        first = _first_round_id(state, tier, r.handle)
        queue(state.session, ctx.outbox_policy, Draft(
            kind="on-call-page" if tier.pages else "escalation",
            cause_key=cause_key(ticket.id, state.policy.name, tier.name, row.rounds, r.handle),
            ticket_id=ticket.id, to=((r.name, r.address),), subject=rendered.subject, text=rendered.text,
            in_reply_to=first, references=(first,) if first else (), reply_to=reply_to,
            auto_submitted="auto-generated"), now)
    detail: dict[str, Any] = {"policy": state.policy.name, "tier": tier.name, "round": row.rounds,
                              "trigger": tier.trigger.text, "due": row.trigger_at.isoformat(),
                              "to": [r.address for r in recipients], "names": [r.name for r in recipients]}
    if risk is not None:
        detail["clock"] = risk["clock"]
    if state.for_triage(tier):
        detail["triage"] = state.triage
    if tier.pages:
        paged = on_call(ctx, now)
        record(state.session, ticket.id, "on-call-paged", now, contact=paged.handle if paged else None, **detail)
    else:
        record(state.session, ticket.id, "escalation", now, **detail)


def send_status_notice(ctx: MailContext, state: TicketState, tier: Tier, row: Escalation, now: datetime) -> None:
    """Fifth seed: nobody wrote within the window, so the customer hears the on-call engineer was paged."""
    ticket = state.ticket
    zone = ticket.timezone or ctx.config.gateway.timezone.key
    to_customer(state.session, ctx, ticket, kind="status-paged",
                cause_key=f"status-paged:{ticket.id}:{state.policy.name}:{tier.name}", template="status_paged",
                now=now, context={"paged": {"at": local_time(row.fired_at, zone),
                                            "received": local_time(state.since, zone)}})
    row.status_notice_at = now
    record(state.session, ticket.id, "status-paged", now, policy=state.policy.name, tier=tier.name,
           paged_at=row.fired_at.isoformat())
