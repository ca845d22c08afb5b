"""The on-call rotation of [oncall]: weekly handovers and explicit date ranges, in one time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Override:
    """An explicit range: ``contact`` is on call from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: datetime
    end: datetime
    contact: str


@dataclass(frozen=True, slots=True)
class Shift:
    """Who is on call at an instant, since when, until when, and by which rule."""

    contact: str
    since: datetime | None
    until: datetime | None
    source: str  # "override" | "rotation" | "fallback"


@dataclass(frozen=True)
class OnCall:
    """Overrides first (the first listed range covering the instant wins), then the weekly rotation,
    then the fallback. Handovers happen at local wall time in ``timezone``, so a shift spanning a DST
    change lasts 167 or 169 hours; a handover time the change skips is read with the offset before it.
    """

    timezone: ZoneInfo
    handover_day: int = 0
    handover_time: time = time(9, 0)
    first_handover: date | None = None
    rotation: tuple[str, ...] = ()
    overrides: tuple[Override, ...] = ()
    fallback: str | None = None

    def _handover(self, day: date) -> datetime:
        return datetime.combine(day, self.handover_time, tzinfo=self.timezone).astimezone(UTC)

    def _slot(self, at: datetime) -> date:
        """The local date of the last handover at or before ``at``."""
        local = at.astimezone(self.timezone)
        day = local.date() - timedelta(days=(local.weekday() - self.handover_day) % 7)
        return day - _WEEK if self._handover(day) > at else day

    def shift_at(self, at: datetime) -> Shift | None:
        """Who is on call at ``at`` (an aware instant), or None when nobody is."""
        at = at.astimezone(UTC)
        for o in self.overrides:
            if o.start <= at < o.end:
                return Shift(o.contact, o.start, o.end, "override")
        if self.rotation and self.first_handover is not None:
            day = self._slot(at)
            # Before the first handover the rotation is read backwards: someone is always on call.
            index = ((day - self.first_handover).days // 7) % len(self.rotation)
            since, until = self._handover(day), self._handover(day + _WEEK)
            later = [o.start for o in self.overrides if at < o.start < until]
            earlier = [o.end for o in self.overrides if since < o.end <= at]
            return Shift(self.rotation[index], max([since, *earlier]), min([until, *later]), "rotation")
        if self.fallback is not None:
            return Shift(self.fallback, None, None, "fallback")
        return None
