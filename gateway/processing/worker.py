"""The processing worker: claims one pending inbound row at a time, one transaction each."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.processing.apply import DEFERRED, ORIGINAL_STATES, process_inbound
from gateway.store.claimed import Claimed, claim, record_outcomes
from gateway.store.tickets import discard_events, record, take_noted_wakeup, write_events
from parsers import ParseLimitExceeded

log = logging.getLogger("gateway.process")

# Mails per transaction: one fsync serves them all, and SQLite's write lock is held for at
# most a few hundred milliseconds, so the listener's own commits are not kept waiting long.
BATCH = 20
# The sender waits no longer than about this (and a mail) to record a mail on the wire or sent: the
# batch ends early and is committed. Shorter costs more commits; longer holds acknowledgements back.
YIELD_AFTER = 0.015


# Database errors that one mail's values provoke (a constraint, a value a column cannot take,
# and below, a limit): that mail is quarantined. Any other database error (unreachable, locked,
# out of space) fails the batch and leaves it pending, for the next try.
MAIL_DATABASE_ERRORS = (IntegrityError, DataError)
# SQLSTATE class 54, "program limit exceeded" (an index entry too large, too many columns):
# reported as OperationalError, yet given the same values it fails every time.
_LIMIT_CLASS = "54"


def _mails_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is the mail's own doing (quarantine it), not the database's (retry later).

    A database error is the mail's when the values it made are refused: a constraint, a
    value the column cannot hold, a limit. Anything else (a lost connection, a lock, a full
    disk) leaves the batch pending for a later try.
    """
    if not isinstance(exc, DBAPIError) or isinstance(exc, MAIL_DATABASE_ERRORS):
        return True
    state = getattr(exc.orig, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_LIMIT_CLASS)


