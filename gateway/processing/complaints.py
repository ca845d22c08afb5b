"""A feedback report about one of our mails: note it on the ticket, stop automatic mail to a complainant.

A recipient who reports our mail as spam (ARF ``abuse``/``fraud``, an ``opt-out``) most often
never wrote to us: a spammer forged their address and we acknowledged it. What a mailbox
provider's feedback loop expects in return is that the address gets no more automatic mail,
at once, not after a count: so the complainant is flagged undeliverable on the first complaint,
which stops acknowledgements, notices and relays to them (gateway.outbox, gateway.relay).
Only a report that names one of our own Message-IDs counts, so a forged report cannot silence
an arbitrary customer; engineers see a ``complaint`` event on the ticket either way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.claimed import Claimed
from gateway.store.models import AddressFlag, OutboxMessage
from gateway.store.tickets import record
from parsers import Verdict


def tie_complaint(session: Session, row: Claimed, verdict: Verdict, now: datetime) -> None:
    feedback = verdict.feedback
    if feedback is None or not feedback.original_message_ids:
        return
    named_in_report = {a.lower() for a in feedback.complainants}
    query = select(OutboxMessage).where(OutboxMessage.message_id.in_(feedback.original_message_ids))
    for out in session.scalars(query):
        row.ticket_id = row.ticket_id or out.ticket_id
        # The report names the complainant (Original-Rcpt-To), or the mail had one recipient;
        # many providers redact the address, and then a mail to several names nobody.
        named = [a for a in out.rcpt_to if a.lower() in named_in_report] or \
            (list(out.rcpt_to) if len(out.rcpt_to) == 1 else [])
        record(session, out.ticket_id, "complaint", now, inbound_id=row.id, kind=out.kind,
               message_id=out.message_id, feedback_type=feedback.feedback_type, to=named or out.rcpt_to,
               reason=verdict.reason)
        if feedback.complaint:
            for address in named:
                _flag_complainant(session, address.lower(), now)


def _flag_complainant(session: Session, address: str, now: datetime) -> None:
    flag = session.get(AddressFlag, address)
    if flag is None:
        flag = AddressFlag(address=address, hard_bounces=0, undeliverable=False, updated_at=now)
        session.add(flag)
    flag.undeliverable = True
    flag.updated_at = now
