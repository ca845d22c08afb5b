"""What every digest is made of: its occasion (when it goes, what period it covers), the reader's
figures, plain-text tables beside the HTML ones, and the open tickets' next promises."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_time
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.config.digests import Digest
from gateway.digests.readers import Reader
from gateway.outbound.charts import Figures
from gateway.store.models import CLOSED_STATUSES, SlaClock, Ticket
from gateway.time.handovers import Handover

CLOCK_WORDS = {"first_response": "first response", "update": "update", "workaround": "workaround",
               "resolution": "resolution"}


@dataclass(frozen=True, slots=True)
class Occasion:
    """One mail of a digest: when it goes, the day it was due (its period), or the handover it marks."""

    digest: Digest
    at: datetime
    key: str  # names the period in cause keys: a day, a month, a handover's instant
    due: date | None = None
    handover: Handover | None = None


@dataclass(frozen=True, slots=True)
class Content:
    subject: str
    text: str
    html: str


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def period(occasion: Occasion, zone: ZoneInfo) -> tuple[datetime, datetime, date, date]:
    """[start, end) of the occasion's period at midnights in ``zone``, and its first and last day."""
    cadence = occasion.digest.cadence
    assert cadence is not None and occasion.due is not None
    first, end = cadence.period(occasion.due)
    last = date.fromordinal(end.toordinal() - 1)
    return midnight(first, zone), midnight(end, zone), first, last


def figures(reader: Reader) -> Figures:
    try:
        return Figures(reader.locale)
    except ValueError:
        return Figures("en")


def local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def time_of_day(f: Figures, instant: datetime, zone: ZoneInfo) -> str:
    return format_time(instant.astimezone(zone), "short", tzinfo=zone, locale=f.locale)


def clock_word(clock: str) -> str:
    return CLOCK_WORDS.get(clock, clock.replace("_", " "))


def text_table(columns: Sequence[str], rows: Iterable[Sequence[str]], empty: str = "none") -> list[str]:
    """Columns padded to their widest cell, for the plain-text part."""
    body = [[str(c) for c in row] for row in rows]
    if not body:
        return [f"  {empty}"]
    widths = [max(len(r[i]) for r in [list(columns), *body]) for i in range(len(columns))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in [list(columns), *body]]


def next_promises(session: Session, tickets: Iterable[int], now: datetime, zone: ZoneInfo,
                  f: Figures) -> dict[int, str]:
    """Each ticket's next promise in words, from its running clock due first (paused and stopped
    clocks have none due): "first response by …", or "first response, late since …"."""
    ids = list(tickets)
    first: dict[int, SlaClock] = {}
    if ids:
        query = select(SlaClock).where(SlaClock.ticket_id.in_(ids), SlaClock.stopped_at.is_(None),
                                       SlaClock.deadline.is_not(None)).order_by(SlaClock.deadline, SlaClock.id)
        for clock in session.scalars(query):
            first.setdefault(clock.ticket_id, clock)
    words = {}
    for ticket, clock in first.items():
        if clock.deadline is not None:
            when = f.moment(clock.deadline.astimezone(zone))
            what = clock_word(clock.name)
            words[ticket] = f"{what}, late since {when}" if clock.deadline <= now else f"{what} by {when}"
    return words


def open_tickets(session: Session, *conditions: ColumnElement[bool]) -> list[Ticket]:
    query = select(Ticket).where(Ticket.status.not_in(CLOSED_STATUSES), *conditions)
    return list(session.scalars(query.order_by(Ticket.id)))
