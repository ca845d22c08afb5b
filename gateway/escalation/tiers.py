"""Escalation tiers: which are due on a ticket, mailed once per trigger, repeated until acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.models import Ticket


def fire_due_tiers(session: Session, app: App, ticket: Ticket, now: datetime) -> None:
    """Escalation policies are not configurable yet: plans name none, so nothing fires."""
    return None


def acknowledge_tiers(session: Session, app: App, ticket: Ticket, by: str, now: datetime) -> None:
    """Stop the repeats of every tier fired so far on ``ticket``."""
    return None
