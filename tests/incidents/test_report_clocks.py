"""The reports an incident owes: which incidents owe them, the scheduler's wake-up, reminder, breach, met."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from gateway.incidents import lifecycle
from gateway.store.models import Incident
from gateway.timekeeping.scheduler import SlaScheduler
from gateway.tools.incidents import show_incident
from tests.incidents.desk import START, Desk, detail, text_of


def _resolved_p1(desk: Desk, after: timedelta = timedelta(minutes=30)) -> int:
    desk.open("Alice <alice@acme.example>")
    number = int(desk.act(lambda s, app, now: lifecycle.open_incident(
        s, app, "Voice platform outage", "dana", now, ticket=desk.ticket(s, 1)).id))
    desk.clock.advance(after)
    desk.act(lambda s, app, now: lifecycle.resolve(s, app, s.get(Incident, number), "Back.", "dana", now))
    return number


def _reports(desk: Desk, number: int) -> dict[str, dict[str, object]]:
    with desk.app.db.sessions() as session:
        data = show_incident(session, number)
    assert data is not None
    return {r["kind"]: r for r in data["reports"]}


def test_a_p1_owes_its_report_from_the_resolution_and_the_scheduler_wakes_for_the_reminder(desk: Desk) -> None:
    number = _resolved_p1(desk)
    resolved = START + timedelta(minutes=30)
    pir = _reports(desk, number)["pir"]
    # "2 days" of clock time; the reminder at 80% of it.
    assert pir["deadline"] == (resolved + timedelta(days=2)).isoformat()
    assert pir["remind_at"] == (resolved + timedelta(days=2) * 0.8).isoformat()
    scheduler = SlaScheduler(desk.app)
    assert scheduler.earliest() == resolved + timedelta(days=2) * 0.8  # the ticket itself is settled: no clock runs
    desk.clock.set(resolved + timedelta(days=2) * 0.8)
    scheduler.run_due()
    [reminder] = desk.mails("incident-report-reminder")
    assert reminder["To"].addresses[0].addr_spec == "sam@example.com"
    assert "Post Incident Report" in str(reminder["Subject"])
    assert "Wednesday 25 November 2026 21:30 AEDT" in text_of(reminder)  # 10:30 UTC, in Sam's Sydney
    scheduler.run_due()
    assert len(desk.mails("incident-report-reminder")) == 1  # once


def test_a_report_not_sent_by_its_deadline_is_escalated_once_and_stays_missed(desk: Desk) -> None:
    number = _resolved_p1(desk)
    scheduler = SlaScheduler(desk.app)
    desk.clock.set(START + timedelta(days=3))
    scheduler.run_due()
    scheduler.run_due()
    # Past the deadline at the first look (the gateway was down): the breach alone goes, to the
    # roles to remind and to escalate to ("engineers": whoever opened or posted: dana).
    assert desk.mails("incident-report-reminder") == []
    assert sorted(m["To"].addresses[0].addr_spec for m in desk.mails("incident-report-escalation")) == \
        ["dana@example.com", "sam@example.com"]
    dana = desk.mails("incident-report-escalation", to="dana@example.com")[0]
    assert str(dana["Reply-To"].addresses[0].addr_spec) == desk.incident_address(number)
    desk.act(lambda s, app, now: lifecycle.send_report(s, app, s.get(Incident, number), "pir", "Late, sorry.",
                                                       "dana", now))
    assert _reports(desk, number)["pir"]["state"] == "missed"
    assert scheduler.earliest() is None


def test_a_report_sent_in_time_is_met_and_nothing_more_is_due(desk: Desk) -> None:
    number = _resolved_p1(desk)
    desk.clock.advance(timedelta(hours=5))
    desk.act(lambda s, app, now: lifecycle.send_report(s, app, s.get(Incident, number), "pir", "Root cause: ...",
                                                       "dana", now))
    assert _reports(desk, number)["pir"]["state"] == "met"
    assert desk.incident(number).next_deadline is None
    [sent] = [e for e in _events(desk, number) if e["kind"] == "incident-report-sent"]
    assert sent["detail"]["met"] is True


def test_an_incident_that_does_not_qualify_owes_nothing_and_says_why(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>", subject="A question", body="How do I export a report?")  # P3
    number = int(desk.act(lambda s, app, now: lifecycle.open_incident(
        s, app, "Slow exports", "dana", now, ticket=desk.ticket(s, 1)).id))
    desk.act(lambda s, app, now: lifecycle.resolve(s, app, s.get(Incident, number), "Fast again.", "dana", now))
    assert _reports(desk, number) == {}
    [why] = [e for e in _events(desk, number) if e["kind"] == "incident-report-not-owed"]
    assert why["detail"]["why"] == ["priority P3 is not one of P1"]


def _events(desk: Desk, number: int) -> list[dict[str, object]]:
    with desk.app.db.sessions() as session:
        data = show_incident(session, number)
    assert data is not None
    return list(data["events"])


def test_the_linked_tickets_record_what_reached_them(desk: Desk) -> None:
    _resolved_p1(desk)
    kinds = [detail(e)["kind"] for e in desk.events("incident-mail", ticket=1)]
    assert kinds == ["restored"]


def test_a_report_taken_out_of_the_config_still_runs_to_its_end_and_tells_nobody(desk: Desk) -> None:
    number = _resolved_p1(desk)
    config = desk.app.config
    desk.app = replace(desk.app, config=replace(config, incidents=replace(config.incidents, reports={})))
    desk.clock.set(START + timedelta(days=3))
    scheduler = SlaScheduler(desk.app)
    scheduler.run_due()
    assert scheduler.earliest() is None  # nothing left to wake for: no wake-up loop
    assert [e["kind"] for e in _events(desk, number)][-1] == "incident-report-breach"
    assert desk.mails("incident-report-escalation") == []
