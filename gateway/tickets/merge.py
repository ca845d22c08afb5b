"""Merging a ticket into another: its mail, people, earliest promises and history join the other,
it is closed with a pointer, and its customer is told once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gateway.outbound.context import MailContext
from gateway.outbound.notices import thread_headers, to_customer
from gateway.sla.agreed import keep_earliest, stop_merged
from gateway.store.models import Event, Message, OutboxMessage, Participant, Ticket, table_of
from gateway.store.tickets import add_participant, record, write_events
from gateway.tickets.promises import set_eta
from gateway.tickets.wakeup import refresh_next_deadline
from gateway.tickets.workflow import set_priority

# A merged ticket's history, copied onto the ticket it joined, is kept apart from that ticket's
# own: "merged:sla-breach" is the merged ticket's breach, not one of the surviving ticket's clocks.
COPIED_PREFIX = "merged:"
_INSERT_EVENT = insert(table_of(Event))


def merge(session: Session, ctx: MailContext, merged: Ticket, into: Ticket, now: datetime, actor: str) -> None:
    """``merged`` joins ``into``: see the module's docstring. Both are in ``session``."""
    thread = thread_headers(session, merged)  # the customer's conversation, before its mail moves
    if merged.priority < into.priority:  # "P1" < "P3": the more urgent priority is kept
        set_priority(session, ctx, into, merged.priority, now, actor, reason=f"merged from #{merged.id}")
    taken = keep_earliest(session, into, merged, now)
    if merged.eta is not None and (into.eta is None or merged.eta < into.eta):
        set_eta(session, into, merged.eta, now, actor)
    if merged.update_every and not into.update_every and "update" in taken:  # its cadence came with its clock
        into.update_every = merged.update_every
    _move_mail(session, merged, into)
    people = _join_people(session, merged, into, now, actor)
    _copy_history(session, merged, into)
    _close(session, ctx, merged, into, now, actor)
    record(session, into.id, "ticket-merged", now, actor=actor, merged=merged.id, clocks=taken, participants=people)
    to_customer(session, ctx, merged, kind="merge-notice", cause_key=f"merged:{merged.id}", template="merge_notice",
                now=now, thread=thread,
                context={"merged": {"number": into.id, "subject": into.subject}})
    into.updated_at = now
    refresh_next_deadline(session, ctx.config.policy, into)


def _move_mail(session: Session, merged: Ticket, into: Ticket) -> None:
    """Every message (with its attachments) and every mail sent on ``merged`` now belongs to ``into``:
    a reply to any of them finds ``into`` by its thread."""
    session.flush()
    session.execute(update(Message).where(Message.ticket_id == merged.id).values(ticket_id=into.id),
                    execution_options={"synchronize_session": False})
    session.execute(update(OutboxMessage).where(OutboxMessage.ticket_id == merged.id).values(ticket_id=into.id),
                    execution_options={"synchronize_session": False})
    session.expire(merged, ["messages"])
    session.expire(into, ["messages"])


def _join_people(session: Session, merged: Ticket, into: Ticket, now: datetime, actor: str) -> list[str]:
    """The merged ticket's customer and participants join ``into`` (they stay on ``merged`` too, so
    a [#N] subject tag of theirs is still theirs); the addresses added."""
    added = []
    for p in session.scalars(select(Participant).where(Participant.ticket_id == merged.id).order_by(Participant.id)):
        role = "merged" if p.role == "customer" else p.role
        if p.address.lower() != into.customer_address.lower() and add_participant(session, into.id, p.address,
                                                                                     p.name, role):
            record(session, into.id, "participant-added", now, actor=actor, address=p.address, role=role,
                   via=f"merged from #{merged.id}")
            added.append(p.address)
    return added


def _copy_history(session: Session, merged: Ticket, into: Ticket) -> None:
    """The merged ticket's events, copied onto ``into`` under ``merged:KIND`` with their own instants."""
    write_events(session)
    rows: list[dict[str, Any]] = [
        {"ticket_id": into.id, "inbound_id": e.inbound_id, "at": e.at, "kind": (COPIED_PREFIX + e.kind)[:48],
         "actor": e.actor, "detail": {**(e.detail or {}), "from_ticket": merged.id}}
        for e in session.scalars(select(Event).where(Event.ticket_id == merged.id).order_by(Event.id))]
    if rows:
        session.connection().execute(_INSERT_EVENT, rows)


def _close(session: Session, ctx: MailContext, merged: Ticket, into: Ticket, now: datetime, actor: str) -> None:
    """Closed with a pointer: its clocks stop, its escalations end, mail to it lands on ``into``.
    Not ``set_status``: a merge resolves nothing, so no root-cause follow-up is opened for it."""
    old = merged.status
    merged.status, merged.status_since, merged.updated_at, merged.merged_into = "closed", now, now, into.id
    record(session, merged.id, "status-changed", now, actor=actor, old=old, new="closed",
           reason=f"merged into #{into.id}")
    stop_merged(session, merged, into.id, now, actor)
    record(session, merged.id, "merged-into", now, actor=actor, ticket=into.id)
    refresh_next_deadline(session, ctx.config.policy, merged)
