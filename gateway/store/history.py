"""History mode: imported mail from before ``--history-before`` is filed, never answered or timed.

The importer stores such mail with source ``history``; the pipeline processes it exactly as live
mail (parse, screen, correlate, classify, ticket, messages, events) inside ``filing_history``,
and the two places every automatic consequence goes through look at the flag: the outbox queues
nothing, and no SLA clock starts, so the scheduler has nothing to wake for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

HISTORY_SOURCE = "history"
_FLAG = "gateway.history"


@contextmanager
def filing_history(session: Session) -> Iterator[None]:
    """Within this block, what ``session`` processes is history: nothing is sent, no clock runs."""
    session.info[_FLAG] = True
    try:
        yield
    finally:
        session.info.pop(_FLAG, None)


def in_history(session: Session) -> bool:
    return bool(session.info.get(_FLAG))
