"""`helpdesk import`: a mailbox's history becomes tickets and threads as live mail would, answering nothing.

Each message is stored in the inbound queue like any delivery (key ``import:sha256:<bytes>``, so a
second run stores only what is missing) and processed by the one pipeline. Mail that arrived
before ``history_before`` is stored with source ``history``: it is filed without acknowledgement,
notification or SLA clock (gateway.history). Messages are stored oldest first, so a reply finds
the mail it answers as it would have live. At the end, the tickets that only history wrote to and
that the thread left unsettled are marked resolved as of their last mail (see README: "Bring in
an existing mailbox").
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.processing.worker import Processor
from gateway.store.history import HISTORY_SOURCE
from gateway.store.inbound import Envelope, Stored, store_inbound_many
from gateway.store.models import Event, InboundMessage, Message, Ticket
from gateway.store.tickets import record
from gateway.tools.import_progress import progress_for
from gateway.tools.import_sources import Entry, MailSource

log = logging.getLogger("gateway.intake")

LIVE_SOURCE = "import"
# Mails stored per commit, then processed before the next are read: memory stays bounded, and
# the progress counts mails that are tickets already.
CHUNK = 100
UNSETTLED = ("open", "pending", "resolution-proposed")
_IN_LIMIT = 500  # ids per IN (...) list


def import_key(raw: bytes) -> str:
    """The source key of an imported message: its bytes alone, wherever they were read from."""
    return "import:sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(slots=True)
class ImportSummary:
    """What an import did, each message counted once: the figures add up to ``total``."""

    source: str
    total: int = 0
    already_imported: int = 0  # stored by an earlier run (processed then, or now if it was left pending)
    copies: int = 0  # the same bytes twice in the source: stored once
    unreadable: int = 0  # listed by the source but gone when read (an IMAP message expunged meanwhile)
    history: int = 0  # stored now as history (before --history-before): nothing sent, no clock
    live: int = 0  # stored now as live mail (after --history-before)
    opened: int = 0
    states: Counter[str] = field(default_factory=Counter)
    settled: int = 0  # tickets marked resolved at the end: only history wrote to them

    @property
    def replies(self) -> int:
        return self.states["done"] - self.opened

    def figures(self) -> dict[str, int]:
        return {"tickets": self.opened, "replies": self.replies, "screened": self.states["screened"],
                "duplicates": self.states["duplicate"], "held": self.states["held"],
                "rejected": self.states["rejected"], "quarantined": self.states["quarantined"],
                "pending": self.states["pending"], "already_imported": self.already_imported,
                "copies": self.copies, "unreadable": self.unreadable}

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "total": self.total, **self.figures(), "history": self.history,
                "live": self.live, "settled": self.settled}

    def text(self) -> str:
        f = self.figures()
        lines = [f"{self.source}: {self.total} messages",
                 f"  tickets opened     {f['tickets']}",
                 f"  replies threaded   {f['replies']}",
                 f"  screened           {f['screened']} (auto-replies, bounces, lists: filed, never answered)",
                 f"  duplicates skipped {f['duplicates'] + f['already_imported'] + f['copies']} "
                 f"({f['already_imported']} already imported by an earlier run, {f['copies']} twice in the source, "
                 f"{f['duplicates']} with the Message-ID and body of another)",
                 f"  quarantined        {f['quarantined']}"]
        lines += [f"  {name:<18} {f[name]}" for name in ("held", "rejected", "pending", "unreadable") if f[name]]
        lines.append(f"  as history {self.history}, as live mail {self.live}; "
                     f"{self.settled} history ticket(s) marked resolved")
        if self.total and self.already_imported + self.copies + self.unreadable == self.total:
            lines.append("  nothing new: every message was already imported")
        return "\n".join(lines)


def chronological(entries: Sequence[Entry]) -> list[Entry]:
    """Oldest first, as the mail arrived; an undated message keeps its place after the one before it."""
    keyed: list[tuple[datetime | None, int, Entry]] = []
    previous: datetime | None = None
    for entry in sorted(entries, key=lambda e: e.order):
        previous = entry.date or previous
        keyed.append((previous, entry.order, entry))
    floor = min((d for d, _o, _e in keyed if d is not None), default=None)
    return [e for _d, _o, e in sorted(keyed, key=lambda t: (t[0] or floor or datetime.min, t[1]))]


def is_history(entry: Entry, history_before: datetime) -> bool:
    """Mail the import must never answer: before ``history_before``, or with no believable date
    (it was in the mailbox before the import began; nothing says it is recent)."""
    return entry.date is None or entry.date < history_before


def run_import(app: App, source: MailSource, *, history_before: datetime, out: TextIO) -> ImportSummary:
    """Import every message of ``source``; progress goes to ``out``. Returns the summary."""
    now = app.clock.now()
    summary = ImportSummary(source=source.name)
    entries = chronological(list(source.scan(now)))
    summary.total = len(entries)
    progress = progress_for(out, len(entries))
    processor = Processor(app)
    fresh: list[int] = []
    resumed: list[int] = []
    seen: set[str] = set()
    try:
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start:start + CHUNK]
            fresh += _store(app, summary, chunk, source.read(chunk), history_before, now, seen, resumed)
            # One commit per chunk (fewer fsyncs than the processor's batch of 20); SQLite's write lock
            # is held for one chunk's processing, about 0.25 s of CPU, beside a running gateway.
            while processor.process_batch(CHUNK):
                pass
            progress.advance(len(chunk))
    finally:
        progress.close()
    with app.db.transaction() as session:
        _count(session, summary, fresh)
        summary.settled = settle(session, [*fresh, *resumed])
    log.info("import of %s: %s", source.name, summary.as_dict())
    return summary


def _store(app: App, summary: ImportSummary, chunk: Sequence[Entry], raws: Sequence[bytes | None],
           history_before: datetime, now: datetime, seen: set[str], resumed: list[int]) -> list[int]:
    """Store one chunk, oldest first (one commit per run of history or live mail); the new row ids."""
    fresh: list[int] = []
    readable = [(e, raw) for e, raw in zip(chunk, raws, strict=True) if raw is not None]
    summary.unreadable += len(chunk) - len(readable)
    for history, run in groupby(readable, key=lambda pair: is_history(pair[0], history_before)):
        items = [(import_key(raw), raw, entry.date) for entry, raw in run]
        stored: list[Stored] = store_inbound_many(
            app.db, [(key, raw) for key, raw, _date in items], source=HISTORY_SOURCE if history else LIVE_SOURCE,
            envelope=Envelope(None, ()), received_at=now, arrived_at={key: date for key, _raw, date in items})
        new = [s.inbound_id for s in stored if not s.duplicate]
        earlier: list[int] = []
        for (key, _raw, _date), s in zip(items, stored, strict=True):
            if s.duplicate:
                if key in seen:
                    summary.copies += 1
                else:
                    summary.already_imported += 1
                    earlier.append(s.inbound_id)
            seen.add(key)
        # Stored by a run that was interrupted before processing them: this run processes them
        # (they count as already imported) and settles their tickets as its own.
        resumed += _still_pending(app, earlier)
        if history:
            summary.history += len(new)
        else:
            summary.live += len(new)
        fresh += new
    return fresh


def _still_pending(app: App, ids: Sequence[int]) -> list[int]:
    if not ids:
        return []
    with app.db.read_sessions() as session:
        return list(session.scalars(select(InboundMessage.id).where(
            InboundMessage.id.in_(ids), InboundMessage.state == "pending")))


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _IN_LIMIT):
        yield ids[start:start + _IN_LIMIT]


def _count(session: Session, summary: ImportSummary, fresh: Sequence[int]) -> None:
    """What became of the mail this run stored (another process may have processed some of it)."""
    for ids in _chunks(fresh):
        for state, n in session.execute(select(InboundMessage.state, func.count()).where(
                InboundMessage.id.in_(ids)).group_by(InboundMessage.state)):
            summary.states[state] += n
        summary.opened += session.scalar(select(func.count()).select_from(Event).where(
            Event.kind == "ticket-opened", Event.inbound_id.in_(ids))) or 0


def settle(session: Session, fresh: Sequence[int]) -> int:
    """Mark resolved, as of their last mail, the tickets this run's history opened or wrote to
    that the thread left open, pending or resolution-proposed and that no live mail has reached.

    What happened outside the mailbox is unknown; left open, years of threads would stand in the
    queue with no clock; closed, a customer writing again tomorrow about yesterday's thread would
    get a new ticket. Resolved, a mail within the reopen window reopens the ticket, with its clocks
    started then, and a later one opens a follow-up that links it, as for any resolved ticket.
    """
    touched: set[int] = set()
    for ids in _chunks(fresh):
        touched.update(t for t in session.scalars(select(InboundMessage.ticket_id).where(
            InboundMessage.id.in_(ids), InboundMessage.source == HISTORY_SOURCE,
            InboundMessage.ticket_id.is_not(None))) if t is not None)
    settled = 0
    for ticket_ids in _chunks(sorted(touched)):
        # Tickets some mail other than history wrote to are live: the gateway keeps them.
        live = set(session.scalars(select(Message.ticket_id).join(
            InboundMessage, InboundMessage.id == Message.inbound_id).where(
            Message.ticket_id.in_(ticket_ids), InboundMessage.source != HISTORY_SOURCE)))
        last = dict(session.execute(select(Message.ticket_id, func.max(Message.created_at)).where(
            Message.ticket_id.in_(ticket_ids)).group_by(Message.ticket_id)).tuples().all())
        for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids), Ticket.status.in_(UNSETTLED))):
            if ticket.id in live:
                continue
            at = last.get(ticket.id) or ticket.updated_at
            record(session, ticket.id, "status-changed", at, actor="import", old=ticket.status, new="resolved",
                   reason="imported history: resolved as of its last mail")
            ticket.status, ticket.status_since, ticket.next_deadline = "resolved", at, None
            settled += 1
    return settled
