"""Maintenance windows: scheduled with the lead time their kind promises, cancelled, completed.

A window's life: ``scheduled`` (its notice waits for ``notice_at``) -> ``started`` (at
``starts_at``: the reminder) -> ``completed`` (at ``ends_at``, or earlier by hand: the completion
notice); ``cancelled`` at any point before completion (a cancellation to those already told).
``next_at`` is the next of those instants, which the scheduler wakes for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import Session

from gateway.config import Config
from gateway.config.maintenance import MaintenanceKind
from gateway.errors import GatewayError
from gateway.store.models import MaintenanceWindow
from gateway.time.calendar import BusinessCalendar, as_utc
from gateway.time.durations import Target, deadline, format_target

LIVE = ("scheduled", "started")
# Asked with every new ticket: built once (its SQL is cached by SQLAlchemy either way, not the work of
# building it and computing its cache key), and asked once a transaction for the windows live across
# an hour from the first ticket's instant (a batch of mails is one transaction).
_AT: BindParameter[datetime] = bindparam("at")
_LIVE_ACROSS = select(MaintenanceWindow).where(
    MaintenanceWindow.status.in_(LIVE), MaintenanceWindow.starts_at <= bindparam("until"),
    MaintenanceWindow.ends_at > _AT).order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
_ACROSS = timedelta(hours=1)
_CACHED = "helpdesk.maintenance.live"  # in session.info: (transaction, from, until, windows)
# How far back a lead time is looked for: the longest lead in business days over holidays fits.
_SEARCH = timedelta(days=400)


class MaintenanceRefused(GatewayError):
    """A schedule or change that cannot be made as asked; the message says why and what would do."""


def lead_calendar(config: Config) -> BusinessCalendar:
    """The business days lead times count on: [maintenance] calendar, else the default plan's."""
    policy = config.policy
    return policy.calendar(config.maintenance.calendar or policy.plan(policy.default_plan).calendar)


def told_by(lead: Target, start: datetime, calendar: BusinessCalendar) -> datetime | None:
    """The latest instant from which ``lead`` still runs out by ``start``: when a notice with that lead
    must go. None for no lead. Business leads are found on ``calendar`` (a lead that is due at the
    start when counted from that instant, like an SLA clock started then)."""
    if lead.kind == "none":
        return None
    if lead.kind == "clock":
        assert isinstance(lead.amount, timedelta)
        return start - lead.amount
    # Whole seconds before the start: the latest that still meets it (deadline() never decreases as
    # its start moves on, so the answer is found by halving).
    start = start.replace(microsecond=0)
    met, missed = int(_SEARCH.total_seconds()), 0
    while met - missed > 1:
        middle = (met + missed) // 2
        due = deadline(lead, start - timedelta(seconds=middle), calendar)
        if due is not None and due <= start:
            met = middle
        else:
            missed = middle
    return start - timedelta(seconds=met)


@dataclass(frozen=True, slots=True)
class Schedule:
    kind: str
    title: str
    text: str
    starts_at: datetime
    ends_at: datetime
    organisations: tuple[str, ...] | None  # None: every organisation
    by: str
    force: bool = False


def schedule(session: Session, config: Config, asked: Schedule, now: datetime) -> MaintenanceWindow:
    """Store a window, or refuse it (MaintenanceRefused) when it cannot be announced as its kind promises."""
    kind = _kind(config, asked.kind)
    asked = replace(asked, starts_at=as_utc(asked.starts_at, "start"), ends_at=as_utc(asked.ends_at, "end"))
    _check_window(config, asked, now)
    calendar = lead_calendar(config)
    notice_at = told_by(kind.notice, asked.starts_at, calendar)
    latest = told_by(kind.minimum, asked.starts_at, calendar)
    if latest is not None and now > latest and not asked.force:
        raise MaintenanceRefused(
            f"{kind.title} needs {format_target(kind.minimum)} notice: to start at "
            f"{asked.starts_at.isoformat()} it had to be announced by {latest.isoformat()}; schedule it later, "
            "as another kind, or with --force to announce it now anyway")
    window = MaintenanceWindow(
        kind=kind.name, title=asked.title, text=asked.text, starts_at=asked.starts_at, ends_at=asked.ends_at,
        organisations=list(asked.organisations) if asked.organisations is not None else None, status="scheduled",
        notice_at=None if notice_at is None else max(notice_at, now), scheduled_at=now, scheduled_by=asked.by,
        forced=bool(latest is not None and now > latest))
    window.next_at = next_instant(window)
    session.add(window)
    session.flush()
    return window


def _kind(config: Config, name: str) -> MaintenanceKind:
    kind = config.maintenance.kinds.get(name)
    if kind is None:
        raise MaintenanceRefused(f"no maintenance kind {name!r}; the kinds are "
                                 f"{', '.join(config.maintenance.kinds)} ([maintenance.kinds.KIND])")
    return kind


def _check_window(config: Config, asked: Schedule, now: datetime) -> None:
    if asked.ends_at <= asked.starts_at:
        raise MaintenanceRefused("the window ends before it starts: give an end after the start")
    if asked.starts_at < now:
        raise MaintenanceRefused(f"the window starts in the past ({asked.starts_at.isoformat()}); give a start "
                                 "from now on")
    if not asked.title.strip() or len(asked.title) > 200:
        raise MaintenanceRefused("give the work a title of 1 to 200 characters")
    known = config.policy.directory.organisations
    unknown = [o for o in asked.organisations or () if o not in known]
    if unknown:
        raise MaintenanceRefused(f"no organisation {unknown[0]!r}; the organisations are {', '.join(sorted(known))}")


def next_instant(window: MaintenanceWindow) -> datetime | None:
    """What the window waits for next: its notice, its start, its end; None once it is over."""
    if window.status not in LIVE:
        return None
    if window.notice_at is not None and window.noticed_at is None:
        return window.notice_at
    if window.status == "scheduled":
        return window.starts_at
    return window.ends_at


def cancel(window: MaintenanceWindow, reason: str, now: datetime) -> None:
    if window.status not in LIVE:
        raise MaintenanceRefused(f"maintenance #{window.id} is {window.status}: nothing to cancel")
    window.status, window.cancelled_at, window.cancel_reason, window.next_at = "cancelled", now, reason, None


def under_way(session: Session, organisation: str | None, at: datetime) -> list[MaintenanceWindow]:
    """The windows in progress at ``at`` that affect ``organisation`` (every organisation's, when None
    or when the window affects all), earliest first."""
    transaction = session.get_transaction()
    cached = session.info.get(_CACHED)
    if cached is None or cached[0] is not transaction or not cached[1] <= at <= cached[2]:
        rows = list(session.scalars(_LIVE_ACROSS, {"at": at, "until": at + _ACROSS}))
        cached = session.info[_CACHED] = (transaction, at, at + _ACROSS, rows)
    return [w for w in cached[3]
            if w.starts_at <= at < w.ends_at and (w.cancelled_at is None or w.cancelled_at > at)
            and (w.organisations is None or (organisation is not None and organisation in w.organisations))]
