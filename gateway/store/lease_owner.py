"""Who holds an outbox lease: host, pid and process start, so a restart can tell a dead holder.

A lease owner reads ``host:pid:start:machine:tag``. ``start`` is the process's start time in
clock ticks since boot (``/proc/<pid>/stat``, field 22): a pid used again by another process has
another start. ``machine`` is a digest of the boot id and the pid namespace, so pids are only
compared by a process that sees the same pids (the same boot of the same host, the same
container). Where ``/proc`` is missing both are empty and no holder is ever judged dead: its
rows wait for their lease to run out, as they do for a holder on another machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import uuid
from pathlib import Path


def _machine() -> str:
    """This boot of this host and this pid namespace, as 10 hex digits; empty without /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:10]


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return ""  # there, but unreadable: not known to be dead
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    fields = stat.rpartition(")")[2].split()
    if fields and fields[0] in ("Z", "X"):
        return None  # killed, not yet reaped by its parent: it will never send again
    return fields[19] if len(fields) > 19 else ""


MACHINE = _machine()


def new_owner(host: str | None = None) -> str:
    """This process's name for the leases it takes (at most 64 characters, the column's width).

    ``host`` is the label a person reads (default: the host name); ``tag`` tells apart two
    senders of one process."""
    label = (host or socket.gethostname()).replace(":", "-")[:24]
    start = (process_start(os.getpid()) or "") if MACHINE else ""
    return f"{label}:{os.getpid()}:{start}:{MACHINE}:{uuid.uuid4().hex[:6]}"


def holder_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this machine and its process is gone, or its pid now
    belongs to a process that started at another time (the pid was used again)."""
    parts = owner.rsplit(":", 4)
    if len(parts) != 5:
        return False
    _host, pid_text, start, machine, _tag = parts
    if not MACHINE or machine != MACHINE or not pid_text.isdigit() or not start:
        return False
    with contextlib.suppress(ValueError, OverflowError):
        now = process_start(int(pid_text))
        return now is None or (now != "" and now != start)
    return False
