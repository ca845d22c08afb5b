"""``helpdesk incident list|show``: incidents as stable JSON-ready dicts, and as text for a person."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.incidents.records import affected_customers, linked_tickets
from gateway.incidents.reports import clocks_of
from gateway.store.models import Incident, IncidentClock, IncidentEvent, IncidentLink, IncidentPost, OutboxMessage
from gateway.tools.views import iso, page_of

INCIDENT_STATUSES = ("open", "resolved")


def summary(session: Session, incident: Incident) -> dict[str, Any]:
    tickets = linked_tickets(session, incident.id)
    return {
        "number": incident.id, "title": incident.title, "status": incident.status, "priority": incident.priority,
        "opened_at": iso(incident.opened_at), "opened_by": incident.opened_by, "ticket": incident.ticket_id,
        "resolved_at": iso(incident.resolved_at), "resolved_by": incident.resolved_by,
        "tickets": len(tickets), "customers": affected_customers(tickets),
        "organisations": list(dict.fromkeys(t.organisation for t in tickets if t.organisation)),
        "next_deadline": iso(incident.next_deadline),
        "reports_owed": [c.report for c in clocks_of(session, incident.id) if c.met_at is None],
    }


def list_incidents(session: Session, *, status: str | None = None, limit: int | None = 200,
                   offset: int = 0) -> dict[str, Any]:
    """A page of incidents, newest first, with how many match."""
    query = select(Incident).order_by(Incident.id.desc())
    if status is not None:
        query = query.where(Incident.status == status)
    total, rows = page_of(session, query, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset,
            "incidents": [summary(session, row[0]) for row in rows]}


def report_state(c: IncidentClock) -> str:
    """due, met, missed (sent late), or breached (still owed, past its deadline)."""
    if c.met_at is not None:
        late = c.breached_at is not None or (c.deadline is not None and c.met_at > c.deadline)
        return "missed" if late else "met"
    return "breached" if c.breached_at is not None else "due"


def show_incident(session: Session, number: int) -> dict[str, Any] | None:
    """One incident with its tickets, posts, reports, mail and trail; None when there is none."""
    incident = session.get(Incident, number)
    if incident is None:
        return None
    links = {link.ticket_id: link for link in session.scalars(
        select(IncidentLink).where(IncidentLink.incident_id == number))}
    data = summary(session, incident)
    data["tickets"] = [{"number": t.id, "subject": t.subject, "status": t.status, "priority": t.priority,
                        "customer": t.customer_address, "organisation": t.organisation, "timezone": t.timezone,
                        "linked_at": iso(links[t.id].linked_at), "linked_by": links[t.id].linked_by}
                       for t in linked_tickets(session, number)]
    data["posts"] = [{"id": p.id, "kind": p.kind, "report": p.report, "at": iso(p.at), "by": p.by,
                      "by_mail": p.inbound_id is not None, "text": p.text}
                     for p in session.scalars(select(IncidentPost).where(IncidentPost.incident_id == number)
                                              .order_by(IncidentPost.id))]
    data["reports"] = [{"kind": c.report, "target": c.target, "calendar": c.calendar, "started_at": iso(c.started_at),
                        "deadline": iso(c.deadline), "remind_at": iso(c.remind_at), "reminded_at": iso(c.reminded_at),
                        "breached_at": iso(c.breached_at), "sent_at": iso(c.met_at), "state": report_state(c)}
                       for c in clocks_of(session, number)]
    data["mail"] = [{"kind": o.kind, "ticket": o.ticket_id, "to": list(o.rcpt_to), "state": o.state,
                     "created_at": iso(o.created_at), "sent_at": iso(o.sent_at)}
                    for o in session.scalars(select(OutboxMessage).where(
                        OutboxMessage.cause_key.startswith(f"incident:{number}:", autoescape=True))
                        .order_by(OutboxMessage.id))]
    data["events"] = [{"at": iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail}
                      for e in session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == number)
                                               .order_by(IncidentEvent.at, IncidentEvent.id))]
    return data


def incident_line(i: dict[str, Any]) -> str:
    owed = f"  reports owed: {', '.join(i['reports_owed'])}" if i["reports_owed"] else ""
    return (f"#{i['number']:<5} {i['status']:<9} {i['priority']:<3} {i['tickets']} ticket(s), "
            f"{i['customers']} customer(s)  {i['title']}{owed}")


def incident_text(i: dict[str, Any]) -> str:
    """``incident show`` for a person."""
    lines = [f"Incident #{i['number']}: {i['title']}",
             f"  {i['status']}, priority {i['priority']}, opened {i['opened_at']} by {i['opened_by']}"
             + (f", resolved {i['resolved_at']} by {i['resolved_by']}" if i["resolved_at"] else ""),
             f"  {len(i['tickets'])} ticket(s), {i['customers']} customer(s)"
             + (f": {', '.join(i['organisations'])}" if i["organisations"] else "")]
    lines += ["", "  tickets:"] + [f"    #{t['number']:<5} {t['priority']:<3} {t['status']:<20} {t['customer']}"
                                   f"{' (' + t['organisation'] + ')' if t['organisation'] else ''}: {t['subject']}"
                                   for t in i["tickets"]]
    lines += ["", "  posts:"] + [f"    [{p['at']}] {p['report'] or p['kind']} by {p['by']}"
                                 f"{' (by mail)' if p['by_mail'] else ''}: {_first_line(p['text'])}"
                                 for p in i["posts"]]
    if i["reports"]:
        lines += ["", "  reports:"] + [f"    {r['kind']:<16} {r['state']:<9} due {r['deadline']} ({r['target']})"
                                       + (f", sent {r['sent_at']}" if r["sent_at"] else "") for r in i["reports"]]
    states: dict[str, int] = {}
    for m in i["mail"]:
        states[m["state"]] = states.get(m["state"], 0) + 1
    lines += ["", "  mail: " + (", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none")]
    lines += ["", "  events:"] + [f"    {e['at']} {e['kind']} by {e['actor']} "
                                  f"{json.dumps(e['detail'], ensure_ascii=False)}" for e in i["events"]]
    return "\n".join(lines)


def _first_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:100] + ("…" if len(first) > 100 or len(text.strip().splitlines()) > 1 else "")
