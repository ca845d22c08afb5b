"""The sender: delivers outbox rows with retries, and never sends a row recorded as sent."""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.errors import PermanentError, TemporaryError
from gateway.outbound.context import SendContext
from gateway.outbound.leases import Leased, dead_holders, outcome_unknown
from gateway.outbound.retries import retry_delay, try_again
from gateway.outbound.transports import Delivered, Transport, Withdrawn
from gateway.store.lease_owner import new_owner
from gateway.store.models import OutboxMessage
from gateway.store.tickets import record, write_events

log = logging.getLogger("gateway.outbound")

LEASE = timedelta(minutes=2)
BATCH = 20
DEAD_CHECK = 5.0  # seconds between looks for leases held by processes that died
KEEP_SESSION = 1.0  # seconds a relay's session is kept open between passes that find mail

# The two statements of every mail sent, built once (building one and computing its cache key cost
# more than running it).
_OUTBOX = OutboxMessage.__table__.c
_WHEN = _OUTBOX.sent_at.type
_MARK = update(OutboxMessage).where(
    OutboxMessage.id == bindparam("row"), OutboxMessage.state == "sending",
    OutboxMessage.lease_owner == bindparam("owner"),
).values(lease_until=bindparam("until", type_=_WHEN), on_wire_at=bindparam("at", type_=_WHEN))
_SENT = update(OutboxMessage).where(OutboxMessage.id == bindparam("row")).values(
    state="sent", sent_at=bindparam("at", type_=_WHEN), last_error=bindparam("note", type_=_OUTBOX.last_error.type),
    attempts=OutboxMessage.attempts + 1, lease_until=None, lease_owner=None, on_wire_at=None)


