"""Repeats: a sender mailing the same thing again and again joins the ticket it opened.

A monitoring system in a loop, or one that re-sends an alert every ten minutes while the fault
lasts, opens a ticket per mail: 6,000 alerts are 6,000 tickets, each with SLA clocks, each
acknowledged until the loop guard stops it. A sender who has opened ``[processing]
repeats_after`` tickets of one subject shape (parsers.subjects: numbers and identifiers aside)
within ``repeats_window`` opens no more of that shape: the next such mail joins the latest of
them, as a repeat, while it is open (stored on it, counted, no acknowledgement, no clock). A storm
that goes on keeps folding into it as long as its repeats keep coming within the window; after
a quiet window, the same alert again is a new occurrence and opens a ticket as before.

A customer who writes twice with one subject opens two tickets: it takes ``repeats_after`` of
one shape inside the window, which people writing about different things rarely reach.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from gateway.config.service import ProcessingSettings
from gateway.store.models import CLOSED_STATUSES, Ticket, table_of
from parsers.subjects import subject_shape

__all__ = ["repeat_key", "repeat_of"]

_TICKETS = table_of(Ticket)
# The latest ticket of the shape: repeats join it while it is open; once it is closed, the
# alert again opens a ticket (which the following repeats then join).
_LATEST = select(_TICKETS.c.id, _TICKETS.c.status, _TICKETS.c.merged_into, _TICKETS.c.repeats,
                 _TICKETS.c.last_repeat_at).where(_TICKETS.c.repeat_key == bindparam("key")) \
    .order_by(_TICKETS.c.created_at.desc(), _TICKETS.c.id.desc()).limit(1)
# How many of the shape were opened in the window, counted up to the threshold and no further.
_OPENED_IN_WINDOW = select(func.count()).select_from(select(_TICKETS.c.id).where(
    _TICKETS.c.repeat_key == bindparam("key"), _TICKETS.c.created_at >= bindparam("since"),
    _TICKETS.c.created_at <= bindparam("until")).limit(bindparam("after")).subquery())


def repeat_key(sender_key: str, subject: str) -> str | None:
    """The hash a sender's tickets of one subject shape share; None where the subject says nothing."""
    shape = subject_shape(subject)
    if not shape:
        return None
    return hashlib.sha256(f"{sender_key}\0{shape}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def repeat_of(session: Session, settings: ProcessingSettings, sender_key: str, subject: str,
              at: datetime) -> Ticket | None:
    """The open ticket a mail from ``sender_key`` that arrived ``at`` repeats, or None: it opens one."""
    key = repeat_key(sender_key, subject) if settings.repeats_after else None
    if key is None:
        return None
    conn = session.connection()
    latest = conn.execute(_LATEST, {"key": key}).first()
    if latest is None or latest.status in CLOSED_STATUSES or latest.merged_into is not None:
        return None
    since = at - settings.repeats_window
    going_on = latest.repeats and latest.last_repeat_at is not None and latest.last_repeat_at >= since
    if not going_on:
        opened = conn.scalar(_OPENED_IN_WINDOW, {"key": key, "since": since, "until": at,
                                                 "after": settings.repeats_after}) or 0
        if opened < settings.repeats_after:
            return None
    return session.get(Ticket, latest.id)
