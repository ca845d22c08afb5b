"""Mail to engineers: ticket notifications carrying their own reply address, refusals, forgery alerts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.config.staff import Engineer
from gateway.outbound import reply_token
from gateway.outbound.compose import one_line
from gateway.outbound.context import MailContext
from gateway.outbound.notices import base_context, local_time
from gateway.outbound.outbox import Draft, queue
from gateway.sla import clocks
from gateway.store.models import Incident, IncidentLink, OutboxMessage, Ticket, table_of
from parsers import REPLY_MARKER, ParsedMail
from parsers.commands import SYNTAX, Refusal

NOTIFICATION = "engineer-notification"
RULE_NOTICE = "rule-notification"
ALERT = "engineer-alert"
REFUSAL = "command-refused"
MAX_QUOTED = 20_000  # characters of the customer's text in a notification
_CLOCK_NAMES = {"first_response": "First response", "update": "Next update", "workaround": "Workaround",
                "resolution": "Resolution"}


def recipients(ctx: MailContext, ticket: Ticket) -> list[Engineer]:
    """The assignee; else the routed group's members; else (or for an empty group) every engineer."""
    staff = ctx.config.staff
    if ticket.assignee:
        engineer = staff.engineer(ticket.assignee)
        if engineer is not None:
            return [engineer]
    if ticket.route_group:
        members = staff.group_members(ticket.route_group)
        if members:
            return members
    return list(staff.engineers.values())


def sla_state(session: Session, ctx: MailContext, ticket: Ticket) -> list[dict[str, str]]:
    """Each clock of the ticket in words: due, paused, met, missed or breached."""
    zone = ctx.config.gateway.timezone
    states = []
    for c in clocks.clocks_of(session, ticket.id):
        due = local_time(c.deadline, zone)
        if c.stopped_at is not None:
            met = c.breached_at is None and (c.deadline is None or c.stopped_at <= c.deadline)
            state = f"{'met' if met else 'missed'} at {local_time(c.stopped_at, zone)}"
        elif c.paused_remaining is not None:
            state = f"paused ({round(c.paused_remaining / 60)} minutes left)"
        elif c.breached_at is not None:
            state = f"BREACHED since {due}"
        else:
            state = f"due by {due}" if due else "no deadline"
        states.append({"name": _CLOCK_NAMES.get(c.name, c.name), "target": c.target, "state": state})
    return states


def _promises(ctx: MailContext, ticket: Ticket) -> dict[str, Any]:
    """What was promised on this ticket case by case: its ETA, and an update cadence of its own."""
    return {"eta": local_time(ticket.eta, ctx.config.gateway.timezone), "update_every": ticket.update_every}


def _canned(ctx: MailContext) -> list[dict[str, str]]:
    return [{"name": c.name, "description": c.description} for c in ctx.config.canned.values()]


def _work(ticket: Ticket) -> dict[str, Any]:
    return {"assignee": ticket.assignee, "group": ticket.route_group, "organisation": ticket.organisation,
            "verified": ticket.verified}


def _message(mail: ParsedMail) -> dict[str, Any]:
    """The customer's mail as a notice quotes it: who, the new text (cut), the files' names."""
    sender = mail.sender
    text = (mail.reply_text or mail.text).strip()
    return {"from_name": sender.name if sender else "", "from": sender.addr if sender else "",
            "text": text[:MAX_QUOTED], "cut": len(text) > MAX_QUOTED,
            "attachments": [a.filename for a in mail.attachments]}


def _engineer_reply_to(ctx: MailContext, ticket: Ticket, engineer: Engineer) -> str:
    token = reply_token.make_token(ctx.secret, ticket.id, bound_to=engineer.address)
    return reply_token.reply_address(ctx.config.gateway.support_address, ticket.id, token)


_OUTBOX = table_of(OutboxMessage)
# The outbox is written with Core statements as mail is queued: read it the same way.
_NOTIFICATIONS = select(_OUTBOX.c.message_id).where(
    _OUTBOX.c.ticket_id == bindparam("ticket_id"), _OUTBOX.c.kind == NOTIFICATION,
    _OUTBOX.c.recipient == bindparam("recipient")).order_by(_OUTBOX.c.id)


_INCIDENTS = table_of(Incident)
_LINKS = table_of(IncidentLink)
# The open incidents an engineer may add the ticket to (the newest few), and whether it is in one.
_OPEN_INCIDENTS = select(_INCIDENTS.c.id, _INCIDENTS.c.title, _LINKS.c.id.is_not(None)).outerjoin(
    _LINKS, (_LINKS.c.incident_id == _INCIDENTS.c.id) & (_LINKS.c.ticket_id == bindparam("ticket_id"))).where(
    _INCIDENTS.c.status == "open").order_by(_INCIDENTS.c.id.desc()).limit(10)


def open_incidents(session: Session, ticket: Ticket) -> list[dict[str, Any]]:
    return [{"number": n, "title": title, "linked": bool(linked)}
            for n, title, linked in session.connection().execute(_OPEN_INCIDENTS, {"ticket_id": ticket.id})]


def _earlier(session: Session, ticket: Ticket, engineer: Engineer) -> tuple[str, ...]:
    """Message-IDs of the notifications this engineer had on this ticket: first and latest."""
    ids = list(session.connection().scalars(_NOTIFICATIONS, {"ticket_id": ticket.id, "recipient": engineer.address}))
    return tuple(dict.fromkeys(ids[:1] + ids[-1:]))


