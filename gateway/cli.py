"""The ``helpdesk`` command line: the contract users and acceptance checks rely on."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from gateway.clock import Clock, FileClock, SystemClock
from gateway.config import Config, config_path, load_config, runtime_problems
from gateway.errors import ConfigError, TemporaryError, UsageError
from gateway.log_setup import LoggingSettings, load_logging
from gateway.log_setup import configure as configure_logging
from gateway.terminal import emit

EX_OK, EX_USAGE_CONFIG, EX_TEMPFAIL = 0, 2, 75
EX_DATAERR = 65  # sysexits.h: the input was wrong; the MTA returns the mail to its sender
log = logging.getLogger("gateway.cli")


def _clock() -> Clock:
    """The wall clock, or the instant in ``$HELPDESK_CLOCK_FILE`` for drills and tests."""
    path = os.environ.get("HELPDESK_CLOCK_FILE")
    return FileClock(Path(path)) if path else SystemClock()


def _config(args: argparse.Namespace) -> Config:
    config = load_config(config_path(args.config))
    configure_logging(load_logging(config.raw, config.path.parent if config.path else Path.cwd()),
                      verbose=args.verbose)
    return config


def _app(args: argparse.Namespace, *, upgrade: bool = True, config: Config | None = None) -> Any:
    from gateway.app import build_app
    app = build_app(config or _config(args), _clock())
    if upgrade:
        _ensure_schema(app.db)
    return app


def _ensure_schema(db: Any) -> None:
    # SQLite is the embedded default: keep it current without a separate step. PostgreSQL is
    # shared by several processes, so its upgrades are an explicit `helpdesk db upgrade`.
    # Either way, a database this code cannot use stops every command with one line that
    # names the fix, instead of a process that runs and refuses every mail.
    state = db.schema_state()
    if db.is_sqlite and state.kind in ("missing", "older"):
        db.upgrade()
    elif state.problem:
        raise ConfigError([state.problem])


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _config(args)
    from gateway.imap_config import imap_problems
    from gateway.templating import Templates, packaged_templates_dir
    names = sorted(p.name.removesuffix(".subject.txt") for p in packaged_templates_dir().glob("*.subject.txt"))
    from gateway.health import metrics_problems
    problems = (Templates(config.templates_dir).check(names) + imap_problems(config) + metrics_problems(config.raw)
                + runtime_problems(config))
    if not config.database.url.startswith("sqlite"):  # SQLite is created and migrated on first use
        from gateway.db import Database
        db = Database(config.database.url)
        if problem := db.schema_state().problem:
            problems.append(problem)
        db.dispose()
    if problems:
        raise ConfigError(problems)
    print(f"{config.path}: OK")
    return EX_OK


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.service import run
    config = _config(args)
    problems = runtime_problems(config)
    if problems:
        raise ConfigError(problems)
    return run(_app(args, config=config))


def cmd_db(args: argparse.Namespace) -> int:
    from gateway import db_tools
    from gateway.db import Database
    config = _config(args)
    db = Database(config.database.url)
    try:
        if args.action == "upgrade":
            db.upgrade()
            print("database is at the latest schema")
        elif args.action == "check":
            problems = db_tools.check(db)
            for problem in problems:
                print(problem)
            if problems:
                return 1
            print("database is at the latest schema" + (" and passes SQLite's integrity check" if db.is_sqlite else ""))
        elif args.action == "backup":
            if not args.target:
                raise UsageError("give the file to write: helpdesk db backup FILE")
            size = db_tools.backup(db, Path(args.target))
            print(f"{args.target}: {size} bytes, a consistent copy of {db_tools.sqlite_path(db)}")
        else:  # copy
            if not args.to:
                raise UsageError("give the target: helpdesk db copy --to postgresql+psycopg://user@host/db")
            copied = db_tools.copy(db, Database(args.to), progress=_copy_progress)
            print(f"copied {sum(copied.values())} rows: " + ", ".join(f"{t} {n}" for t, n in copied.items() if n))
            print("point database.url at the new database, then start the gateway")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return EX_OK


def _copy_progress(table: str, rows: int) -> None:
    if rows % 10_000 == 0:
        print(f"  {table}: {rows} rows", file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    from gateway.arrival import mta_arrival
    from gateway.db import Database
    from gateway.intake import Envelope, store_inbound
    try:
        config = _config(args)
    except ConfigError as exc:
        # A config being edited, or missing: the mail waits in the MTA's queue for the fix.
        # Any other exit status (2 included) makes Postfix bounce it to the customer.
        for problem in exc.problems:
            print(f"helpdesk ingest: {problem}", file=sys.stderr)
        return EX_TEMPFAIL
    clock = _clock()
    app: Any = None
    try:
        # Storing needs the database and nothing else (not the reply-token secret, which an MTA's
        # pipe, with an environment of its own, may not have); --process needs the whole gateway.
        if args.process:
            app = _app(args, config=config)
            db = app.db
        else:
            db = Database(config.database.url)
            _ensure_schema(db)
    except ConfigError as exc:  # not migrated (or newer than this code): kept until it is
        for problem in exc.problems:
            print(f"helpdesk ingest: {problem}", file=sys.stderr)
        return EX_TEMPFAIL
    except Exception as exc:  # the database is unreachable: the MTA must retry
        print(f"helpdesk ingest: cannot open the database: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
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
                return EX_TEMPFAIL
    else:
        raw, size = _read_at_most(sys.stdin.buffer, limit)
        if size > limit:
            return _too_big("-", size, limit)
        sources.append(("-", raw))
    for flag, value in [("--sender", args.sender), *(("--recipient", r) for r in args.recipient or ())]:
        if value is not None and not value.isprintable():
            print(f"helpdesk ingest: {flag} {value!r} is not an address (control characters or "
                  "undecodable bytes)", file=sys.stderr)
            return EX_DATAERR
    envelope = Envelope(mail_from=args.sender, rcpt_to=tuple(args.recipient or ()))
    for name, raw in sources:
        try:
            now = clock.now()
            stored = store_inbound(db, raw, source="ingest", envelope=envelope, received_at=now,
                                   arrived_at=mta_arrival(raw, config.smtp.mta_hosts, now))
        except TemporaryError as exc:
            print(f"helpdesk ingest: {name}: {exc}", file=sys.stderr)
            return EX_TEMPFAIL
        except Exception:  # whatever it is, the MTA keeps the mail and tries again: never a bounce
            log.exception("helpdesk ingest: %s: could not store it", name)
            return EX_TEMPFAIL
        if not args.quiet:
            print(f"{name}: {'duplicate of' if stored.duplicate else 'stored as'} inbound {stored.inbound_id}")
    if args.process:
        from gateway.processor import Processor
        counts = Processor(app).drain()
        print(json.dumps({"processed": counts}))
    return EX_OK


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
    # with (RFC 3463 5.3.4: message too big for system) over the exit status; EX_DATAERR
    # alone would bounce it too, as "data format error". Nothing is stored.
    print(f"5.3.4 helpdesk ingest: {'' if name == '-' else name + ': '}the message is {size} bytes, "
          f"over max_message_size ({limit} bytes); not stored", file=sys.stderr)
    return EX_DATAERR


def cmd_explain(args: argparse.Namespace) -> int:
    from gateway.explain import explain, format_explanation
    at = _instant(args.at, "--at") if args.at else None
    raw = _read(args.file)
    app = _app(args)
    return emit(args.json, explain(app, raw, at=at), format_explanation)


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.simulate import format_timeline, simulate
    _read(args.scenario)  # a missing scenario is said so, not a traceback
    return emit(args.json, simulate(Path(args.scenario), config_path(args.config)), format_timeline)


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: {exc.strerror}") from exc


def _instant(text: str, flag: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {text!r}: write an instant like 2026-12-01T10:00:00+00:00") from exc
    if value.tzinfo is None:
        raise UsageError(f"{flag} {text!r}: give its offset, like 2026-12-01T10:00:00+00:00")
    return value


def _record_id(text: str) -> int:
    """A ticket or inbound number as argparse reads it: a positive number the database can hold."""
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} is not a ticket or inbound number")
    return int(text)


def cmd_oncall(args: argparse.Namespace) -> int:
    from gateway.escalation.oncall_report import on_call_report
    return on_call_report(_config(args), _clock(), args.at, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description="Email-driven help-desk gateway")
    parser.add_argument("-c", "--config", help="config file (default: $HELPDESK_CONFIG, then ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("-c", "--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.set_defaults(func=func)
        return p

    from gateway import cli_review, cli_views

    def add_with_app(name: str, command: Callable[[argparse.Namespace, Any], int],
                     help_text: str) -> argparse.ArgumentParser:
        return add(name, lambda args: command(args, _app(args)), help_text)

    add("run", cmd_run, "run the listener, processor and sender until SIGINT/SIGTERM")
    add("check-config", cmd_check_config, "validate the config; exit 2 listing each problem")
    p = add("ingest", cmd_ingest, "store messages (stdin when no file); exit 75 when it could not")
    p.add_argument("files", nargs="*")
    p.add_argument("--sender", default=None, help="envelope sender (return path)")
    p.add_argument("--recipient", action="append", help="envelope recipient (repeatable)")
    p.add_argument("--process", action="store_true", help="also process everything pending")
    p.add_argument("-q", "--quiet", action="store_true")
    p = add("explain", cmd_explain, "dry run on one mail: what the gateway would do; writes nothing")
    p.add_argument("file")
    p.add_argument("--at", help="the instant of receipt (ISO 8601); default now")
    p.add_argument("--json", action="store_true")
    cli_views.register(add_with_app, _record_id)
    cli_review.register(add_with_app, _record_id)
    p = add("simulate", cmd_simulate, "replay a scenario on a fake clock; print every mail and SLA event")
    p.add_argument("scenario")
    p.add_argument("--json", action="store_true")
    p = add("oncall", cmd_oncall, "who is on call now, or at --at TIME")
    p.add_argument("--at", help="an instant (ISO 8601; without an offset, in the [oncall] time zone)")
    p.add_argument("--json", action="store_true")
    p = add("db", cmd_db, "database maintenance: upgrade (migrate), check, backup FILE (SQLite), "
                          "copy --to URL (to an empty database)")
    p.add_argument("action", choices=["upgrade", "check", "backup", "copy"])
    p.add_argument("target", nargs="?", help="backup: the file to write")
    p.add_argument("--to", help="copy: the URL of the empty target database")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(LoggingSettings(), verbose=args.verbose)  # until the config says otherwise
    if not hasattr(args, "config"):
        args.config = None
    try:
        result: int = args.func(args)
        sys.stdout.flush()  # a reader that went away (| head) is met here, not at exit
        return result
    except BrokenPipeError:
        # The Python documentation's recipe (signal module, "Note on SIGPIPE"): no traceback,
        # and nothing more written to the closed pipe on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EX_USAGE_CONFIG
    except UsageError as exc:
        print(f"helpdesk {args.command}: {exc}", file=sys.stderr)
        return EX_USAGE_CONFIG
