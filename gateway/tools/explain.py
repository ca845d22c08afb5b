"""``helpdesk explain``: what the gateway would do with one mail, writing nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.escalation.triage import triage_page
from gateway.processing.apply import classify, reopens
from gateway.processing.correlate import correlate
from gateway.processing.engineers.thread import is_staff_mail
from gateway.store.models import SlaClock, Ticket
from gateway.time.calendar import BusinessCalendar
from gateway.time.durations import Target, deadline, format_target
from parsers import ParseLimitExceeded, parse, screen


def explain(app: App, raw: bytes, *, at: datetime | None = None,
            envelope_from: str | None = None, rcpt_to: tuple[str, ...] = ()) -> dict[str, Any]:
    now = at or app.clock.now()
    try:
        mail = parse(raw, received_at=now, limits=app.limits)
    except ParseLimitExceeded as exc:
        return {"outcome": "quarantine", "reason": f"over the {exc.limit} limit: {exc.detail}"}
    verdict = screen(mail, app.own, envelope_from=envelope_from)
    with app.db.sessions() as session:
        corr = correlate(session, mail, rcpt_to, support_addresses=app.support_addresses,
                         secret=app.secret)
        ticket = session.get(Ticket, corr.ticket_id) if corr.ticket_id is not None else None
        # As processing decides: a reply to a closed ticket (or to one resolved longer ago than
        # the reopen window) opens a follow-up ticket; to any other, it joins the ticket.
        current = ticket.priority if ticket is not None and reopens(app, ticket, now) else None
        follow_up = ticket is not None and current is None
        running = _ticket_clocks(session, ticket.id) if ticket is not None and current is not None else {}
        session.rollback()
    data: dict[str, Any] = {
        "parsed": {
            "message_id": mail.message_id,
            "message_id_synthesised": mail.message_id_synthesised,
            "from": mail.sender.addr if mail.sender else None,
            "from_name": mail.sender.name if mail.sender else None,
            "to": [a.addr for a in mail.to],
            "cc": [a.addr for a in mail.cc],
            "subject": mail.subject,
            "date": mail.date.isoformat(),
            "in_reply_to": list(mail.in_reply_to),
            "body_preview": mail.text[:500],
            "reply_text": mail.reply_text[:2000],
            "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                             "sha256": a.sha256} for a in mail.attachments],
            "defects": list(mail.defects),
        },
        "screening": {"verdict": verdict.kind, "reason": verdict.reason},
        "thread": {"ticket": corr.ticket_id, "via": corr.via},
        "acknowledge": True,  # decided with the outcome below: a new ticket's mail is acknowledged
    }
    if mail.sender is not None:
        info, result = classify(app, mail, now, current=current, reply=follow_up)
        # A reply may raise its ticket's priority, never lower it.
        priority = min(result.priority, current) if current is not None else result.priority
        plan = app.config.policy.plan(info.plan)
        targets = plan.targets(priority)
        calendar = app.config.policy.calendar(targets.calendar, info.timezone.key)
        data["sender"] = {"organisation": info.organisation.name if info.organisation else None,
                          "designated_contact": info.is_contact, "plan": info.plan, "policy": info.policy,
                          "timezone": info.timezone.key}
        data["classification"] = result.as_dict()
        data["priority"] = priority
        if current is not None and priority == current:
            # A reply joins its ticket's clocks as they run; it starts none of its own.
            data["sla"] = running
        else:  # a new ticket, or a raised priority: every clock (re)starts on these targets now
            data["sla"] = {name: _due(getattr(targets, name), now, calendar)
                           for name in ("first_response", "update_every", "workaround", "resolution")}
        data["explanation"] = result.explanation()
        if result.triage:
            data["triage"] = {"reason": result.triage_reason,
                              "page": triage_page(app.config, info.plan, info.timezone.key, now, priority)}
    policy = data.get("sender", {}).get("policy", "accept")
    if verdict.kind != "clean":
        data["outcome"] = "screened"
    elif is_staff_mail(app, mail, corr):
        # Relayed and its commands run only if the mail proves it is the engineer's.
        data["outcome"] = "engineer"
    elif current is not None:
        data["outcome"] = "reply"
    elif mail.sender is None:
        data["outcome"] = "screened"  # no usable From: nobody to open a ticket for
    elif policy != "accept":
        data["outcome"] = "held" if policy == "hold" else "rejected"
    else:
        data["outcome"] = "ticket"
    if follow_up:
        data["thread"]["follow_up_of"] = corr.ticket_id
    if data["outcome"] != "ticket":
        data["acknowledge"] = False
    return data


def _ticket_clocks(session: Session, ticket_id: int) -> dict[str, Any]:
    clocks = session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket_id).order_by(SlaClock.id))
    result: dict[str, Any] = {}
    for c in clocks:
        state = ("breached" if c.breached_at else "stopped" if c.stopped_at
                 else "paused" if c.paused_remaining is not None else "running")
        result[c.name] = {"target": c.target, "deadline": c.deadline.isoformat() if c.deadline and state in
                          ("running", "breached") else None, "state": state}
    return result


def _due(target: Target, now: datetime, calendar: BusinessCalendar) -> dict[str, Any]:
    due = deadline(target, now, calendar)
    return {"target": format_target(target), "deadline": due.isoformat() if due else None}


def _thread(thread: dict[str, Any]) -> str:
    if thread.get("follow_up_of"):
        return f"new ticket following up closed ticket #{thread['follow_up_of']} (via {thread['via']})"
    return f"ticket #{thread['ticket']} via {thread['via']}" if thread["ticket"] else "new ticket"


def format_explanation(data: dict[str, Any]) -> str:
    if "parsed" not in data:
        return f"outcome: {data['outcome']} ({data['reason']})"
    p = data["parsed"]
    lines = [
        f"From:        {p['from_name'] or ''} <{p['from']}>",
        f"Subject:     {p['subject']}",
        f"Message-ID:  {p['message_id']}{' (synthesised)' if p['message_id_synthesised'] else ''}",
        f"Date:        {p['date']}",
        f"Screening:   {data['screening']['verdict']} ({data['screening']['reason']})",
        f"Thread:      {_thread(data['thread'])}",
        f"Outcome:     {data['outcome']}; acknowledgement: {'yes' if data['acknowledge'] else 'no'}",
        f"Priority:    {data.get('priority', '-')}",
    ]
    if "sender" in data:
        s = data["sender"]
        lines.append(f"Sender:      {s['organisation'] or 'unknown organisation'}, plan {s['plan']}, "
                     f"{'designated contact' if s['designated_contact'] else 'not a designated contact'} "
                     f"({s['policy']})")
        if "triage" in data:
            lines.append(f"Triage:      {data['triage']['reason'] or 'may be critical'}: {data['triage']['page']}")
        for name, due in data["sla"].items():
            if due["deadline"]:
                lines.append(f"SLA:         {name} {due['target']} -> due {due['deadline']}"
                             + (f" ({due['state']}, the ticket's own clock)" if "state" in due else ""))
            elif "state" in due:
                lines.append(f"SLA:         {name} {due['target']}: {due['state']} (the ticket's own clock)")
        lines.append("Rules:")
        lines.extend("    " + line for line in data["explanation"])
    if p["attachments"]:
        lines.append("Attachments: " + ", ".join(f"{a['filename']} ({a['size']} bytes)" for a in p["attachments"]))
    if p["defects"]:
        lines.append("Defects:     " + "; ".join(p["defects"]))
    lines.append("Reply text:")
    lines.extend("    " + line for line in p["reply_text"].splitlines()[:20])
    return "\n".join(lines)
