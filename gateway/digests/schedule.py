"""When each digest goes: a row per digest and slot with its next instant, kept in step with the
config, and what happens when a row's instant comes (its occasion found, its mail sent, the row
moved on to the next instant).

After a stop the gateway sends the latest period's mail, once, not one for every period missed;
a changed cadence, calendar or rotation computes the next instant again from the present.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.config import Config
from gateway.config.digests import Digest
from gateway.digests.content import Occasion
from gateway.digests.readers import Slot, slots
from gateway.digests.send import send
from gateway.outbound.context import MailContext
from gateway.store.models import DigestSchedule
from gateway.time.cadence import OpenDay, latest_occurrence, next_occurrence, occurrence_at
from gateway.time.handovers import Handover, handover_at, next_handover

log = logging.getLogger("gateway.digests")
_JUST_BEFORE = timedelta(microseconds=1)
_LOOK_BACK = timedelta(days=62)  # longer than a month and any closure a calendar moves a mail past


def _open_day(config: Config, digest: Digest) -> OpenDay | None:
    return config.policy.calendars[digest.calendar].is_business_day if digest.calendar else None


def basis(config: Config, digest: Digest, slot: Slot) -> str:
    """What a slot's instants are computed from; a change computes them again. (A calendar's new
    holidays count from the next instant computed, after the pending one.)"""
    what = [digest.kind, slot.zone.key, digest.calendar or ""]
    if digest.cadence is not None:
        what.append(digest.cadence.text)
    if digest.kind == "oncall-handover":  # its instants are the rotation's (no sets: the same in every process)
        what.append(repr(config.escalation.oncall))
    return hashlib.sha256("\x1f".join(what).encode()).hexdigest()[:64]


def first_after(config: Config, digest: Digest, slot: Slot, after: datetime) -> datetime | None:
    """The slot's first instant strictly after ``after``."""
    if digest.cadence is None:
        rotation = config.escalation.oncall
        change = next_handover(rotation, after) if rotation is not None else None
        return change.at if change is not None else None
    return next_occurrence(digest.cadence, after, slot.zone, _open_day(config, digest)).at


def sync(session: Session, config: Config, now: datetime) -> None:
    """A row for every digest and slot the config names; rows it no longer names stop."""
    wanted = {(d.name, s.key): (d, s) for d in config.digests.digests for s in slots(config, d)}
    rows = {(r.digest, r.slot): r for r in session.scalars(select(DigestSchedule))}
    for key, row in rows.items():
        if key not in wanted and (row.next_at is not None or row.basis):
            row.next_at, row.basis, row.updated_at = None, "", now
    for key, (digest, slot) in wanted.items():
        stated = basis(config, digest, slot)
        known = rows.get(key)
        if known is not None and known.basis == stated:
            continue
        first = first_after(config, digest, slot, now - _JUST_BEFORE)
        if known is not None:
            known.basis, known.next_at, known.updated_at = stated, first, now
            continue
        try:
            with session.begin_nested():
                session.add(DigestSchedule(digest=digest.name, slot=slot.key, basis=stated, next_at=first,
                                           last_at=None, updated_at=now))
        except IntegrityError:  # another process added it first
            log.debug("digest %s for %s: already scheduled", digest.name, slot.key)


def _latest_handover(config: Config, at: datetime, now: datetime) -> Handover | None:
    rotation = config.escalation.oncall
    if rotation is None:
        return None
    change = handover_at(rotation, at)
    while (following := next_handover(rotation, change.at)) is not None and following.at <= now:
        change = following
    return change


def _occasion(config: Config, digest: Digest, slot: Slot, at: datetime, now: datetime) -> Occasion | None:
    """The latest occasion of the slot at or before ``now``, from its instant ``at``."""
    if digest.cadence is None:
        change = _latest_handover(config, at, now)
        return Occasion(digest, change.at, change.at.isoformat(), handover=change) if change is not None else None
    open_day = _open_day(config, digest)
    first = occurrence_at(digest.cadence, at, slot.zone, open_day)
    latest = latest_occurrence(digest.cadence, first, now, slot.zone, open_day)
    return Occasion(digest, latest.at, digest.cadence.period_key(latest.due), due=latest.due)


def fire(session: Session, ctx: MailContext, row: DigestSchedule, now: datetime) -> int:
    """Send what the row's instant brings, and move it to its next instant; return the mails queued."""
    config = ctx.config
    digest = config.digests.digest(row.digest)
    slot = next((s for s in slots(config, digest) if s.key == row.slot), None) if digest is not None else None
    if digest is None or slot is None or row.next_at is None:
        row.next_at, row.updated_at = None, now
        return 0
    occasion = _occasion(config, digest, slot, row.next_at, now)
    if occasion is None:
        row.next_at, row.updated_at = None, now
        return 0
    sent = send(session, ctx, occasion, slot.key, now)
    row.last_at, row.updated_at = occasion.at, now
    row.next_at = first_after(config, digest, slot, occasion.at)
    return len(sent)


def latest_occasion(config: Config, digest: Digest, slot: Slot, at: datetime) -> Occasion | None:
    """The slot's last occasion at or before ``at`` (its first after, when it has none before)."""
    if digest.cadence is None:
        rotation = config.escalation.oncall
        shift = rotation.shift_at(at) if rotation is not None else None
        if rotation is None or shift is None or shift.since is None:
            return None
        change = handover_at(rotation, shift.since)
        return Occasion(digest, change.at, change.at.isoformat(), handover=change)
    open_day = _open_day(config, digest)
    first = next_occurrence(digest.cadence, at - _LOOK_BACK, slot.zone, open_day)
    if first.at <= at:
        first = latest_occurrence(digest.cadence, first, at, slot.zone, open_day)
    return Occasion(digest, first.at, digest.cadence.period_key(first.due), due=first.due)
