"""The engineer's everyday tools on a ticket: ``#eta``, ``#update-every``, ``#merge``, ``#reply``,
``#escalate``, each checked against the ticket before anything in the mail runs, then run and recorded."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Engineer
from gateway.outbound.notices import local_time
from gateway.processing.engineers import canned
from gateway.store.models import CLOSED_STATUSES, Ticket
from gateway.tickets.merge import merge
from gateway.tickets.promises import set_eta, set_update_every
from gateway.tickets.stages import enter_stage, stage_refusal
from gateway.tickets.workflow import SETTLED
from gateway.time.durations import DurationError, Target, format_target, parse_target
from parsers.case_commands import NAMES, eta_instant
from parsers.commands import Command, Refusal

__all__ = ["BEFORE_RELAY", "NAMES", "apply", "check"]

# Run before the mail's text is relayed, so that a canned reply in the same mail can state them.
BEFORE_RELAY = ("eta", "update-every")
# No cadence shorter than this: an update notice every few minutes is noise, not a promise.
SHORTEST_CADENCE = timedelta(minutes=10)


def _zone(app: App, ticket: Ticket) -> str:
    return ticket.timezone or app.config.gateway.timezone.key


def _eta(app: App, ticket: Ticket, c: Command, now: datetime) -> str | None:
    if ticket.status in CLOSED_STATUSES:
        return f"ticket #{ticket.id} is {ticket.status}: there is nothing left to estimate"
    eta = eta_instant(c.args, now, _zone(app, ticket))
    if eta is not None and eta <= now:
        return (f"{local_time(eta, _zone(app, ticket))} is not ahead (it is now {local_time(now, _zone(app, ticket))}"
                " in the customer's time zone)")
    return None


def _cadence(app: App, ticket: Ticket, c: Command) -> Target | str | None:
    """The cadence ``#update-every`` asks for (None: the plan's), or why it cannot be had."""
    if ticket.status in SETTLED:
        return f"ticket #{ticket.id} is {ticket.status}: no updates are due on it"
    if c.args[0] == "plan":
        return None
    try:
        target = parse_target(c.args[0])
    except DurationError:
        return f"cannot read {c.args[0]!r} as an interval: write 2h, 90 minutes or 4 business hours"
    if target.kind in ("none", "mean"):  # no clock, or a figure over many cases: not a cadence
        return f"{c.args[0]!r} is no cadence: write an interval like 2h, or plan"
    cap = app.config.outbound.max_per_ticket_per_hour
    shortest = max(SHORTEST_CADENCE, timedelta(hours=1) / max(cap, 1))
    if isinstance(target.amount, timedelta) and target.amount < shortest:
        return (f"an update every {c.args[0]} is too often: at least {int(shortest.total_seconds() // 60)} minutes "
                f"(the gateway sends at most {cap} automatic mails an hour on a ticket)")
    return target


def _merge_refusal(session: Session, ticket: Ticket, c: Command) -> str | None:
    number = int(c.args[0])
    other = session.get(Ticket, number)
    if number == ticket.id:
        return "a ticket cannot be merged into itself"
    if other is None:
        return f"there is no ticket #{number}"
    if other.merged_into is not None:
        return f"ticket #{number} was itself merged into #{other.merged_into}: merge into #{other.merged_into}"
    if other.status in CLOSED_STATUSES:
        return (f"ticket #{number} is {other.status}: reopen it first (#status open on #{number}), "
                "or merge it into this one")
    if other.organisation != ticket.organisation:
        return (f"ticket #{number} is {other.organisation or 'no organisation'}'s and this one is "
                f"{ticket.organisation or 'no organisation'}'s: merging would show each customer the other's mail")
    if other.organisation is None and other.customer_address.lower() != ticket.customer_address.lower():
        return f"ticket #{number} has another customer and neither belongs to an organisation: they are not merged"
    return None


def _pending(app: App, ticket: Ticket, commands: tuple[Command, ...], now: datetime) -> dict[str, Any]:
    """The ticket values this mail's own #eta and #update-every will set: its canned reply is
    written after they run, and is checked as it will be written."""
    values: dict[str, Any] = {}
    for c in commands:
        if c.name == "eta" and _eta(app, ticket, c, now) is None:
            eta = eta_instant(c.args, now, _zone(app, ticket))
            values["eta"] = local_time(eta, _zone(app, ticket)) if eta is not None else None
        elif c.name == "update-every" and isinstance(found := _cadence(app, ticket, c), Target):
            values["update_every"] = format_target(found)
    return values


def check(session: Session, app: App, ticket: Ticket, engineer: Engineer, commands: tuple[Command, ...],
          now: datetime) -> list[Refusal]:
    """Why any of these commands in ``commands`` cannot run on ``ticket`` at ``now``."""
    refusals = []
    for c in commands:
        why: str | None = None
        if c.name == "eta":
            why = _eta(app, ticket, c, now)
        elif c.name == "update-every":
            found = _cadence(app, ticket, c)
            why = found if isinstance(found, str) else None
        elif c.name == "merge":
            why = _merge_refusal(session, ticket, c)
        elif c.name == "escalate":
            why = stage_refusal(app, ticket, c.args[0])
        elif c.name == "reply":
            try:
                canned.render(app, ticket, engineer, c.args[0], now, _pending(app, ticket, commands, now))
            except canned.CannedError as exc:
                why = str(exc)
        if why is not None:
            refusals.append(Refusal(c.line, why))
    return refusals


def apply(session: Session, app: App, ticket: Ticket, engineer: Engineer, c: Command, now: datetime) -> None:
    """Run one checked command; ``#reply`` was written into the mail's text before it was relayed."""
    actor = engineer.address
    if c.name == "eta":
        set_eta(session, ticket, eta_instant(c.args, now, _zone(app, ticket)), now, actor)
    elif c.name == "update-every":
        found = _cadence(app, ticket, c)
        assert not isinstance(found, str)
        set_update_every(session, app, ticket, found, now, actor)
    elif c.name == "merge":
        other = session.get(Ticket, int(c.args[0]))
        assert other is not None
        merge(session, app, ticket, other, now, actor)
    elif c.name == "escalate":
        enter_stage(session, app, ticket, c.args[0], now, actor)
