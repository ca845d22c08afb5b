"""The maintenance scheduler: wakes each window at its notice, its start and its end, once.

Windows are claimed as tickets are (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on
SQLite), and every mail has its cause key, so two processes or a restart never send a stage twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway.app import App
from gateway.maintenance.lifecycle import advance
from gateway.store.models import MaintenanceWindow

log = logging.getLogger("gateway.maintenance")

BATCH = 20
# A window whose stage could not be done (a fault in the data or the code) is tried again this much later.
RETRY = timedelta(minutes=15)


class MaintenanceScheduler:
    def __init__(self, app: App) -> None:
        self.app = app

    def earliest(self) -> datetime | None:
        with self.app.db.read_sessions() as session:
            return session.scalar(select(MaintenanceWindow.next_at).where(MaintenanceWindow.next_at.is_not(None))
                                  .order_by(MaintenanceWindow.next_at).limit(1))

    def run_due(self, now: datetime | None = None) -> int:
        """Do every window's stage due at ``now``; return how many windows were handled."""
        now = now or self.app.clock.now()
        earliest = self.earliest()
        if earliest is None or earliest > now:  # nothing due: no write lock taken (SQLite has one)
            return 0
        handled = 0
        while True:
            batch = self._run_batch(now)
            handled += batch
            if batch < BATCH:
                return handled

    def _run_batch(self, now: datetime) -> int:
        db = self.app.db
        with db.sessions() as session, session.begin():
            query = (select(MaintenanceWindow).where(MaintenanceWindow.next_at <= now)
                     .order_by(MaintenanceWindow.next_at, MaintenanceWindow.id).limit(BATCH))
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            for window in rows:
                try:
                    with session.begin_nested():
                        advance(session, self.app, window, now)
                except Exception:
                    log.exception("maintenance #%s: its stage could not be done; trying again in %s", window.id, RETRY)
                    window.next_at = now + RETRY
            return len(rows)
