"""When a mail the relay did not take is tried again, and the copy for recipients it refused for now."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.outbound.leases import Leased
from gateway.outbound.outbox import stored_cause_key
from gateway.store.models import OutboxMessage

FIRST_RETRY = timedelta(seconds=15)
MAX_RETRY = timedelta(minutes=10)


def retry_delay(failures: int) -> timedelta:
    """15 s after the first failure, doubling, capped at 10 minutes."""
    delay: timedelta = FIRST_RETRY * (2 ** max(failures - 1, 0))
    return min(delay, MAX_RETRY)


def try_again(session: Session, row: Leased, recipients: list[str], now: datetime) -> None:
    """The same mail (same bytes, same Message-ID) for the recipients the relay refused for now,
    on the usual retry schedule, within the lifetime of the original."""
    session.add(OutboxMessage(
        ticket_id=row.ticket_id, cause_key=stored_cause_key(f"{row.cause_key}:again:{','.join(sorted(recipients))}"),
        kind=row.kind, message_id=row.message_id, mail_from=row.mail_from, rcpt_to=recipients,
        recipient=recipients[0].lower(), raw=row.raw, state="pending", attempts=0,
        next_attempt_at=now + FIRST_RETRY, created_at=row.created_at))
