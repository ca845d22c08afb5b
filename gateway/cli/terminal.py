"""What the command line prints: the documented JSON, or text for a person made safe to show."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

# What a customer wrote must not drive the operator's terminal: C0 and C1 controls (ESC, CSI, a
# lone CR that overwrites the line) and bidirectional overrides are shown as escapes instead.
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def emit(as_json: bool, data: Any, as_text: Callable[[Any], str]) -> int:
    """Print ``data`` as the documented JSON with --json, else as text for a person; exit 0."""
    if as_json:
        print_json(data)
    else:
        print(terminal_safe(as_text(data)))
    return 0


def page_line(total: int, offset: int, shown: int, noun: str, one: str) -> str:
    """Every list says its total and whether it is cut, and how to see the rest.

    ``noun`` names many ("held mails"), ``one`` a single one ("held mail").
    """
    if total == 0:
        return f"{noun}: none"
    if shown == 0:
        return f"{noun}: none at --offset {offset}; there are {total}"
    if shown == total:
        return f"{total} {one if total == 1 else noun}"
    first, last = offset + 1, offset + shown
    more = f"; next page: --offset {last}" if last < total else ""
    return f"showing {first}-{last} of {total} {noun}{more}; all of them: --all"
