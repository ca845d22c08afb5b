"""Acknowledging an escalation: the contact has it, so the repeats for that tier stop."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.models import Ticket
from gateway.tickets import record


def acknowledge(session: Session, app: App, ticket: Ticket, by: str, now: datetime) -> None:
    """Record that ``by`` (a contact or engineer handle or address) has taken the ticket."""
    from gateway.escalation.tiers import acknowledge_tiers
    acknowledge_tiers(session, app, ticket, by, now)
    record(session, ticket.id, "escalation-acknowledged", now, actor=by)
