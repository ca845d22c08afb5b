"""The arguments of `helpdesk import` and what the command does with them."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.config.imap import load_imap_accounts
from gateway.sources.imap.connection import IMAP_ERRORS
from gateway.tools.import_sources import EmlDirSource, ImapSource, MaildirSource, MailSource, MboxSource
from gateway.tools.importer import run_import

KINDS = ("mbox", "maildir", "eml-dir", "imap")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS, help="what to read: an mbox file, a Maildir, a folder of .eml files, "
                                               "or an [[imap]] account of the config")
    p.add_argument("path", metavar="PATH|ACCOUNT", help="the mbox file or folder; for imap, the account's name")
    p.add_argument("--folder", default="INBOX", help="for imap: the folder to read, read-only (default INBOX)")
    p.add_argument("--history-before", metavar="TIME",
                   help="mail that arrived before this instant (ISO 8601 with offset; default: now) is filed "
                        "as history: no mail is sent about it and no SLA clock runs")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(app: Any, args: argparse.Namespace, history_before: datetime | None) -> int:
    """Import what ``args`` name into ``app``'s database; print progress to stderr, the summary to stdout."""
    if not args.verbose:
        # A line per mail would bury the progress: what was held or quarantined still shows.
        logging.getLogger("gateway").setLevel(logging.WARNING)
    source: MailSource
    # OSError among them: a path that is not there; LookupError: no such [[imap]] account.
    cannot_open: tuple[type[BaseException], ...] = (*IMAP_ERRORS, LookupError)
    try:
        if args.kind == "imap":
            source = ImapSource(_account(app, args.path), args.folder)
        else:
            opener: dict[str, Callable[[Path], MailSource]] = {
                "mbox": MboxSource, "maildir": MaildirSource, "eml-dir": EmlDirSource}
            source = opener[args.kind](Path(args.path))
    except cannot_open as exc:
        print(f"helpdesk import: {exc}", file=sys.stderr)
        return 1
    try:
        summary = run_import(app, source, history_before=history_before or app.clock.now(), out=sys.stderr)
    finally:
        source.close()
    if args.json:
        json.dump(summary.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(summary.text())
    return 0


def _account(app: Any, name: str) -> Any:
    for account in load_imap_accounts(app.config):
        if account.name == name:
            return account
    raise LookupError(f"no [[imap]] account named {name!r} in {app.config.path}")
