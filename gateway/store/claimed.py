"""A pending inbound mail claimed by a processor, and what processing decided about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from gateway.store.models import InboundMessage, table_of

# A reviewer's verdicts on held mail (`helpdesk held approve`): let it through as the sender's own
# mail, never as an engineer's; or, with --as-engineer, as the engineer's it claims to be.
APPROVED, APPROVED_AS_ENGINEER = "approved", "approved-engineer"

_INBOUND = table_of(InboundMessage)
_COLUMNS = (_INBOUND.c.id, _INBOUND.c.raw, _INBOUND.c.mail_from, _INBOUND.c.rcpt_to, _INBOUND.c.received_at,
            _INBOUND.c.attempts, _INBOUND.c.verdict, _INBOUND.c.ticket_id, _INBOUND.c.message_id,
            _INBOUND.c.dedupe_key, _INBOUND.c.source)
_PENDING = select(*_COLUMNS).where(_INBOUND.c.state == "pending").order_by(_INBOUND.c.id) \
    .limit(bindparam("size"))
_PENDING_LOCKED = _PENDING.with_for_update(skip_locked=True)
_OUTCOME = update(_INBOUND).where(_INBOUND.c.id == bindparam("row_id")).values(
    state=bindparam("state"), reason=bindparam("reason"), verdict=bindparam("verdict"),
    ticket_id=bindparam("ticket_id"), message_id=bindparam("message_id"), dedupe_key=bindparam("dedupe_key"),
    attempts=bindparam("attempts"), processed_at=bindparam("processed_at"))


@dataclass(slots=True)
class Claimed:
    """The stored mail as processing needs it, and the outcome processing sets on it.

    Processing sets ``state`` and what explains it (``reason``, ``verdict``, ``ticket_id``,
    ``message_id``, ``dedupe_key``); ``record_outcomes`` writes them back with its batch.
    ``verdict`` comes in as stored: a reviewer's ``APPROVED`` lets a held mail through.
    """

    id: int
    raw: bytes
    mail_from: str | None
    rcpt_to: list[str]
    received_at: datetime
    attempts: int
    verdict: str | None
    ticket_id: int | None
    state: str = "pending"
    reason: str | None = None
    message_id: str | None = None
    dedupe_key: str | None = None
    source: str = ""  # "history": imported mail filed without answer or clock (gateway.history)
    _as_stored: tuple[str | None, int | None, str | None, str | None] = field(
        init=False, repr=False, default=(None, None, None, None))

    def __post_init__(self) -> None:
        self._as_stored = (self.verdict, self.ticket_id, self.message_id, self.dedupe_key)

    def undo(self) -> None:
        """Forget what a failed attempt decided: the mail is as it was claimed, but for the
        Message-ID it was found to have (``quarantine list`` shows it)."""
        message_id = self.message_id
        self.state, self.reason = "pending", None
        self.verdict, self.ticket_id, self.message_id, self.dedupe_key = self._as_stored
        self.message_id = self.message_id or message_id


def claim(conn: Connection, size: int, *, skip_locked: bool) -> list[Claimed]:
    """The oldest pending mails, up to ``size``, locked for this transaction."""
    rows = conn.execute(_PENDING_LOCKED if skip_locked else _PENDING, {"size": size})
    return [Claimed(r.id, r.raw, r.mail_from, list(r.rcpt_to or ()), r.received_at, r.attempts, r.verdict,
                    r.ticket_id, message_id=r.message_id, dedupe_key=r.dedupe_key, source=r.source) for r in rows]


def record_outcomes(conn: Connection, done: list[tuple[Claimed, datetime]]) -> None:
    """Write what processing decided for each mail, and count the attempt: one statement."""
    if done:
        conn.execute(_OUTCOME, [_outcome(mail, processed_at) for mail, processed_at in done])


def _outcome(mail: Claimed, processed_at: datetime) -> dict[str, Any]:
    return {"row_id": mail.id, "state": mail.state, "reason": mail.reason, "verdict": mail.verdict,
            "ticket_id": mail.ticket_id, "message_id": mail.message_id, "dedupe_key": mail.dedupe_key,
            "attempts": mail.attempts + 1, "processed_at": processed_at}
