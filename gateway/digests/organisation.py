"""The monthly report to a customer organisation's designated contacts: what they raised, how each
promise was kept, and what is still open, in their zone and language's figures.

Only their own tickets and promises appear: a run counts in the month it was settled, as in
``helpdesk report sla``; nothing is sent for a month with nothing raised, settled or open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_date
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.digests.content import (
    Content,
    Occasion,
    clock_word,
    figures,
    next_promises,
    open_tickets,
    period,
    text_table,
)
from gateway.digests.readers import Reader
from gateway.outbound.charts import (
    MET,
    MISSED,
    Bar,
    Column,
    Figures,
    Segment,
    bar_chart,
    document,
    heading,
    table,
    tiles,
)
from gateway.outbound.charts import paragraph as para
from gateway.outbound.context import MailContext
from gateway.reports.sla_report import CLOCK_ORDER, Settled, breach_detail, settle
from gateway.store.models import Ticket
from gateway.time.durations import format_target, parse_target


def _raised(session: Session, organisation: str, start: datetime, end: datetime) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(
        Ticket.organisation == organisation, Ticket.created_at >= start, Ticket.created_at < end)
        .order_by(Ticket.id)))


def _kept_chart(settled: list[Settled], f: Figures) -> Markup:
    bars = []
    for clock in sorted({s.run.clock for s in settled}, key=lambda c: CLOCK_ORDER.index(c) if c in CLOCK_ORDER else 9):
        mine = [s for s in settled if s.run.clock == clock]
        met = sum(1 for s in mine if s.outcome == "met")
        bars.append(Bar(clock_word(clock), (Segment(100 * met / len(mine), MET, "kept"),
                                            Segment(100 * (len(mine) - met) / len(mine), MISSED, "missed")),
                        f"{f.percent(100 * met / len(mine))} ({met}/{len(mine)})"))
    return bar_chart("promises-kept", "", bars, scale=100, key=[(MET, "kept"), (MISSED, "missed")],
                     empty="no promise fell due this month")


def _target(text: str) -> str:
    try:
        return format_target(parse_target(text))
    except ValueError:
        return text


def _promise_rows(ctx: MailContext, settled: list[Settled], known: datetime, reader: Reader,
                  f: Figures) -> list[list[str]]:
    rows = []
    for s in sorted(settled, key=lambda s: (s.run.ticket, s.at)):
        run = s.run
        if s.outcome == "met":
            how = "kept"
        elif run.ended is None:
            how = "missed, not given yet"
        else:
            late = breach_detail(ctx.config.policy, s, known)
            minutes = late["late_business_minutes"] if late["late_business_minutes"] is not None \
                else late["late_wall_minutes"]
            how = f"missed by {f.duration(minutes)}"
        taken = s.business if s.business is not None else s.wall
        rows.append([f"#{run.ticket}", clock_word(run.clock), _target(run.target),
                     f.moment(run.deadline.astimezone(reader.zone)) if run.deadline else "–", how,
                     f.duration(taken.total_seconds() / 60) if taken is not None else "–"])
    return rows


def _open_rows(session: Session, organisation: str, reader: Reader, f: Figures, now: datetime) -> list[list[str]]:
    tickets = open_tickets(session, Ticket.organisation == organisation)
    promises = next_promises(session, (t.id for t in tickets), now, reader.zone, f)
    return [[f"#{t.id}", f.day(t.created_at.astimezone(reader.zone).date()), t.subject, t.priority, t.status,
             promises.get(t.id, "–")] for t in tickets]


def _text(title: str, parts: dict[str, Any]) -> str:
    lines = [title, f"(times in {parts['zone']})", "", parts["headline"], "", "What you raised:"]
    lines += text_table(["ticket", "opened", "subject", "priority", "status now"], parts["raised"])
    lines += ["", "How each promise was kept:"]
    lines += text_table(["ticket", "promise", "target", "was due", "kept?", "time taken"], parts["promises"],
                        empty="no promise fell due this month")
    lines += ["", "Still open:"]
    lines += text_table(["ticket", "opened", "subject", "priority", "status", "next promise"], parts["open"])
    return "\n".join(lines) + "\n"


def organisation_digest(session: Session, ctx: MailContext, occasion: Occasion, reader: Reader,
                        now: datetime) -> Content | None:
    """The month before ``occasion`` for ``reader``'s organisation; None when there is nothing to say."""
    organisation = reader.organisation or ""
    f, zone = figures(reader), reader.zone
    start, end, first, _ = period(occasion, zone)
    known = min(end, now)
    settled, _still = settle(session, ctx.config.policy, start, end, known, lambda r: r.organisation == organisation)
    raised = _raised(session, organisation, start, end)
    parts: dict[str, Any] = {
        "zone": zone.key,
        "raised": [[f"#{t.id}", f.day(t.created_at.astimezone(zone).date()), t.subject, t.priority, t.status]
                   for t in raised],
        "promises": _promise_rows(ctx, settled, known, reader, f),
        "open": _open_rows(session, organisation, reader, f, now)}
    if not (raised or settled or parts["open"]):
        return None
    met = sum(1 for s in settled if s.outcome == "met")
    kept = f.percent(100 * met / len(settled)) if settled else "–"
    month = format_date(first, "LLLL y", locale=f.locale)
    parts["headline"] = (f"Tickets raised in {month}: {f.number(len(raised))}. Promises due: {f.number(len(settled))}, "
                         f"kept: {f.number(met)} ({kept}). Open now: {f.number(len(parts['open']))}.")
    title = f"{organisation}: your support report for {month}"
    html = document(title, [
        heading(title, 1), para(f"Hello, here is what {organisation} raised with {ctx.config.gateway.name} in "
                                f"{month}, and how each of our promises was kept ({zone.key} time)."),
        tiles([(f.number(len(raised)), "tickets raised"), (kept, "of promises kept"),
               (f.number(len(settled) - met), "promises missed"), (f.number(len(parts["open"])), "open now")]),
        heading("Promises kept"), _kept_chart(settled, f),
        heading("What you raised"),
        table("raised", [Column("ticket"), Column("opened"), Column("subject"), Column("priority"),
                         Column("status now")], parts["raised"]),
        heading("How each promise was kept"),
        table("promises", [Column("ticket"), Column("promise"), Column("target"), Column("was due"),
                           Column("kept?"), Column("time taken", True)], parts["promises"],
              empty="no promise fell due this month"),
        heading("Still open"),
        table("open", [Column("ticket"), Column("opened"), Column("subject"), Column("priority"), Column("status"),
                       Column("next promise")], parts["open"]),
        para("Time taken leaves out the time a ticket waited for your answer; business-hours promises count "
             "business hours.", muted=True),
    ], f, width=720)
    return Content(f"Your support report for {month}: {organisation}", _text(title, parts), str(html))
