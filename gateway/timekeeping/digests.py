"""The digest scheduler: claims the digest schedules whose instant has come and sends their mail, once.

Its rows are put in step with the config the first time it is asked (at start); the driver wakes
at the earliest ``next_at`` as it wakes at the earliest ticket deadline. Rows are claimed as
tickets are (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), and each mail has
its cause key, so two processes or a restart never send a period's digest twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.digests.schedule import fire, sync
from gateway.store.models import DigestSchedule
from gateway.timekeeping import due_rows

log = logging.getLogger("gateway.digests")

# A digest that could not be written (a fault in the data or the code) is tried again this much later.
RETRY = timedelta(minutes=15)


class DigestScheduler:
    def __init__(self, app: App) -> None:
        self.app = app
        self._synced = False

    def _sync(self) -> None:
        if self._synced or (not self.app.config.digests.digests and not self._any_rows()):
            self._synced = True
            return
        with self.app.db.transaction() as session:
            sync(session, self.app.config, self.app.clock.now())
        self._synced = True

    def _any_rows(self) -> bool:
        with self.app.db.read_sessions() as session:
            return session.scalar(select(DigestSchedule.id).limit(1)) is not None

    def earliest(self) -> datetime | None:
        self._sync()
        return self._earliest()

    def _earliest(self) -> datetime | None:
        return due_rows.earliest(self.app, DigestSchedule)

    def run_due(self, now: datetime | None = None) -> int:
        """Send every digest due at ``now``; return how many schedules were handled."""
        self._sync()
        return due_rows.run_due(self.app, DigestSchedule, self._fire, _failed, now or self.app.clock.now())

    def _fire(self, session: Session, row: DigestSchedule, now: datetime) -> None:
        fire(session, self.app, row, now)


def _failed(row: DigestSchedule, now: datetime) -> None:
    log.exception("digest %s for %s could not be sent; trying again in %s", row.digest, row.slot, RETRY)
    row.next_at, row.updated_at = now + RETRY, now
