"""``helpdesk digests [--json]`` and ``digests preview NAME [--to WHO] [--at TIME] [--html FILE]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.cli.terminal import emit
from gateway.errors import UsageError

Command = Callable[[argparse.Namespace, Any], int]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


def cmd_digests(args: argparse.Namespace, app: Any) -> int:
    from gateway.tools import digests
    if args.action is None:
        return emit(args.json, digests.schedule(app), digests.as_text)
    if not args.name:
        raise UsageError("preview: name a digest ([[digests]] name, or its kind when unnamed)")
    at = None
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError as exc:
            raise UsageError(f"--at {args.at!r}: write an instant like 2026-12-07T08:00:00+11:00") from exc
        at = at if at.tzinfo else at.replace(tzinfo=app.config.gateway.timezone)
    return emit(args.json, digests.preview(app, args.name, args.to, at, args.html), digests.preview_text)


def register(add: AddCommand) -> None:
    p = add("digests", cmd_digests, "digests by mail: when each goes next; preview NAME: one as it would go")
    p.add_argument("action", nargs="?", choices=["preview"])
    p.add_argument("name", nargs="?", help="preview: the digest's name")
    p.add_argument("--to", help="preview: the reader (handle or address; default the first)")
    p.add_argument("--at", help="preview: as of this instant (default now; no offset: the gateway's zone)")
    p.add_argument("--html", metavar="FILE", help="preview: also write its HTML part to FILE")
    p.add_argument("--json", action="store_true")