def _one_line(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()


class _MailFailed(Exception):
    """A mail failed in a batch run without savepoints: run the batch again, isolating each."""


class Processor:
    """Turns stored mail into tickets. Safe to run in several processes on one database."""

    def __init__(self, app: App, on_committed: Callable[[list[Claimed]], None] | None = None) -> None:
        self.app = app
        self.on_committed = on_committed  # told of each batch's mails once their outcomes are committed
        self._wake_at: datetime | None = None  # the earliest wake-up the committed batches stored
        self.emptied = False  # the last batch's claim took every pending mail there was

    def process_one(self) -> str | None:
        """Process the oldest pending row; return its outcome, or None when none is pending."""
        outcomes = self.process_batch(1)
        return outcomes[0] if outcomes else None

    def process_batch(self, size: int = BATCH) -> list[str]:
        """Claim up to ``size`` pending rows and process each; one commit for the batch.

        Rows are claimed with row locks (SKIP LOCKED on PostgreSQL; BEGIN IMMEDIATE on
        SQLite), so no two workers process one mail. The single commit at the end is what
        makes the batch durable (one fsync instead of one per mail); a database failure
        rolls the whole batch back and leaves its rows pending for the next try.

        The batch first runs straight through. Should one mail fail, that attempt is rolled
        back and the batch runs again with each mail in its own savepoint, so that the one
        that failed is rolled back alone and quarantined with its reason while the others
        stand. Savepoints cost two statements and a flush per mail: they are paid only when
        a mail has failed.
        """
        try:
            return self._run_batch(size, isolate=False)
        except _MailFailed:
            return self._run_batch(size, isolate=True)

    def _run_batch(self, size: int, *, isolate: bool) -> list[str]:
        db = self.app.db
        outcomes: list[str] = []
        claimed: list[Claimed] = []
        with db.sessions() as session, session.begin():
            done: list[tuple[Claimed, datetime]] = []  # outcomes written together at the end
            unwritten: dict[str, int] = {}  # their dedupe keys, for a copy later in the batch
            rows = claim(session.connection(), size, skip_locked=not db.is_sqlite)
            self.emptied = len(rows) < size  # none was left beyond these (as the claim saw it)
            batch = {row.id for row in rows}
            for row in rows:
                if outcomes and db.first_writer_waiting(YIELD_AFTER):
                    self.emptied = False  # the rest stay pending for the next batch
                    break  # the sender waits to record a mail
                now = self.app.clock.now()
                claimed.append(row)
                if isolate:
                    outcome = self._isolated(session, row, now, batch)
                else:
                    try:
                        outcome = process_inbound(session, self.app, row, now, unwritten=unwritten, batch=batch)
                    except Exception as exc:
                        if not _mails_fault(exc):
                            raise
                        raise _MailFailed from exc
                    if outcome == DEFERRED:
                        claimed.pop()  # left pending, unchanged: a later batch takes it up
                        outcomes.append(outcome)
                        continue
                    done.append((row, now))
                    if row.dedupe_key and row.state in ORIGINAL_STATES:
                        unwritten.setdefault(row.dedupe_key, row.id)
                outcomes.append(outcome)
            if not isolate:
                try:
                    # The last mail's rows, the batch's outcomes and events: a refusal here is
                    # still a mail's, found by the isolating run.
                    session.flush()
                    record_outcomes(session.connection(), done)
                    write_events(session)
                except DBAPIError as exc:
                    if not _mails_fault(exc):
                        raise
                    raise _MailFailed from exc
            noted = take_noted_wakeup(session)
        if noted is not None and (self._wake_at is None or noted < self._wake_at):
            self._wake_at = noted
        # Committed: say what was kept from a ticket, so an operator finds it in the log.
        if self.on_committed is not None and claimed:
            self.on_committed(claimed)
        for row in claimed:
            if row.state in ("held", "rejected"):
                log.warning("inbound %d %s: %s", row.id, row.state, (row.reason or "")[:300])
        return outcomes

    def _isolated(self, session: Session, row: Claimed, now: datetime, batch: set[int]) -> str:
        write_events(session)  # the mails before this one keep theirs, should this one fail
        try:
            with session.begin_nested():
                outcome = process_inbound(session, self.app, row, now, batch=batch)
                if outcome == DEFERRED:
                    return outcome  # left pending, unchanged
                record_outcomes(session.connection(), [(row, now)])
                write_events(session)  # inside the savepoint: a later mail's failure keeps them
                return outcome
        except Exception as exc:
            if not _mails_fault(exc):
                raise
            row.undo()
            discard_events(session)
            # The savepoint took back the failed mail's rows, but a row written outside the ORM
            # (a ticket, say) stays in the session as if it existed. Earlier mails' work was
            # flushed when their savepoints were released: nothing is lost by starting afresh.
            session.expunge_all()
            if isinstance(exc, ParseLimitExceeded):
                reason = f"over the {exc.limit} limit: {exc.detail}"
            elif isinstance(exc, DBAPIError):
                # Left pending, it would fail every batch it is in, for ever.
                reason = f"the database refused it: {_one_line(exc)}"
            else:
                log.exception("inbound %d: processing failed", row.id)
                reason = _one_line(exc)
            return self._quarantine(row, reason, now, session)

    def _quarantine(self, row: Claimed, reason: str, now: datetime, session: Session) -> str:
        row.state, row.reason = "quarantined", reason[:2000]
        record_outcomes(session.connection(), [(row, now)])
        record(session, None, "quarantined", now, inbound_id=row.id, reason=row.reason)
        log.warning("inbound %d quarantined: %s", row.id, reason[:200])
        return "quarantined"

    def take_wakeup(self) -> datetime | None:
        """The earliest wake-up (a ticket's or an incident's) the batches committed since the last call stored."""
        noted, self._wake_at = self._wake_at, None
        return noted

    def drain(self, limit: int | None = None) -> dict[str, int]:
        """Process pending rows until none is left (or ``limit``); count outcomes."""
        counts: dict[str, int] = {}
        while limit is None or sum(counts.values()) < limit:
            room = BATCH if limit is None else min(BATCH, limit - sum(counts.values()))
            outcomes = self.process_batch(room)
            if not outcomes:
                break
            for outcome in outcomes:
                counts[outcome] = counts.get(outcome, 0) + 1
            if all(o == DEFERRED for o in outcomes):
                break  # what is left waits on mail another process is processing: look again later
            if self.emptied:
                break  # no need of another write transaction to learn there is nothing more
        return counts
