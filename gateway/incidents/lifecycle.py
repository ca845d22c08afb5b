"""What happens to an incident: opened, tickets linked, updates posted, resolved, reports sent.

Each function works in the caller's transaction and raises ``IncidentRefused`` (in words for the
person who asked) when what was asked cannot be done; nothing is written then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.incidents.broadcast import broadcast
from gateway.incidents.records import (
    IncidentRefused,
    Reach,
    is_linked,
    linked_tickets,
    open_incident_of,
    record_incident,
)
from gateway.incidents.reports import report_sent, start_report_clocks
from gateway.incidents.staff_mail import tell_engineers
from gateway.outbound.context import MailContext
from gateway.store.models import Incident, IncidentLink, IncidentPost, Ticket
from gateway.store.tickets import record
from gateway.tickets.workflow import SETTLED, set_status
from parsers.commands import INCIDENT_TITLE_MAX
from rules.priority import more_urgent

# An incident opened with no ticket and no priority takes its tickets' most urgent as they join.
LEAST_URGENT = "P4"


def clean_title(title: str) -> str:
    text = " ".join(title.split())
    if not text or len(text) > INCIDENT_TITLE_MAX:
        raise IncidentRefused(f"an incident needs a title of 1 to {INCIDENT_TITLE_MAX} characters")
    return text


def open_incident(session: Session, ctx: MailContext, title: str, by: str, now: datetime, *,
                  ticket: Ticket | None = None, priority: str | None = None) -> Incident:
    """A new incident (from ``ticket``, which it links, when given); each engineer is told, with their address."""
    text = clean_title(title)
    if ticket is not None and (why := link_refusal(session, None, ticket)) is not None:
        raise IncidentRefused(why)
    incident = Incident(title=text, status="open", priority=priority or (ticket.priority if ticket else LEAST_URGENT),
                        opened_at=now, opened_by=by, ticket_id=ticket.id if ticket else None)
    session.add(incident)
    session.flush()
    record_incident(session, incident.id, "incident-opened", now, actor=by, title=text, priority=incident.priority,
                    ticket=ticket.id if ticket else None)
    if ticket is not None:
        link(session, ctx, incident, ticket, by, now)
    tell_engineers(session, ctx, incident, now)
    return incident


def link_refusal(session: Session, incident: Incident | None, ticket: Ticket) -> str | None:
    """Why ``ticket`` cannot join ``incident`` (None: a new one); None when it can."""
    if incident is not None and incident.status != "open":
        return f"incident #{incident.id} ({incident.title}) is resolved: it takes no more tickets"
    other = open_incident_of(session, ticket.id)
    if other is not None and (incident is None or other.id != incident.id):
        return f"ticket #{ticket.id} is already part of incident #{other.id} ({other.title})"
    return None


def link(session: Session, ctx: MailContext, incident: Incident, ticket: Ticket, by: str, now: datetime) -> bool:
    """Link ``ticket`` to ``incident``; False when it already was. A ticket that joins late hears
    the incident's latest update at once, in its own thread."""
    if (why := link_refusal(session, incident, ticket)) is not None:
        raise IncidentRefused(why)
    if is_linked(session, incident.id, ticket.id):
        return False
    session.add(IncidentLink(incident_id=incident.id, ticket_id=ticket.id, linked_at=now, linked_by=by))
    session.flush()
    if more_urgent(ticket.priority, incident.priority):
        record_incident(session, incident.id, "incident-priority-raised", now, actor=by, old=incident.priority,
                        new=ticket.priority, ticket=ticket.id)
        incident.priority = ticket.priority
    record(session, ticket.id, "incident-linked", now, actor=by, incident=incident.id, title=incident.title)
    record_incident(session, incident.id, "ticket-linked", now, actor=by, ticket=ticket.id,
                    organisation=ticket.organisation, customer=ticket.customer_address)
    latest = session.scalar(select(IncidentPost).where(IncidentPost.incident_id == incident.id,
                                                       IncidentPost.kind == "update")
                            .order_by(IncidentPost.id.desc()).limit(1))
    if latest is not None:
        broadcast(session, ctx, incident, latest, now)
    return True


