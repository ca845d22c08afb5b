"""``helpdesk tickets``, ``status``, and ``respond``/``set``/``ack``: what an operator reads and records."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from gateway.cli.terminal import emit, page_line
from gateway.errors import UsageError

# A command that works on the database: it is handed the application built from the config.
Command = Callable[[argparse.Namespace, Any], int]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


def _count(text: str) -> int:
    if not text.isdigit() or int(text) >= 2**62:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (a whole number, 0 or more)")
    return int(text)


def add_paging(parser: argparse.ArgumentParser, default: int) -> None:
    """--limit, --offset and --all: a long list is shown a page at a time, never silently cut."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--limit", type=_count, default=default, help=f"show at most this many (default {default})")
    group.add_argument("--all", action="store_true", help="show every one")
    parser.add_argument("--offset", type=_count, default=0, help="skip this many first")


def paging(args: argparse.Namespace) -> dict[str, Any]:
    if not args.all and args.limit == 0:
        raise UsageError("--limit 0 shows nothing: give 1 or more, or --all")
    return {"limit": None if args.all else args.limit, "offset": args.offset}


def cmd_tickets(args: argparse.Namespace, app: Any) -> int:
    from gateway.tools import views
    from parsers.commands import STATUSES
    if args.action == "at-risk":
        return _at_risk(args, app)
    if args.action == "show":
        if args.id is None:
            raise UsageError("give a ticket number: helpdesk tickets show N")
        with app.db.read_sessions() as session:
            data = views.show_ticket(session, args.id, app.config.gateway.timezone.key)
        if data is None:
            print(f"no ticket #{args.id}", file=sys.stderr)
            return 1
        return emit(args.json, data, _ticket_text)
    if args.id is not None:
        raise UsageError(f"`tickets list` takes no number; to see ticket #{args.id}: helpdesk tickets show {args.id}")
    if args.status is not None and args.status not in STATUSES:
        raise UsageError(f"--status {args.status!r}: one of {', '.join(STATUSES)}")
    with app.db.read_sessions() as session:
        page = views.list_tickets(session, status=args.status, **paging(args))
    which = f" with status {args.status}" if args.status else ""
    return emit(args.json, page, lambda p: _ticket_lines(p, f"tickets{which}", f"ticket{which}"))


def _at_risk(args: argparse.Namespace, app: Any) -> int:
    from gateway.config.values import parse_interval
    from gateway.tools import at_risk
    try:
        within = parse_interval(args.within) if args.within else None
    except ValueError as exc:
        raise UsageError(f"--within {args.within!r}: {exc}") from exc
    with app.db.read_sessions() as session:
        rows = [r.as_dict() for r in at_risk.at_risk(session, app.config.policy, app.clock.now(), within)]
    return emit(args.json, rows, at_risk.lines)


def _ticket_lines(page: dict[str, Any], noun: str, one: str) -> str:
    rows = page["tickets"]
    lines = [f"#{t['number']:<6} {t['priority']:<3} {t['status']:<20} {_due(t):<42} {t['customer']:<30} "
             f"{t['subject']}" + (f" (+{t['repeats']} repeats)" if t.get("repeats") else "") for t in rows]
    return "\n".join([*lines, page_line(page["total"], page["offset"], len(rows), noun, one)])


def _due(t: dict[str, Any]) -> str:
    due = t.get("due")
    return f"{due['clock']} due {due['deadline']}" if due else "-"


def _promise_lines(t: dict[str, Any]) -> list[str]:
    lines = []
    if t.get("eta"):
        lines.append(f"  estimated time to resolution: {t['eta_local']} (as the customer is told; {t['eta']})")
    if t.get("stages"):
        lines.append(f"  escalated to {', '.join(t['stages'])} (last at {t['stage_at']})"
                     + (f"; its people are next told how it goes at {t['stage_informed_next']}"
                        if t.get("stage_informed_next") else ""))
    if t.get("update_every"):
        lines.append(f"  updates every {t['update_every']}, as agreed with the customer")
    if t.get("merged_into"):
        lines.append(f"  merged into #{t['merged_into']}: its mail lands there")
    if t.get("merged_from"):
        lines.append(f"  merged into it: {', '.join('#' + str(n) for n in t['merged_from'])}")
    return lines


