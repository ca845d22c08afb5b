"""Who may write to a ticket besides its customer: copied colleagues by policy, third parties never."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.outbound.reply_token import is_support_recipient
from gateway.processing.engineers.identity import engineer_by_address
from gateway.store.claimed import APPROVED
from gateway.store.models import Ticket
from gateway.store.tickets import add_participant, is_participant, record
from parsers import ParsedMail


def is_colleague(app: App, ticket: Ticket, address: str) -> bool:
    """Someone of the ticket's organisation the ``[engineers] cc_participants`` policy lets in."""
    policy = app.config.staff.cc_participants
    if policy == "none" or not ticket.organisation:
        return False
    info = app.config.policy.directory.lookup(address)
    if info.organisation is None or info.organisation.name != ticket.organisation:
        return False
    return info.is_contact if policy == "contacts" else True


def admit_cc(session: Session, app: App, ticket: Ticket, mail: ParsedMail, now: datetime) -> list[str]:
    """Add the colleagues the customer copied (To or Cc) as participants; return who was added."""
    added = []
    actor = mail.sender.key if mail.sender else "customer"
    for person in (*mail.to, *mail.cc):
        key = person.key
        if is_support_recipient(key, app.support_addresses) or engineer_by_address(app.config.staff, key) \
                or key == app.config.outbound.from_address.lower():
            continue
        if is_colleague(app, ticket, key) and add_participant(session, ticket.id, key, person.name, "cc"):
            record(session, ticket.id, "participant-added", now, actor=actor, address=key, role="cc", via="cc")
            added.append(key)
    return added


def admission(session: Session, app: App, ticket: Ticket, sender: str, approval: str | None) -> str | None:
    """Who the writer of a mail to ``ticket`` is to it: customer, participant, colleague, or approved (by a
    reviewer); None when they are none of these, and their mail is held.

    A reply address leaks easily: a third party (a sign-up form filled in with it, say) can send
    mail to it. Only the customer, the ticket's participants and colleagues the policy admits may
    add to a ticket; anything else would be read, notified and quoted as the customer's own words
    (the "ticket trick", 2017). Engineers never come here: their mail is staff mail.
    """
    if approval == APPROVED:  # a reviewer let it on the ticket (`helpdesk held approve`)
        return "approved"
    if sender and sender == ticket.customer_address.lower():
        return "customer"
    if sender and is_participant(session, ticket.id, sender):
        return "participant"
    if sender and is_colleague(app, ticket, sender):
        return "colleague"
    return None


def admit(session: Session, app: App, ticket: Ticket, mail: ParsedMail, admitted_as: str, now: datetime) -> None:
    """The writes of an admitted reply: a colleague who wrote joins the ticket; the people its
    writer copied join as the policy allows (not for mail a reviewer approved)."""
    if admitted_as == "approved":
        return
    if admitted_as == "colleague" and mail.sender is not None:
        sender = mail.sender.key
        add_participant(session, ticket.id, sender, mail.sender.name, "cc")
        record(session, ticket.id, "participant-added", now, actor=sender, address=sender, role="cc", via="wrote")
    admit_cc(session, app, ticket, mail, now)
