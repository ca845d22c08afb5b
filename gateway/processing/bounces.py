"""A bounce or delivery report of one of our mails: the outbox row and the address it names, marked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.claimed import Claimed
from gateway.store.models import AddressFlag, Message, OutboxMessage
from gateway.store.tickets import record
from parsers import Verdict

HARD_BOUNCES_BEFORE_UNDELIVERABLE = 3


def tie_bounce(session: Session, row: Claimed, verdict: Verdict, now: datetime) -> None:
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