def notify(session: Session, ctx: MailContext, ticket: Ticket, mail: ParsedMail, kind: str, now: datetime) -> None:
    """One notification per engineer, once per inbound mail, each with a Reply-To bound to them."""
    people = recipients(ctx, ticket)
    if not people:
        return
    digest = hashlib.sha256(f"{mail.message_id}\0{mail.body_hash}".encode("utf-8", "surrogateescape")).hexdigest()
    context = {
        **base_context(ctx, ticket), "event": kind, "marker": REPLY_MARKER, "commands": SYNTAX,
        "work": _work(ticket), "sla": sla_state(session, ctx, ticket), "message": _message(mail),
        "incidents": open_incidents(session, ticket),
        "promises": _promises(ctx, ticket), "canned": _canned(ctx),
    }
    for engineer in people:
        rendered = ctx.templates.render("engineer_notification", {
            **context, "engineer": {"name": engineer.name, "handle": engineer.handle},
            "relay_as": f"{engineer.name} via {ctx.config.gateway.name}"})
        # A new ticket has had no notifications yet: no need to look for them.
        earlier = () if kind == "new-ticket" else _earlier(session, ticket, engineer)
        queue(session, ctx.outbox_policy, Draft(
            kind=NOTIFICATION, cause_key=f"notify:{ticket.id}:{digest[:24]}:{engineer.handle}",
            ticket_id=ticket.id, to=((engineer.name, engineer.address),), subject=rendered.subject,
            text=rendered.text, in_reply_to=earlier[-1] if earlier else None, references=earlier,
            reply_to=_engineer_reply_to(ctx, ticket, engineer), auto_submitted="auto-generated"), now)


def tell_rule_contacts(session: Session, ctx: MailContext, ticket: Ticket, mail: ParsedMail, contacts: Sequence[str],
                       rules: Sequence[str], received_at: datetime, now: datetime) -> None:
    """A rule's ``notify``: the contacts it names are told of the new ticket, once each.

    After hours, where the ticket's escalation policy has an "after hours" tier, that tier
    pages them with the on-call instead: one mail, the one that asks them to act. Engineers
    already notified of the ticket get no second mail.
    """
    plan = ctx.config.policy.plan(ticket.plan)
    escalation = ctx.config.escalation.policies.get(plan.escalation or "")
    if escalation is not None and any(t.pages for t in escalation.tiers) and \
            not ctx.config.policy.calendar(plan.calendar, ticket.timezone).is_open(received_at):
        return
    told = {engineer.address.lower() for engineer in recipients(ctx, ticket)}
    context = {**base_context(ctx, ticket), "rules": list(rules), "work": _work(ticket),
               "sla": sla_state(session, ctx, ticket), "message": _message(mail)}
    for handle in dict.fromkeys(contacts):
        contact = ctx.config.staff.person(handle, ctx.config.gateway.timezone)
        if contact is None or contact.address.lower() in told:
            continue
        told.add(contact.address.lower())
        rendered = ctx.templates.render("rule_notification", {
            **context, "contact": {"name": contact.name, "handle": contact.handle}})
        queue(session, ctx.outbox_policy, Draft(
            kind=RULE_NOTICE, cause_key=f"rule-notify:{ticket.id}:{contact.handle}", ticket_id=ticket.id,
            to=((contact.name, contact.address),), subject=rendered.subject, text=rendered.text,
            auto_submitted="auto-generated"), now)


def refuse(session: Session, ctx: MailContext, engineer: Engineer, ticket: Ticket | None, mail: ParsedMail,
           refusals: list[Refusal], reason: str, *, cause: str, now: datetime) -> None:
    """Tell the engineer (at their configured address) why their mail changed nothing."""
    context: dict[str, Any] = base_context(ctx, ticket) if ticket is not None else {
        "support": {"name": ctx.config.gateway.name, "address": ctx.config.gateway.support_address}}
    rendered = ctx.templates.render("command_refused", {
        **context, "has_ticket": ticket is not None, "engineer": {"name": engineer.name, "handle": engineer.handle},
        "refusals": [{"line": r.line, "why": r.why} for r in refusals], "reason": reason,
        "subject": one_line(mail.subject), "commands": SYNTAX, "marker": REPLY_MARKER})
    queue(session, ctx.outbox_policy, Draft(
        kind=REFUSAL, cause_key=cause, ticket_id=ticket.id if ticket is not None else None,
        to=((engineer.name, engineer.address),), subject=rendered.subject, text=rendered.text,
        in_reply_to=mail.message_id, references=(mail.message_id,),
        reply_to=_engineer_reply_to(ctx, ticket, engineer) if ticket is not None else None), now)


def alert(session: Session, ctx: MailContext, engineer: Engineer, ticket_id: int | None, mail: ParsedMail, reason: str,
          now: datetime, *, inbound_id: int) -> None:
    """Tell the real engineer that mail using their name or reply address was held: once a day.

    Queued without a ticket: a forger decides which ticket, and must not spend its mail budget.
    """
    rendered = ctx.templates.render("engineer_alert", {
        "support": {"name": ctx.config.gateway.name, "address": ctx.config.gateway.support_address},
        "engineer": {"name": engineer.name, "handle": engineer.handle, "address": engineer.address},
        "held": {"from": one_line(mail.sender.addr) if mail.sender else "(none)",
                 "subject": one_line(mail.subject), "message_id": one_line(mail.message_id),
                 "ticket": ticket_id, "reason": reason, "inbound": inbound_id,
                 "at": local_time(now, ctx.config.gateway.timezone)}})
    queue(session, ctx.outbox_policy, Draft(
        kind=ALERT, cause_key=f"forged:{engineer.handle}:{now.date().isoformat()}", ticket_id=None,
        to=((engineer.name, engineer.address),), subject=rendered.subject, text=rendered.text,
        auto_submitted="auto-generated"), now)
