"""The SLA report by mail (sla-weekly, sla-monthly): how each plan's promises were kept over the
week or the month before, for the service delivery manager, in their zone and locale.

The figures are ``helpdesk report sla --by plan`` over the same period (the reader's midnights),
and the charts the same as the report's page: compliance by week (the six weeks to the end of a
weekly report, the weeks of a monthly one), breaches by priority; then the table and every breach.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy.orm import Session

from gateway.digests.content import Content, Occasion, clock_word, figures, midnight, period, text_table
from gateway.digests.readers import Reader
from gateway.outbound.charts import Figures, document, heading, paragraph
from gateway.outbound.context import MailContext
from gateway.reports.series import sla_series
from gateway.reports.sla_history import Run
from gateway.reports.sla_html import breach_table, breaches_chart, compliance_chart, report_table, summary
from gateway.reports.sla_report import report

TREND_WEEKS = 6


def _in_zone(data: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The report with its instants in the reader's zone, as the tables write them."""
    def moved(value: str) -> str:
        return datetime.fromisoformat(value).astimezone(zone).isoformat()
    return {**data, "from": moved(data["from"]), "to": moved(data["to"]),
            "breaches": [{**b, "deadline": moved(b["deadline"])} for b in data["breaches"]]}


def _title(occasion: Occasion, f: Figures, first: date, last: date) -> str:
    digest = occasion.digest
    if digest.kind == "sla-monthly":
        title = f"Monthly SLA report, {format_date(first, 'LLLL y', locale=f.locale)}"
    else:
        title = f"Weekly SLA report, {f.period(first, last)}"
    return title + (f" ({', '.join(digest.plans)})" if digest.plans else "")


def totals(data: dict[str, Any]) -> tuple[int, int, int]:
    """Promises due, kept, and still open at the end."""
    rows = data["rows"]
    return (sum(r["due"] for r in rows), sum(r["met"] for r in rows),
            sum(r["running"] + r["paused"] for r in rows))


def headline(data: dict[str, Any], f: Figures) -> str:
    due, met, still = totals(data)
    kept = f" ({f.percent(100 * met / due)} kept)" if due else ""
    return (f"Promises due: {f.number(due)}, kept: {f.number(met)}, missed: {f.number(due - met)}{kept}; "
            f"still running at the end: {f.number(still)}.")


def _text(title: str, zone: ZoneInfo, data: dict[str, Any], weeks: list[dict[str, Any]], f: Figures) -> str:
    lines = [title, f"(times in {zone.key})", "", headline(data, f), "", "By plan and promise:"]
    lines += text_table(["plan", "promise", "due", "kept", "missed", "open", "kept %"], [
        [r["plan"], clock_word(r["clock"]), f.number(r["due"]), f.number(r["met"]), f.number(r["missed"]),
         f.number(r["running"] + r["paused"]), f.percent(r["compliance"])] for r in data["rows"]],
        empty="nothing was due")
    lines += ["", "Breaches:"]
    lines += text_table(["ticket", "priority", "promise", "plan", "was due", "late by"], [
        [f"#{b['ticket']}", b["priority"] or "", clock_word(b["clock"]), b["plan"] or "",
         f.moment(datetime.fromisoformat(b["deadline"])),
         f.duration(b["late_business_minutes"] if b["late_business_minutes"] is not None
                    else b["late_wall_minutes"]) + ("" if b["settled"] else ", still open")]
        for b in data["breaches"]])
    lines += ["", "Compliance by week:"]
    lines += [f"  {f.days(*_week_days(w))}: " + (f"{f.percent(w['compliance'])} ({w['met']}/{w['due']})"
                                                  if w["due"] else "nothing due") for w in weeks]
    return "\n".join(lines) + "\n"


def _week_days(week: dict[str, Any]) -> tuple[date, date]:
    first = datetime.fromisoformat(week["from"])
    last = datetime.fromisoformat(week["to"]) - timedelta(microseconds=1)
    return first.date(), max(last.date(), first.date())


def sla_digest(session: Session, ctx: MailContext, occasion: Occasion, reader: Reader,
               now: datetime) -> Content | None:
    """The report for the period before ``occasion``, as ``reader`` reads it; None for a period with
    nothing due and nothing running (before the first ticket, say)."""
    f, zone, policy = figures(reader), reader.zone, ctx.config.policy
    start, end, first, last = period(occasion, zone)
    plans = set(occasion.digest.plans)
    only: Callable[[Run], bool] | None = (lambda run: run.plan in plans) if plans else None
    weekly = occasion.digest.kind == "sla-weekly"
    data = _in_zone(report(session, policy, start, end, by="plan", now=now, only=only), zone)
    if not data["rows"]:
        return None
    trend_start = midnight(first - timedelta(weeks=TREND_WEEKS - 1), zone) if weekly else start
    series = sla_series(session, policy, trend_start, end, zone, now=now, only=only,
                        first_weekday=first.weekday() if weekly else f.locale.first_week_day)
    for week in series["weeks"]:
        week["from"] = datetime.fromisoformat(week["from"]).astimezone(zone).isoformat()
        week["to"] = datetime.fromisoformat(week["to"]).astimezone(zone).isoformat()
    title = _title(occasion, f, first, last)
    html = document(title, [
        heading(title, 1),
        paragraph(f"Hello {reader.name or reader.address}, here is how the promises were kept from "
                  f"{f.moment(start.astimezone(zone))} to {f.moment(end.astimezone(zone))} ({zone.key} time)."),
        summary(data, f),
        heading("Compliance by week"), compliance_chart(series["weeks"], f),
        heading("Breaches by priority"), breaches_chart(data["breaches"], f),
        heading("By plan and promise"), report_table(data, f),
        heading("Breaches"), breach_table(data["breaches"], f),
        *(paragraph(note[:1].upper() + note[1:] + ".", muted=True) for note in data["notes"]),
    ], f, width=720)
    due, met, _ = totals(data)
    kept = f"{f.percent(100 * met / due)} kept" if due else "nothing fell due"
    return Content(f"{title}: {kept}", _text(title, zone, data, series["weeks"], f), str(html))
