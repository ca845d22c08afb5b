"""``helpdesk explain``: what the gateway would do with one mail, writing nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.escalation.triage import triage_page
from gateway.processing.disposition import Arrival, Disposition, decide
from gateway.store.models import SlaClock
from gateway.time.calendar import BusinessCalendar
from gateway.time.durations import Target, deadline, format_target
from parsers import ParsedMail, ParseLimitExceeded, parse, screen


def explain(app: App, raw: bytes, *, at: datetime | None = None,
            envelope_from: str | None = None, rcpt_to: tuple[str, ...] = ()) -> dict[str, Any]:
    """What processing would do with ``raw`` arriving at ``at``: the same decision, nothing written."""
    now = at or app.clock.now()
    try:
        mail = parse(raw, received_at=now, limits=app.limits)
    except ParseLimitExceeded as exc:
        return {"outcome": "quarantined", "reason": f"over the {exc.limit} limit: {exc.detail}"}
    with app.db.sessions() as session:
        try:
            return _explained(app, session, mail, Arrival(raw=raw, received_at=now, envelope_from=envelope_from,
                                                          rcpt_to=rcpt_to))
        finally:
            session.rollback()  # decide() writes nothing; nor may anything it loaded


def _explained(app: App, session: Session, mail: ParsedMail, arrival: Arrival) -> dict[str, Any]:
    now, envelope_from = arrival.received_at, arrival.envelope_from
    d = decide(session, app, mail, arrival)
    joins = d.ticket is not None and d.route in ("reply", "repeat", "engineer", "contact")
    running = _ticket_clocks(session, d.ticket.id) if joins and d.ticket is not None else {}
    current = d.ticket.priority if joins and d.ticket is not None else None
    verdict = d.verdict or screen(mail, app.own, envelope_from=envelope_from)
    data: dict[str, Any] = {
        "parsed": _parsed(mail),
        "screening": {"verdict": verdict.kind, "reason": verdict.reason},
        "thread": {"ticket": d.corr.ticket_id if d.corr else None, "via": d.corr.via if d.corr else None},
        "outcome": d.outcome,
        "ticket": d.ticket.id if joins and d.ticket is not None else None,  # the ticket it joins; None: none, or new
        "route": d.route,
        "reason": d.reason,
        # A new ticket's mail is acknowledged; nothing else is.
        "acknowledge": d.outcome == "ticket",
    }
    if d.route == "follow-up" and d.ticket is not None:
        data["thread"]["follow_up_of"] = d.ticket.id
    if d.route == "repeat" and d.ticket is not None:
        data["thread"]["repeat_of"] = d.ticket.id
    if d.priority is not None:
        data["priority"] = d.priority
    if d.info is not None and d.classification is not None:
        data.update(_judged(app, d, now, current, running))
    return data


def _judged(app: App, d: Disposition, now: datetime, current: str | None, running: dict[str, Any]) -> dict[str, Any]:
    """The sender, the rules' reading, and the promises the mail would start."""
    info, result = d.info, d.classification
    assert info is not None and result is not None
    priority = d.priority or result.priority
    targets = app.config.policy.plan(info.plan).targets(priority)
    calendar = app.config.policy.calendar(targets.calendar, info.timezone.key)
    data: dict[str, Any] = {
        "sender": {"organisation": info.organisation.name if info.organisation else None,
                   "designated_contact": info.is_contact, "plan": info.plan, "policy": info.policy,
                   "timezone": info.timezone.key},
        "classification": result.as_dict(),
        "explanation": result.explanation(),
    }
    if current is not None and priority == current:
        data["sla"] = running  # a reply joins its ticket's clocks as they run; it starts none of its own
    else:  # a new ticket, or a raised priority: every clock (re)starts on these targets now
        data["sla"] = {name: _due(getattr(targets, name), now, calendar)
                       for name in ("first_response", "update_every", "workaround", "resolution")}
    if result.triage:
        data["triage"] = {"reason": result.triage_reason,
                          "page": triage_page(app.config, info.plan, info.timezone.key, now, priority)}
    return data


def _parsed(mail: ParsedMail) -> dict[str, Any]:
    return {
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
    }


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
    if thread.get("repeat_of"):
        return f"ticket #{thread['repeat_of']}, as a repeat (its sender's subject of the same shape)"
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
        f"Outcome:     {data['outcome']} ({data['reason']}); acknowledgement: {'yes' if data['acknowledge'] else 'no'}",
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
