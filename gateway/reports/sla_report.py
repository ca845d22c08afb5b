"""``helpdesk report sla``: how each promise was kept over a period, from the tickets' own events.

A run of a clock counts in the period in which it was settled: met when it stopped in time,
missed when it breached (or stopped late, or was past its deadline at the period's end). For
each clock (and each group of ``--by``): how many were due, met, missed, and are open (running
or paused) at the end; compliance; and the time taken by those settled, in wall time and in the
clock's business time, paused time left out (median, mean, 90th percentile). Every breach is
listed with how late it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean, median
from typing import Any

from sqlalchemy.orm import Session

from gateway.config.policy import Policy
from gateway.reports.sla_history import Run, clock_runs, minus_pauses, paused_within
from gateway.time.durations import parse_target

CLOCK_ORDER = ("first_response", "update", "workaround", "resolution")
GROUPS = ("plan", "priority", "organisation", "engineer", "clock")


@dataclass(frozen=True, slots=True)
class Settled:
    run: Run
    outcome: str  # met | missed
    at: datetime
    wall: timedelta | None  # time taken, paused time left out; None while a missed run still runs
    business: timedelta | None


def time_taken(policy: Policy, run: Run, until: datetime) -> tuple[timedelta, timedelta | None]:
    pauses = paused_within(run, run.started, until)
    wall = minus_pauses(until - run.started, [b - a for a, b in pauses])
    if parse_target(run.target).kind in ("clock", "mean"):
        return wall, None
    calendar = policy.calendar(run.calendar)
    business = minus_pauses(calendar.elapsed(run.started, until), [calendar.elapsed(a, b) for a, b in pauses])
    return wall, business


def _key(run: Run, by: str) -> str:
    value = {"plan": run.plan, "priority": run.priority, "organisation": run.organisation,
             "engineer": run.assignee, "clock": run.clock}[by]
    return value or "(none)"


def _group(run: Run, by: str | None) -> str:
    """The row a run belongs to besides its clock ("" when the report is by clock alone)."""
    return _key(run, by) if by and by != "clock" else ""


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``share`` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _figures(values: list[timedelta | None]) -> dict[str, float | None]:
    minutes = [v.total_seconds() / 60 for v in values if v is not None]
    if not minutes:
        return {"median": None, "mean": None, "p90": None}
    return {"median": round(median(minutes), 1), "mean": round(mean(minutes), 1),
            "p90": round(_percentile(minutes, 0.9), 1)}


def settle(session: Session, policy: Policy, start: datetime, end: datetime, known: datetime,
           only: Callable[[Run], bool] | None = None) -> tuple[list[Settled], list[Run]]:
    """The runs settled in [start, end) as known at ``known``, and those still open (running or
    paused) at the end that started before it; ``only`` keeps the runs it accepts."""
    settled: list[Settled] = []
    still: list[Run] = []
    for run in clock_runs(session, known, since=start):
        if only is not None and not only(run):
            continue
        outcome, at = run.outcome(known)
        if outcome in ("running", "paused"):
            if run.started < end:
                still.append(run)
            continue
        assert at is not None
        if not start <= at < end:
            continue
        wall, business = time_taken(policy, run, run.ended) if run.ended is not None else (None, None)
        settled.append(Settled(run, outcome, at, wall, business))
    return settled, still


def report(session: Session, policy: Policy, start: datetime, end: datetime, by: str | None = None,
           now: datetime | None = None, only: Callable[[Run], bool] | None = None) -> dict[str, Any]:
    """The report for [start, end); ``now`` (default ``end``) bounds what is known; ``only``, when
    given, keeps the runs it accepts (a plan's, an organisation's)."""
    known = min(end, now) if now is not None else end
    settled, still = settle(session, policy, start, end, known, only)
    open_at_end: dict[tuple[str, str], dict[str, int]] = {}
    for run in still:
        counts = open_at_end.setdefault((_group(run, by), run.clock), {"running": 0, "paused": 0})
        counts[run.outcome(known)[0]] += 1
    rows = []
    keys = {(_group(s.run, by), s.run.clock) for s in settled} | set(open_at_end)
    for group, clock in sorted(keys, key=lambda k: (k[0], CLOCK_ORDER.index(k[1]) if k[1] in CLOCK_ORDER else 9)):
        settled_here = [s for s in settled if s.run.clock == clock and _group(s.run, by) == group]
        mine = [s for s in settled_here if not _is_mean(s.run)]
        met = sum(1 for s in mine if s.outcome == "met")
        open_now = open_at_end.get((group, clock), {"running": 0, "paused": 0})
        rows.append({
            **({by: group} if by and by != "clock" else {}), "clock": clock, "due": len(mine), "met": met,
            "missed": len(mine) - met, "running": open_now["running"], "paused": open_now["paused"],
            "compliance": round(100 * met / len(mine), 1) if mine else None,
            "wall_minutes": _figures([s.wall for s in settled_here]),
            "business_minutes": _figures([s.business for s in settled_here]),
            **_mean_kept([s for s in settled_here if _is_mean(s.run)]),
        })
    breaches = [breach_detail(policy, s, known) for s in settled if s.outcome == "missed"]
    breaches.sort(key=lambda b: (b["deadline"] or "", b["ticket"]))
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by or "clock", "rows": rows,
            "breaches": breaches,
            "notes": ["time taken leaves paused time out; business minutes are in each clock's own calendar, "
                      "wall minutes are elapsed time; a run counts in the period it was settled in"]}


def _is_mean(run: Run) -> bool:
    return parse_target(run.target).kind == "mean"


def _mean_kept(runs: list[Settled]) -> dict[str, Any]:
    """For targets that are means ("mean time to restore 15 minutes"): no case is due, met or
    missed; the cases' mean time taken is held to the target instead."""
    if not runs:
        return {}
    targets = {parse_target(s.run.target).amount for s in runs}
    target = max(t for t in targets if isinstance(t, timedelta))  # one plan's target, or the loosest
    taken = [s.wall for s in runs if s.wall is not None]
    average = sum(taken, timedelta()) / len(taken) if taken else None
    return {"measured": len(runs), "mean_target_minutes": round(target.total_seconds() / 60, 1),
            "mean_minutes": round(average.total_seconds() / 60, 1) if average is not None else None,
            "mean_kept": average is not None and average <= target}


