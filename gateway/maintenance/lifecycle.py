"""A window's instants as they come: the notice, the start, the end; and what a person changes by hand.

``advance`` is what the scheduler runs on a window whose ``next_at`` has come. After a long stop
it does every stage that fell due, but it never announces work that is already over, nor says
it is starting once it has ended. The start and completion mails, and a cancellation, go only to
those the notice reached: nobody hears of the end of work they were never told of.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.maintenance import notices
from gateway.maintenance.windows import LIVE, MaintenanceRefused, cancel, next_instant
from gateway.outbound.context import MailContext
from gateway.store.models import MaintenanceWindow

log = logging.getLogger("gateway.maintenance")


def advance(session: Session, ctx: MailContext, window: MaintenanceWindow, now: datetime) -> None:
    """Do what fell due by ``now``: send the notice, mark the start, complete it; re-arm ``next_at``."""
    if window.notice_at is not None and window.noticed_at is None and window.notice_at <= now:
        window.noticed_at = now
        if now < window.ends_at:
            sent = notices.send(session, ctx, window, "notice", now)
            log.info("maintenance #%s: notice sent to %d status contact(s)", window.id, len(sent))
        else:
            log.warning("maintenance #%s: its notice fell due while the gateway was stopped and the work is over; "
                        "not sent", window.id)
    if window.status == "scheduled" and window.starts_at <= now:
        window.status, window.started_at = "started", window.starts_at
        if now < window.ends_at:
            notices.send(session, ctx, window, "start", now, only=notices.told(session, window.id))
    if window.status == "started" and window.ends_at <= now:
        _complete(session, ctx, window, window.ends_at, now)
    window.next_at = next_instant(window)


def _complete(session: Session, ctx: MailContext, window: MaintenanceWindow, at: datetime, now: datetime) -> None:
    window.status, window.completed_at = "completed", at
    if window.started_at is None:
        window.started_at = window.starts_at
    notices.send(session, ctx, window, "complete", now, only=notices.told(session, window.id))


def complete_now(session: Session, ctx: MailContext, window: MaintenanceWindow, now: datetime) -> list[str]:
    """The work is done before (or after) its planned end: the completion notice goes now."""
    if window.status not in LIVE:
        raise MaintenanceRefused(f"maintenance #{window.id} is {window.status}: it cannot be completed")
    if now < window.starts_at:
        raise MaintenanceRefused(f"maintenance #{window.id} has not started (it starts "
                                 f"{window.starts_at.isoformat()}); cancel it instead")
    advance(session, ctx, window, now)  # the start, if the scheduler has not marked it yet
    if window.status == "completed":
        return []
    before = notices.told(session, window.id)
    window.status, window.completed_at = "completed", now
    sent = notices.send(session, ctx, window, "complete", now, only=before)
    window.next_at = None
    return sent


def cancel_now(session: Session, ctx: MailContext, window: MaintenanceWindow, reason: str,
               now: datetime) -> list[str]:
    """Cancel the window; those already told hear of it, with the calendar event cancelled."""
    cancel(window, reason, now)
    return notices.send(session, ctx, window, "cancel", now, only=notices.told(session, window.id))
