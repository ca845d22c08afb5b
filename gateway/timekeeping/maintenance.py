"""The maintenance scheduler: wakes each window at its notice, its start and its end, once.

Windows are claimed as tickets are (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on
SQLite), and every mail has its cause key, so two processes or a restart never send a stage twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.maintenance.lifecycle import advance
from gateway.store.models import MaintenanceWindow
from gateway.timekeeping import due_rows

log = logging.getLogger("gateway.maintenance")

# A window whose stage could not be done (a fault in the data or the code) is tried again this much later.
RETRY = timedelta(minutes=15)


class MaintenanceScheduler:
    def __init__(self, app: App) -> None:
        self.app = app

    def earliest(self) -> datetime | None:
        return due_rows.earliest(self.app, MaintenanceWindow)

    def run_due(self, now: datetime | None = None) -> int:
        """Do every window's stage due at ``now``; return how many windows were handled."""
        return due_rows.run_due(self.app, MaintenanceWindow, self._advance, _failed, now or self.app.clock.now())

    def _advance(self, session: Session, window: MaintenanceWindow, now: datetime) -> None:
        advance(session, self.app, window, now)


def _failed(window: MaintenanceWindow, now: datetime) -> None:
    log.exception("maintenance #%s: its stage could not be done; trying again in %s", window.id, RETRY)
    window.next_at = now + RETRY
