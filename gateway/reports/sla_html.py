"""The SLA report drawn in HTML that mail clients render: headline figures, charts and tables.

Built from the report's data (``sla_report.report``) and the series its charts need
(``series.sla_series``) with ``outbound.charts``: the page ``helpdesk report sla --html`` writes
and the digests by mail are made of these pieces, so both say the same thing the same way.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup

from gateway.outbound.charts import (
    MET,
    MISSED,
    NONE,
    PALETTE,
    Bar,
    Column,
    Figures,
    Segment,
    bar_chart,
    document,
    heading,
    paragraph,
    table,
    tiles,
)

CLOCKS = ("first_response", "update", "workaround", "resolution")
# Minutes: where each bar of the first-response chart ends; the last bar has no end.
BUCKETS = (15, 30, 60, 120, 240, 480, 1440, 4320)
BREACHES_LISTED = 100


def clock_name(clock: str) -> str:
    return clock.replace("_", " ")


def clock_colour(clock: str) -> str:
    return PALETTE[CLOCKS.index(clock)] if clock in CLOCKS else PALETTE[-1]


def _days(start: str, end: str) -> tuple[date, date]:
    """The first and last day of [start, end), in the instants' own offsets."""
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end) - timedelta(microseconds=1)
    return first.date(), max(last.date(), first.date())


def _priority_order(name: str) -> tuple[int, str]:
    return (0 if name.startswith("P") and name[1:].isdigit() else 1, name)


def summary(data: dict[str, Any], f: Figures) -> Markup:
    rows = data["rows"]
    due, met = sum(r["due"] for r in rows), sum(r["met"] for r in rows)
    still = sum(r["running"] + r["paused"] for r in rows)
    kept = f.percent(100 * met / due) if due else NONE
    return tiles([(kept, "of promises kept"), (f.number(due), "promises due"),
                  (f.number(due - met), "missed"), (f.number(still), "still running at the end")])


def compliance_chart(weeks: list[dict[str, Any]], f: Figures) -> Markup:
    bars = []
    for week in weeks:
        label = f.days(*_days(week["from"], week["to"]))
        due, met, missed = week["due"], week["met"], week["missed"]
        if not due:
            bars.append(Bar(label, (), "nothing due"))
            continue
        share = (Segment(100 * met / due, MET, "met"), Segment(100 * missed / due, MISSED, "missed"))
        bars.append(Bar(label, share, f"{f.percent(week['compliance'])} ({f.number(met)}/{f.number(due)})"))
    return bar_chart("compliance-by-week", "", bars, scale=100,
                     key=[(MET, "met"), (MISSED, "missed")], empty="no weeks in this period")


def breaches_chart(breaches: list[dict[str, Any]], f: Figures) -> Markup:
    counts = Counter((b["priority"] or "(none)", b["clock"]) for b in breaches)
    clocks = sorted({c for _, c in counts}, key=lambda c: (CLOCKS.index(c) if c in CLOCKS else 9, c))
    bars = []
    for priority in sorted({p for p, _ in counts}, key=_priority_order):
        segments = tuple(Segment(counts[priority, c], clock_colour(c), clock_name(c)) for c in clocks)
        bars.append(Bar(priority, segments, f.number(sum(s.value for s in segments))))
    return bar_chart("breaches-by-priority", "", bars,
                     key=[(clock_colour(c), clock_name(c)) for c in clocks], empty="no breaches: every promise kept")


def _bucket_label(i: int, f: Figures) -> str:
    if i == 0:
        return f"< {f.duration(BUCKETS[0])}"
    if i == len(BUCKETS):
        return f"≥ {f.duration(BUCKETS[-1])}"
    return f"{f.duration(BUCKETS[i - 1])} – {f.duration(BUCKETS[i])}"


