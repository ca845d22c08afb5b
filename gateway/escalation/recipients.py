"""Whom a tier mails: roles (the customer's own account manager first), contacts, on-call, engineers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.app import App
from gateway.config.escalation import ACCOUNT_MANAGER
from gateway.config.staff import Staff
from gateway.store.models import Ticket


@dataclass(frozen=True, slots=True)
class Recipient:
    handle: str
    name: str
    address: str
    zone: ZoneInfo  # promises are written in the reader's own time zone


def person(app: App, handle: str, default_zone: ZoneInfo | None = None) -> Recipient | None:
    """A contact (with its time zone) or an engineer, by handle or address."""
    staff: Staff = app.config.staff
    zone = default_zone or app.config.gateway.timezone
    contact = staff.contact(handle)
    if contact is not None:
        return Recipient(contact.handle, contact.name, contact.address, contact.timezone or zone)
    agent = staff.agent(handle)
    if agent is not None:
        return Recipient(agent.handle, agent.name, agent.address, zone)
    return None


def on_call(app: App, at: datetime) -> Recipient | None:
    """The contact on call at ``at``, read in the rotation's zone unless they have their own."""
    rotation = app.config.escalation.oncall
    if rotation is None:
        return None
    shift = rotation.shift_at(at)
    return person(app, shift.contact, rotation.timezone) if shift is not None else None


def account_managers(app: App, ticket: Ticket) -> list[Recipient]:
    """The customer's own account manager when its [[customers]] entry names one, else the role's."""
    org = app.config.policy.directory.organisations.get(ticket.organisation or "")
    if org is not None and org.account_manager:
        own = person(app, org.account_manager)
        if own is not None:
            return [own]
    return _with_role(app, ACCOUNT_MANAGER)


def _with_role(app: App, role: str) -> list[Recipient]:
    return [r for c in app.config.staff.with_role(role) if (r := person(app, c.handle)) is not None]


def engineers(app: App, ticket: Ticket) -> list[Recipient]:
    """Whoever works the ticket: its assignee, else the members of its routed group."""
    staff = app.config.staff
    if ticket.assignee and staff.agent(ticket.assignee) is not None:
        found = person(app, ticket.assignee)
        return [found] if found else []
    if ticket.route_group:
        return [r for a in staff.group_members(ticket.route_group) if (r := person(app, a.handle))]
    return []


def resolve(app: App, ticket: Ticket, notify: Iterable[str], at: datetime,
            extra: Iterable[str] = ()) -> list[Recipient]:
    """The people ``notify`` names for ``ticket`` at ``at`` (plus ``extra`` handles), each once."""
    found: list[Recipient] = []
    for entry in notify:
        kind, _, arg = entry.partition(":")
        if kind == "role":
            found += account_managers(app, ticket) if arg == ACCOUNT_MANAGER else _with_role(app, arg)
        elif kind == "contact":
            one = person(app, arg)
            found += [one] if one else []
        elif kind == "on-call":
            one = on_call(app, at)
            found += [one] if one else []
        elif kind == "engineers":
            found += engineers(app, ticket)
    found += [r for h in extra if (r := person(app, h)) is not None]
    unique: dict[str, Recipient] = {}
    for r in found:
        unique.setdefault(r.address.lower(), r)
    return list(unique.values())
