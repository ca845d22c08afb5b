"""Queue a mail in the outbox, in the caller's transaction: once per cause, within the caps."""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ScalarSelect

from gateway.outbound.compose import Composed, OutAttachment, OutgoingMail, compose, envelope_address, new_message_id
from gateway.store.history import in_history
from gateway.store.models import AddressFlag, Message, OutboxMessage, table_of
from gateway.store.tickets import record

log = logging.getLogger("gateway.outbound")

# Mail the loop guard does not count: what a person wrote (relayed engineer replies), and mail
# to our own staff (pages, escalations, notifications, reminders, digests), whose auto-replies are
# screened anyway. The cap is for automatic mail to the outside world, where loops happen.
UNCAPPED_KINDS = frozenset({"relay", "escalation", "on-call-page", "update-reminder", "engineer-notification",
                            "engineer-alert", "command-refused", "rule-notification",
                            "sla-weekly", "sla-monthly", "oncall-handover", "due-today",
                            "incident-opened", "incident-report-reminder", "incident-report-escalation",
                            "stage-notice", "stage-progress"})


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    """The identity and caps every queued mail obeys."""

    from_name: str
    from_address: str
    message_id_domain: str
    loop_token: str
    max_per_address_per_hour: int
    max_per_ticket_per_hour: int


CAUSE_KEY_MAX = 255  # the column's width


def stored_cause_key(cause_key: str) -> str:
    """The key as stored: a key longer than its column (it may hold a hostile address) keeps its
    start and ends with a digest of the whole, so two long keys never collide."""
    if len(cause_key) <= CAUSE_KEY_MAX:
        return cause_key
    digest = hashlib.sha256(cause_key.encode("utf-8", "surrogateescape")).hexdigest()
    return cause_key[:CAUSE_KEY_MAX - 65] + "#" + digest


@dataclass(frozen=True, slots=True)
class Draft:
    """A mail to queue: what to say, to whom, threaded to what."""

    kind: str
    cause_key: str
    ticket_id: int | None
    to: tuple[tuple[str, str], ...]
    subject: str
    text: str
    html: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    from_name: str | None = None
    cc: tuple[tuple[str, str], ...] = ()
    auto_submitted: str | None = "auto-replied"
    attachments: tuple[OutAttachment, ...] = ()


def _recent_automatic(since: BindParameter[datetime], *, address: BindParameter[str] | None = None,
                      ticket_id: BindParameter[int] | None = None) -> ScalarSelect[int]:
    """How many automatic mails went to ``address`` (or on ``ticket_id``) since ``since``."""
    query = select(func.count(OutboxMessage.id)).where(
        OutboxMessage.created_at >= since,
        OutboxMessage.kind.not_in(UNCAPPED_KINDS),
        OutboxMessage.state != "suppressed",
    )
    if ticket_id is not None:
        query = query.where(OutboxMessage.ticket_id == ticket_id)
    if address is not None:
        query = query.where(OutboxMessage.recipient == address)
    return query.scalar_subquery()


@dataclass(frozen=True, slots=True)
class _Checks:
    served: bool  # the cause already has its mail
    undeliverable: str | None  # a recipient flagged after repeated hard bounces
    per_address: tuple[int, ...]  # automatic mail to each recipient in the last hour
    per_ticket: int  # automatic mail on the ticket in the last hour


@functools.cache
def _checks_statement(recipients: int, on_ticket: bool, capped: bool) -> Select[Any]:
    """The one statement for every check ``queue`` makes, built once per shape of draft."""
    columns: list[ScalarSelect[Any]] = [
        select(OutboxMessage.id).where(OutboxMessage.cause_key == bindparam("cause_key"))
        .limit(1).scalar_subquery()]
    if capped:
        since = bindparam("since", type_=OutboxMessage.created_at.type)
        rcpts: list[BindParameter[str]] = [bindparam(f"rcpt{i}") for i in range(recipients)]
        columns.append(select(AddressFlag.address).where(AddressFlag.address.in_(rcpts), AddressFlag.undeliverable)
                       .limit(1).scalar_subquery())
        columns += [_recent_automatic(since, address=rcpt) for rcpt in rcpts]
        if on_ticket:
            columns.append(_recent_automatic(since, ticket_id=bindparam("ticket_id")))
    return select(*columns)


def _checks(session: Session, draft: Draft, since: datetime) -> _Checks:
    """Whether the draft's cause was already served, whether a recipient is undeliverable, and
    the recent automatic mail to each recipient and on the ticket: one statement for all."""
    capped = draft.kind not in UNCAPPED_KINDS
    on_ticket = draft.ticket_id is not None
    params: dict[str, Any] = {"cause_key": stored_cause_key(draft.cause_key), "since": since,
                              "ticket_id": draft.ticket_id}
    for i, (_name, addr) in enumerate(draft.to):
        params[f"rcpt{i}"] = addr.lower()
    row = session.connection().execute(_checks_statement(len(draft.to), on_ticket, capped), params).one()
    if not capped:
        return _Checks(row[0] is not None, None, (), 0)
    n = len(draft.to)
    return _Checks(row[0] is not None, row[1], tuple(int(c or 0) for c in row[2:2 + n]),
                   int(row[2 + n] or 0) if on_ticket else 0)


