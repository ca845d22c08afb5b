"""The sender: delivers outbox rows with retries, and never sends a row recorded as sent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from gateway.app import App
from gateway.errors import PermanentError, TemporaryError
from gateway.models import OutboxMessage
from gateway.tickets import record
from gateway.transports import Transport

log = logging.getLogger("gateway.outbound")

FIRST_RETRY = timedelta(seconds=15)
MAX_RETRY = timedelta(minutes=10)
LEASE = timedelta(minutes=2)
BATCH = 20


def retry_delay(failures: int) -> timedelta:
    """15 s after the first failure, doubling, capped at 10 minutes."""
    delay: timedelta = FIRST_RETRY * (2 ** max(failures - 1, 0))
    return min(delay, MAX_RETRY)


class Sender:
    """Claims due rows with a lease, sends them, records the outcome.

    The lease (``state = sending`` until ``lease_until``) is committed before the network
    is touched, so a slow relay never holds a database lock. A process that dies mid-send
    leaves the lease to expire and the row is tried again with the same Message-ID.
    """

    def __init__(self, app: App, transport: Transport, worker: str) -> None:
        self.app = app
        self.transport = transport
        self.worker = worker

    def _claim(self, now: datetime) -> list[int]:
        db = self.app.db
        with db.sessions() as session, session.begin():
            query = select(OutboxMessage).where(or_(
                (OutboxMessage.state == "pending") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.state == "sending") & (OutboxMessage.lease_until < now),
            )).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(BATCH)
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            for row in rows:
                row.state, row.lease_until = "sending", now + LEASE
            return [row.id for row in rows]

    def send_due(self) -> int:
        """Send every due row once; return how many were handled."""
        ids = self._claim(self.app.clock.now())
        try:
            for row_id in ids:
                self._send(row_id)
        finally:
            self.transport.close()
        return len(ids)

    def _send(self, row_id: int) -> None:
        db = self.app.db
        with db.sessions() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.state != "sending":
                return
            mail_from, rcpt_to, raw, message_id = row.mail_from, list(row.rcpt_to), row.raw, row.message_id
        error: str | None = None
        permanent = False
        note: str | None = None
        try:
            note = self.transport.send(mail_from, rcpt_to, raw, message_id)
        except PermanentError as exc:
            error, permanent = str(exc), True
        except TemporaryError as exc:
            error = str(exc)
        now = self.app.clock.now()
        with db.sessions() as session, session.begin():
            row = session.get(OutboxMessage, row_id)
            assert row is not None
            row.attempts += 1
            row.lease_until = None
            if error is None:
                row.state, row.sent_at, row.last_error = "sent", now, note
                record(session, row.ticket_id, "mail-sent", now, kind=row.kind,
                       message_id=message_id, to=rcpt_to, note=note)
                log.info("%s: %s sent to %s", message_id, row.kind, ", ".join(rcpt_to))
                return
            row.last_error = error[:2000]
            expired = now - row.created_at >= self.app.config.outbound.retry_lifetime
            if permanent or expired:
                row.state = "failed"
                why = error if permanent else f"gave up after {row.attempts} attempts: {error}"
                record(session, row.ticket_id, "mail-failed", now, kind=row.kind,
                       message_id=message_id, to=rcpt_to, reason=why[:500])
                log.error("%s: %s to %s failed: %s", message_id, row.kind, ", ".join(rcpt_to), why)
            else:
                row.state = "pending"
                row.next_attempt_at = now + retry_delay(row.attempts)
                if row.attempts == 1:
                    log.warning("%s: relay trouble, will retry: %s", message_id, error)
