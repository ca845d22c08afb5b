"""``helpdesk ingest``: an MTA's pipe (or an operator) stores mail; exit 75 keeps it in the MTA's queue.

Only storing needs to work for the exit status to be 0: the bytes are committed before it. Every
failure that a later try may cure is 75 (Postfix defers); a mail over ``max_message_size`` is 65
with 5.3.4 (Postfix bounces it, quoting the reason); nothing is ever half stored.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, BinaryIO

from gateway.cli import common
from gateway.errors import ConfigError, TemporaryError


def cmd_ingest(args: argparse.Namespace) -> int:
    from gateway.sources.arrival import mta_arrival
    from gateway.store.db import Database
    from gateway.store.inbound import Envelope, store_inbound
    try:
        config = common.config(args)
    except ConfigError as exc:
        # A config being edited, or missing: the mail waits in the MTA's queue for the fix.
        # Any other exit status (2 included) makes Postfix bounce it to the customer.
        for problem in exc.problems:
            print(f"helpdesk ingest: {problem}", file=sys.stderr)
        return common.EX_TEMPFAIL
    clock = common.clock()
    app: Any = None
    try:
        # Storing needs the database and nothing else (not the reply-token secret, which an MTA's
        # pipe, with an environment of its own, may not have); --process needs the whole gateway.
        if args.process:
            app = common.app(args, loaded=config)
            db = app.db
        else:
            db = Database(config.database.url)
            common.ensure_schema(db)
    except ConfigError as exc:  # not migrated (or newer than this code): kept until it is
        for problem in exc.problems:
            print(f"helpdesk ingest: {problem}", file=sys.stderr)
        return common.EX_TEMPFAIL
    except Exception as exc:  # the database is unreachable: the MTA must retry
        print(f"helpdesk ingest: cannot open the database: {exc}", file=sys.stderr)
        return common.EX_TEMPFAIL
    if not args.verbose:
        # The line below ("-: stored as inbound N") says it, and a pipe's output is what the MTA logs.
        logging.getLogger("gateway.intake").setLevel(logging.WARNING)
    limit = config.smtp.max_message_size
    sources: list[tuple[str, bytes]] = []
    if args.files:
        for name in args.files:
            try:
                size = Path(name).stat().st_size
                if size > limit:
                    return _too_big(name, size, limit)
                sources.append((name, Path(name).read_bytes()))
            except OSError as exc:
                hint = ""
                if "@" in name and not Path(name).exists():
                    # `--recipient ${recipient}` in a pipe: the second of two recipients comes as a file name.
                    hint = " (a recipient? write --recipient=ADDRESS: a pipe's --recipient=${recipient} repeats " \
                           "the whole option for each recipient)"
                print(f"helpdesk ingest: {name}: {exc.strerror}{hint}", file=sys.stderr)
                return common.EX_TEMPFAIL
    else:
        raw, size = _read_at_most(sys.stdin.buffer, limit)
        if size > limit:
            return _too_big("-", size, limit)
        sources.append(("-", raw))
    for flag, value in [("--sender", args.sender), *(("--recipient", r) for r in args.recipient or ())]:
        if value is not None and not value.isprintable():
            print(f"helpdesk ingest: {flag} {value!r} is not an address (control characters or "
                  "undecodable bytes)", file=sys.stderr)
            return common.EX_DATAERR
    envelope = Envelope(mail_from=args.sender, rcpt_to=tuple(args.recipient or ()))
    for name, raw in sources:
        try:
            now = clock.now()
            stored = store_inbound(db, raw, source="ingest", envelope=envelope, received_at=now,
                                   arrived_at=mta_arrival(raw, config.smtp.mta_hosts, now))
        except TemporaryError as exc:
            print(f"helpdesk ingest: {name}: {exc}", file=sys.stderr)
            return common.EX_TEMPFAIL
        except Exception:  # whatever it is, the MTA keeps the mail and tries again: never a bounce
            common.log.exception("helpdesk ingest: %s: could not store it", name)
            return common.EX_TEMPFAIL
        if not args.quiet:
            print(f"{name}: {'duplicate of' if stored.duplicate else 'stored as'} inbound {stored.inbound_id}")
    if args.process:
        from gateway.processing.worker import Processor
        counts = Processor(app).drain()
        print(json.dumps({"processed": counts}))
    return common.EX_OK


def _read_at_most(stream: BinaryIO, limit: int) -> tuple[bytes, int]:
    """The bytes of ``stream`` if there are at most ``limit`` of them, and their count; past the
    limit, only the count matters, and the rest is read to count it without being kept."""
    raw = stream.read(limit + 1)
    size = len(raw)
    if size > limit:
        while chunk := stream.read(1 << 16):
            size += len(chunk)
        raw = b""
    return raw, size


def _too_big(name: str, size: int, limit: int) -> int:
    # A pipe's bounce quotes this output, and Postfix takes the enhanced status code it starts
    # with (RFC 3463 5.3.4: message too big for system) over the exit status; common.EX_DATAERR
    # alone would bounce it too, as "data format error". Nothing is stored.
    print(f"5.3.4 helpdesk ingest: {'' if name == '-' else name + ': '}the message is {size} bytes, "
          f"over max_message_size ({limit} bytes); not stored", file=sys.stderr)
    return common.EX_DATAERR
