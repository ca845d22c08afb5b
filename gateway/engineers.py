"""Engineers in the thread: their mail to tickets, notifications to them, and third parties kept out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.correlate import Correlation
from gateway.models import InboundMessage, Ticket
from parsers import ParsedMail


def is_staff_mail(app: App, mail: ParsedMail, corr: Correlation) -> bool:
    """Mail that claims to come from an engineer, or carries a token issued to one."""
    return False


def handle_staff_mail(session: Session, app: App, row: InboundMessage, mail: ParsedMail, corr: Correlation,
                      now: datetime) -> str:
    raise NotImplementedError("engineer mail is not handled by this version")


def third_party_gate(session: Session, app: App, row: InboundMessage, ticket: Ticket, mail: ParsedMail,
                     corr: Correlation, now: datetime) -> str | None:
    """None lets a reply onto the ticket; an outcome string means it was held instead."""
    return None


def notify_engineers(session: Session, app: App, ticket: Ticket, mail: ParsedMail, kind: str,
                     now: datetime) -> None:
    """Tell the routed group or assignee about a new ticket or a customer reply."""
    return None
