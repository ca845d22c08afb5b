"""The writes for each disposition, inside the processor's transaction.

``process_inbound`` parses a claimed mail, asks ``disposition.decide`` what becomes of it, and
makes the writes of that route, and only those: the outcome it returns is the decision's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.incidents.lifecycle import link_by_title
from gateway.outbound.engineer_mail import tell_rule_contacts
from gateway.outbound.languages import language_for
from gateway.outbound.outbox import Draft, queue
from gateway.processing.bounces import tie_bounce
from gateway.processing.complaints import tie_complaint
from gateway.processing.contact_ack import apply_contact
from gateway.processing.disposition import ORIGINAL_STATES, Arrival, Disposition, decide, dedupe_key
from gateway.processing.engineers.thread import apply_engineer, hold_engineer, notify_engineers
from gateway.processing.incident_writes import apply_incident_mail, hold_incident_mail
from gateway.processing.participants import admit, admit_cc
from gateway.processing.repeats import repeat_key
from gateway.sla.clocks import start_clocks
from gateway.store.claimed import Claimed
from gateway.store.history import HISTORY_SOURCE, filing_history, in_history
from gateway.store.models import Ticket
from gateway.store.tickets import add_message, open_ticket, record
from gateway.tickets.wakeup import refresh_next_deadline
from gateway.tickets.workflow import open_with_sla, set_priority, set_status
from parsers import parse

__all__ = ["ORIGINAL_STATES", "process_inbound"]

log = logging.getLogger("gateway.process")

_LOCK_COPIES = text("SELECT pg_advisory_xact_lock(:key)")
# A mail this one answers, stored before it and not processed yet (maybe by another process now).
_PARENT_WAITING = text("SELECT id FROM inbound_messages WHERE state = 'pending' AND id < :row_id "
                       "AND message_id IN :ids").bindparams(bindparam("ids", expanding=True))
# The outcome of a mail left in the queue for a later batch: its row stays pending, unchanged.
DEFERRED = "deferred"

Writes = Callable[[Session, App, Claimed, Disposition, datetime], None]


def process_inbound(session: Session, app: App, row: Claimed, now: datetime, *,
                    unwritten: Mapping[str, int] | None = None, batch: Collection[int] = ()) -> str:
    """Apply one stored mail; return its outcome. Raises to have the mail quarantined.

    ``unwritten`` holds the dedupe keys of mails processed earlier in the same batch whose
    outcomes are not in the database yet: a second copy among them is a duplicate too. ``batch``
    is the ids of the batch's rows: a reply's parent among them is processed, not waiting.

    Imported history (source ``history``) is processed the same way, as of when it arrived,
    with nothing queued to send and no clock started (gateway.store.history).
    """
    if row.source != HISTORY_SOURCE:
        return _process(session, app, row, now, unwritten, batch)
    with filing_history(session):
        return _process(session, app, row, row.received_at, unwritten, batch)


def _process(session: Session, app: App, row: Claimed, now: datetime, unwritten: Mapping[str, int] | None,
             batch: Collection[int]) -> str:
    mail = parse(row.raw, received_at=row.received_at, limits=app.limits)
    if not app.db.is_sqlite:
        # Two workers holding two copies of one mail must not both open a ticket: the second
        # waits here until the first commits, then finds its copy. (SQLite has one writer.)
        key = dedupe_key(mail)
        session.connection().execute(_LOCK_COPIES, {"key": int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)})
        if _parent_waiting(session, row, batch, mail.in_reply_to, mail.references):
            # A mail it answers is being processed by another process: its ticket may not be
            # committed yet, and a ticket of its own now would split the thread. It is taken up
            # again once that one is committed. Asked before the thread is looked up: a parent
            # committed between the lookup and this question would be neither waited for nor found.
            # (On SQLite one writer processes a batch at a time: the parent is always done first.)
            return DEFERRED
    d = decide(session, app, mail, Arrival(raw=row.raw, received_at=row.received_at, envelope_from=row.mail_from,
                                           rcpt_to=tuple(row.rcpt_to or ()), approval=row.verdict, row_id=row.id),
               unwritten=unwritten)
    row.message_id, row.dedupe_key = mail.message_id[:998], d.key
    _WRITES[d.route](session, app, row, d, now)
    return d.outcome


def _parent_waiting(session: Session, row: Claimed, batch: Collection[int], *threads: tuple[str, ...]) -> bool:
    ids = list(dict.fromkeys(i for thread in threads for i in thread if i))
    if not ids:
        return False
    waiting = session.connection().scalars(_PARENT_WAITING, {"row_id": row.id, "ids": ids}).all()
    return any(w not in batch for w in waiting)  # this batch's own rows are processed, not waiting


def _duplicate(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    row.state, row.reason = "duplicate", d.reason
    record(session, None, "duplicate", now, inbound_id=row.id, earlier=d.earlier, message_id=d.mail.message_id)


def _screened(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    verdict, corr, mail = d.verdict, d.corr, d.mail
    assert verdict is not None and corr is not None
    row.state, row.verdict, row.reason = "screened", verdict.kind, verdict.reason
    if verdict.kind == "bounce" and verdict.bounce is not None:
        tie_bounce(session, row, verdict, now)
    elif verdict.kind == "feedback-report":
        tie_complaint(session, row, verdict, now)
    if corr.ticket_id is not None:
        ticket = session.get(Ticket, corr.ticket_id)
        assert ticket is not None
        add_message(session, ticket, mail, inbound_id=row.id, kind=verdict.kind, now=now)
        row.ticket_id = ticket.id
    record(session, row.ticket_id, "screened", now, inbound_id=row.id, verdict=verdict.kind,
           reason=verdict.reason, message_id=mail.message_id)
    log.info("%s: screened as %s: %s", mail.message_id, verdict.kind, verdict.reason)


def _no_sender(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    row.state, row.verdict, row.reason = "screened", "no-sender", d.reason
    record(session, None, "screened", now, inbound_id=row.id, verdict="no-sender", reason=row.reason)


def _held(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    """Routes ``contact-held``, ``reply-held`` and ``held`` (a sender the policy holds)."""
    row.state, row.reason = "held", d.reason[:2000]
    row.ticket_id = d.ticket.id if d.ticket is not None and d.route != "held" else None
    sender = d.contact.contact.address if d.contact else (d.mail.sender.key if d.mail.sender else "")
    facts: dict[str, Any] = {}
    if d.route == "reply-held" and d.corr is not None:
        facts = {"via": d.corr.via, "message_id": d.mail.message_id}
    record(session, row.ticket_id, "held", now, inbound_id=row.id, sender=sender, reason=row.reason, **facts)


def _contact(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    assert d.contact is not None and d.ticket is not None and d.reply is not None
    apply_contact(session, app, row, d.mail, d.contact, d.ticket, d.reply, now)


def _reply(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    ticket, mail, corr = d.ticket, d.mail, d.corr
    assert ticket is not None and corr is not None and d.admitted_as is not None
    admit(session, app, ticket, mail, d.admitted_as, now)
    sender = mail.sender.key if mail.sender else ""
    at = max(row.received_at, ticket.status_since or row.received_at)
    add_message(session, ticket, mail, inbound_id=row.id, kind="customer", now=now,
                blocked_types=app.config.processing.blocked_attachment_types,
                attachment_max_size=app.config.processing.attachment_max_size)
    record(session, ticket.id, "customer-reply", now, inbound_id=row.id, via=corr.via, actor=sender,
           message_id=mail.message_id)
    notify_engineers(session, app, ticket, mail, "customer-reply", now)
    row.state, row.ticket_id = "done", ticket.id
    if in_history(session) and ticket.clocks:
        # History joining a ticket the gateway keeps live: filed on it, it moves none of its clocks.
        log.info("%s: filed on ticket #%d as history (via %s)", mail.message_id, ticket.id, corr.via)
        return
    if ticket.status in ("resolved", "resolution-proposed", "pending"):
        set_status(session, app, ticket, "open", at, sender or "customer")
    if ticket.status == "open" and not ticket.clocks:
        # An imported ticket (filed as history, no clock ever ran) the customer writes to again:
        # from this mail on it is kept like any other. (No-op in history mode, and for a plan
        # without targets.)
        start_clocks(session, app.config.policy, ticket, at)
        refresh_next_deadline(session, app.config.policy, ticket)
    if d.priority is not None and d.priority < ticket.priority and d.classification is not None:
        set_priority(session, app, ticket, d.priority, at, "rules",
                     reason="customer reply: " + ", ".join(d.classification.matched_rules))
    log.info("%s: added to ticket #%d (via %s)", mail.message_id, ticket.id, corr.via)


def _repeat(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    """Store a repeat on its ticket and count it (gateway.processing.repeats): nothing sent, no clock."""
    ticket, mail = d.ticket, d.mail
    assert ticket is not None
    add_message(session, ticket, mail, inbound_id=row.id, kind="repeat", now=now,
                blocked_types=app.config.processing.blocked_attachment_types,
                attachment_max_size=app.config.processing.attachment_max_size)
    ticket.repeats = Ticket.repeats + 1  # in SQL: another worker may be counting one too
    ticket.last_repeat_at = max(row.received_at, ticket.last_repeat_at or row.received_at)
    session.flush()
    sender = mail.sender.key if mail.sender else ""
    record(session, ticket.id, "repeat", now, inbound_id=row.id, actor=sender, message_id=mail.message_id,
           count=ticket.repeats)
    row.state, row.ticket_id = "done", ticket.id
    if not in_history(session) and ticket.status != "open":
        # Waiting on the customer, or offered as solved: the same alert again says it is not.
        set_status(session, app, ticket, "open", max(row.received_at, ticket.status_since or row.received_at),
                   sender or "customer")
    log.info("%s: repeat %d on ticket #%d", mail.message_id, ticket.repeats, ticket.id)


def _new_ticket(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    mail, info, result, parent = d.mail, d.info, d.classification, d.ticket
    assert mail.sender is not None and info is not None and result is not None
    language = language_for(info, mail, parent=parent.language if parent else None, default=app.config.gateway.language)
    # The ticket exists from when its mail arrived: "after hours" and every promise are judged
    # on that instant, not on when a backlog let the gateway read it.
    ticket = open_ticket(session, mail, priority=result.priority, plan=info.plan,
                         organisation=info.organisation.name if info.organisation else None,
                         verified=info.verified, now=row.received_at, timezone=info.timezone.key,
                         tags=list(result.tags), route_group=result.route, parent_id=parent.id if parent else None,
                         status_since=row.received_at, language=language.code,
                         repeat_key=repeat_key(mail.sender.key, mail.subject))
    add_message(session, ticket, mail, inbound_id=row.id, kind="customer", now=now,
                blocked_types=app.config.processing.blocked_attachment_types,
                attachment_max_size=app.config.processing.attachment_max_size)
    record(session, ticket.id, "ticket-opened", now, inbound_id=row.id, actor=mail.sender.key,
           priority=ticket.priority, plan=ticket.plan, organisation=ticket.organisation, language=language.detail,
           verified=ticket.verified, message_id=mail.message_id, parent=parent.id if parent else None)
    record(session, ticket.id, "classified", now, priority=result.priority, tags=list(result.tags),
           route=result.route, notify=list(result.notify), declared=result.declared_priority,
           trail=list(result.priority_trail), rules=[o.as_dict() for o in result.outcomes],
           triage=result.triage, triage_reason=result.triage_reason)
    if parent is not None:
        record(session, parent.id, "follow-up-ticket", now, ticket=ticket.id, reason="reply after closure")
    admit_cc(session, app, ticket, mail, now)
    row.state, row.ticket_id = "done", ticket.id
    open_with_sla(session, app, ticket, row.received_at, first_message_id=mail.message_id)
    notify_engineers(session, app, ticket, mail, "new-ticket", now)
    if result.notify:
        tell_rule_contacts(session, app, ticket, mail, result.notify, result.matched_rules, row.received_at, now)
    if result.incident and not in_history(session):
        link_by_title(session, app, ticket, result.incident, now)  # a rule names it; the ticket joins it
    log.info("%s: opened ticket #%d (%s)", mail.message_id, ticket.id, ticket.priority)


def _rejected(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    mail, info = d.mail, d.info
    assert mail.sender is not None and info is not None
    row.state, row.reason = "rejected", d.reason
    record(session, None, "rejected", now, inbound_id=row.id, sender=mail.sender.key, reason=row.reason)
    rendered = app.templates.render("unknown_sender", {
        "customer": {"name": mail.sender.name, "address": mail.sender.addr},
        "support": {"name": app.config.gateway.name, "address": app.config.gateway.support_address},
        "subject": mail.subject, "organisation": info.organisation.name if info.organisation else None},
        language=language_for(info, mail, parent=None, default=app.config.gateway.language).code)
    # At most once per sender per day, whatever they send.
    queue(session, app.outbox_policy, Draft(
        kind="unknown-sender", cause_key=f"unknown-sender:{mail.sender.key}:{now.date().isoformat()}",
        ticket_id=None, to=((mail.sender.name, mail.sender.addr),), subject=rendered.subject, text=rendered.text,
        in_reply_to=mail.message_id, references=(*mail.references, mail.message_id)), now)


_WRITES: dict[str, Writes] = {
    "duplicate": _duplicate,
    "screened": _screened,
    "no-sender": _no_sender,
    "contact": _contact,
    "contact-held": _held,
    "engineer": apply_engineer,
    "engineer-unproven": hold_engineer,
    "engineer-refused": hold_engineer,
    "reply": _reply,
    "reply-held": _held,
    "ticket": _new_ticket,
    "follow-up": _new_ticket,
    "repeat": _repeat,
    "held": _held,
    "rejected": _rejected,
    "incident": apply_incident_mail,
    "incident-unproven": hold_incident_mail,
    "incident-refused": hold_incident_mail,
}
