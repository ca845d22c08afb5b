"""``helpdesk report sla --html FILE``: the SLA report as a page to keep and forward, with charts.

The page (``reports.sla_html.page``) has headline figures; compliance by week; breaches by
priority; how long first responses took; then the report's table and every breach. It is one
file with no scripts and nothing fetched from elsewhere, so it opens the same from a mail
attachment, a shared drive or a browser; figures are in the locale given.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gateway.config.policy import Policy
from gateway.errors import UsageError
from gateway.outbound.charts import Figures
from gateway.reports.series import sla_series
from gateway.reports.sla_html import page


def figures_for(tag: str | None) -> Figures:
    """The locale asked for, else the environment's for numbers (LC_ALL, LC_NUMERIC, LANG), else English."""
    if tag is not None:
        try:
            return Figures(tag)
        except ValueError as exc:
            raise UsageError(f"--locale {exc}") from exc
    found = next((os.environ[name] for name in ("LC_ALL", "LC_NUMERIC", "LANG") if os.environ.get(name)), "")
    name = found.split(".")[0].split("@")[0]
    try:
        return Figures(name if name not in ("C", "POSIX") else "en")
    except ValueError:  # a name no locale has
        return Figures("en")


def write_page(target: str, data: dict[str, Any], session: Session, policy: Policy, zone: tzinfo, *,
               now: datetime | None = None, locale: str | None = None) -> None:
    """Write the page to ``target`` ("-": standard output), weeks starting as the locale starts them."""
    f = figures_for(locale)
    start, end = datetime.fromisoformat(data["from"]), datetime.fromisoformat(data["to"])
    series = sla_series(session, policy, start, end, zone, now=now, first_weekday=f.locale.first_week_day)
    html = page(data, series, f)
    if target == "-":
        sys.stdout.write(html)
        return
    try:
        Path(target).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--html {target}: cannot write it ({exc.strerror})") from exc
