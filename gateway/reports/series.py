"""What the SLA report's charts need beyond its totals: each week's tally, each first response's time.

Counted as ``sla_report.report`` counts (with the same ``only``): a run in the week it was
settled, with its outcome as known at the period's end, and the time it took with paused time
left out (business time for a clock that counts business hours, wall time otherwise). So the
weeks add up to the report's totals, and the first responses to its first-response row.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from gateway.config.policy import Policy
from gateway.reports.sla_history import Run, clock_runs
from gateway.reports.sla_report import time_taken


def week_starts(start: datetime, end: datetime, zone: tzinfo, first_weekday: int = 0) -> list[datetime]:
    """Where each week of [start, end) begins: ``start``, then each first day of a week at midnight in ``zone``.

    ``first_weekday`` counts from Monday (0), as ``date.weekday`` does."""
    starts = [start]
    day: date = start.astimezone(zone).date()
    day += timedelta(days=(first_weekday - day.weekday()) % 7)
    while True:
        boundary = datetime.combine(day, time(), tzinfo=zone)
        if boundary >= end:
            return starts
        if boundary > start:
            starts.append(boundary)
        day += timedelta(days=7)


def sla_series(session: Session, policy: Policy, start: datetime, end: datetime, zone: tzinfo, *,
               now: datetime | None = None, first_weekday: int = 0,
               only: Callable[[Run], bool] | None = None) -> dict[str, Any]:
    """``weeks``: due, met, missed and compliance of each week; ``first_response``: each one settled.

    A first response missed and not given yet has no time taken (``minutes`` is None)."""
    known = min(end, now) if now is not None else end
    starts = week_starts(start, end, zone, first_weekday)
    weeks: list[dict[str, Any]] = [
        {"from": a.isoformat(), "to": b.isoformat(), "due": 0, "met": 0, "missed": 0}
        for a, b in zip(starts, [*starts[1:], end], strict=True)]
    first: list[dict[str, Any]] = []
    for run in clock_runs(session, known, since=start):
        if only is not None and not only(run):
            continue
        outcome, at = run.outcome(known)
        if outcome not in ("met", "missed") or at is None or not start <= at < end:
            continue
        week = weeks[bisect_right(starts, at) - 1]
        week["due"] += 1
        week[outcome] += 1
        if run.clock != "first_response":
            continue
        minutes, business = None, None
        if run.ended is not None:
            wall, business_time = time_taken(policy, run, run.ended)
            business = business_time is not None
            taken = business_time if business_time is not None else wall
            minutes = round(taken.total_seconds() / 60, 1)
        first.append({"ticket": run.ticket, "priority": run.priority, "outcome": outcome, "minutes": minutes,
                      "business": business})
    for week in weeks:
        week["compliance"] = round(100 * week["met"] / week["due"], 1) if week["due"] else None
    first.sort(key=lambda f: f["ticket"])
    return {"weeks": weeks, "first_response": first}
