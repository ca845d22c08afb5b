"""The reports an incident owes: clocks started at its resolution by the policy, reminded, escalated, met.

A report is owed when the incident qualifies (``[incidents.reports.KIND]``: its priority, how
many customers it affected, how long it lasted). Its clock counts the working days of the
incidents' calendar from the resolution; the reminder goes at ``remind_at`` of that time and the
escalation at the deadline, each once. Sending the report (``helpdesk incident report``) meets it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.incidents import ReportPolicy
from gateway.incidents.records import affected_customers, duration, linked_tickets, record_incident
from gateway.incidents.staff_mail import report_due
from gateway.outbound.context import MailContext
from gateway.store.models import Incident, IncidentClock, IncidentPost
from gateway.store.tickets import note_wakeup
from gateway.time.calendar import BusinessCalendar
from gateway.time.durations import Target, deadline, format_target, parse_target


def calendar_name(ctx: MailContext) -> str:
    """The calendar the report clocks count: ``[incidents] calendar``, else the default plan's."""
    policy = ctx.config.policy
    return ctx.config.incidents.calendar or policy.plan(policy.default_plan).calendar


def clocks_of(session: Session, incident_id: int) -> list[IncidentClock]:
    return list(session.scalars(select(IncidentClock).where(IncidentClock.incident_id == incident_id)
                                .order_by(IncidentClock.id)))


def _remind_at(calendar: BusinessCalendar, target: Target, start: datetime, due: datetime, share: float) -> datetime:
    if target.kind == "clock":
        return start + (due - start) * share
    return calendar.add(start, calendar.elapsed(start, due) * share)


def start_report_clocks(session: Session, ctx: MailContext, incident: Incident, now: datetime) -> None:
    """At the resolution: a clock for each report the incident qualifies for; the others are said not owed."""
    tickets = linked_tickets(session, incident.id)
    customers, lasted = affected_customers(tickets), duration(incident, tickets, now)
    name = calendar_name(ctx)
    calendar = ctx.config.policy.calendar(name)
    have = {c.report for c in clocks_of(session, incident.id)}
    for report in ctx.config.incidents.reports.values():
        owed, why = report.qualifies(incident.priority, customers, lasted)
        if not owed:
            record_incident(session, incident.id, "incident-report-not-owed", now, report=report.kind, why=why)
            continue
        if report.kind in have:
            continue
        due = deadline(report.due, now, calendar)
        sent = _sent_before(session, incident.id, report.kind)
        clock = IncidentClock(incident_id=incident.id, report=report.kind, target=format_target(report.due),
                              calendar=name, started_at=now, deadline=due,
                              remind_at=_remind_at(calendar, report.due, now, due, report.remind_at) if due else None,
                              met_at=sent)
        session.add(clock)
        record_incident(session, incident.id, "incident-report-due", now, report=report.kind, title=report.title,
                        target=clock.target, deadline=due.isoformat() if due else None,
                        remind_at=clock.remind_at.isoformat() if clock.remind_at else None, why=why,
                        customers=customers, minutes=int(lasted.total_seconds() // 60))
    session.flush()
    refresh_incident_deadline(session, incident)


def _sent_before(session: Session, incident_id: int, kind: str) -> datetime | None:
    """When the report went out already (before the incident was resolved), if it did."""
    return session.scalar(select(IncidentPost.at).where(
        IncidentPost.incident_id == incident_id, IncidentPost.kind == "report", IncidentPost.report == kind)
        .order_by(IncidentPost.id).limit(1))


def report_sent(session: Session, incident: Incident, kind: str, post: IncidentPost, now: datetime) -> None:
    """The report went out: its clock (if one runs) is met, or missed if its deadline has passed."""
    clock = next((c for c in clocks_of(session, incident.id) if c.report == kind), None)
    if clock is None or clock.met_at is not None:
        record_incident(session, incident.id, "incident-report-sent", now, actor=post.by, report=kind, post=post.id,
                        owed=clock is not None)
        return
    clock.met_at = now
    met = clock.breached_at is None and (clock.deadline is None or now <= clock.deadline)
    record_incident(session, incident.id, "incident-report-sent", now, actor=post.by, report=kind, post=post.id,
                    owed=True, met=met, deadline=clock.deadline.isoformat() if clock.deadline else None)
    refresh_incident_deadline(session, incident)


def refresh_incident_deadline(session: Session, incident: Incident) -> None:
    """Store the earliest reminder or deadline of the reports still owed: when the scheduler must look again."""
    instants: list[datetime] = []
    for c in clocks_of(session, incident.id):
        if c.met_at is not None:
            continue
        if c.remind_at is not None and c.reminded_at is None:
            instants.append(c.remind_at)
        if c.deadline is not None and c.breached_at is None:
            instants.append(c.deadline)
    earliest = min(instants) if instants else None
    if incident.next_deadline != earliest:
        incident.next_deadline = earliest
        note_wakeup(session, earliest)


def evaluate_incident(session: Session, ctx: MailContext, incident: Incident, now: datetime) -> None:
    """Everything due on the incident at ``now``: reminders, then breaches, each once."""
    for c in clocks_of(session, incident.id):
        if c.met_at is not None:
            continue
        # A report since taken out of the config still runs to its end, telling nobody.
        report = ctx.config.incidents.reports.get(c.report) or ReportPolicy(c.report, c.report, parse_target(c.target))
        late = c.deadline is not None and c.deadline <= now
        if c.remind_at is not None and c.reminded_at is None and c.remind_at <= now:
            c.reminded_at = now
            if not late:  # past the deadline already (the gateway was down): the breach says it all
                _due_mail(session, ctx, incident, c, report, "reminder", now)
        if c.deadline is not None and c.breached_at is None and c.deadline <= now:
            c.breached_at = now
            _due_mail(session, ctx, incident, c, report, "breach", now)
    refresh_incident_deadline(session, incident)


def _due_mail(session: Session, ctx: MailContext, incident: Incident, clock: IncidentClock, report: ReportPolicy,
              stage: str, now: datetime) -> None:
    to = report_due(session, ctx, incident, clock, report, stage, now)
    record_incident(session, incident.id, f"incident-report-{stage}", now, report=report.kind,
                    deadline=clock.deadline.isoformat() if clock.deadline else None, to=to)


def due_incidents(session: Session, now: datetime, limit: int, *, lock: bool) -> list[Incident]:
    """Incidents with a reminder or deadline at or before ``now``; locked (skipping locked ones) when asked."""
    query = select(Incident).where(Incident.next_deadline <= now).order_by(Incident.next_deadline).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def earliest_incident(session: Session) -> datetime | None:
    """The earliest instant any incident must be looked at again."""
    return session.scalar(select(Incident.next_deadline).where(Incident.next_deadline.is_not(None))
                          .order_by(Incident.next_deadline).limit(1))
