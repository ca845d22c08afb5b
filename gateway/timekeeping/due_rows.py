"""Rows that wake at an instant (``next_at``): claimed when it has come, each handled in a savepoint.

Digest schedules and maintenance windows are woken this way, as tickets are: rows are claimed
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (the write lock on SQLite), a row whose handling
fails is put back ``retry`` later and the others stand, and nothing is taken while nothing is due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App

BATCH = 20


Row = TypeVar("Row", bound=Any)


def earliest(app: App, model: type[Any]) -> datetime | None:
    """The earliest instant a row of ``model`` waits for; None when none waits."""
    with app.db.read_sessions() as session:
        found: datetime | None = session.scalar(select(model.next_at).where(model.next_at.is_not(None))
                                                .order_by(model.next_at).limit(1))
        return found


def run_due(app: App, model: type[Row], handle: Callable[[Session, Row, datetime], None],
            failed: Callable[[Row, datetime], None], now: datetime) -> int:
    """Handle every row of ``model`` due at ``now``, in batches; return how many were handled.
    ``failed`` is called, inside the ``except``, for a row whose handling raised: it logs and puts it back."""
    due = earliest(app, model)
    if due is None or due > now:  # nothing due: no write lock taken (SQLite has one)
        return 0
    handled = 0
    while True:
        batch = _run_batch(app, model, handle, failed, now)
        handled += batch
        if batch < BATCH:
            return handled


def _run_batch(app: App, model: type[Row], handle: Callable[[Session, Row, datetime], None],
               failed: Callable[[Row, datetime], None], now: datetime) -> int:
    db = app.db
    with db.sessions() as session, session.begin():
        query = select(model).where(model.next_at <= now).order_by(model.next_at, model.id).limit(BATCH)
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        for row in rows:
            try:
                with session.begin_nested():
                    handle(session, row, now)
            except Exception:
                failed(row, now)
        return len(rows)

