"""The IMAP pollers' rows: place in the mailbox, heartbeat, and the lease of one poller per mailbox."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.config.imap import ImapAccount
from gateway.errors import PermanentError
from gateway.store.db import Database
from gateway.store.models import ImapState

log = logging.getLogger("gateway.imap")

LEASE_TTL = timedelta(seconds=60)


def _machine() -> str:
    """This host's boot and PID namespace: PIDs can only be compared between equal machines."""
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        with contextlib.suppress(OSError):
            parts.append(Path(path).read_text().strip() if "boot" in path else str(os.stat(path).st_ino))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:10] if len(parts) == 2 else ""


_MACHINE = _machine()


def new_owner() -> str:
    """A lease owner name: host, pid, a token per poller, and the machine key."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{_MACHINE}"


def _holder_is_dead(owner: str) -> bool:
    """True only when the holder ran on this very machine and its process is gone (SIGKILL)."""
    host, _, rest = owner.partition(":")
    pid_text, _, rest = rest.partition(":")
    machine = rest.partition(":")[2]
    if not _MACHINE or host != socket.gethostname() or machine != _MACHINE or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True, slots=True)
class Position:
    """Where a pass starts: the mailbox generation, the UID floor, and the messages held back."""

    uidvalidity: int
    last_uid: int
    held: dict[int, str]
    resynced: bool
    # The end of the last pass that reached the server: mail the server dates after it waited
    # for us (an outage); mail it dates before it was put there since (moved in from elsewhere).
    last_contact: datetime | None = None


class StateStore:
    """The ImapState row of one account's folder, read and written in short transactions."""

    def __init__(self, db: Database, clock: Clock, account: ImapAccount, owner: str,
                 lease_ttl: timedelta = LEASE_TTL) -> None:
        self.db, self.clock, self.account = db, clock, account
        self.owner, self.lease_ttl = owner, lease_ttl

    def _row(self, session: Session) -> ImapState:
        query = select(ImapState).where(ImapState.account == self.account.name,
                                        ImapState.folder == self.account.folder)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        row = session.scalar(query)
        if row is None:
            raise LookupError("no imap_state row; call ensure() first")
        return row

    def ensure(self) -> None:
        """Create the row if it is missing (two processes may race: the loser finds it there)."""
        with self.db.transaction() as session:
            if session.scalar(select(ImapState.id).where(ImapState.account == self.account.name,
                                                         ImapState.folder == self.account.folder)):
                return
        with contextlib.suppress(IntegrityError), self.db.transaction() as session:
            session.add(ImapState(account=self.account.name, folder=self.account.folder, last_uid=0,
                                  stored_count=0, backlog=0, held={}, updated_at=self.clock.now()))

    def take_lease(self) -> str | None:
        """Take or renew the lease; return None when ours, else the live holder's name."""
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._row(session)
            holder = row.lease_owner
            free = (holder is None or holder == self.owner or row.lease_until is None
                    or row.lease_until <= now or _holder_is_dead(holder))
            if not free:
                return holder
            if holder not in (None, self.owner):
                log.warning("imap[%s]: taking over the lease from %s", self.account.name, holder)
            row.lease_owner, row.lease_until = self.owner, now + self.lease_ttl
            return None

    def release_lease(self) -> None:
        with self.db.transaction() as session:
            row = self._row(session)
            if row.lease_owner == self.owner:
                row.lease_owner, row.lease_until = None, None

    def begin(self, uidvalidity: int, uidnext: int | None, highest: int) -> Position:
        """The position for a pass; a new UIDVALIDITY (or a first look) starts over at the top.

        At a new UIDVALIDITY every UID means something else: the source keys change with it,
        so a message seen again is stored again and the processor's Message-ID and body-hash
        check marks it a duplicate instead of a second ticket.
        """
        with self.db.transaction() as session:
            row = self._row(session)
            if row.uidvalidity == uidvalidity:
                return Position(uidvalidity, row.last_uid, {int(k): str(v) for k, v in row.held.items()},
                                resynced=False, last_contact=row.last_success_at)
            clash = session.scalar(select(ImapState.folder).where(
                ImapState.account == self.account.name, ImapState.folder != self.account.folder,
                ImapState.uidvalidity == uidvalidity))
            if clash is not None:
                # Source keys carry account, UIDVALIDITY and UID, not the folder: reusing them
                # would make new mail look already stored, and it would be acknowledged unstored.
                raise PermanentError(f"folder {self.account.folder!r} has the UIDVALIDITY {uidvalidity} "
                                     f"that {clash!r} had under this account name; give the account "
                                     "a new name when it changes folder")
            resynced = row.uidvalidity is not None
            row.uidvalidity = uidvalidity
            row.last_uid = max((uidnext or 1) - 1, highest) if not resynced else 0
            row.held = {}
            row.updated_at = self.clock.now()
            return Position(uidvalidity, row.last_uid, {}, resynced=resynced)

    def record(self, *, stored: Sequence[int], last_uid: int, backlog: int, held: dict[int, str],
               contact: bool = True) -> bool:
        """Save progress and the heartbeat, renewing the lease; False when the lease is no longer ours."""
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._row(session)
            if row.lease_owner != self.owner:
                return False
            row.lease_until = now + self.lease_ttl
            row.last_uid = max(row.last_uid, last_uid)
            if stored:
                row.last_stored_uid = max(stored)
                row.stored_count += len(stored)
                row.last_stored_at = now
            row.backlog = backlog
            row.held = {str(uid): why for uid, why in sorted(held.items())}
            if contact:
                row.last_success_at = now
            row.updated_at = now
            return True

    def record_error(self, error: str) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._row(session)
            row.last_error, row.last_error_at, row.updated_at = error[:2000], now, now


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def heartbeats(session: Session, accounts: Sequence[ImapAccount], now: datetime) -> list[dict[str, Any]]:
    """Each configured account's heartbeat, as ``helpdesk status --json`` prints it."""
    rows = {(r.account, r.folder): r for r in session.scalars(select(ImapState))}
    out: list[dict[str, Any]] = []
    for account in accounts:
        row = rows.get((account.name, account.folder))
        last = row.last_success_at if row else None
        out.append({
            "account": account.name,
            "folder": account.folder,
            "last_success_at": _iso(last),
            "last_stored_uid": row.last_stored_uid if row else None,
            "stored": row.stored_count if row else 0,
            "backlog": row.backlog if row else None,
            "held": dict(row.held) if row else {},
            "last_error": row.last_error if row else None,
            "last_error_at": _iso(row.last_error_at) if row else None,
            "uidvalidity": row.uidvalidity if row else None,
            "lease_owner": row.lease_owner if row else None,
            "lease_until": _iso(row.lease_until) if row else None,
            "stale": last is None or now - last > account.stale_after,
        })
    return out
