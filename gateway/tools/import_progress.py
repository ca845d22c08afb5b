"""How far `helpdesk import` has come: a progress bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

# Without a terminal (a log, a pipe, cron): a line at each tenth of the way, and at least this often.
LINE_EVERY_SECONDS = 10.0


class Progress(Protocol):
    def advance(self, count: int) -> None: ...

    def close(self) -> None: ...


def progress_for(out: TextIO, total: int, *, clock: Callable[[], float] = time.monotonic) -> Progress:
    """A rich progress bar (count, rate, time left) when ``out`` is a terminal, else plain lines."""
    if out.isatty():
        return _Bar(out, total)
    return PlainLines(out, total, clock=clock)


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class PlainLines:
    """"imported 1200/2606 (310/s, about 4s left)": one line per tenth, or every LINE_EVERY_SECONDS."""

    def __init__(self, out: TextIO, total: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.total, self.clock = out, total, clock
        self.done = 0
        self.started = clock()
        self._last_line = self.started
        self._next_tenth = 1

    def advance(self, count: int) -> None:
        self.done += count
        now = self.clock()
        tenth = self.done * 10 // self.total if self.total else 10
        if tenth >= self._next_tenth or now - self._last_line >= LINE_EVERY_SECONDS:
            self._next_tenth = tenth + 1
            self._last_line = now
            self.out.write(self.line(now) + "\n")
            self.out.flush()

    def line(self, now: float) -> str:
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = f"imported {self.done}/{self.total} ({rate:.0f}/s"
        if self.done < self.total and rate > 0:
            text += f", about {format_duration((self.total - self.done) / rate)} left"
        return text + ")"

    def close(self) -> None:
        if self.done and self._next_tenth <= 10:  # the last tenth was not reached (a source that shrank)
            self.out.write(self.line(self.clock()) + "\n")
            self.out.flush()


class _Bar:
    def __init__(self, out: TextIO, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=Console(file=out),
            transient=False)
        self._progress.start()
        self._task = self._progress.add_task("import", total=total, rate="")
        # Log lines (a held mail, a quarantine) are printed above the bar, not through it.
        self._moved = [h for h in logging.getLogger().handlers
                       if isinstance(h, logging.StreamHandler) and h.stream is out]
        for handler in self._moved:
            handler.setStream(_AboveBar(self._progress.console))
        self._started = time.monotonic()
        self._done = 0

    def advance(self, count: int) -> None:
        self._done += count
        elapsed = time.monotonic() - self._started
        rate = f"{self._done / elapsed:.0f}/s" if elapsed > 0 else ""
        self._progress.update(self._task, advance=count, rate=rate)

    def close(self) -> None:
        self._progress.stop()
        for handler in self._moved:
            handler.setStream(self._progress.console.file)


class _AboveBar:
    """A stream for logging that prints each line above rich's live bar."""

    def __init__(self, console: Any) -> None:
        self._console = console

    def write(self, text: str) -> int:
        if text.strip():
            self._console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass
