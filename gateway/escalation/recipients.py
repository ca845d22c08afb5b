"""Whom a tier mails: roles (the customer's own account manager first), contacts, on-call, engineers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.config.escalation import ACCOUNT_MANAGER
from gateway.config.staff import Recipient
from gateway.outbound.context import MailContext
from gateway.store.models import Ticket


def person(ctx: MailContext, handle: str, default_zone: ZoneInfo | None = None) -> Recipient | None:
    """A contact (with its time zone) or an engineer, by handle or address."""
    return ctx.config.staff.person(handle, default_zone or ctx.config.gateway.timezone)


def on_call(ctx: MailContext, at: datetime) -> Recipient | None:
    """The contact on call at ``at``, read in the rotation's zone unless they have their own."""
    rotation = ctx.config.escalation.oncall
    if rotation is None:
        return None
    shift = rotation.shift_at(at)
    return person(ctx, shift.contact, rotation.timezone) if shift is not None else None


def account_managers(ctx: MailContext, ticket: Ticket) -> list[Recipient]:
    """The customer's own account manager when its [[customers]] entry names one, else the role's."""
    org = ctx.config.policy.directory.organisations.get(ticket.organisation or "")
    if org is not None and org.account_manager:
        own = person(ctx, org.account_manager)
        if own is not None:
            return [own]
    return _with_role(ctx, ACCOUNT_MANAGER)


def _with_role(ctx: MailContext, role: str) -> list[Recipient]:
    return [r for c in ctx.config.staff.with_role(role) if (r := person(ctx, c.handle)) is not None]


def engineers(ctx: MailContext, ticket: Ticket) -> list[Recipient]:
    """Whoever works the ticket: its assignee, else the members of its routed group."""
    staff = ctx.config.staff
    if ticket.assignee and staff.engineer(ticket.assignee) is not None:
        found = person(ctx, ticket.assignee)
        return [found] if found else []
    if ticket.route_group:
        return [r for a in staff.group_members(ticket.route_group) if (r := person(ctx, a.handle))]
    return []


def resolve(ctx: MailContext, ticket: Ticket, notify: Iterable[str], at: datetime,
            extra: Iterable[str] = ()) -> list[Recipient]:
    """The people ``notify`` names for ``ticket`` at ``at`` (plus ``extra`` handles), each once."""
    found: list[Recipient] = []
    for entry in notify:
        kind, _, arg = entry.partition(":")
        if kind == "role":
            found += account_managers(ctx, ticket) if arg == ACCOUNT_MANAGER else _with_role(ctx, arg)
        elif kind == "contact":
            one = person(ctx, arg)
            found += [one] if one else []
        elif kind == "on-call":
            one = on_call(ctx, at)
            found += [one] if one else []
        elif kind == "engineers":
            found += engineers(ctx, ticket)
    found += [r for h in extra if (r := person(ctx, h)) is not None]
    unique: dict[str, Recipient] = {}
    for r in found:
        unique.setdefault(r.address.lower(), r)
    return list(unique.values())
