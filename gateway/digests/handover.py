"""The on-call handover: at each change of the person on call (an override's start and end included),
the incoming and the outgoing person are told what is open at P1 and P2, which pages went out in
the last shift and whether they were acknowledged, which escalations are still waiting, and what
falls due during the new shift."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config import Config
from gateway.digests.content import Content, Occasion, clock_word, figures, next_promises, open_tickets, text_table
from gateway.digests.readers import Reader
from gateway.escalation.tiers import ticket_policy
from gateway.escalation.timing import TicketState, live
from gateway.outbound.charts import (
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
from gateway.outbound.context import MailContext
from gateway.store.models import CLOSED_STATUSES, Escalation, Event, SlaClock, Ticket
from gateway.time.rotation import Shift

URGENT = ("P1", "P2")
# A shift with no end in sight (a fallback, a rotation of one) is looked at a week ahead.
OPEN_ENDED = timedelta(days=7)
PAGE_COLUMNS = ("ticket", "first page", "last page", "pages", "to", "acknowledged")
PRIORITY_COLOURS = {"P1": PALETTE[5], "P2": PALETTE[1], "P3": PALETTE[0], "P4": PALETTE[3]}


def _name(config: Config, shift: Shift | None) -> str:
    if shift is None:
        return "nobody"
    person = config.staff.person(shift.contact, config.gateway.timezone)
    return person.name if person is not None else shift.contact


def _pages(session: Session, since: datetime, until: datetime, reader: Reader,
           f: Figures) -> tuple[list[list[str]], int, int]:
    """The shift's pages, a row per ticket and tier (first and last page, how many, who, acknowledged
    by whom), and how many pages were sent and how many of them were acknowledged."""
    groups: dict[tuple[int | None, str, str], list[Event]] = {}
    query = select(Event).where(Event.kind == "on-call-paged", Event.at >= since, Event.at < until).order_by(Event.id)
    for e in session.scalars(query):
        d = e.detail or {}
        groups.setdefault((e.ticket_id, str(d.get("policy")), str(d.get("tier"))), []).append(e)
    rows, acked = [], 0
    for (ticket, policy, tier), pages in groups.items():
        row = session.scalar(select(Escalation).where(Escalation.ticket_id == ticket, Escalation.policy == policy,
                                                      Escalation.tier == tier))
        by = "not acknowledged"
        if row is not None and row.acknowledged_at is not None and row.acknowledged_at >= pages[0].at:
            by = f"by {row.acknowledged_by} at {f.moment(row.acknowledged_at.astimezone(reader.zone))}"
            acked += sum(1 for e in pages if e.at <= row.acknowledged_at)
        names = dict.fromkeys(n for e in pages for n in (e.detail or {}).get("names", []))
        rows.append([f"#{ticket}", f.moment(pages[0].at.astimezone(reader.zone)),
                     f.moment(pages[-1].at.astimezone(reader.zone)), f.number(len(pages)), ", ".join(names), by])
    return rows, sum(len(pages) for pages in groups.values()), acked


def _waiting(session: Session, ctx: MailContext, reader: Reader, f: Figures) -> list[list[str]]:
    """Fired tiers still repeating until someone acknowledges them (still at stake, unacknowledged)."""
    query = (select(Escalation, Ticket).join(Ticket, Ticket.id == Escalation.ticket_id)
             .where(Escalation.acknowledged_at.is_(None), Ticket.status.not_in(CLOSED_STATUSES))
             .order_by(Escalation.fired_at, Escalation.id))
    rows, states = [], {}
    for e, t in session.execute(query):
        policy = ticket_policy(ctx, t)
        tier = policy.tier(e.tier) if policy is not None and policy.name == e.policy else None
        if policy is None or tier is None:
            continue
        if t.id not in states:
            states[t.id] = TicketState.load(session, ctx.config.policy, t, policy)
        if live(states[t.id], tier, e):
            rows.append([f"#{t.id}", t.priority, e.tier, f.moment(e.fired_at.astimezone(reader.zone)),
                         f.number(e.rounds), f.moment(e.last_round_at.astimezone(reader.zone))])
    return rows


def _falling_due(session: Session, start: datetime, end: datetime) -> list[tuple[SlaClock, Ticket]]:
    query = (select(SlaClock, Ticket).join(Ticket, Ticket.id == SlaClock.ticket_id)
             .where(SlaClock.stopped_at.is_(None), SlaClock.deadline >= start, SlaClock.deadline < end,
                    Ticket.status.not_in(CLOSED_STATUSES)).order_by(SlaClock.deadline, SlaClock.id))
    return [(c, t) for c, t in session.execute(query)]


def _by_day(due: list[tuple[SlaClock, Ticket]], start: datetime, end: datetime, reader: Reader,
            f: Figures) -> Markup:
    days: list[date] = []
    day = start.astimezone(reader.zone).date()
    while len(days) < 14 and day <= (end - timedelta(microseconds=1)).astimezone(reader.zone).date():
        days.append(day)
        day += timedelta(days=1)
    counts = Counter((c.deadline.astimezone(reader.zone).date(), t.priority) for c, t in due if c.deadline)
    priorities = sorted({p for _, p in counts})
    bars = [Bar(f.day(d), tuple(Segment(counts[d, p], PRIORITY_COLOURS.get(p, PALETTE[-1]), p) for p in priorities),
                f.number(sum(counts[d, p] for p in priorities))) for d in days]
    return bar_chart("due-by-day", "", bars if due else [],
                     key=[(PRIORITY_COLOURS.get(p, PALETTE[-1]), p) for p in priorities],
                     empty="nothing falls due during this shift")


def _parts(session: Session, ctx: MailContext, occasion: Occasion, reader: Reader, f: Figures) -> dict[str, Any]:
    handover = occasion.handover
    assert handover is not None
    start = handover.at
    end = handover.incoming.until if handover.incoming and handover.incoming.until else start + OPEN_ENDED
    since = handover.outgoing.since if handover.outgoing and handover.outgoing.since else start - OPEN_ENDED
    urgent = open_tickets(session, Ticket.priority.in_(URGENT))
    promises = next_promises(session, (t.id for t in urgent), start, reader.zone, f)
    due = _falling_due(session, start, end)
    zone = reader.zone
    return {
        "start": start, "end": end, "since": since,
        "urgent": [[f"#{t.id}", t.priority, t.subject, t.organisation or "", t.status, t.assignee or "–",
                    promises.get(t.id, "–")] for t in urgent],
        "pages": _pages(session, since, start, reader, f),  # (rows, pages sent, acknowledged)
        "waiting": _waiting(session, ctx, reader, f),
        "due": [[f.moment(c.deadline.astimezone(zone)), f"#{t.id}", t.priority, clock_word(c.name),
                 t.organisation or ""] for c, t in due if c.deadline],
        "chart": _by_day(due, start, end, reader, f),
    }


def _text(title: str, intro: str, p: dict[str, Any]) -> str:
    lines = [title, "", intro, "", "Open at P1 and P2:"]
    lines += text_table(["ticket", "priority", "subject", "organisation", "status", "assignee", "next promise"],
                        p["urgent"])
    lines += ["", "Pages in the last shift:"]
    lines += text_table(PAGE_COLUMNS, p["pages"][0])
    lines += ["", "Escalations waiting for acknowledgement:"]
    lines += text_table(["ticket", "priority", "tier", "since", "rounds", "last round"], p["waiting"])
    lines += ["", "Falling due during this shift:"]
    lines += text_table(["due", "ticket", "priority", "promise", "organisation"], p["due"])
    return "\n".join(lines) + "\n"


def handover_digest(session: Session, ctx: MailContext, occasion: Occasion, reader: Reader,
                    now: datetime) -> Content:
    handover = occasion.handover
    assert handover is not None
    f = figures(reader)
    p = _parts(session, ctx, occasion, reader, f)
    incoming, outgoing = _name(ctx.config, handover.incoming), _name(ctx.config, handover.outgoing)
    title = f"On-call handover: {outgoing} to {incoming}"
    _, sent, acked = p["pages"]
    intro = (f"{incoming} is on call from {f.moment(p['start'].astimezone(reader.zone))} to "
             f"{f.moment(p['end'].astimezone(reader.zone))} ({reader.zone.key} time). "
             f"Open at P1 or P2: {f.number(len(p['urgent']))}. Pages in the last shift: {f.number(sent)}, "
             f"acknowledged: {f.number(acked)}. Escalations waiting: {f.number(len(p['waiting']))}. "
             f"Falling due during the shift: {f.number(len(p['due']))}.")
    html = document(title, [
        heading(title, 1), paragraph(intro),
        tiles([(f.number(len(p["urgent"])), "open at P1 or P2"), (f"{acked}/{sent}", "pages acknowledged"),
               (f.number(len(p["waiting"])), "escalations waiting"), (f.number(len(p["due"])), "falling due")]),
        heading("Open at P1 and P2"),
        table("urgent", [Column(c) for c in ("ticket", "priority", "subject", "organisation", "status", "assignee",
                                             "next promise")], p["urgent"]),
        heading("Pages in the last shift"),
        table("pages", [Column(c) for c in PAGE_COLUMNS], p["pages"][0]),
        heading("Escalations waiting"),
        table("waiting", [Column(c) for c in ("ticket", "priority", "tier", "since", "rounds", "last round")],
              p["waiting"]),
        heading("Falling due during the shift"), p["chart"],
        table("due", [Column(c) for c in ("due", "ticket", "priority", "promise", "organisation")], p["due"]),
    ], f, width=760)
    return Content(title, _text(title, intro, p), str(html))
