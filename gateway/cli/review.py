"""``helpdesk held`` and ``helpdesk quarantine``: list, show in full, then approve, retry or drop."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from gateway.cli.terminal import emit, page_line
from gateway.cli.views import AddCommand, add_paging, paging
from gateway.errors import UsageError

_HELD_AS = {
    "customer": "held for review: the sender may not open or add to a ticket on their own",
    "unproven-engineer": "mail in the name of engineer {engineer}, without proof that it is theirs",
    "engineer-reply-address": "mail from someone else to the reply address issued to engineer {engineer}",
    "engineer": "engineer {engineer}'s mail, held because its commands were refused",
    "unreadable": "not readable now within the parser's limits (see proof)",
}


def _need_id(args: argparse.Namespace, listing: str) -> int:
    if args.id is None:
        raise UsageError(f"give the inbound id shown by `{listing} list`: helpdesk {listing} {args.action} ID")
    value: int = args.id
    return value


def _not_there(inbound_id: int, what: str) -> int:
    print(f"inbound {inbound_id} is not {what}", file=sys.stderr)
    return 1


def _inbound_lines(page: dict[str, Any], key: str, noun: str) -> str:
    """Held or quarantined mail for a person: id, when, sender, Message-ID, and the reason beneath."""
    rows = page[key]
    lines = [f"{r['id']:<8} {r['received_at']}  {r.get('from') or r.get('source')}  {r['message_id'] or '-'}\n"
             f"         {r['reason']}" for r in rows]
    return "\n".join([*lines, page_line(page["total"], page["offset"], len(rows), f"{noun} mails", f"{noun} mail")])


def _envelope_and_headers(d: dict[str, Any]) -> list[str]:
    env = d["envelope"]
    lines = [f"  received {d['received_at']} by {d['source']}, {d['size']} bytes, {d['attempts']} attempt(s)"
             + (f", ticket #{d['ticket']}" if d["ticket"] else ""),
             f"  envelope: from {env['mail_from'] or '(none)'} to {', '.join(env['rcpt_to']) or '(none)'}",
             "  headers:"]
    lines.extend(f"    {name}: {value}" for name, value in d["headers"])
    return lines


def _held_text(d: dict[str, Any]) -> str:
    n = d["id"]
    lines = [f"Held mail, inbound {n}: " + _HELD_AS[d["held_as"]].format(engineer=d["engineer"]),
             f"  why held: {d['reason']}"]
    if d["proof"]:
        lines.append(f"  proof:    {d['proof']}")
    lines.append(f"  helpdesk held approve {n}: {d['approve']}")
    if d["approve_as_engineer"]:
        lines.append(f"  helpdesk held approve {n} --as-engineer: {d['approve_as_engineer']}")
    lines.append(f"  helpdesk held drop {n}: kept, never processed")
    lines.extend(_envelope_and_headers(d))
    lines.append("  text:")
    lines.extend(f"    {line}" for line in (d.get("text") or "").splitlines() or ["(none)"])
    lines.extend(f"  attachment: {a['filename']} ({a['content_type']}, {a['size']} bytes)" for a in d["attachments"])
    return "\n".join(lines)


def _quarantine_text(d: dict[str, Any]) -> str:
    n = d["id"]
    return "\n".join([f"Quarantined mail, inbound {n}", f"  why: {d['reason']}", *_envelope_and_headers(d),
                      f"  helpdesk quarantine retry {n}: process it again; helpdesk quarantine drop {n}: "
                      "kept, never processed"])


def cmd_held(args: argparse.Namespace, app: Any) -> int:
    """Mail held for review (unknown senders, unproven engineer mail): list, show, approve or drop."""
    from gateway.store.models import InboundMessage
    from gateway.tools import review
    if args.as_engineer and args.action != "approve":
        raise UsageError("--as-engineer goes with approve: helpdesk held approve ID --as-engineer")
    if args.action == "list":
        with app.db.read_sessions() as session:
            page = review.list_held(session, **paging(args))
        return emit(args.json, page, lambda p: _inbound_lines(p, "held", "held"))
    inbound_id = _need_id(args, "held")
    if args.action == "drop":
        with app.db.transaction() as session:
            if not review.drop(session, inbound_id, "held", app.clock.now()):
                return _not_there(inbound_id, "held")
        print(f"inbound {inbound_id}: dropped")
        return 0
    with app.db.read_sessions() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is None or row.state != "held":
            return _not_there(inbound_id, "held")
        detail = review.held_detail(app, row)
    if args.action == "show":
        return emit(args.json, detail, _held_text)
    if args.as_engineer and detail["approve_as_engineer"] is None:
        raise UsageError(f"inbound {inbound_id} is not mail in an engineer's name ("
                         + _HELD_AS[detail["held_as"]].format(engineer=detail["engineer"])
                         + f"): approve it without --as-engineer; see helpdesk held show {inbound_id}")
    with app.db.transaction() as session:
        if not review.approve(session, inbound_id, app.clock.now(), as_engineer=args.as_engineer):
            return _not_there(inbound_id, "held")
    what = detail["approve_as_engineer"] if args.as_engineer else detail["approve"]
    print(f"inbound {inbound_id}: approved: {what}")
    if detail["approve_as_engineer"] and not args.as_engineer:
        print(f"  (it claims to be {detail['engineer']}'s: `helpdesk held approve {inbound_id} --as-engineer` "
              "would have run its commands and relayed it)")
    return 0


def cmd_quarantine(args: argparse.Namespace, app: Any) -> int:
    """What could not be processed: list, show, retry or drop."""
    from gateway.store.models import InboundMessage
    from gateway.tools import review
    if args.action == "list":
        with app.db.read_sessions() as session:
            page = review.list_quarantine(session, **paging(args))
        return emit(args.json, page, lambda p: _inbound_lines(p, "quarantine", "quarantined"))
    inbound_id = _need_id(args, "quarantine")
    if args.action == "show":
        with app.db.read_sessions() as session:
            row = session.get(InboundMessage, inbound_id)
            if row is None or row.state != "quarantined":
                return _not_there(inbound_id, "in quarantine")
            return emit(args.json, review.inbound_detail(row), _quarantine_text)
    with app.db.transaction() as session:
        now = app.clock.now()
        done = (review.retry(session, inbound_id, now) if args.action == "retry"
                else review.drop(session, inbound_id, "quarantined", now))
        if not done:
            return _not_there(inbound_id, "in quarantine")
    print(f"inbound {inbound_id}: " + ("queued for another try" if args.action == "retry" else "dropped"))
    return 0


def register(add: AddCommand, record_id: Callable[[str], int]) -> None:
    p = add("quarantine", cmd_quarantine, "messages that could not be processed: list, show, retry or drop")
    p.add_argument("action", choices=["list", "show", "retry", "drop"])
    p.add_argument("id", nargs="?", type=record_id)
    add_paging(p, 500)
    p.add_argument("--json", action="store_true")
    p = add("held", cmd_held, "mail held for review: list, show, approve (process it) or drop")
    p.add_argument("action", choices=["list", "show", "approve", "drop"])
    p.add_argument("id", nargs="?", type=record_id)
    p.add_argument("--as-engineer", action="store_true",
                   help="approve mail in an engineer's name as theirs: run its #commands and relay it")
    add_paging(p, 500)
    p.add_argument("--json", action="store_true")
