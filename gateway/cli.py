"""The ``helpdesk`` command line: the contract users and acceptance checks rely on."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.clock import Clock, FileClock, SystemClock
from gateway.config import Config, config_path, load_config, runtime_problems
from gateway.errors import ConfigError, TemporaryError

EX_OK, EX_USAGE_CONFIG, EX_TEMPFAIL = 0, 2, 75
EX_DATAERR = 65  # sysexits.h: the input was wrong; the MTA returns the mail to its sender
log = logging.getLogger("gateway.cli")


class UsageError(Exception):
    """What the user typed cannot be used: the message says what and how to write it."""


def _clock() -> Clock:
    """The wall clock, or the instant in ``$HELPDESK_CLOCK_FILE`` for drills and tests."""
    path = os.environ.get("HELPDESK_CLOCK_FILE")
    return FileClock(Path(path)) if path else SystemClock()


def _config(args: argparse.Namespace) -> Config:
    return load_config(config_path(args.config))


def _app(args: argparse.Namespace, *, upgrade: bool = True, config: Config | None = None) -> Any:
    from gateway.app import build_app
    app = build_app(config or _config(args), _clock())
    if upgrade:
        _ensure_schema(app)
    return app


def _ensure_schema(app: Any) -> None:
    # SQLite is the embedded default: keep it current without a separate step. PostgreSQL is
    # shared by several processes, so its upgrades are an explicit `helpdesk db upgrade`.
    if app.db.is_sqlite:
        app.db.upgrade()


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _emit(args: argparse.Namespace, data: Any, as_text: Callable[[Any], str]) -> int:
    """Print ``data`` as the documented JSON with --json, else as text for a person."""
    if args.json:
        _print_json(data)
    elif text := as_text(data):  # an empty list prints nothing
        print(terminal_safe(text))
    return EX_OK


# What a customer wrote must not drive the operator's terminal: C0 and C1 controls (ESC, CSI, a
# lone CR that overwrites the line) and bidirectional overrides are shown as escapes instead.
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _config(args)
    from gateway.imap_config import imap_problems
    from gateway.templating import Templates, packaged_templates_dir
    names = sorted(p.name.removesuffix(".subject.txt") for p in packaged_templates_dir().glob("*.subject.txt"))
    problems = Templates(config.templates_dir).check(names) + imap_problems(config) + runtime_problems(config)
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


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gateway.db import Database
    config = _config(args)
    db = Database(config.database.url)
    db.upgrade()
    print("database is at the latest schema")
    return EX_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from gateway.intake import Envelope, store_inbound
    try:
        app = _app(args)
    except ConfigError as exc:
        # A config being edited, or missing: the mail waits in the MTA's queue for the fix.
        # Any other exit status (2 included) makes Postfix bounce it to the customer.
        for problem in exc.problems:
            print(f"helpdesk ingest: {problem}", file=sys.stderr)
        return EX_TEMPFAIL
    except Exception as exc:  # the database is unreachable: the MTA must retry
        print(f"helpdesk ingest: cannot open the database: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    sources: list[tuple[str, bytes]] = []
    if args.files:
        for name in args.files:
            try:
                sources.append((name, Path(name).read_bytes()))
            except OSError as exc:
                print(f"helpdesk ingest: {name}: {exc.strerror}", file=sys.stderr)
                return EX_TEMPFAIL
    else:
        sources.append(("-", sys.stdin.buffer.read()))
    for flag, value in [("--sender", args.sender), *(("--recipient", r) for r in args.recipient or ())]:
        if value is not None and not value.isprintable():
            print(f"helpdesk ingest: {flag} {value!r} is not an address (control characters or "
                  "undecodable bytes)", file=sys.stderr)
            return EX_DATAERR
    envelope = Envelope(mail_from=args.sender, rcpt_to=tuple(args.recipient or ()))
    for name, raw in sources:
        try:
            stored = store_inbound(app.db, raw, source="ingest", envelope=envelope,
                                   received_at=app.clock.now())
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


def cmd_tickets(args: argparse.Namespace) -> int:
    from gateway import views
    app = _app(args)
    with app.db.read_sessions() as session:
        if args.action == "list":
            return _emit(args, views.list_tickets(session, status=args.status), _ticket_lines)
        if args.id is None:
            print("helpdesk tickets show: give a ticket number", file=sys.stderr)
            return EX_USAGE_CONFIG
        data = views.show_ticket(session, args.id)
    if data is None:
        print(f"no ticket #{args.id}", file=sys.stderr)
        return 1
    return _emit(args, data, _ticket_text)


def _ticket_lines(rows: list[dict[str, Any]]) -> str:
    return "\n".join(f"#{t['number']:<6} {t['priority']:<3} {t['status']:<20} {t['customer']:<30} {t['subject']}"
                     for t in rows)


def _ticket_text(t: dict[str, Any]) -> str:
    lines = [f"Ticket #{t['number']}: {t['subject']}",
             f"  status {t['status']}, priority {t['priority']}, plan {t['plan']}, customer {t['customer']}"]
    if t["next_deadline"]:
        lines.append(f"  next deadline {t['next_deadline']}")
    for m in t["messages"]:
        lines.append(f"\n  [{m['created_at']}] {m['direction']} {m['kind']} from {m['from']}: {m['subject']}")
        lines.extend(f"      {line}" for line in (m["text"] or "").strip().splitlines()[:8])
    lines.append("\n  events:")
    lines.extend(f"    {e['at']} {e['kind']} by {e['actor']} {json.dumps(e['detail'], ensure_ascii=False)}"
                 for e in t["events"])
    return "\n".join(lines)


def _inbound_lines(rows: list[dict[str, Any]]) -> str:
    """Quarantined or held mail for a person: id, when, Message-ID, and the reason beneath."""
    return "\n".join(f"{r['id']:<8} {r['received_at']}  {r['message_id'] or '-'}\n         {r['reason']}"
                     for r in rows)


def cmd_quarantine(args: argparse.Namespace) -> int:
    from gateway import views
    from gateway.models import InboundMessage
    app = _app(args)
    if args.action == "list":
        with app.db.read_sessions() as session:
            rows = views.list_quarantine(session)
        return _emit(args, rows, _inbound_lines)
    if args.id is None:
        print("helpdesk quarantine retry: give the inbound id shown by `quarantine list`", file=sys.stderr)
        return EX_USAGE_CONFIG
    with app.db.transaction() as session:
        row = session.get(InboundMessage, args.id)
        if row is None or row.state != "quarantined":
            print(f"inbound {args.id} is not in quarantine", file=sys.stderr)
            return 1
        row.state = "pending"
    print(f"inbound {args.id} queued for another try")
    return EX_OK


def cmd_held(args: argparse.Namespace) -> int:
    """Mail held for review (unknown senders, forged engineer mail): list, approve or drop."""
    from gateway import views
    from gateway.models import InboundMessage
    app = _app(args)
    if args.action == "list":
        with app.db.read_sessions() as session:
            rows = views.list_held(session)
        return _emit(args, rows, _inbound_lines)
    if args.id is None:
        print(f"helpdesk held {args.action}: give the inbound id shown by `held list`", file=sys.stderr)
        return EX_USAGE_CONFIG
    with app.db.transaction() as session:
        row = session.get(InboundMessage, args.id)
        if row is None or row.state != "held":
            print(f"inbound {args.id} is not held", file=sys.stderr)
            return 1
        if args.action == "approve":
            # Processed again as if the sender were known: a ticket opens and is acknowledged.
            row.state, row.verdict = "pending", "approved"
        else:
            row.state = "dropped"
    print(f"inbound {args.id}: {'approved' if args.action == 'approve' else 'dropped'}")
    return EX_OK


def cmd_status(args: argparse.Namespace) -> int:
    from gateway import views
    from gateway.imap_config import load_imap_accounts
    from gateway.imap_state import heartbeats
    app = _app(args)
    with app.db.read_sessions() as session:
        data: dict[str, Any] = {"inbound": views.inbound_counts(session)}
        data["imap"] = heartbeats(session, load_imap_accounts(app.config, need_passwords=False),
                                  app.clock.now())
    return _emit(args, data, lambda d: json.dumps(d, indent=2, ensure_ascii=False, default=str))


def cmd_explain(args: argparse.Namespace) -> int:
    from gateway.explain import explain, format_explanation
    at = _instant(args.at, "--at") if args.at else None
    raw = _read(args.file)
    app = _app(args)
    return _emit(args, explain(app, raw, at=at), format_explanation)


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.simulate import format_timeline, simulate
    _read(args.scenario)  # a missing scenario is said so, not a traceback
    return _emit(args, simulate(Path(args.scenario), config_path(args.config)), format_timeline)


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


def cmd_ticket_action(args: argparse.Namespace) -> int:
    """respond / set / ack: what an engineer does, from the command line."""
    from gateway import workflow
    from gateway.models import Ticket
    app = _app(args)
    now = app.clock.now()
    with app.db.transaction() as session:
        ticket = session.get(Ticket, args.ticket)
        if ticket is None:
            print(f"no ticket #{args.ticket}", file=sys.stderr)
            return 1
        if args.command == "respond":
            workflow.public_update(session, app, ticket, now, args.by)
        elif args.command == "ack":
            from gateway.escalation.ack import acknowledge
            acknowledge(session, app, ticket, args.by, now)
        else:
            try:
                if args.status:
                    workflow.set_status(session, app, ticket, args.status, now, args.by)
                if args.priority:
                    workflow.set_priority(session, app, ticket, args.priority, now, args.by, args.reason or "")
            except ValueError as exc:
                print(f"helpdesk set: {exc}", file=sys.stderr)
                return EX_USAGE_CONFIG
    print(f"ticket #{args.ticket}: {args.command} recorded")
    return EX_OK


def cmd_oncall(args: argparse.Namespace) -> int:
    from gateway.escalation.oncall_report import on_call_report
    return on_call_report(_config(args), _clock(), args.at, as_json=args.json)


def cmd_rules(args: argparse.Namespace) -> int:
    from gateway.rules_evaluate import LabelsError, folder_cases, format_summary, history_cases, summary
    if bool(args.folder) == args.history:
        raise UsageError("name a folder of labelled mail (with labels.tsv), or give --history")
    at = _instant(args.at, "--at") if args.at else None
    app = _app(args)
    try:
        cases = history_cases(app) if args.history else folder_cases(app, Path(args.folder), at, args.sender)
    except LabelsError as exc:
        raise UsageError(str(exc)) from exc
    return _emit(args, summary(cases, "history" if args.history else args.folder), format_summary)


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
    p = add("tickets", cmd_tickets, "list or show tickets")
    p.add_argument("action", choices=["list", "show"])
    p.add_argument("id", nargs="?", type=_record_id)
    p.add_argument("--status")
    p.add_argument("--json", action="store_true")
    p = add("quarantine", cmd_quarantine, "list messages that could not be processed, or retry one")
    p.add_argument("action", choices=["list", "retry"])
    p.add_argument("id", nargs="?", type=_record_id)
    p.add_argument("--json", action="store_true")
    p = add("held", cmd_held, "mail held for review: list, approve (open the ticket) or drop")
    p.add_argument("action", choices=["list", "approve", "drop"])
    p.add_argument("id", nargs="?", type=_record_id)
    p.add_argument("--json", action="store_true")
    p = add("status", cmd_status, "queue counts and pollers' heartbeats")
    p.add_argument("--json", action="store_true")
    p = add("simulate", cmd_simulate, "replay a scenario on a fake clock; print every mail and SLA event")
    p.add_argument("scenario")
    p.add_argument("--json", action="store_true")
    p = add("respond", cmd_ticket_action, "record a public response to the customer (stops first response)")
    p.add_argument("ticket", type=_record_id)
    p.add_argument("--by", required=True, help="the engineer")
    p = add("set", cmd_ticket_action, "change a ticket's status or priority")
    p.add_argument("ticket", type=_record_id)
    p.add_argument("--status")
    p.add_argument("--priority")
    p.add_argument("--reason")
    p.add_argument("--by", required=True, help="the engineer")
    p = add("ack", cmd_ticket_action, "acknowledge an escalation: stops its repeats")
    p.add_argument("ticket", type=_record_id)
    p.add_argument("--by", required=True, help="the contact or engineer who has it")
    p = add("oncall", cmd_oncall, "who is on call now, or at --at TIME")
    p.add_argument("--at", help="an instant (ISO 8601; without an offset, in the [oncall] time zone)")
    p.add_argument("--json", action="store_true")
    p = add("rules", cmd_rules, "measure the rules: evaluate DIR (labelled mail) or --history (engineers' changes)")
    p.add_argument("action", choices=["evaluate"])
    p.add_argument("folder", nargs="?", help="a folder of .eml files and labels.tsv (file, priority)")
    p.add_argument("--history", action="store_true", help="tickets whose priority an engineer changed")
    p.add_argument("--at", help="the instant of receipt (ISO 8601); default each mail's Date")
    p.add_argument("--sender", help="read every mail as sent by this address (labels.tsv's sender wins)")
    p.add_argument("--json", action="store_true")
    p = add("db", cmd_db_upgrade, "database maintenance")
    p.add_argument("action", choices=["upgrade"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("mail.log", "mailparser", "aiosmtpd", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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
