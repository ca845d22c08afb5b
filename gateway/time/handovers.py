"""When the person on call changes: each weekly handover and each override's start and end, where
the on-call person really changes (an override within one person's week changes nothing at its end
if they were on call before it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.time.rotation import OnCall, Shift

_WEEK = timedelta(days=7)
# A rotation that names the same person every week never changes: look no further than a year.
_HORIZON = timedelta(days=371)
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Handover:
    """At ``at``, ``outgoing`` hands over to ``incoming`` (either may be nobody)."""

    at: datetime
    outgoing: Shift | None
    incoming: Shift | None


def _weekly(oncall: OnCall, after: datetime, until: datetime) -> list[datetime]:
    if not oncall.rotation or oncall.first_handover is None:
        return []
    local = after.astimezone(oncall.timezone).date()
    day = local - timedelta(days=(local.weekday() - oncall.handover_day) % 7 + 7)
    found: list[datetime] = []
    while True:
        at = datetime.combine(day, oncall.handover_time, tzinfo=oncall.timezone).astimezone(UTC)
        if at > until:
            return found
        if at > after:
            found.append(at)
        day += _WEEK


def _who(shift: Shift | None) -> str | None:
    return shift.contact if shift is not None else None


def handover_at(oncall: OnCall, at: datetime) -> Handover:
    """Who hands over to whom at ``at``."""
    return Handover(at, oncall.shift_at(at - _JUST_BEFORE), oncall.shift_at(at))


def next_handover(oncall: OnCall, after: datetime) -> Handover | None:
    """The first change of the person on call strictly after ``after``, or None within a year."""
    after = after.astimezone(UTC)
    until = after + _HORIZON
    bounds = {edge for o in oncall.overrides for edge in (o.start, o.end) if edge > after}
    candidates = sorted(bounds | set(_weekly(oncall, after, until)))
    for at in candidates:
        change = handover_at(oncall, at)
        if _who(change.outgoing) != _who(change.incoming):
            return change
    return None
