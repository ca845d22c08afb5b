"""What processing one inbound mail does, inside the processor's transaction."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.customers import SenderInfo
from gateway.outbound.engineer_mail import tell_rule_contacts
from gateway.outbound.languages import language_for
from gateway.outbound.outbox import Draft, queue
from gateway.processing.complaints import tie_complaint
from gateway.processing.contact_ack import contact_reply, handle_contact_reply
from gateway.processing.correlate import Correlation, correlate
from gateway.processing.engineers.identity import agent_by_address
from gateway.processing.engineers.participants import admit_cc
from gateway.processing.engineers.thread import handle_staff_mail, is_staff_mail, notify_engineers, third_party_gate
from gateway.sla.clocks import start_clocks
from gateway.store.claimed import Claimed
from gateway.store.history import HISTORY_SOURCE, filing_history, in_history
from gateway.store.models import AddressFlag, InboundMessage, Message, OutboxMessage, Ticket, table_of
from gateway.store.tickets import add_message, open_ticket, record
from gateway.tickets.workflow import open_with_sla, set_priority, set_status
from parsers import ParsedMail, Verdict, parse, screen
from rules import Classification, RuleContext

log = logging.getLogger("gateway.process")

HARD_BOUNCES_BEFORE_UNDELIVERABLE = 3
# The states of a mail that another copy of it is a duplicate of: not "duplicate" itself (a copy
# of a held mail must not make the held one, once approved, a duplicate of its own copy).
ORIGINAL_STATES = ("done", "screened", "held", "rejected")


_INBOUND = table_of(InboundMessage)
_EARLIER_COPY = select(_INBOUND.c.id).where(
    _INBOUND.c.dedupe_key == bindparam("key"), _INBOUND.c.id != bindparam("row_id"),
    _INBOUND.c.state.in_(ORIGINAL_STATES)).limit(1)
_LOCK_COPIES = text("SELECT pg_advisory_xact_lock(:key)")


def dedupe_key(mail: ParsedMail) -> str:
    return hashlib.sha256(f"{mail.message_id}\0{mail.body_hash}".encode("utf-8", "surrogateescape")).hexdigest()


def process_inbound(session: Session, app: App, row: Claimed, now: datetime, *,
                    unwritten: Mapping[str, int] | None = None) -> str:
    """Apply one stored mail; return its outcome. Raises to have the mail quarantined.

    ``unwritten`` holds the dedupe keys of mails processed earlier in the same batch whose
    outcomes are not in the database yet: a second copy among them is a duplicate too.

    Imported history (source ``history``) is processed the same way, as of when it arrived,
    with nothing queued to send and no clock started (gateway.history).
    """
    if row.source != HISTORY_SOURCE:
        return _process(session, app, row, now, unwritten)
    with filing_history(session):
        return _process(session, app, row, row.received_at, unwritten)


def _process(session: Session, app: App, row: Claimed, now: datetime, unwritten: Mapping[str, int] | None) -> str:
    mail = parse(row.raw, received_at=row.received_at, limits=app.limits)
    key = dedupe_key(mail)
    conn = session.connection()
    if not app.db.is_sqlite:
        # Two workers holding two copies of one mail must not both open a ticket: the second
        # waits here until the first commits, then finds its copy. (SQLite has one writer.)
        conn.execute(_LOCK_COPIES, {"key": int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)})
    earlier = (unwritten or {}).get(key) or conn.scalar(_EARLIER_COPY, {"key": key, "row_id": row.id})
    row.message_id, row.dedupe_key = mail.message_id[:998], key
    if earlier is not None:
        row.state, row.reason = "duplicate", f"same Message-ID and body as inbound {earlier}"
        record(session, None, "duplicate", now, inbound_id=row.id, earlier=earlier,
               message_id=mail.message_id)
        return "duplicate"
    envelope_rcpts = tuple(row.rcpt_to or ())
    verdict = screen(mail, app.own, envelope_from=row.mail_from)
    corr = correlate(session, mail, envelope_rcpts, support_addresses=app.support_addresses,
                     secret=app.secret)
    if verdict.kind != "clean":
        return _screened(session, app, row, mail, verdict, corr, now)
    # An escalation contact who is not an engineer (the on-call person, a manager) answering
    # their own escalation mail: before the engineers' check, which would hold them as unproven.
    contact = contact_reply(app, mail, envelope_rcpts)
    if contact is not None and agent_by_address(app.config.staff, contact.contact.address) is None:
        return handle_contact_reply(session, app, row, mail, contact, now)
    if is_staff_mail(app, mail, corr) and (staff := handle_staff_mail(session, app, row, mail, corr, now)):
        return staff
    if contact is not None:
        return handle_contact_reply(session, app, row, mail, contact, now)
    if corr.ticket_id is not None:
        return _customer_reply(session, app, row, mail, corr, now)
    return _new_ticket(session, app, row, mail, now)


def _customer_reply(session: Session, app: App, row: Claimed, mail: ParsedMail, corr: Correlation,
                    now: datetime) -> str:
    ticket = session.get(Ticket, corr.ticket_id)
    assert ticket is not None
    sender = mail.sender.key if mail.sender else ""
    # What the reply changes, it changes from when it arrived (a mail that waited in a mailbox
    # resumes a paused clock from then), and never before the ticket's last change of status.
    at = max(row.received_at, ticket.status_since or row.received_at)
    if not reopens(app, ticket, row.received_at):
        # Too late to reopen: a new ticket that links the old one.
        return _new_ticket(session, app, row, mail, now, parent=ticket)
    held = third_party_gate(session, app, row, ticket, mail, corr, now)
    if held is not None:
        return held
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
        return "reply"
    if ticket.status in ("resolved", "resolution-proposed", "pending"):
        set_status(session, app, ticket, "open", at, sender or "customer")
    if ticket.status == "open" and not ticket.clocks:
        # An imported ticket (filed as history, no clock ever ran) the customer writes to again:
        # from this mail on it is kept like any other. (No-op in history mode, and for a plan
        # without targets.)
        start_clocks(session, app.config.policy, ticket, at)
    if sender:
        _info, result = classify(app, mail, at, current=ticket.priority)
        if result.priority < ticket.priority:  # "P1" < "P2": a reply may raise the priority, never lower it
            set_priority(session, app, ticket, result.priority, at, "rules",
                         reason="customer reply: " + ", ".join(result.matched_rules))
    log.info("%s: added to ticket #%d (via %s)", mail.message_id, ticket.id, corr.via)
    return "reply"


def reopens(app: App, ticket: Ticket, arrived: datetime) -> bool:
    """Whether a customer's mail arriving at ``arrived`` joins ``ticket`` (reopening it if need
    be), rather than opening a follow-up: not to a closed ticket, nor to one resolved longer ago
    than the reopen window."""
    if ticket.status == "closed":
        return False
    return not (ticket.status == "resolved" and ticket.status_since is not None
                and arrived - ticket.status_since > app.config.gateway.reopen_window)


def _rule_context(app: App, info: SenderInfo, at: datetime, *, current: str | None, reply: bool) -> RuleContext:
    plan = app.config.policy.plan(info.plan)
    business = app.config.policy.calendar(plan.calendar, info.timezone.key)
    return RuleContext(organisation=info.organisation.name if info.organisation else None, plan=plan.name,
                       vip=info.vip, is_contact=info.is_contact, after_hours=not business.is_open(at),
                       declared_priority_trusted=plan.declared_priority_trusted, is_reply=reply or current is not None,
                       current_priority=current, default_priority=plan.default_priority)


def classify(app: App, mail: ParsedMail, at: datetime, *, current: str | None = None,
             reply: bool = False) -> tuple[SenderInfo, Classification]:
    """The sender's directory entry and the rules' decision on ``mail``.

    A reply (to a ticket at priority ``current``; or, with ``reply``, to a closed one, which
    opens a follow-up) is read on its new words alone: its subject and the history it quotes
    were read when they were new.
    """
    assert mail.sender is not None
    info = app.config.policy.directory.lookup(mail.sender.key)
    return info, app.config.rules.classify(mail, _rule_context(app, info, at, current=current, reply=reply))


def _new_ticket(session: Session, app: App, row: Claimed, mail: ParsedMail, now: datetime, *,
                parent: Ticket | None = None) -> str:
    if mail.sender is None:
        row.state, row.verdict = "screened", "no-sender"
        row.reason = "no usable From address: nobody to open a ticket for or to answer"
        record(session, None, "screened", now, inbound_id=row.id, verdict="no-sender", reason=row.reason)
        return "screened"
    info, result = classify(app, mail, row.received_at, reply=parent is not None)
    policy = info.policy if row.verdict != "approved" else "accept"
    if policy != "accept":
        return _refuse(session, app, row, mail, info, policy, now)
    language = language_for(info, mail, parent=parent.language if parent else None, default=app.config.gateway.language)
    # The ticket exists from when its mail arrived: "after hours" and every promise are judged
    # on that instant, not on when a backlog let the gateway read it.
    ticket = open_ticket(session, mail, priority=result.priority, plan=info.plan,
                         organisation=info.organisation.name if info.organisation else None,
                         verified=info.verified, now=row.received_at, timezone=info.timezone.key,
                         tags=list(result.tags),
                         route_group=result.route, parent_id=parent.id if parent else None,
                         status_since=row.received_at, language=language.code)
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
    log.info("%s: opened ticket #%d (%s)", mail.message_id, ticket.id, ticket.priority)
    return "ticket"


def _refuse(session: Session, app: App, row: Claimed, mail: ParsedMail, info: SenderInfo, policy: str,
            now: datetime) -> str:
    assert mail.sender is not None
    who = "a designated contact of " + info.organisation.name if info.organisation else "a known customer contact"
    if policy == "hold":
        row.state, row.reason = "held", f"{mail.sender.key} is not {who}: held for an engineer to approve"
        record(session, None, "held", now, inbound_id=row.id, sender=mail.sender.key, reason=row.reason)
        return "held"
    row.state, row.reason = "rejected", f"{mail.sender.key} is not {who}"
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
    return "rejected"


def _screened(session: Session, app: App, row: Claimed, mail: ParsedMail, verdict: Verdict,
              corr: Correlation, now: datetime) -> str:
    row.state, row.verdict, row.reason = "screened", verdict.kind, verdict.reason
    if verdict.kind == "bounce" and verdict.bounce is not None:
        _tie_bounce(session, row, verdict, now)
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
    return "screened"


def _tie_bounce(session: Session, row: Claimed, verdict: Verdict, now: datetime) -> None:
    """A bounce of one of our mails marks that outbox row failed, for engineers to see; a
    delay warning is noted on the ticket; a delivery report that only says delivered is filed.

    Only the recipients the report names as failed count a hard bounce (a mail to a customer
    with a colleague in Cc whose address is gone must not make the customer undeliverable);
    a report that names nobody counts against a mail's only recipient.
    """
    bounce = verdict.bounce
    assert bounce is not None
    ids = list(bounce.original_message_ids)
    if not ids:
        return
    failed = {a.lower() for a in bounce.failed_recipients}
    for out in session.scalars(select(OutboxMessage).where(OutboxMessage.message_id.in_(ids))):
        row.ticket_id = row.ticket_id or out.ticket_id
        if not bounce.failed:
            record(session, out.ticket_id, "delivery-reported", now, inbound_id=row.id, kind=out.kind,
                   message_id=out.message_id, reason=verdict.reason)
            continue
        named = [a for a in out.rcpt_to if a.lower() in failed] or (out.rcpt_to if len(out.rcpt_to) == 1 else [])
        record(session, out.ticket_id, "delivery-failed" if bounce.permanent else "delivery-delayed", now,
               inbound_id=row.id, kind=out.kind, message_id=out.message_id, to=named or out.rcpt_to,
               permanent=bounce.permanent, reason=verdict.reason)
        if not bounce.permanent:
            continue  # the relay still tries: the mail is not lost yet
        if named == out.rcpt_to:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == out.id).values(
                state="bounced", last_error=verdict.reason[:500]))
        for address in named:
            _flag_hard_bounce(session, address.lower(), now)
    message = session.scalar(select(Message).where(Message.message_id.in_(ids)).limit(1))
    if message is not None:
        row.ticket_id = row.ticket_id or message.ticket_id


def _flag_hard_bounce(session: Session, address: str, now: datetime) -> None:
    flag = session.get(AddressFlag, address)
    if flag is None:
        flag = AddressFlag(address=address, hard_bounces=0, undeliverable=False, updated_at=now)
        session.add(flag)
    flag.hard_bounces += 1
    flag.updated_at = now
    if flag.hard_bounces >= HARD_BOUNCES_BEFORE_UNDELIVERABLE:
        flag.undeliverable = True
