"""What every command shares: exit codes, the clock, the config and the application built from it."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from gateway.clock import Clock, FileClock, SystemClock
from gateway.config import Config, config_path, load_config
from gateway.errors import ConfigError, UsageError
from gateway.tools.log_setup import configure as configure_logging
from gateway.tools.log_setup import load_logging

EX_OK, EX_USAGE_CONFIG, EX_TEMPFAIL = 0, 2, 75
EX_DATAERR = 65  # sysexits.h: the input was wrong; the MTA returns the mail to its sender
log = logging.getLogger("gateway.cli")


def clock() -> Clock:
    """The wall clock, or the instant in ``$HELPDESK_CLOCK_FILE`` for drills and tests."""
    path = os.environ.get("HELPDESK_CLOCK_FILE")
    return FileClock(Path(path)) if path else SystemClock()


def config(args: argparse.Namespace) -> Config:
    loaded = load_config(config_path(args.config))
    configure_logging(load_logging(loaded.raw, loaded.path.parent if loaded.path else Path.cwd()),
                      verbose=args.verbose)
    return loaded


def app(args: argparse.Namespace, *, upgrade: bool = True, loaded: Config | None = None) -> Any:
    from gateway.app import build_app
    built = build_app(loaded or config(args), clock())
    if upgrade:
        ensure_schema(built.db)
    return built


def ensure_schema(db: Any) -> None:
    # SQLite is the embedded default: keep it current without a separate step. PostgreSQL is
    # shared by several processes, so its upgrades are an explicit `helpdesk db upgrade`.
    # Either way, a database this code cannot use stops every command with one line that
    # names the fix, instead of a process that runs and refuses every mail.
    state = db.schema_state()
    if db.is_sqlite and state.kind in ("missing", "older"):
        db.upgrade()
    elif state.problem:
        raise ConfigError([state.problem])




def read_words(file: str) -> str:
    """The words in ``file`` (``-``: standard input), for the commands that send what a person wrote."""
    try:
        return sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--file {file}: {getattr(exc, 'strerror', None) or exc}") from exc