_INSERT_OUTBOX = insert(table_of(OutboxMessage))
_INSERT_MESSAGE = insert(table_of(Message))


def queue(session: Session, policy: OutboxPolicy, draft: Draft, now: datetime) -> str | None:
    """Add ``draft`` to the outbox unless its cause was already served; return its Message-ID.

    An automatic mail over the per-address or per-ticket hourly cap is recorded as
    ``suppressed`` with an event instead of being sent: two auto-responders cannot ping-pong.
    An automatic mail to an address flagged undeliverable (repeated hard bounces, a complaint) is not
    queued at all; an event says so. Imported history is never answered: nothing is queued.
    """
    if in_history(session):
        return None
    checks = _checks(session, draft, now - timedelta(hours=1))
    if checks.served:
        return None
    if checks.undeliverable is not None:
        record(session, draft.ticket_id, "mail-suppressed", now, kind=draft.kind,
               reason=f"{checks.undeliverable} is flagged undeliverable (repeated hard bounces or a complaint)")
        return None
    message_id = new_message_id(policy.message_id_domain)
    mail = OutgoingMail(
        from_name=draft.from_name or policy.from_name, from_address=policy.from_address,
        to=draft.to, cc=draft.cc, subject=draft.subject, text=draft.text, html=draft.html,
        message_id=message_id, date=now, loop_token=policy.loop_token,
        in_reply_to=draft.in_reply_to, references=draft.references, reply_to=draft.reply_to,
        auto_submitted=draft.auto_submitted, attachments=draft.attachments,
    )
    try:
        built = compose(mail)
    except ValueError as exc:
        # A recipient we cannot write to (no domain, raw encoded words, garbage): the mail that
        # caused this stays where it is (a ticket, say); only this automatic answer is not sent.
        record(session, draft.ticket_id, "mail-suppressed", now, kind=draft.kind, reason=str(exc)[:300])
        log.warning("%s mail not queued: %s", draft.kind, exc)
        return None
    reason = _over_cap(policy, draft, checks)
    _insert(session, policy, draft, built, message_id, "suppressed" if reason else "pending", reason, now)
    if reason:
        record(session, draft.ticket_id, "mail-suppressed", now, kind=draft.kind, reason=reason,
               to=[a for _n, a in draft.to])
        log.warning("%s: %s mail suppressed: %s", message_id, draft.kind, reason)
    else:
        record(session, draft.ticket_id, "mail-queued", now, kind=draft.kind, message_id=message_id,
               to=[a for _n, a in draft.to])
    return message_id


def _over_cap(policy: OutboxPolicy, draft: Draft, checks: _Checks) -> str | None:
    """Why this automatic mail is over an hourly cap (per recipient, then per ticket), or None."""
    for (_name, addr), sent in zip(draft.to, checks.per_address, strict=False):
        if sent >= policy.max_per_address_per_hour:
            return f"cap of {policy.max_per_address_per_hour} automatic mails per hour to {addr} reached"
    if checks.per_ticket >= policy.max_per_ticket_per_hour:
        return f"cap of {policy.max_per_ticket_per_hour} automatic mails per hour on this ticket reached"
    return None


def _insert(session: Session, policy: OutboxPolicy, draft: Draft, built: Composed, message_id: str, state: str,
            reason: str | None, now: datetime) -> None:
    """The outbox row and, on a ticket, its record of the mail: written at once with prebuilt INSERTs.

    The outbox and the ticket's record of its mail are only appended here, and the cause check
    reads the table, not the session."""
    conn = session.connection()
    conn.execute(_INSERT_OUTBOX, {
        "ticket_id": draft.ticket_id, "cause_key": stored_cause_key(draft.cause_key), "kind": draft.kind,
        "message_id": message_id, "mail_from": policy.from_address,
        # As the header has them (an international domain in IDNA form): what RCPT TO can carry.
        "rcpt_to": [envelope_address(addr) for _n, addr in draft.to + draft.cc], "raw": built.raw,
        "recipient": draft.to[0][1].lower() if draft.to else "", "state": state, "attempts": 0,
        "next_attempt_at": now, "lease_until": None, "lease_owner": None, "created_at": now, "sent_at": None,
        "last_error": reason})
    if draft.ticket_id is not None:
        conn.execute(_INSERT_MESSAGE, {
            "ticket_id": draft.ticket_id, "inbound_id": None, "direction": "out", "kind": draft.kind,
            "message_id": message_id, "in_reply_to": draft.in_reply_to,
            "references": " ".join(draft.references) or None, "from_address": policy.from_address,
            "to_addresses": [a for _n, a in draft.to], "subject": built.subject,
            "body_text": draft.text, "reply_text": "", "body_html": None, "body_hash": None, "created_at": now})
