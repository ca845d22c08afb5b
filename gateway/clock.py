"""The one place that reads the wall clock; everything else is handed a Clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Tells the current instant, always timezone-aware UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to: for tests and the simulator."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start instant")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware instant")
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


class FileClock:
    """Reads the current instant (ISO 8601) from a file another process controls.

    Drills and end-to-end tests run ``helpdesk run`` with ``HELPDESK_CLOCK_FILE`` so that a
    controller can move time forward without waiting for it. A missing or unreadable file keeps
    the last instant read, so time never runs backwards because of a half-written file.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            try:
                text = self._path.read_text(encoding="ascii").strip()
                value = datetime.fromisoformat(text)
                if value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
                value = value.astimezone(UTC)
                if self._last is None or value >= self._last:
                    self._last = value
            except (OSError, ValueError):
                if self._last is None:
                    raise
            assert self._last is not None
            return self._last


def write_clock_file(path: Path, instant: datetime) -> None:
    """Atomically set the instant a FileClock reads."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(instant.astimezone(UTC).isoformat(), encoding="ascii")
    tmp.replace(path)


def wall_time_in(delay: timedelta) -> datetime:
    """The wall-clock instant ``delay`` from now: what a timer library needs to be armed with."""
    return datetime.now(UTC) + max(delay, timedelta(0))
