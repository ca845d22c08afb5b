"""``helpdesk maintenance``: schedule, list, show, cancel, complete planned and emergency work."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.cli.common import read_words
from gateway.cli.terminal import emit, page_line
from gateway.cli.views import AddCommand, add_paging, known_person, paging
from gateway.errors import UsageError


def _instant(text: str, flag: str, zone: Any) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {text!r}: write an instant like 2026-12-12T22:00 (the gateway's time zone) "
                         "or 2026-12-12T22:00+11:00") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _words(args: argparse.Namespace) -> str:
    return str(args.text or "") if args.file is None else read_words(args.file)


def cmd_maintenance(args: argparse.Namespace, app: Any) -> int:
    if args.action in ("list", "show"):
        return _read(args, app)
    by = known_person(app, args.by) if args.by else None
    if by is None:
        raise UsageError(f"maintenance {args.action}: say who with --by HANDLE (a configured engineer or contact)")
    from gateway.maintenance.windows import MaintenanceRefused
    try:
        with app.db.transaction() as session:
            said = _write(session, app, args, by)
    except MaintenanceRefused as exc:
        print(f"helpdesk maintenance {args.action}: refused: {exc}", file=sys.stderr)
        return 1
    print(said)
    return 0


def _write(session: Any, app: Any, args: argparse.Namespace, by: str) -> str:
    from gateway.maintenance import lifecycle, notices, windows
    from gateway.store.models import MaintenanceWindow
    now = app.clock.now()
    if args.action == "schedule":
        zone = app.config.gateway.timezone
        asked = windows.Schedule(kind=args.kind, title=args.title, text=_words(args),
                                 starts_at=_instant(args.start, "--start", zone),
                                 ends_at=_instant(args.end, "--end", zone),
                                 organisations=tuple(args.organisation) if args.organisation else None, by=by,
                                 force=args.force)
        window = windows.schedule(session, app.config, asked, now)
        lifecycle.advance(session, app, window, now)  # a notice due now goes now
        return _scheduled(app, window, notices.recipients(app, window))
    window = session.get(MaintenanceWindow, args.id)
    if window is None:
        raise windows.MaintenanceRefused(f"no maintenance #{args.id}")
    if args.action == "cancel":
        sent = lifecycle.cancel_now(session, app, window, args.reason or "", now)
        return f"maintenance #{window.id} cancelled; cancellation sent to {len(sent)} status contact(s)"
    sent = lifecycle.complete_now(session, app, window, now)
    return f"maintenance #{window.id} completed; completion notice sent to {len(sent)} status contact(s)"


def _scheduled(app: Any, window: Any, recipients: list[tuple[Any, str]]) -> str:
    lines = [f"maintenance #{window.id} scheduled: {window.title} ({window.kind})"
             + (" - inside its lead time, forced" if window.forced else "")]
    if window.notice_at is None:
        lines.append("no notice: this kind is announced to nobody")
    else:
        when = "now" if window.noticed_at is not None else window.notice_at.isoformat()
        lines.append(f"notice {'sent' if window.noticed_at is not None else 'goes'} {when} to "
                     f"{len(recipients)} status contact(s)")
    from gateway.maintenance.notices import affected
    silent = [o.name for o in affected(app, window) if not o.status_contacts]
    if silent and window.notice_at is not None:
        lines.append("not told (no status_contacts): " + ", ".join(silent))
    return "\n".join(lines)


def _read(args: argparse.Namespace, app: Any) -> int:
    from gateway.tools import maintenance
    with app.db.read_sessions() as session:
        if args.action == "show":
            data = maintenance.show_window(session, args.id)
            if data is None:
                print(f"no maintenance #{args.id}", file=sys.stderr)
                return 1
            return emit(args.json, data, maintenance.window_text)
        page = maintenance.list_windows(session, status=args.status, **paging(args))
    return emit(args.json, page, lambda p: "\n".join([*map(maintenance.window_line, p["maintenance"]), page_line(
        p["total"], p["offset"], len(p["maintenance"]), "maintenance windows", "maintenance window")]))


def register(add: AddCommand, record_id: Callable[[str], int]) -> None:
    p = add("maintenance", cmd_maintenance, "planned and emergency work: schedule, list, show, cancel, complete")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("schedule", help="schedule work; refused when its kind's notice can no longer be given")
    a.add_argument("--kind", required=True, help="a [maintenance.kinds.KIND], like with-downtime")
    a.add_argument("--start", required=True, help="when it starts (ISO 8601; no offset: the gateway's zone)")
    a.add_argument("--end", required=True, help="when it ends")
    a.add_argument("--title", required=True, help='what it is, like "Database upgrade"')
    a.add_argument("--text", help="what the notice says about it")
    a.add_argument("--file", help="read that text from FILE (- for standard input)")
    a.add_argument("--organisation", action="append", help="an affected organisation (repeatable; default: all)")
    a.add_argument("--force", action="store_true", help="schedule it even inside its kind's lead time")
    a.add_argument("--by", help="who schedules it: a configured engineer or contact")
    for name, help_text in (("cancel", "cancel it; those told hear so, with the calendar event cancelled"),
                            ("complete", "the work is done: the completion notice goes now")):
        a = actions.add_parser(name, help=help_text)
        a.add_argument("id", type=record_id)
        a.add_argument("--by", help="who does it: a configured engineer or contact")
        if name == "cancel":
            a.add_argument("--reason", help="said in the cancellation")
    a = actions.add_parser("list", help="maintenance windows, latest start first")
    a.add_argument("--status", choices=["scheduled", "started", "completed", "cancelled"])
    add_paging(a, 200)
    a.add_argument("--json", action="store_true")
    a = actions.add_parser("show", help="one window: its notices, who got them, the tickets during it")
    a.add_argument("id", type=record_id)
    a.add_argument("--json", action="store_true")
