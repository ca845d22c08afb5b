"""The processing worker: claims one pending inbound row at a time, one transaction each."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.models import InboundMessage
from gateway.pipeline import process_inbound
from gateway.tickets import record
from parsers import ParseLimitExceeded

log = logging.getLogger("gateway.process")


class Processor:
    """Turns stored mail into tickets. Safe to run in several processes on one database."""

    def __init__(self, app: App) -> None:
        self.app = app

    def process_one(self) -> str | None:
        """Process the oldest pending row; return its outcome, or None when none is pending.

        The row is claimed with a row lock (SKIP LOCKED on PostgreSQL; BEGIN IMMEDIATE on
        SQLite), so no two workers process one mail. A mail that fails is quarantined with
        its reason in the same transaction; a database failure rolls everything back and
        leaves the row pending for the next try.
        """
        db = self.app.db
        with db.sessions() as session, session.begin():
            query = select(InboundMessage).where(InboundMessage.state == "pending") \
                .order_by(InboundMessage.id).limit(1)
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            row = session.scalar(query)
            if row is None:
                return None
            now = self.app.clock.now()
            row.attempts += 1
            try:
                with session.begin_nested():
                    outcome = process_inbound(session, self.app, row, now)
            except (OperationalError, DBAPIError):
                raise
            except ParseLimitExceeded as exc:
                outcome = self._quarantine(row, f"over the {exc.limit} limit: {exc.detail}", now, session)
            except Exception as exc:
                detail = "".join(traceback.format_exception_only(exc)).strip()
                log.exception("inbound %d: processing failed", row.id)
                outcome = self._quarantine(row, detail, now, session)
            row.processed_at = now
            return outcome

    def _quarantine(self, row: InboundMessage, reason: str, now: datetime, session: Session) -> str:
        row.state, row.reason = "quarantined", reason[:2000]
        record(session, None, "quarantined", now, inbound_id=row.id, reason=row.reason)
        log.warning("inbound %d quarantined: %s", row.id, reason[:200])
        return "quarantined"

    def drain(self, limit: int | None = None) -> dict[str, int]:
        """Process pending rows until none is left (or ``limit``); count outcomes."""
        counts: dict[str, int] = {}
        while limit is None or sum(counts.values()) < limit:
            outcome = self.process_one()
            if outcome is None:
                break
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts
