"""What a maintenance window tells the status contacts: the notice, the start, the completion, a cancellation.

Each goes to every status contact of each affected organisation once (cause key: the window, the
stage and the address), in the organisation's time zone and the contact's language. The notice
carries the window as an iCalendar event (METHOD:PUBLISH) so that it lands in their calendar; a
cancellation carries the same event cancelled (same UID, a higher SEQUENCE), and goes only to those
who were told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.customers import Organisation
from gateway.maintenance.windows import under_way
from gateway.outbound.compose import OutAttachment
from gateway.outbound.context import MailContext
from gateway.outbound.notices import local_time
from gateway.outbound.outbox import Draft, queue
from gateway.store.models import AddressFlag, MaintenanceWindow, OutboxMessage, Ticket
from gateway.store.tickets import record

# A stage of the window's life, and the outbox kind of its mail.
KINDS = {"notice": "maintenance-notice", "start": "maintenance-started", "complete": "maintenance-completed",
         "cancel": "maintenance-cancelled"}


def cause(window_id: int, stage: str, address: str) -> str:
    return f"maintenance:{window_id}:{stage}:{address.lower()}"


def affected(ctx: MailContext, window: MaintenanceWindow) -> list[Organisation]:
    directory = ctx.config.policy.directory.organisations
    names = window.organisations if window.organisations is not None else sorted(directory)
    return [directory[n] for n in names if n in directory]


def recipients(ctx: MailContext, window: MaintenanceWindow) -> list[tuple[Organisation, str]]:
    """Each status contact of each affected organisation, once (the first organisation naming it wins)."""
    seen: set[str] = set()
    found = []
    for org in affected(ctx, window):
        for address in org.status_contacts:
            if address.lower() not in seen:
                seen.add(address.lower())
                found.append((org, address))
    return found


def told(session: Session, window_id: int) -> set[str]:
    """The addresses the window's notice went to (queued and not suppressed by the caps)."""
    prefix = f"maintenance:{window_id}:notice:"
    rows = session.scalars(select(OutboxMessage.cause_key).where(
        OutboxMessage.cause_key.startswith(prefix, autoescape=True), OutboxMessage.state != "suppressed"))
    return {key[len(prefix):] for key in rows}


def send(session: Session, ctx: MailContext, window: MaintenanceWindow, stage: str, now: datetime,
         only: set[str] | None = None) -> list[str]:
    """Queue the stage's mail to every recipient (or those in ``only``) not yet sent it; say who."""
    sent = []
    for org, address in recipients(ctx, window):
        if only is not None and address.lower() not in only:
            continue
        flag = session.get(AddressFlag, address)
        if flag is not None and flag.undeliverable:
            continue
        if _queue(session, ctx, window, stage, org, address, now):
            sent.append(address)
    return sent


def _queue(session: Session, ctx: MailContext, window: MaintenanceWindow, stage: str, org: Organisation,
           address: str, now: datetime) -> bool:
    zone = org.timezone or ctx.config.gateway.timezone
    kind = ctx.config.maintenance.kinds.get(window.kind)
    rendered = ctx.templates.render("maintenance_notice", {
        "stage": stage, "maintenance": window_context(window, zone, kind.title if kind else window.kind,
                                                      kind.downtime if kind else False),
        "organisation": {"name": org.name}, "recipient": {"address": address},
        "support": {"name": ctx.config.gateway.name, "address": ctx.config.gateway.support_address}},
        language=org.contact_language(address) or org.language or ctx.config.gateway.language, timezone=zone.key)
    first = _first_mail(session, window.id, address)
    attachments: tuple[OutAttachment, ...] = ()
    if stage in ("notice", "cancel"):
        ics = calendar_event(window, ctx.config.gateway.support_address, cancelled=stage == "cancel", now=now)
        attachments = (OutAttachment(f"maintenance-{window.id}.ics", "text/calendar", ics),)
    return queue(session, ctx.outbox_policy, Draft(
        kind=KINDS[stage], cause_key=cause(window.id, stage, address), ticket_id=None, to=(("", address),),
        subject=rendered.subject, text=rendered.text, html=rendered.html, in_reply_to=first,
        references=(first,) if first else (), auto_submitted="auto-generated", attachments=attachments),
        now) is not None


def _first_mail(session: Session, window_id: int, address: str) -> str | None:
    """The first mail this contact had about the window: the later ones thread under it."""
    keys = [cause(window_id, s, address) for s in KINDS]
    return session.scalar(select(OutboxMessage.message_id).where(OutboxMessage.cause_key.in_(keys))
                          .order_by(OutboxMessage.id).limit(1))


def window_context(window: MaintenanceWindow, zone: Any, kind_title: str, downtime: bool) -> dict[str, Any]:
    return {"number": window.id, "title": window.title, "text": window.text, "kind": kind_title,
            "downtime": downtime, "starts": local_time(window.starts_at, zone),
            "ends": local_time(window.ends_at, zone),
            "reason": window.cancel_reason or ""}


def calendar_event(window: MaintenanceWindow, organizer: str, *, cancelled: bool, now: datetime) -> bytes:
    """The window as an iCalendar object: published, or cancelled (same UID, next SEQUENCE)."""
    cal = Calendar()
    cal.add("prodid", "-//helpdesk gateway//maintenance//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    domain = organizer.rpartition("@")[2] or "localhost"
    event.add("uid", f"maintenance-{window.id}@{domain}")
    event.add("dtstamp", now)
    event.add("dtstart", window.starts_at)
    event.add("dtend", window.ends_at)
    event.add("summary", window.title)
    event.add("description", window.text)
    event.add("sequence", 1 if cancelled else 0)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", f"mailto:{organizer}")
    cal.add_component(event)
    ics: bytes = cal.to_ical()
    return ics


def under_way_context(session: Session, ctx: MailContext, ticket: Ticket, at: datetime) -> list[dict[str, Any]]:
    """The work under way for the ticket's organisation as its mail arrived, for the acknowledgement's
    line about it; each window is noted on the ticket (``maintenance-window``), linking the two."""
    found = []
    zone = ticket.timezone or ctx.config.gateway.timezone.key
    for window in under_way(session, ticket.organisation, at):
        kind = ctx.config.maintenance.kinds.get(window.kind)
        found.append(window_context(window, zone, kind.title if kind else window.kind,
                                    kind.downtime if kind else False))
        record(session, ticket.id, "maintenance-window", at, maintenance=window.id, title=window.title,
               ends=window.ends_at.isoformat())
    return found
