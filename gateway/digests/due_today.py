"""Due today: each morning, an engineer's list of the promises on their tickets that fall due before
the day ends where they are (those already late first); their tickets are those assigned to them
and the unassigned ones routed to their groups. Nothing is sent on a day with nothing due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gateway.digests.content import Content, Occasion, clock_word, figures, period, text_table, time_of_day
from gateway.digests.readers import Reader
from gateway.outbound.charts import Column, document, heading, paragraph, table, tiles
from gateway.outbound.context import MailContext
from gateway.store.models import CLOSED_STATUSES, SlaClock, Ticket


def due_today_digest(session: Session, ctx: MailContext, occasion: Occasion, reader: Reader,
                     now: datetime) -> Content | None:
    f, zone = figures(reader), reader.zone
    _start, end, day, _ = period(occasion, zone)
    engineer = ctx.config.staff.engineer(reader.handle)
    groups = list(engineer.groups) if engineer is not None else []
    query = (select(SlaClock, Ticket).join(Ticket, Ticket.id == SlaClock.ticket_id)
             .where(SlaClock.stopped_at.is_(None), SlaClock.deadline < end, Ticket.status.not_in(CLOSED_STATUSES),
                    or_(Ticket.assignee == reader.handle,
                        and_(Ticket.assignee.is_(None), Ticket.route_group.in_(groups))))
             .order_by(SlaClock.deadline, SlaClock.id))
    due = [(c, t) for c, t in session.execute(query) if c.deadline is not None]
    if not due:
        return None
    late = sum(1 for c, _ in due if c.deadline is not None and c.deadline <= now)
    rows = [[time_of_day(f, c.deadline, zone) if c.deadline >= occasion.at else
             f"late since {f.moment(c.deadline.astimezone(zone))}", f"#{t.id}", t.priority, clock_word(c.name),
             t.subject, t.organisation or ""] for c, t in due if c.deadline is not None]
    when = f.day(day)
    title = f"Due today, {when}"
    intro = (f"Hello {reader.name}, these promises on your tickets fall due before the end of {when} "
             f"({zone.key} time). Due: {f.number(len(due))}, already late: {f.number(late)}.")
    columns = ["due", "ticket", "priority", "promise", "subject", "organisation"]
    html = document(title, [
        heading(title, 1), paragraph(intro),
        tiles([(f.number(len(due)), "due today"), (f.number(late), "already late"),
               (f.number(len({t.id for _, t in due})), "tickets")]),
        heading("Due today"), table("due-today", [Column(c) for c in columns], rows),
    ], f, width=720)
    text = "\n".join([title, "", intro, "", *text_table(columns, rows)]) + "\n"
    return Content(f"{title}: {f.number(len(due))} (late: {f.number(late)})", text, str(html))
