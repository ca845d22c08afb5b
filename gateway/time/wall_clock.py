"""Local wall-clock times as UTC instants, exact across DST.

A date's opening ranges are read off the office wall clock; this turns them into UTC
intervals. A wall time the clocks repeat (fall back) starts a range at its earlier instant
and ends one at its later; a wall time they skip (spring forward) is the instant they jump.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.time.opening_hours import MINUTES_PER_DAY, DayHours

Interval = tuple[datetime, datetime]
_ONE_DAY = timedelta(days=1)


def utc_intervals(zone: ZoneInfo, day: date, hours: DayHours) -> tuple[Interval, ...]:
    """The UTC intervals covered by a local date's ranges in `zone`, sorted and disjoint."""
    # Local ranges are sorted and disjoint; their UTC images stay sorted, but a repeated
    # hour can make neighbours overlap and a skipped one can make a range empty.
    converted = [(to_utc(zone, day, r.start, latest=False), to_utc(zone, day, r.end, latest=True)) for r in hours]
    merged: list[Interval] = []
    for a, b in converted:
        if b <= a:
            continue  # a range inside the spring-forward gap
        if merged and a <= merged[-1][1]:  # overlap: shifts touching in a repeated hour
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return tuple(merged)


def to_utc(zone: ZoneInfo, day: date, minute: int, *, latest: bool) -> datetime:
    """A local wall time as UTC: the later instant if repeated, the gap's end if skipped."""
    if minute == MINUTES_PER_DAY:
        day, minute = day + _ONE_DAY, 0
    hour, minute = divmod(minute, 60)
    first = _offset(zone, datetime(day.year, day.month, day.day, hour, minute))
    second = _offset(zone, datetime(day.year, day.month, day.day, hour, minute, fold=1))
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    if first == second:  # the usual case: the wall time happens once
        return wall - first
    if first > second:  # repeated (clocks went back): fold 0 is the earlier instant
        return wall - (second if latest else first)
    return _gap_end(zone, wall - second, wall - first)  # skipped (clocks went on)


def _offset(zone: ZoneInfo, wall: datetime) -> timedelta:
    """The UTC offset of a naive wall time in `zone`, for its fold (PEP 495)."""
    offset = zone.utcoffset(wall)
    assert offset is not None  # a ZoneInfo always has one
    return offset


def _gap_end(zone: ZoneInfo, earliest: datetime, latest: datetime) -> datetime:
    """The instant the clocks jump, for a wall time they skip: it lies in (earliest, latest]."""
    lo, hi = int(earliest.timestamp()), int(latest.timestamp())
    before = datetime.fromtimestamp(lo, zone).utcoffset()
    while hi - lo > 1:  # bisect to the second at which the offset changes
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)