_REPEATS_SHOWN = 3  # a storm's thousands of repeats would bury the ticket's own conversation


def _ticket_text(t: dict[str, Any]) -> str:
    lines = [f"Ticket #{t['number']}: {t['subject']}",
             f"  status {t['status']}, priority {t['priority']}, plan {t['plan']}, customer {t['customer']}"
             + (f", language {t['language']}" if t.get("language") else "")]
    if t["due"]:
        lines.append(f"  next promise: {_due(t)}")
    lines.extend(_promise_lines(t))
    if t["next_deadline"]:
        lines.append(f"  next wake-up of the scheduler {t['next_deadline']} (a warning, reminder or deadline)")
    if t.get("repeats"):
        lines.append(f"  {t['repeats']} repeat(s) of its first mail from the same sender joined it, "
                     f"the last at {t['last_repeat_at']}")
    shown = 0
    for m in t["messages"]:
        if m["kind"] == "repeat":
            shown += 1
            if shown > _REPEATS_SHOWN:
                continue
        lines.append(f"\n  [{m['created_at']}] {m['direction']} {m['kind']} from {m['from']}: {m['subject']}")
        lines.extend(f"      {line}" for line in (m["text"] or "").strip().splitlines()[:8])
    if shown > _REPEATS_SHOWN:
        lines.append(f"\n  ... and {shown - _REPEATS_SHOWN} more repeat(s), not shown here: "
                     f"`tickets show {t['number']} --json` lists every message")
    lines.append("\n  events:")
    repeats = [e for e in t["events"] if e["kind"] == "repeat"]
    hidden = {id(e) for e in repeats[_REPEATS_SHOWN:]}
    lines.extend(f"    {e['at']} {e['kind']} by {e['actor']} {json.dumps(e['detail'], ensure_ascii=False)}"
                 for e in t["events"] if id(e) not in hidden)
    if hidden:
        lines.append(f"    ... and {len(hidden)} more repeat event(s), the last at {repeats[-1]['at']}: "
                     "--json lists every one")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace, app: Any) -> int:
    from gateway.config.imap import load_imap_accounts
    from gateway.sources.imap.state import heartbeats
    from gateway.tools import views
    now = app.clock.now()
    with app.db.read_sessions() as session:
        data: dict[str, Any] = {"inbound": views.inbound_counts(session),
                                "outbound": views.outbound_backlog(session, now)}
        data["imap"] = heartbeats(session, load_imap_accounts(app.config, need_passwords=False), now)
        window = app.config.processing.repeats_window
        data["repeating"] = views.repeating(session, now - window)
        data["repeats_window_seconds"] = int(window.total_seconds())
    return emit(args.json, data, _status_text)


