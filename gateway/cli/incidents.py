"""``helpdesk incident``: open, link, update, resolve, report; list and show."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from gateway.cli.common import read_words
from gateway.cli.terminal import emit, page_line
from gateway.cli.views import AddCommand, add_paging, known_person, paging
from gateway.errors import UsageError

WRITES = ("open", "link", "update", "resolve", "report")


def _text(args: argparse.Namespace) -> str:
    """The words to send: --text, or --file (``-``: standard input)."""
    if (args.text is None) == (args.file is None):
        raise UsageError(f"incident {args.action}: give the words with --text TEXT or --file FILE (- for stdin)")
    return str(args.text) if args.text is not None else read_words(args.file)


def cmd_incident(args: argparse.Namespace, app: Any) -> int:
    if args.action in ("list", "show"):
        return _read(args, app)
    if not args.by:
        raise UsageError(f"incident {args.action}: say who with --by HANDLE (a configured engineer or contact)")
    by = known_person(app, args.by)
    text = _text(args) if args.action in ("update", "resolve", "report") else ""
    from gateway.incidents.records import IncidentRefused
    try:
        with app.db.transaction() as session:
            said = _write(session, app, args, by, text)
    except IncidentRefused as exc:
        print(f"helpdesk incident {args.action}: {exc}", file=sys.stderr)
        return 1
    if said is None:
        return 1
    print(said)
    return 0


def _write(session: Any, app: Any, args: argparse.Namespace, by: str, text: str) -> str | None:
    """The change in one transaction; what to tell the user, or None (and why, on stderr) when nothing was there."""
    from gateway.incidents import lifecycle
    from gateway.store.models import Incident, Ticket
    now = app.clock.now()
    tickets = [session.get(Ticket, n) for n in args.tickets]
    if (missing := [n for n, t in zip(args.tickets, tickets, strict=True) if t is None]):
        print(f"no ticket #{missing[0]}", file=sys.stderr)
        return None
    if args.action == "open":
        incident = lifecycle.open_incident(session, app, args.title, by, now, ticket=tickets[0] if tickets else None,
                                           priority=args.priority)
        for ticket in tickets[1:]:
            lifecycle.link(session, app, incident, ticket, by, now)
        return f"incident #{incident.id} opened: {incident.title} ({incident.priority}); " + _linked(tickets) \
            + _address(app, incident, by)
    incident = session.get(Incident, args.id)
    if incident is None:
        print(f"no incident #{args.id}", file=sys.stderr)
        return None
    if args.action == "link":
        added = [t for t in tickets if lifecycle.link(session, app, incident, t, by, now)]
        return f"incident #{incident.id}: " + _linked(added) + \
            (f" ({len(tickets) - len(added)} already linked)" if len(added) < len(tickets) else "")
    if args.action == "update":
        reach = lifecycle.update(session, app, incident, text, by, now)
    elif args.action == "resolve":
        reach = lifecycle.resolve(session, app, incident, text, by, now)
    else:
        reach = lifecycle.send_report(session, app, incident, args.kind, text, by, now)
    return (f"incident #{incident.id}: {args.action} sent to {len(reach.tickets)} ticket(s)"
            f"{' (' + ', '.join(f'#{n}' for n in reach.tickets) + ')' if reach.tickets else ''} "
            f"and {len(reach.status_contacts)} status contact(s)")


def _linked(tickets: list[Any]) -> str:
    return ("linked " + ", ".join(f"#{t.id}" for t in tickets)) if tickets else "no ticket linked"


def _address(app: Any, incident: Any, by: str) -> str:
    from gateway.incidents.staff_mail import address_for
    engineer = app.config.staff.engineer(by)
    return f"\n{by} writes to it at {address_for(app, incident, engineer.address)}" if engineer is not None else ""


def _read(args: argparse.Namespace, app: Any) -> int:
    from gateway.tools import incidents
    if args.action == "show":
        with app.db.read_sessions() as session:
            data = incidents.show_incident(session, args.id)
        if data is None:
            print(f"no incident #{args.id}", file=sys.stderr)
            return 1
        return emit(args.json, data, incidents.incident_text)
    with app.db.read_sessions() as session:
        page = incidents.list_incidents(session, status=args.status, **paging(args))
    which = f" {args.status}" if args.status else ""
    return emit(args.json, page, lambda p: "\n".join([*map(incidents.incident_line, p["incidents"]), page_line(
        p["total"], p["offset"], len(p["incidents"]), f"incidents{which}", f"incident{which}")]))


def register(add: AddCommand, record_id: Callable[[str], int]) -> None:
    """``helpdesk incident ACTION``: each action its own arguments and help."""
    p = add("incident", cmd_incident, "one outage, many tickets: open, link, update, resolve, report, list, show")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str, *, writes: bool = True, numbered: bool = True) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help_text)
        if numbered:
            a.add_argument("id", type=record_id, help="the incident's number")
        if writes:
            a.add_argument("--by", help="who does it: a configured engineer or contact (handle or address)")
        a.set_defaults(tickets=[], text=None, file=None)
        return a

    def words(a: argparse.ArgumentParser) -> None:
        a.add_argument("--text", help="the words to send")
        a.add_argument("--file", help="read the words from FILE (- for standard input)")

    a = action("open", "open an incident (from --ticket N, which it links)", numbered=False)
    a.add_argument("title", help='its title, like "Voice platform outage"')
    a.add_argument("--ticket", dest="tickets", type=record_id, action="append", default=[],
                   help="a ticket it affects (repeatable; the first is the one it is opened from)")
    a.add_argument("--priority", choices=["P1", "P2", "P3", "P4"], help="default: the first ticket's")
    a = action("link", "link tickets to an open incident")
    a.add_argument("tickets", type=record_id, nargs="+", metavar="TICKET")
    words(action("update", "send an update to every affected customer and status contact"))
    words(action("resolve", "send the restoration notice, move the tickets, start the report clocks"))
    a = action("report", "send a report (incident-report, pir, rca, or a configured kind)")
    a.add_argument("--kind", required=True, help="which report: meets its clock")
    words(a)
    a = action("list", "incidents, newest first", writes=False, numbered=False)
    a.add_argument("--status", choices=["open", "resolved"])
    add_paging(a, 200)
    a.add_argument("--json", action="store_true")
    a = action("show", "one incident: tickets, posts, reports, mail, events", writes=False)
    a.add_argument("--json", action="store_true")