def breach_detail(policy: Policy, s: Settled, known: datetime) -> dict[str, Any]:
    run = s.run
    deadline = run.deadline if run.deadline is not None else s.at
    until = run.ended or known
    late_wall = max(until - deadline, timedelta())
    late_business = None
    if parse_target(run.target).kind not in ("clock", "mean"):
        late_business = policy.calendar(run.calendar).elapsed(deadline, until)
    return {"ticket": run.ticket, "clock": run.clock, "priority": run.priority, "plan": run.plan,
            "organisation": run.organisation, "engineer": run.assignee, "target": run.target,
            "deadline": deadline.isoformat(), "settled": run.ended is not None,
            "late_wall_minutes": round(late_wall.total_seconds() / 60, 1),
            "late_business_minutes": (round(late_business.total_seconds() / 60, 1)
                                      if late_business is not None else None)}


def _m(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def as_text(data: dict[str, Any]) -> str:
    by = data["by"]
    lines = [f"SLA report {data['from']} to {data['to']}" + (f", by {by}" if by != "clock" else "")]
    if not data["rows"]:
        return lines[0] + "\n  nothing was due"
    head = (f"  {by if by != 'clock' else '':<16}{'clock':<16}{'due':>5}{'met':>5}{'missed':>7}{'open':>6}"
            f"{'kept':>8}   {'median':>8}{'mean':>8}{'p90':>8}  (minutes: business, else wall)")
    lines.append(head)
    for r in data["rows"]:
        taken = r["business_minutes"] if r["business_minutes"]["median"] is not None else r["wall_minutes"]
        kept = "-" if r["compliance"] is None else f"{r['compliance']:g}%"
        lines.append(f"  {r.get(by, '') if by != 'clock' else '':<16}{r['clock']:<16}{r['due']:>5}{r['met']:>5}"
                     f"{r['missed']:>7}{r['running'] + r['paused']:>6}{kept:>8}   {_m(taken['median']):>8}"
                     f"{_m(taken['mean']):>8}{_m(taken['p90']):>8}")
    for r in data["rows"]:
        if "measured" in r:
            lines.append(f"  {r['clock']} is a mean, not a promise per case: {r['measured']} measured, mean "
                         f"{_m(r['mean_minutes'])} min against {_m(r['mean_target_minutes'])} min: "
                         + ("kept" if r["mean_kept"] else "not kept"))
    lines.append(f"breaches: {len(data['breaches']) or 'none'}")
    for b in data["breaches"]:
        late = (f"{_m(b['late_business_minutes'])} business min" if b["late_business_minutes"] is not None
                else f"{_m(b['late_wall_minutes'])} min")
        lines.append(f"  #{b['ticket']} {b['priority']} {b['clock']} due {b['deadline']}: late by {late}"
                     + ("" if b["settled"] else " and still open"))
    lines.extend(data["notes"])
    return "\n".join(lines)


def as_csv_rows(data: dict[str, Any]) -> list[list[str]]:
    by = data["by"]
    header = ([by] if by != "clock" else []) + ["clock", "due", "met", "missed", "running", "paused", "compliance",
                                                "business_median_min", "business_mean_min", "business_p90_min",
                                                "wall_median_min", "wall_mean_min", "wall_p90_min"]
    rows = [header]
    for r in data["rows"]:
        b, w = r["business_minutes"], r["wall_minutes"]
        rows.append(([str(r[by])] if by != "clock" else []) + [
            r["clock"], str(r["due"]), str(r["met"]), str(r["missed"]), str(r["running"]), str(r["paused"]),
            _m(r["compliance"]), _m(b["median"]), _m(b["mean"]), _m(b["p90"]),
            _m(w["median"]), _m(w["mean"]), _m(w["p90"])])
    return rows