def link_by_title(session: Session, ctx: MailContext, ticket: Ticket, title: str, now: datetime) -> Incident | None:
    """A rule's ``incident``: the new ticket joins the open incident of that title (the newest, if several)."""
    key = " ".join(title.split()).lower()
    found = next((i for i in session.scalars(select(Incident).where(Incident.status == "open")
                                             .order_by(Incident.id.desc())) if i.title.lower() == key), None)
    why = "no open incident has that title" if found is None else link_refusal(session, found, ticket)
    if found is None or why is not None:
        record(session, ticket.id, "incident-not-linked", now, actor="rules", title=title, reason=why)
        return None
    link(session, ctx, found, ticket, "rules", now)
    return found


def _post(session: Session, ctx: MailContext, incident: Incident, kind: str, text: str, by: str, now: datetime, *,
          report: str | None = None, inbound_id: int | None = None) -> tuple[IncidentPost, Reach]:
    body = text.strip()
    if not body:
        raise IncidentRefused("nothing to send: the text is empty")
    post = IncidentPost(incident_id=incident.id, kind=kind, report=report, text=body, by=by, at=now,
                        inbound_id=inbound_id)
    session.add(post)
    session.flush()
    reach = broadcast(session, ctx, incident, post, now)
    record_incident(session, incident.id, f"incident-{kind}", now, actor=by, post=post.id, report=report,
                    **reach.as_dict())
    return post, reach


def update(session: Session, ctx: MailContext, incident: Incident, text: str, by: str, now: datetime, *,
           inbound_id: int | None = None) -> Reach:
    """An update to everyone the incident affects: in each ticket's thread, and to the status contacts."""
    if incident.status != "open":
        raise IncidentRefused(f"incident #{incident.id} ({incident.title}) is resolved: updates are over; "
                              "a report goes out with `helpdesk incident report`")
    return _post(session, ctx, incident, "update", text, by, now, inbound_id=inbound_id)[1]


def resolve(session: Session, ctx: MailContext, incident: Incident, text: str, by: str, now: datetime, *,
            inbound_id: int | None = None) -> Reach:
    """The restoration notice to everyone, the tickets moved as ``[incidents] resolve_tickets`` says, and
    the clocks of the reports the incident now owes started."""
    if incident.status != "open":
        raise IncidentRefused(f"incident #{incident.id} ({incident.title}) is resolved already")
    if not text.strip():
        raise IncidentRefused("nothing to send: the restoration notice needs its text")
    incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, by
    reach = _post(session, ctx, incident, "restored", text, by, now, inbound_id=inbound_id)[1]
    target = ctx.config.incidents.resolve_tickets
    moved = []
    if target != "unchanged":
        for ticket in linked_tickets(session, incident.id):
            if ticket.status not in SETTLED:
                set_status(session, ctx, ticket, target, now, by)
                moved.append(ticket.id)
    record_incident(session, incident.id, "incident-resolved", now, actor=by, tickets=moved, status=target)
    start_report_clocks(session, ctx, incident, now)
    return reach


def send_report(session: Session, ctx: MailContext, incident: Incident, kind: str, text: str, by: str, now: datetime,
                *, inbound_id: int | None = None) -> Reach:
    """A report to everyone the incident affected; it meets the report's clock when one runs."""
    kinds = ctx.config.incidents.report_kinds()
    if kind not in kinds:
        raise IncidentRefused(f"no report called {kind!r}; the reports are {', '.join(sorted(kinds))}")
    post, reach = _post(session, ctx, incident, "report", text, by, now, report=kind, inbound_id=inbound_id)
    report_sent(session, incident, kind, post, now)
    return reach