class Sender:
    """Claims due rows with a lease, sends them one SMTP transaction each, records each outcome.

    The lease (``state = sending`` until ``lease_until``, held by ``lease_owner``: host, pid and
    process start) is committed before the network is touched, so a slow relay never holds a
    database lock. Once the relay has taken the envelope, just before DATA, the sender takes the
    row again under its own name and commits ``on_wire_at``: if its claim ran out meanwhile and
    another process took the row, it finds that and sends nothing (on SQLite that mark is made a
    moment ahead, with the commit before: see _on_wire). The relay's final ``250`` is recorded at once.

    What a crash leaves: a row leased by a process of this machine that no longer exists is
    claimed again at once (other machines' rows wait for their lease to run out). A row that
    was on the wire may have been delivered: it goes again with the same Message-ID, so a
    receiver that deduplicates drops the copy, and it is counted in ``unknown_outcomes`` with a
    ``mail-outcome-unknown`` event. An acknowledgement lost would be a broken promise; one
    possibly twice, recognisably the same mail, is the lesser harm.
    """

    def __init__(self, app: SendContext, transport: Transport, worker: str) -> None:
        self.app = app
        self.transport = transport
        self.owner = new_owner(worker)
        # The row whose on-the-wire mark was committed ahead (SQLite), and when.
        self._marked: tuple[int, datetime] | None = None
        self._last_pass_with_mail = -KEEP_SESSION
        self._dead_checked_at = -DEAD_CHECK
        # A lease outlasts the longest a relay may take to answer one mail, with room to spare.
        self.lease = max(LEASE, 4 * app.config.outbound.timeout)
        self.sessions = app.config.outbound.sessions

    def _claim(self, now: datetime) -> list[Leased]:
        db = self.app.db
        with db.sessions() as session, session.begin():
            dead = self._dead_holders(session, now)
            sending = OutboxMessage.state == "sending"
            lapsed = sending & (OutboxMessage.lease_until < now)
            if dead:
                lapsed = lapsed | (sending & OutboxMessage.lease_owner.in_(dead))
            due = or_((OutboxMessage.state == "pending") & (OutboxMessage.next_attempt_at <= now), lapsed)
            query = select(OutboxMessage).where(due).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            if db.is_sqlite:  # the claim has the write lock: what is due is this claim's to share out
                rows = list(session.scalars(query.limit(BATCH)))
                rows = rows[:self._share(len(rows))]
            else:  # the other senders' claims run meanwhile: lock only this one's share
                size = BATCH if self.sessions == 1 else self._share(
                    len(session.execute(select(OutboxMessage.id).where(due).limit(BATCH)).all()))
                rows = list(session.scalars(query.limit(size).with_for_update(skip_locked=True)))
            for row in rows:
                if row.state == "sending":
                    why = (f"its sender {row.lease_owner} no longer exists" if row.lease_owner in dead
                           else f"the lease of its sender {row.lease_owner} ran out")
                    log.info("%s: taking over: %s", row.message_id, why)
                    if row.on_wire_at is not None:
                        outcome_unknown(session, row, now, why)
                        row.attempts += 1  # the attempt its sender did not live to count
                row.state, row.lease_until, row.lease_owner = "sending", now + self.lease, self.owner
            if rows and db.is_sqlite:
                rows[0].on_wire_at = now  # see _on_wire: the first mail's mark rides on the claim
                self._marked = (rows[0].id, now)
            return [Leased.of(row) for row in rows]

    def _share(self, waiting: int) -> int:
        """How many of the mails waiting one sender takes: with several sessions, its share."""
        return -(-waiting // self.sessions)

    def _dead_holders(self, session: Session, now: datetime) -> list[str]:
        """Holders of live leases that died; looked for at the first claim and then at most every
        DEAD_CHECK seconds (a claim a mail when mail trickles in need not look each time)."""
        at = time.monotonic()
        if at - self._dead_checked_at < DEAD_CHECK:
            return []
        self._dead_checked_at = at
        return dead_holders(session, now)

    def send_due(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Send every due row once; return how many were handled. Asked to stop, it finishes
        the mail on the wire and hands the rest of its claim back at once."""
        with self.app.db.writers_first():
            return self._send_claimed(should_stop)

    def _send_claimed(self, should_stop: Callable[[], bool]) -> int:
        rows = self._claim(self.app.clock.now())
        keep = False
        try:
            for done, row in enumerate(rows):
                if should_stop():
                    self._release([r.id for r in rows[done:]])
                    return done
                self._send(row, rows[done + 1].id if done + 1 < len(rows) else None)
            # The relay's session is kept for the next pass while mail keeps coming (one mail a pass
            # when it trickles in), and let go once a pass has found nothing for KEEP_SESSION.
            now = time.monotonic()
            if rows:
                self._last_pass_with_mail = now
            keep = now - self._last_pass_with_mail < KEEP_SESSION
        finally:
            self._marked = None
            if not keep:
                self.transport.close()
        return len(rows)

    def close(self) -> None:
        """Let go of the relay's session kept between passes (as the gateway stops)."""
        self.transport.close()

    def _release(self, ids: list[int]) -> None:
        with self.app.db.sessions() as session, session.begin():
            session.execute(update(OutboxMessage).where(
                OutboxMessage.id.in_(ids), OutboxMessage.state == "sending", OutboxMessage.lease_owner == self.owner)
                .values(state="pending", lease_until=None, lease_owner=None, on_wire_at=None))

    def _on_wire(self, row_id: int) -> bool:
        """Just before DATA: take the row again under our name with a fresh lease and record
        that it is on the wire, in one commit; False if it is no longer ours.

        On SQLite, where each commit waits its turn for the one write lock, the mark was made ahead,
        in the commit before (the claim's, or the record of the mail before it as sent), a moment
        before this mail goes: one commit a mail instead of two. A crash in that moment leaves a mail
        marked that never went; it goes again, once, logged as possibly sent twice. The mark made
        ahead stands for the check only while the lease it renewed is young: a sender that stalled
        (a slow relay, a paused machine) looks again whether the row is still its own."""
        marked, self._marked = self._marked, None
        if marked is not None and marked[0] == row_id and self.app.clock.now() < marked[1] + self.lease / 2:
            return True
        with self.app.db.sessions() as session, session.begin():
            return self._mark(session, row_id)

    def _mark(self, session: Session, row_id: int) -> bool:
        now = self.app.clock.now()
        taken = session.connection().execute(
            _MARK, {"row": row_id, "owner": self.owner, "until": now + self.lease, "at": now}).rowcount
        return bool(taken == 1)

    def _send(self, row: Leased, next_id: int | None = None) -> None:
        attempt = _Attempt(self, row)
        try:
            delivered = self.transport.send(row.mail_from, list(row.rcpt_to), row.raw, row.message_id, attempt)
        except Withdrawn:
            log.info("%s: taken over by another sender; not sent from here", row.message_id)
            return
        except PermanentError as exc:
            attempt.abandon()
            self._failed(row, str(exc), permanent=True, unknown=False)
            return
        except TemporaryError as exc:
            attempt.abandon()
            # The connection lost after DATA went, before the relay's answer: it may have the mail.
            unknown = attempt.wired and not isinstance(exc.__cause__, smtplib.SMTPResponseException)
            self._failed(row, str(exc), permanent=False, unknown=unknown)
            return
        except SQLAlchemyError:
            attempt.abandon()
            raise  # the mail did not go (no DATA without the commit); the worker reports the database
        except Exception as exc:  # a mail the transport cannot even put on the wire
            attempt.abandon()
            log.exception("%s: could not be sent", row.message_id)
            self._failed(row, f"could not be sent: {exc.__class__.__name__}: {exc}", permanent=True, unknown=False)
            return
        if attempt.prepared is not None:
            with attempt.prepared:
                attempt.prepared.commit()  # all that is left between the relay's 250 and our record
        else:
            with self.app.db.sessions() as session, session.begin():
                self._write_sent(session, row, delivered)
                if next_id is not None and self._mark(session, next_id):
                    self._marked = (next_id, self.app.clock.now())
        log.info("%s: %s sent to %s", row.message_id, row.kind, ", ".join(_sent_to(row, delivered)))

    def _write_sent(self, session: Session, row: Leased, delivered: Delivered) -> None:
        """The row recorded as sent: one UPDATE, its event, and a row for recipients refused for now."""
        now = self.app.clock.now()
        session.connection().execute(_SENT, {"row": row.id, "at": now, "note": delivered.note})
        record(session, row.ticket_id, "mail-sent", now, kind=row.kind,
               message_id=row.message_id, to=_sent_to(row, delivered), note=delivered.note)
        if delivered.later:
            try_again(session, row, list(delivered.later), now)

    def _prepare_sent(self, row: Leased, delivered: Delivered) -> Session:
        """The record of the row as sent, written in a transaction left open for the relay's 250."""
        session = self.app.db.sessions()
        try:
            session.begin()
            # A holder that vanished without closing its socket (a machine gone, a network cut)
            # keeps no lock past its lease: PostgreSQL ends the session that idles that long.
            idle_ms = int(self.lease.total_seconds() * 1000)
            session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {idle_ms}"))
            self._write_sent(session, row, delivered)
            write_events(session)
            session.flush()
        except BaseException:
            session.close()
            raise
        return session

    def _failed(self, row: Leased, error: str, *, permanent: bool, unknown: bool) -> None:
        now = self.app.clock.now()
        with self.app.db.sessions() as session, session.begin():
            current = session.get(OutboxMessage, row.id)
            if current is None or current.state != "sending" or current.lease_owner != self.owner:
                return  # taken over meanwhile: the outcome is the other sender's to record
            if unknown:
                outcome_unknown(session, current, now, f"the relay's answer was lost ({error[:200]})")
            current.attempts += 1
            current.lease_until = current.lease_owner = current.on_wire_at = None
            current.last_error = error[:2000]
            expired = now - row.created_at >= self.app.config.outbound.retry_lifetime
            if permanent or expired:
                current.state = "failed"
                why = error if permanent else f"gave up after {current.attempts} attempts: {error}"
                record(session, row.ticket_id, "mail-failed", now, kind=row.kind,
                       message_id=row.message_id, to=list(row.rcpt_to), reason=why[:500])
                log.error("%s: %s to %s failed: %s", row.message_id, row.kind, ", ".join(row.rcpt_to), why)
            else:
                current.state = "pending"
                current.next_attempt_at = now + retry_delay(current.attempts)
                if current.attempts == 1:
                    log.warning("%s: relay trouble, will retry: %s", row.message_id, error)


class _Attempt:
    """One mail through the transport, asked just before DATA: on the wire (committed), and on
    PostgreSQL its record as sent written and waiting in an open transaction, so that after the
    relay's 250 only a COMMIT is left. On SQLite an open write would hold the database's one
    write lock through DATA and stall intake: there the record is one short commit after the 250."""

    def __init__(self, sender: Sender, row: Leased) -> None:
        self.sender, self.row = sender, row
        self.wired = False
        self.prepared: Session | None = None

    def __call__(self, delivered: Delivered) -> bool:
        self.wired = self.sender._on_wire(self.row.id)
        if self.wired and not self.sender.app.db.is_sqlite:
            self.prepared = self.sender._prepare_sent(self.row, delivered)
        return self.wired

    def abandon(self) -> None:
        """No 250: the prepared record is rolled back (before the failure is written to the row)."""
        if self.prepared is not None:
            self.prepared.close()
            self.prepared = None


def _sent_to(row: Leased, delivered: Delivered) -> list[str]:
    return [a for a in row.rcpt_to if a not in delivered.later and a not in delivered.never]

