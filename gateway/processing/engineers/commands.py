"""An engineer's commands on a ticket: every one checked first, then all run, each one recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Engineer
from gateway.incidents.lifecycle import link, link_refusal, open_incident
from gateway.outbound.reply_token import is_support_recipient
from gateway.processing.engineers import case_commands
from gateway.processing.engineers.identity import engineer_by_address
from gateway.store.models import Incident, Participant, Ticket
from gateway.store.tickets import add_participant, is_participant, record
from gateway.tickets.ack import acknowledge_reply
from gateway.tickets.wakeup import refresh_next_deadline
from gateway.tickets.workflow import set_priority, set_status
from parsers.commands import Command, Refusal


def _assignee(app: App, engineer: Engineer, word: str) -> tuple[Engineer | None, str | None]:
    """``me``, an engineer's handle or address, or a group: (engineer, group); both None if unknown."""
    staff = app.config.staff
    if word == "me":
        return engineer, None
    found = staff.engineers.get(word) or engineer_by_address(staff, word)
    if found is not None:
        return found, None
    if word in staff.groups:
        return None, word
    return None, None


def _own_address(app: App, address: str) -> bool:
    return is_support_recipient(address, app.support_addresses) or \
        address == app.config.outbound.from_address.lower()


def check(session: Session, app: App, ticket: Ticket, engineer: Engineer,
          commands: tuple[Command, ...]) -> list[Refusal]:
    """Why any of ``commands`` cannot run on ``ticket``; empty when all can."""
    refusals = []
    for c in commands:
        if c.name == "assign":
            assignee, group = _assignee(app, engineer, c.args[0])
            if assignee is None and group is None:
                known = ", ".join(sorted(app.config.staff.engineers)) or "none"
                refusals.append(Refusal(c.line, f"no engineer or group is called {c.args[0]!r} "
                                                f"(engineers: {known})"))
        elif c.name == "cc":
            action, address = c.args
            if _own_address(app, address):
                refusals.append(Refusal(c.line, "a support address cannot be a participant"))
            elif engineer_by_address(app.config.staff, address) is not None:
                refusals.append(Refusal(c.line, "engineers are not copied on customer mail; they get notifications"))
            elif action == "remove" and address == ticket.customer_address.lower():
                refusals.append(Refusal(c.line, "the ticket's customer cannot be removed"))
            elif action == "remove" and not is_participant(session, ticket.id, address):
                refusals.append(Refusal(c.line, f"{address} is not on ticket #{ticket.id}"))
        elif c.name == "incident" and (why := _incident_refusal(session, ticket, c)) is not None:
            refusals.append(Refusal(c.line, why))
    incidents = [c for c in commands if c.name == "incident"]
    if len(incidents) > 1:
        refusals.append(Refusal(incidents[1].line, "one #incident command per mail: a ticket is part of one "
                                                   "open incident at a time"))
    refusals.extend(case_commands.check(session, app, ticket, engineer, commands, app.clock.now()))
    return refusals


def _incident_refusal(session: Session, ticket: Ticket, c: Command) -> str | None:
    """Why ``#incident open|ID`` cannot run on this ticket; resolve and report belong to the incident's address."""
    verb = c.args[0]
    if verb == "open":
        return link_refusal(session, None, ticket)
    if verb == "link":
        incident = session.get(Incident, int(c.args[1]))
        return f"there is no incident #{c.args[1]}" if incident is None else link_refusal(session, incident, ticket)
    return (f"#incident {verb} is written to the incident's own address (the Reply-To of its opening notice), "
            "not on a ticket")


def apply(session: Session, app: App, ticket: Ticket, engineer: Engineer, commands: tuple[Command, ...],
          now: datetime, replied_to: tuple[str, ...] = ()) -> None:
    """Run checked ``commands`` in order; each change is an event with the engineer as actor.

    ``replied_to`` (the mail's In-Reply-To and References) tells ``#ack`` which escalation mail
    it answers, so only that tier is acknowledged.
    """
    actor = engineer.address
    for c in commands:
        if c.name == "status":
            set_status(session, app, ticket, c.args[0], now, actor)
        elif c.name == "priority":
            set_priority(session, app, ticket, c.args[0], now, actor, reason=c.args[1])
        elif c.name == "assign":
            assignee, group = _assignee(app, engineer, c.args[0])
            old = {"assignee": ticket.assignee, "group": ticket.route_group}
            if assignee is not None:
                ticket.assignee = assignee.handle
            else:
                ticket.assignee, ticket.route_group = None, group
            ticket.updated_at = now
            record(session, ticket.id, "assigned", now, actor=actor, old=old,
                   new={"assignee": ticket.assignee, "group": ticket.route_group})
            # Who works the ticket decides whether update reminders are due.
            refresh_next_deadline(session, app.config.policy, ticket)
        elif c.name == "ack":
            acknowledge_reply(session, app, ticket, actor, now, replied_to)
        elif c.name == "incident":
            _incident(session, app, ticket, actor, c, now)
        elif c.name == "cc":
            action, address = c.args
            if action == "add" and add_participant(session, ticket.id, address, "", "cc"):
                record(session, ticket.id, "participant-added", now, actor=actor, address=address, role="cc")
            elif action == "remove":
                session.execute(delete(Participant).where(Participant.ticket_id == ticket.id,
                                                          Participant.address == address))
                record(session, ticket.id, "participant-removed", now, actor=actor, address=address)
        elif c.name in case_commands.NAMES:
            case_commands.apply(session, app, ticket, engineer, c, now)


def _incident(session: Session, app: App, ticket: Ticket, actor: str, c: Command, now: datetime) -> None:
    """``#incident open "TITLE"``: the ticket opens an incident; ``#incident ID``: it joins one (checked first)."""
    by = app.config.staff.engineer(actor)
    handle = by.handle if by is not None else actor
    if c.args[0] == "open":
        open_incident(session, app, c.args[1], handle, now, ticket=ticket)
        return
    incident = session.get(Incident, int(c.args[1]))
    assert incident is not None
    link(session, app, incident, ticket, handle, now)
