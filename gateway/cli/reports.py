"""``helpdesk report sla``: how the promises were kept over a period, as text, JSON or CSV; and ``helpdesk digests``."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from gateway.cli import digests as cli_digests
from gateway.cli.terminal import emit
from gateway.errors import UsageError

Command = Callable[[argparse.Namespace, Any], int]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


def _instant(text: str, flag: str, zone: Any) -> datetime:
    """An ISO 8601 date or instant; a date is its midnight, and no offset means the gateway's zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {text!r}: write a date or instant like 2026-11-01 or 2026-11-01T09:00+00:00") \
            from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def cmd_report(args: argparse.Namespace, app: Any) -> int:
    from gateway.reports.sla_report import as_csv_rows, as_text, report
    zone = app.config.gateway.timezone
    now = app.clock.now()
    end = _instant(args.to, "--to", zone) if args.to else now
    start = _instant(args.since, "--from", zone) if args.since else end - timedelta(days=7)
    if start >= end:
        raise UsageError(f"--from {start.isoformat()} is not before --to {end.isoformat()}")
    with app.db.read_sessions() as session:
        data = report(session, app.config.policy, start, end, by=args.by, now=now)
        if args.html:
            from gateway.tools.report_html import write_page
            write_page(args.html, data, session, app.config.policy, zone, now=now, locale=args.locale)
    if args.html == "-":
        return 0
    if args.csv:
        csv.writer(sys.stdout, lineterminator="\n").writerows(as_csv_rows(data))
        return 0
    return emit(args.json, data, as_text)


def register(add: AddCommand) -> None:
    from gateway.reports.sla_report import GROUPS
    p = add("report", cmd_report, "reports: sla (each promise kept or missed over a period)")
    p.add_argument("kind", choices=["sla"])
    p.add_argument("--from", dest="since", help="the period's start (a date or instant; default 7 days before --to)")
    p.add_argument("--to", help="the period's end, not included (default now)")
    p.add_argument("--by", choices=GROUPS, help="a row per clock and plan, priority, organisation or engineer")
    p.add_argument("--html", metavar="FILE", help="also write the report as a page with charts (-: print only it)")
    p.add_argument("--locale", help="how the page writes figures and dates, e.g. en_GB, de_DE (default: $LANG)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")
    cli_digests.register(add)
