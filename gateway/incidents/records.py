"""An incident's rows as the rest of the package reads them: its trail, its tickets, who they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.customers import Organisation
from gateway.errors import GatewayError
from gateway.outbound.context import MailContext
from gateway.store.models import Incident, IncidentEvent, IncidentLink, Ticket


class IncidentRefused(GatewayError):
    """What was asked of an incident cannot be done; the message says why, in words for the person who asked."""


def record_incident(session: Session, incident_id: int, kind: str, at: datetime, /, *, actor: str = "gateway",
                    **detail: Any) -> None:
    """Append to the incident's own trail, in the caller's transaction."""
    session.add(IncidentEvent(incident_id=incident_id, at=at, kind=kind, actor=actor[:320], detail=detail))


def linked_tickets(session: Session, incident_id: int) -> list[Ticket]:
    """The incident's tickets, in the order they were linked."""
    return list(session.scalars(select(Ticket).join(IncidentLink, IncidentLink.ticket_id == Ticket.id)
                                .where(IncidentLink.incident_id == incident_id).order_by(IncidentLink.id)))


def open_incident_of(session: Session, ticket_id: int) -> Incident | None:
    """The open incident the ticket is part of, if any (a ticket is part of one open incident at a time)."""
    return session.scalar(select(Incident).join(IncidentLink, IncidentLink.incident_id == Incident.id)
                          .where(IncidentLink.ticket_id == ticket_id, Incident.status == "open").limit(1))


def is_linked(session: Session, incident_id: int, ticket_id: int) -> bool:
    return session.scalar(select(IncidentLink.id).where(IncidentLink.incident_id == incident_id,
                                                        IncidentLink.ticket_id == ticket_id)) is not None


def customer_key(ticket: Ticket) -> str:
    """Who a ticket's customer is, as incidents count them: the organisation, else the address."""
    return ticket.organisation or ticket.customer_address.lower()


def affected_customers(tickets: list[Ticket]) -> int:
    """How many customers an incident affects: organisations, and customers of no known one."""
    return len({customer_key(t) for t in tickets})


def organisations(ctx: MailContext, tickets: list[Ticket]) -> list[Organisation]:
    """The configured organisations of the tickets, each once, in the order their tickets came."""
    directory = ctx.config.policy.directory.organisations
    names = dict.fromkeys(t.organisation for t in tickets if t.organisation)
    return [directory[n] for n in names if n in directory]


def began_at(incident: Incident, tickets: list[Ticket]) -> datetime:
    """When the outage began as far as the desk knows: the incident's opening or its earliest ticket."""
    return min([incident.opened_at, *(t.created_at for t in tickets)])


def duration(incident: Incident, tickets: list[Ticket], until: datetime) -> timedelta:
    return until - began_at(incident, tickets)


@dataclass(frozen=True, slots=True)
class Reach:
    """Whom one post reached: tickets (their customers, in their threads) and status contacts."""

    tickets: tuple[int, ...] = ()
    status_contacts: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"tickets": list(self.tickets), "status_contacts": list(self.status_contacts)}
