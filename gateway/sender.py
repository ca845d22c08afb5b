"""The sender: delivers outbox rows with retries, and never sends a row recorded as sent."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.errors import PermanentError, TemporaryError
from gateway.models import OutboxMessage
from gateway.outbox import stored_cause_key
from gateway.tickets import record
from gateway.transports import Delivered, Transport

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

    The lease (``state = sending`` until ``lease_until``, held by ``lease_owner``) is committed
    before the network is touched, so a slow relay never holds a database lock. Just before
    each mail goes, the sender takes its row again under its own name with a fresh lease: if
    its claim ran out meanwhile (a slow relay, a paused machine) and another process took the
    row, it finds that and leaves the mail to the other. A process that dies mid-send leaves
    the lease to expire and the row is tried again with the same Message-ID.
    """

    def __init__(self, app: App, transport: Transport, worker: str) -> None:
        self.app = app
        self.transport = transport
        # The worker's name, unique per process: two processes on one host are two senders.
        self.owner = f"{worker[:40]}:{uuid.uuid4().hex[:16]}"
        # A lease outlasts the longest a relay may take to answer one mail, with room to spare.
        self.lease = max(LEASE, 4 * app.config.outbound.timeout)

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
                row.state, row.lease_until, row.lease_owner = "sending", now + self.lease, self.owner
            return [row.id for row in rows]

    def send_due(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Send every due row once; return how many were handled. Asked to stop, it finishes
        the mail on the wire and hands the rest of its claim back at once."""
        ids = self._claim(self.app.clock.now())
        try:
            for done, row_id in enumerate(ids):
                if should_stop():
                    self._release(ids[done:])
                    return done
                self._send(row_id)
        finally:
            self.transport.close()
        return len(ids)

    def _release(self, ids: list[int]) -> None:
        with self.app.db.sessions() as session, session.begin():
            session.execute(update(OutboxMessage).where(
                OutboxMessage.id.in_(ids), OutboxMessage.state == "sending", OutboxMessage.lease_owner == self.owner)
                .values(state="pending", lease_until=None, lease_owner=None))

    def _take(self, row_id: int) -> tuple[str, list[str], bytes, str] | None:
        """The row, taken again under our name with a fresh lease; None if it is no longer ours."""
        now = self.app.clock.now()
        with self.app.db.sessions() as session, session.begin():
            taken = session.connection().execute(update(OutboxMessage).where(
                OutboxMessage.id == row_id, OutboxMessage.state == "sending", OutboxMessage.lease_owner == self.owner)
                .values(lease_until=now + self.lease)).rowcount
            if taken != 1:
                return None
            row = session.get(OutboxMessage, row_id)
            assert row is not None
            return row.mail_from, list(row.rcpt_to), row.raw, row.message_id

    def _send(self, row_id: int) -> None:
        taken = self._take(row_id)
        if taken is None:
            log.info("outbox %d: taken over by another sender; not sent from here", row_id)
            return
        mail_from, rcpt_to, raw, message_id = taken
        error: str | None = None
        permanent = False
        delivered: Delivered | None = None
        try:
            delivered = self.transport.send(mail_from, rcpt_to, raw, message_id)
        except PermanentError as exc:
            error, permanent = str(exc), True
        except TemporaryError as exc:
            error = str(exc)
        except Exception as exc:  # a mail the transport cannot even put on the wire
            log.exception("%s: could not be sent", message_id)
            error, permanent = f"could not be sent: {exc.__class__.__name__}: {exc}", True
        now = self.app.clock.now()
        with self.app.db.sessions() as session, session.begin():
            row = session.get(OutboxMessage, row_id)
            assert row is not None
            row.attempts += 1
            row.lease_until = row.lease_owner = None
            if delivered is not None:
                row.state, row.sent_at, row.last_error = "sent", now, delivered.note
                sent_to = [a for a in rcpt_to if a not in delivered.later and a not in delivered.never]
                record(session, row.ticket_id, "mail-sent", now, kind=row.kind,
                       message_id=message_id, to=sent_to, note=delivered.note)
                log.info("%s: %s sent to %s", message_id, row.kind, ", ".join(sent_to))
                if delivered.later:
                    _try_again(session, row, list(delivered.later), now)
                return
            assert error is not None
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


def _try_again(session: Session, row: OutboxMessage, recipients: list[str], now: datetime) -> None:
    """The same mail (same bytes, same Message-ID) for the recipients the relay refused for now,
    on the usual retry schedule, within the lifetime of the original."""
    session.add(OutboxMessage(
        ticket_id=row.ticket_id, cause_key=stored_cause_key(f"{row.cause_key}:again:{','.join(sorted(recipients))}"),
        kind=row.kind, message_id=row.message_id, mail_from=row.mail_from, rcpt_to=recipients,
        recipient=recipients[0].lower(), raw=row.raw, state="pending", attempts=0,
        next_attempt_at=now + FIRST_RETRY, created_at=row.created_at))