def first_response_chart(first: list[dict[str, Any]], f: Figures) -> Markup:
    counts: Counter[tuple[int, str]] = Counter()
    waiting = 0
    for response in first:
        if response["minutes"] is None:
            waiting += 1
            continue
        bucket = next((i for i, edge in enumerate(BUCKETS) if response["minutes"] < edge), len(BUCKETS))
        counts[bucket, response["outcome"]] += 1
    bars = [Bar(_bucket_label(i, f), (Segment(counts[i, "met"], MET, "met"), Segment(counts[i, "missed"], MISSED,
                                                                                       "missed")),
                f.number(counts[i, "met"] + counts[i, "missed"])) for i in range(len(BUCKETS) + 1)]
    if waiting:
        bars.append(Bar("not given yet", (Segment(waiting, MISSED, "missed"),), f.number(waiting)))
    if not first:
        bars = []
    return bar_chart("first-response-times", "", bars,
                     key=[(MET, "in time"), (MISSED, "late")], empty="no first response was due",
                     note="Business time for clocks that count business hours, else wall time; paused time left out.")


def _stacked(lines: list[str]) -> Markup:
    return Markup("<br>").join(lines)


def report_table(data: dict[str, Any], f: Figures) -> Markup:
    """The report's rows; times taken in wall time, and in business time for the clocks that count it."""
    by = data["by"]
    grouped = by != "clock"
    columns = [*([Column(by)] if grouped else []), Column("clock"), Column("due", True), Column("met", True),
               Column("missed", True), Column("open", True), Column("kept", True), Column("median", True),
               Column("mean", True), Column("90th pct.", True), Column("time taken in")]
    rows = []
    for r in data["rows"]:
        kinds = [("wall time", r["wall_minutes"])]
        if r["business_minutes"]["median"] is not None:
            kinds.append(("business hours", r["business_minutes"]))
        figures = [_stacked([f.duration(taken[k]) for _, taken in kinds]) for k in ("median", "mean", "p90")]
        rows.append([*([str(r[by])] if grouped else []), clock_name(r["clock"]), f.number(r["due"]),
                     f.number(r["met"]), f.number(r["missed"]), f.number(r["running"] + r["paused"]),
                     f.percent(r["compliance"]), *figures, _stacked([name for name, _ in kinds])])
    return table("report", columns, rows, empty="nothing was due")


def breach_table(breaches: list[dict[str, Any]], f: Figures) -> Markup:
    """Each breach, how late, and whether it is still open; organisations if any breach has one."""
    organisations = any(b["organisation"] for b in breaches)
    columns = [Column("ticket"), Column("priority"), Column("clock"),
               *([Column("organisation")] if organisations else []), Column("due"), Column("late by", True),
               Column("in"), Column("now")]
    rows = []
    for b in breaches[:BREACHES_LISTED]:
        business = b["late_business_minutes"] is not None
        late = b["late_business_minutes"] if business else b["late_wall_minutes"]
        rows.append([f"#{b['ticket']}", b["priority"] or "", clock_name(b["clock"]),
                     *([b["organisation"] or ""] if organisations else []),
                     f.moment(datetime.fromisoformat(b["deadline"])), f.duration(late),
                     "business hours" if business else "wall time", "settled" if b["settled"] else "still open"])
    more = len(breaches) - BREACHES_LISTED
    extra = [paragraph(f"… and {f.number(more)} more: --csv or --json lists them all.", muted=True)] if more > 0 else []
    return Markup("").join([table("breaches", columns, rows, empty="none"), *extra])


def page(data: dict[str, Any], series: dict[str, Any], f: Figures) -> Markup:
    period = f.period(*_days(data["from"], data["to"]))
    by = "" if data["by"] == "clock" else f", by {data['by']}"
    title = f"SLA report, {period}"
    return document(title, [
        heading(title + by, 1),
        paragraph(f"From {f.moment(datetime.fromisoformat(data['from']))} "
                  f"to {f.moment(datetime.fromisoformat(data['to']))} (not included).", muted=True),
        summary(data, f),
        heading("Compliance by week"), compliance_chart(series["weeks"], f),
        heading("Breaches by priority"), breaches_chart(data["breaches"], f),
        heading("Time to first response"), first_response_chart(series["first_response"], f),
        heading("Every promise"), report_table(data, f),
        heading("Breaches"), breach_table(data["breaches"], f),
        *(paragraph(note[:1].upper() + note[1:] + ".", muted=True) for note in data["notes"]),
    ], f, width=860)
