"""The ``helpdesk`` command line: the contract users and acceptance checks rely on."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.cli import common
from gateway.cli.terminal import emit
from gateway.config import config_path, runtime_problems
from gateway.errors import ConfigError, UsageError
from gateway.tools.log_setup import LoggingSettings
from gateway.tools.log_setup import configure as configure_logging


def cmd_check_config(args: argparse.Namespace) -> int:
    config = common.config(args)
    from gateway.config.imap import imap_problems
    from gateway.outbound.templating import Templates, packaged_templates_dir
    names = sorted(p.name.removesuffix(".subject.txt") for p in packaged_templates_dir().glob("*.subject.txt"))
    from gateway.tools.health import metrics_problems
    problems = (Templates(config.templates_dir).check(names) + imap_problems(config) + metrics_problems(config.raw)
                + runtime_problems(config))
    if not config.database.url.startswith("sqlite"):  # SQLite is created and migrated on first use
        from gateway.store.db import Database
        db = Database(config.database.url)
        if problem := db.schema_state().problem:
            problems.append(problem)
        db.dispose()
    if problems:
        raise ConfigError(problems)
    for line in config.deprecations:
        print(f"deprecated: {line}", file=sys.stderr)
    print(f"{config.path}: OK")
    from gateway.config.languages import language_warnings
    for warning in language_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    if not args.connect:
        return common.EX_OK
    from gateway.tools.connect_check import connections
    failed = False
    for worked, what in connections(config, common.clock()):
        print(f"{'ok  ' if worked else 'FAIL'} {what}")
        failed = failed or not worked
    return 1 if failed else common.EX_OK


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.tools.service import run
    config = common.config(args)
    problems = runtime_problems(config)
    if problems:
        raise ConfigError(problems)
    return run(common.app(args, loaded=config), worker=args.worker, verbose=args.verbose)


def cmd_import(args: argparse.Namespace) -> int:
    from gateway.tools import import_command
    before = _instant(args.history_before, "--history-before") if args.history_before else None
    return import_command.run(common.app(args), args, before)


def cmd_explain(args: argparse.Namespace) -> int:
    from gateway.tools.explain import explain, format_explanation
    at = _instant(args.at, "--at") if args.at else None
    raw = _read(args.file)
    app = common.app(args)
    return emit(args.json, explain(app, raw, at=at), format_explanation)


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.tools.simulate import format_timeline, simulate
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
    from gateway.tools.oncall_report import on_call_report
    return on_call_report(common.config(args), common.clock(), args.at, as_json=args.json)


def cmd_rules(args: argparse.Namespace) -> int:
    from gateway.tools.rules_evaluate import LabelsError, folder_cases, format_summary, history_cases, summary
    if bool(args.folder) == args.history:
        raise UsageError("name a folder of labelled mail (with labels.tsv), or give --history")
    at = _instant(args.at, "--at") if args.at else None
    app = common.app(args)
    try:
        cases = history_cases(app) if args.history else folder_cases(app, Path(args.folder), at, args.sender)
    except LabelsError as exc:
        raise UsageError(str(exc)) from exc
    return emit(args.json, summary(cases, "history" if args.history else args.folder), format_summary)


def _add_rules(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["evaluate"])
    p.add_argument("folder", nargs="?", help="a folder of .eml files and labels.tsv (file, priority)")
    p.add_argument("--history", action="store_true", help="tickets whose priority an engineer changed")
    p.add_argument("--at", help="the instant of receipt (ISO 8601); default each mail's Date")
    p.add_argument("--sender", help="read every mail as sent by this address (labels.tsv's sender wins)")
    p.add_argument("--json", action="store_true")


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

    from gateway.cli import db as cli_db
    from gateway.cli import incidents as cli_incidents
    from gateway.cli import ingest as cli_ingest
    from gateway.cli import maintenance as cli_maintenance
    from gateway.cli import reports as cli_reports
    from gateway.cli import review as cli_review
    from gateway.cli import views as cli_views

    def add_with_app(name: str, command: Callable[[argparse.Namespace, Any], int],
                     help_text: str) -> argparse.ArgumentParser:
        return add(name, lambda args: command(args, common.app(args)), help_text)

    p = add("run", cmd_run, "run the listener, processor and sender until SIGINT/SIGTERM")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # a process [processing] workers starts
    p = add("check-config", cmd_check_config, "validate the config; exit 2 listing each problem")
    p.add_argument("--connect", action="store_true",
                   help="also try the database, the relay and each IMAP account; exit 1 if one fails")
    p = add("ingest", cli_ingest.cmd_ingest, "store messages (stdin when no file); exit 75 when it could not")
    p.add_argument("files", nargs="*")
    p.add_argument("--sender", default=None, help="envelope sender (return path)")
    p.add_argument("--recipient", action="append", help="envelope recipient (repeatable)")
    p.add_argument("--process", action="store_true", help="also process everything pending")
    p.add_argument("-q", "--quiet", action="store_true")
    from gateway.tools.import_command import add_arguments as import_arguments
    import_arguments(add("import", cmd_import, "bring in a mailbox's history as tickets; sends nothing about it"))
    p = add("explain", cmd_explain, "dry run on one mail: what the gateway would do; writes nothing")
    p.add_argument("file")
    p.add_argument("--at", help="the instant of receipt (ISO 8601); default now")
    p.add_argument("--json", action="store_true")
    cli_views.register(add_with_app, _record_id)
    cli_review.register(add_with_app, _record_id)
    cli_reports.register(add_with_app)
    cli_incidents.register(add_with_app, _record_id)
    cli_maintenance.register(add_with_app, _record_id)
    p = add("simulate", cmd_simulate, "replay a scenario on a fake clock; print every mail and SLA event")
    p.add_argument("scenario")
    p.add_argument("--json", action="store_true")
    p = add("oncall", cmd_oncall, "who is on call now, or at --at TIME")
    p.add_argument("--at", help="an instant (ISO 8601; without an offset, in the [oncall] time zone)")
    p.add_argument("--json", action="store_true")
    _add_rules(add("rules", cmd_rules, "measure the rules: evaluate DIR (labelled mail) or --history "
                                      "(engineers' changes)"))
    p = add("db", cli_db.cmd_db, "database maintenance: upgrade (migrate), check, backup FILE (SQLite), "
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
        return common.EX_USAGE_CONFIG
    except UsageError as exc:
        print(f"helpdesk {args.command}: {exc}", file=sys.stderr)
        return common.EX_USAGE_CONFIG
