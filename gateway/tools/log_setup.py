"""``[logging]``: the level, text or JSON lines, and stderr or a file that SIGHUP reopens."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import Reader, as_str
from gateway.errors import ConfigError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Context a log call may pass with ``extra=``; the JSON format gives each its own field.
CONTEXT = ("ticket", "message_id", "inbound", "event")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines say nothing an operator needs.
_NOISY = ("mail.log", "mailparser", "aiosmtpd", "apscheduler", "alembic")


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "INFO"
    format: str = "text"
    file: Path | None = None


def load_logging(raw: dict[str, Any], base: Path) -> LoggingSettings:
    """The ``[logging]`` table (defaults when absent); raise ConfigError naming each bad key."""
    table = raw.get("logging", {})
    if not isinstance(table, dict):
        raise ConfigError(['logging: must be a table, like [logging] with level = "INFO"'])
    r = Reader()
    r.unknown(table, "logging", {"level", "format", "file"})
    level = r.get(table, "logging.level", "INFO", as_str).upper()
    if level not in LEVELS:
        r.problems.append(f"logging.level: {level!r} is not a level; use one of {', '.join(LEVELS)}")
    form = r.get(table, "logging.format", "text", as_str)
    if form not in ("text", "json"):
        r.problems.append(f'logging.format: {form!r}: write "text" or "json" (one object per line)')
    name = r.get(table, "logging.file", None, as_str)
    path = base / name if name else None
    if path is not None and not path.parent.is_dir():
        r.problems.append(f"logging.file: {path.parent} is not a directory; create it, or log to stderr "
                          "by leaving logging.file out")
    if r.problems:
        raise ConfigError(r.problems)
    return LoggingSettings(level=level, format=form, file=path)


def logging_problems(raw: dict[str, Any], base: Path) -> list[str]:
    try:
        load_logging(raw, base)
    except ConfigError as exc:
        return exc.problems
    return []


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, area, message, and the context a call gave."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "area": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT:
            value = record.__dict__.get(key)
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure(settings: LoggingSettings, *, verbose: bool = False) -> None:
    """Replace the root logger's handlers with the configured one (``-v`` means DEBUG)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    handler: logging.Handler
    if settings.file is not None:
        handler = logging.FileHandler(settings.file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if settings.format == "json" else logging.Formatter(_TEXT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else settings.level)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