def age(seconds: int) -> str:
    """A duration for a person: 45s, 12m 5s, 3h 20m, 2d 4h."""
    d = timedelta(seconds=seconds)
    hours, rest = divmod(d.seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if d.days:
        return f"{d.days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _status_text(data: dict[str, Any]) -> str:
    inbound = data["inbound"]
    lines = ["inbound:  " + (", ".join(f"{n} {state}" for state, n in sorted(inbound.items())) or "none")]
    out = data["outbound"]
    waiting = (f"{out['pending']} waiting to be sent, the oldest for {age(out['oldest_pending_age_seconds'])} "
               f"(since {out['oldest_pending_at']})" if out["pending"] else "nothing waiting to be sent")
    others = ", ".join(f"{n} {state}" for state, n in sorted(out["by_state"].items())
                       if state not in ("pending", "sending", "failed"))
    lines.append(f"outbound: {waiting}; {out['failed']} failed" + (f"; {others}" if others else ""))
    window = age(data["repeats_window_seconds"])
    if not data["repeating"]:
        lines.append(f"repeats:  no ticket took a repeat in the last {window}")
    for t in data["repeating"]:
        lines.append(f"repeats:  #{t['number']} {t['customer']} {t['subject']!r}: {t['repeats']} repeats, the last "
                     f"at {t['last_repeat_at']} (its sender's mails of this shape join it)")
    if not data["imap"]:
        lines.append("imap:     none configured")
    for h in data["imap"]:
        backlog = h["backlog"] if h["backlog"] is not None else "unknown"
        error = f", last error {h['last_error_at']}: {h['last_error']}" if h["last_error"] else ""
        lines.append(f"imap:     {h['account']} ({h['folder']}): {'STALE' if h['stale'] else 'ok'}, last success "
                     f"{h['last_success_at'] or 'never'}, {h['stored']} stored, backlog {backlog}{error}")
    return "\n".join(lines)


def known_person(app: Any, name: str) -> str:
    """The handle of the configured engineer or contact ``name`` (a handle or an address); else a
    UsageError that says how to fix it. A clock marked met by a name that is no one is worse than none."""
    staff = app.config.staff
    person = staff.engineer(name.strip()) or staff.contact(name.strip())
    if person is not None:
        handle: str = person.handle
        return handle
    engineers = ", ".join(sorted(staff.engineers)) or "none configured"
    contacts = ", ".join(sorted(staff.contacts)) or "none configured"
    raise UsageError(f"--by {name!r} is no engineer or contact in {app.config.path}: give the handle or address "
                     f"of an engineer ([[engineers.team]]: {engineers}) or a contact ([contacts.NAME]: "
                     f"{contacts}), or add them there")


def cmd_ticket_action(args: argparse.Namespace, app: Any) -> int:
    """respond / set / ack: what an engineer does, from the command line."""
    from gateway.store.models import Ticket
    from gateway.tickets import workflow
    by = known_person(app, args.by)
    now = app.clock.now()
    with app.db.transaction() as session:
        ticket = session.get(Ticket, args.ticket)
        if ticket is None:
            print(f"no ticket #{args.ticket}", file=sys.stderr)
            return 1
        if args.command == "respond":
            workflow.public_update(session, app, ticket, now, by)
        elif args.command == "ack":
            from gateway.tickets.ack import acknowledge
            acknowledge(session, app, ticket, by, now)
        else:
            try:
                if args.escalate:
                    from gateway.tickets.stages import stage_refusal
                    why = stage_refusal(app, ticket, args.escalate.lower())
                    if why is not None:
                        raise ValueError(f"--escalate {args.escalate}: {why}")
                if args.status:
                    workflow.set_status(session, app, ticket, args.status, now, by)
                if args.priority:
                    workflow.set_priority(session, app, ticket, args.priority, now, by, args.reason or "")
                if args.escalate:
                    from gateway.tickets.stages import enter_stage
                    enter_stage(session, app, ticket, args.escalate.lower(), now, by)
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
    print(f"ticket #{args.ticket}: {args.command} recorded")
    return 0


def register(add: AddCommand, record_id: Callable[[str], int]) -> None:
    """The subcommands of this module, on the ``helpdesk`` parser."""
    p = add("tickets", cmd_tickets, "list or show tickets")
    p.add_argument("action", choices=["list", "show", "at-risk"])
    p.add_argument("id", nargs="?", type=record_id)
    p.add_argument("--status")
    p.add_argument("--within", help="at-risk: only what falls due within this long, like 2h (missed ones too)")
    add_paging(p, 200)
    p.add_argument("--json", action="store_true")
    p = add("status", cmd_status, "queue counts, the outbound backlog and the pollers' heartbeats")
    p.add_argument("--json", action="store_true")
    p = add("respond", cmd_ticket_action, "record a public response to the customer (stops first response)")
    p.add_argument("ticket", type=record_id)
    p.add_argument("--by", required=True, help="the engineer (handle or address)")
    p = add("set", cmd_ticket_action, "change a ticket's status or priority, or escalate it to a stage of its plan")
    p.add_argument("ticket", type=record_id)
    p.add_argument("--status")
    p.add_argument("--priority")
    p.add_argument("--escalate", metavar="STAGE", help="the ticket enters this stage of its plan, as #escalate STAGE")
    p.add_argument("--reason")
    p.add_argument("--by", required=True, help="the engineer (handle or address)")
    p = add("ack", cmd_ticket_action, "acknowledge an escalation: stops its repeats")
    p.add_argument("ticket", type=record_id)
    p.add_argument("--by", required=True, help="the contact or engineer who has it (handle or address)")
