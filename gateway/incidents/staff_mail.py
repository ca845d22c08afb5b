"""Mail about an incident to our own people: engineers told it opened (with their own address for it),
and the named roles reminded of a report that falls due, then told when it is late."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.escalation import ACCOUNT_MANAGER
from gateway.config.incidents import ReportPolicy
from gateway.config.staff import Recipient
from gateway.escalation.recipients import on_call, person
from gateway.incidents.broadcast import incident_context
from gateway.incidents.records import linked_tickets, organisations
from gateway.outbound.context import MailContext
from gateway.outbound.incident_address import incident_address
from gateway.outbound.notices import local_time
from gateway.outbound.outbox import Draft, queue
from gateway.store.models import Incident, IncidentClock, IncidentPost

OPENED = "incident-opened"
REMINDER = "incident-report-reminder"
ESCALATION = "incident-report-escalation"


def _support(ctx: MailContext) -> dict[str, str]:
    return {"name": ctx.config.gateway.name, "address": ctx.config.gateway.support_address}


def address_for(ctx: MailContext, incident: Incident, engineer_address: str) -> str:
    return incident_address(ctx.secret, ctx.config.gateway.support_address, incident.id, engineer_address)


def tell_engineers(session: Session, ctx: MailContext, incident: Incident, now: datetime) -> None:
    """Every engineer hears the incident opened, once, with the address through which they write to it."""
    zone = ctx.config.gateway.timezone
    tickets = linked_tickets(session, incident.id)
    for engineer in ctx.config.staff.engineers.values():
        address = address_for(ctx, incident, engineer.address)
        rendered = ctx.templates.render("incident_opened", {
            "incident": incident_context(incident, zone), "support": _support(ctx), "address": address,
            "engineer": {"name": engineer.name, "handle": engineer.handle},
            "tickets": [{"number": t.id, "subject": t.subject, "customer": t.customer_address,
                         "organisation": t.organisation} for t in tickets],
            "reports": sorted(ctx.config.incidents.reports)})
        queue(session, ctx.outbox_policy, Draft(
            kind=OPENED, cause_key=f"incident:{incident.id}:opened:{engineer.handle}", ticket_id=None,
            to=((engineer.name, engineer.address),), subject=rendered.subject, text=rendered.text,
            reply_to=address, auto_submitted="auto-generated"), now)


def _engineers_of(session: Session, ctx: MailContext, incident: Incident) -> list[str]:
    """Who works the incident: whoever opened it and whoever posted to it, when they are engineers."""
    posters = session.scalars(select(IncidentPost.by).where(IncidentPost.incident_id == incident.id))
    return [h for h in dict.fromkeys([incident.opened_by, *posters]) if ctx.config.staff.engineer(h) is not None]


def recipients(session: Session, ctx: MailContext, incident: Incident, notify: tuple[str, ...],
               now: datetime) -> list[Recipient]:
    """The people ``notify`` names for this incident, each once. An account manager is each affected
    organisation's own where it has one, else whoever holds the role."""
    found: list[Recipient] = []
    staff = ctx.config.staff
    for entry in notify:
        kind, _, arg = entry.partition(":")
        handles: list[str] = []
        if kind == "role" and arg == ACCOUNT_MANAGER:
            orgs = organisations(ctx, linked_tickets(session, incident.id))
            handles = [o.account_manager for o in orgs if o.account_manager]
            if not handles or any(not o.account_manager for o in orgs):
                handles += [c.handle for c in staff.with_role(arg)]
        elif kind == "role":
            handles = [c.handle for c in staff.with_role(arg)]
        elif kind == "contact":
            handles = [arg]
        elif kind == "engineers":
            handles = _engineers_of(session, ctx, incident)
        elif kind == "on-call":
            one = on_call(ctx, now)
            handles = [one.handle] if one is not None else []
        found += [r for h in handles if (r := person(ctx, h)) is not None]
    unique: dict[str, Recipient] = {}
    for r in found:
        unique.setdefault(r.address.lower(), r)
    return list(unique.values())


def report_due(session: Session, ctx: MailContext, incident: Incident, clock: IncidentClock, report: ReportPolicy,
               stage: str, now: datetime) -> list[str]:
    """The reminder (``stage`` "reminder") or the breach (``"breach"``) of a report, to whom the policy names;
    an engineer's mail carries their incident address, to which the report itself can be written."""
    notify = report.remind if stage == "reminder" else tuple(dict.fromkeys(report.remind + report.escalate))
    sent = []
    for r in recipients(session, ctx, incident, notify, now):
        engineer = ctx.config.staff.engineer(r.handle)
        reply_to = address_for(ctx, incident, engineer.address) if engineer is not None else None
        context: dict[str, Any] = {
            "incident": incident_context(incident, r.zone), "support": _support(ctx), "stage": stage,
            "recipient": {"name": r.name, "handle": r.handle, "engineer": engineer is not None},
            "report": {"kind": report.kind, "title": report.title, "target": clock.target,
                       "due": local_time(clock.deadline, r.zone), "started": local_time(clock.started_at, r.zone)}}
        rendered = ctx.templates.render("incident_report_due", context, timezone=r.zone.key)
        queue(session, ctx.outbox_policy, Draft(
            kind=REMINDER if stage == "reminder" else ESCALATION,
            cause_key=f"incident:{incident.id}:report:{report.kind}:{stage}:{r.handle}", ticket_id=None,
            to=((r.name, r.address),), subject=rendered.subject, text=rendered.text, reply_to=reply_to,
            auto_submitted="auto-generated"), now)
        sent.append(r.address)
    return sent
