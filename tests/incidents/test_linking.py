"""Tickets join incidents: from the command line, by an engineer's #incident, and by a rule as mail arrives."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.incidents import lifecycle
from gateway.incidents.records import IncidentRefused, linked_tickets
from gateway.store.models import InboundMessage, Incident, IncidentLink
from tests.incidents.desk import Desk, detail, engineer_mail, text_of


def _open(desk: Desk, ticket: int | None = 1, title: str = "Voice platform outage", by: str = "dana") -> int:
    def do(session, app, now):  # type: ignore[no-untyped-def]
        found = desk.ticket(session, ticket) if ticket else None
        return lifecycle.open_incident(session, app, title, by, now, ticket=found).id
    return int(desk.act(do))


def _link(desk: Desk, incident: int, ticket: int, by: str = "dana") -> bool:
    def do(session, app, now):  # type: ignore[no-untyped-def]
        found = session.get(Incident, incident)
        return lifecycle.link(session, app, found, desk.ticket(session, ticket), by, now)
    return bool(desk.act(do))


def _tickets(desk: Desk, incident: int) -> list[int]:
    with desk.app.db.sessions() as session:
        return [t.id for t in linked_tickets(session, incident)]


def test_an_incident_opened_from_a_ticket_links_it_and_tells_each_engineer_their_address(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    number = _open(desk)
    incident = desk.incident(number)
    assert (incident.title, incident.priority, incident.status, incident.ticket_id) == \
        ("Voice platform outage", "P1", "open", 1)
    assert _tickets(desk, number) == [1]
    assert [detail(e)["incident"] for e in desk.events("incident-linked", ticket=1)] == [number]
    for engineer in ("dana@example.com", "fox@example.com"):
        [notice] = desk.mails("incident-opened", to=engineer)
        assert str(notice["Reply-To"].addresses[0].addr_spec) == desk.incident_address(number, engineer)
        assert "#1  alice@acme.example (Acme)" in text_of(notice)


def test_linking_twice_is_nothing_new_and_a_ticket_is_in_one_open_incident_at_a_time(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    desk.open("Hank <hank@globex.example>")
    first = _open(desk)
    assert _link(desk, first, 2) is True
    assert _link(desk, first, 2) is False
    second = _open(desk, ticket=None, title="Billing portal down")
    with pytest.raises(IncidentRefused, match=r"ticket #2 is already part of incident #1 \(Voice platform outage\)"):
        _link(desk, second, 2)
    with desk.app.db.sessions() as session:
        assert len(list(session.scalars(select(IncidentLink)))) == 2


def test_a_resolved_incident_takes_no_more_tickets_and_no_more_updates(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    desk.open("Hank <hank@globex.example>")
    number = _open(desk)
    desk.act(lambda s, app, now: lifecycle.resolve(s, app, s.get(Incident, number), "Back.", "dana", now))
    with pytest.raises(IncidentRefused, match="is resolved: it takes no more tickets"):
        _link(desk, number, 2)
    with pytest.raises(IncidentRefused, match="updates are over"):
        desk.act(lambda s, app, now: lifecycle.update(s, app, s.get(Incident, number), "x", "dana", now))


def test_an_incident_takes_the_most_urgent_priority_of_its_tickets(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>", subject="A question", body="How do I export a report?")
    desk.open("Hank <hank@globex.example>")  # a total outage: P1
    number = _open(desk)
    assert desk.incident(number).priority == "P3"
    _link(desk, number, 2)
    assert desk.incident(number).priority == "P1"


def test_a_ticket_linked_after_an_update_hears_the_latest_update_at_once(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    number = _open(desk)
    desk.act(lambda s, app, now: lifecycle.update(s, app, s.get(Incident, number), "First.", "dana", now))
    desk.act(lambda s, app, now: lifecycle.update(s, app, s.get(Incident, number), "Second.", "dana", now))
    _, mid = desk.open("Hank <hank@globex.example>")
    _link(desk, number, 2)
    [late] = desk.mails("incident-update", to="hank@globex.example")
    assert "Second." in text_of(late) and "First." not in text_of(late)
    assert late["In-Reply-To"] == mid
    [status] = desk.mails("status-update", to="status@globex.example")
    assert "Second." in text_of(status)


def test_an_engineer_opens_an_incident_on_a_ticket_and_links_another_by_mail(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    desk.open("Hank <hank@globex.example>")
    outcome = desk.deliver(engineer_mail("Dana <dana@example.com>", desk.engineer_address(1),
                                         '#incident open "Voice platform outage"\n\nWe are on it.'),
                           rcpt=desk.engineer_address(1))
    assert outcome == "engineer"
    assert desk.incident(1).opened_by == "dana"
    assert len(desk.mails("relay", to="alice@acme.example")) == 1  # the text went to the customer as usual
    assert desk.deliver(engineer_mail("Dana <dana@example.com>", desk.engineer_address(2), "#incident 1"),
                        rcpt=desk.engineer_address(2)) == "engineer"
    assert _tickets(desk, 1) == [1, 2]


@pytest.mark.parametrize(("command", "why"), [
    ("#incident 9", "there is no incident #9"),
    ("#incident resolve", "written to the incident's own address"),
    ("#incident", '#incident needs open "TITLE" or an incident number'),
    ('#incident open "Voice"\n#incident open "Data"', "one #incident command per mail"),
])
def test_an_incident_command_that_cannot_run_changes_nothing_and_says_why(desk: Desk, command: str, why: str) -> None:
    desk.open("Alice <alice@acme.example>")
    assert desk.deliver(engineer_mail("Dana <dana@example.com>", desk.engineer_address(1), f"{command}\n\nHello."),
                        rcpt=desk.engineer_address(1)) == "held"
    [refusal] = desk.mails("command-refused", to="dana@example.com")
    assert why in text_of(refusal)
    assert desk.mails("relay") == []


def test_a_rule_links_a_new_ticket_to_the_open_incident_it_names(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    number = _open(desk)
    desk.act(lambda s, app, now: lifecycle.update(s, app, s.get(Incident, number), "Rerouting.", "dana",
                                                  now))
    later, mid = desk.open("Hank <hank@globex.example>", subject="Voice down", body="No calls at all.")
    assert _tickets(desk, number) == [1, later]
    assert detail(desk.events("incident-linked", ticket=later)[0])["incident"] == number
    [ack] = desk.mails("acknowledgement", to="hank@globex.example")
    [update] = desk.mails("incident-update", to="hank@globex.example")
    assert update["In-Reply-To"] == mid and ack["In-Reply-To"] == mid
    assert "Rerouting." in text_of(update)


def test_a_rule_naming_no_open_incident_links_nothing_and_says_so(desk: Desk) -> None:
    number, _ = desk.open("Hank <hank@globex.example>", subject="Voice down", body="No calls at all.")
    [event] = desk.events("incident-not-linked", ticket=number)
    assert detail(event) == {"title": "Voice platform outage", "reason": "no open incident has that title"}
    with desk.app.db.sessions() as session:
        row = session.scalars(select(InboundMessage)).one()
    assert row.state == "done"


def test_an_engineers_notification_lists_the_open_incidents_to_link_to(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    _open(desk)
    _open(desk, ticket=None, title="Billing portal down")
    desk.open("Hank <hank@globex.example>")
    notice = text_of(desk.mails("engineer-notification", to="dana@example.com")[-1])
    assert 'Open incidents (reply "#incident NUMBER" to add this ticket to one):\n' \
           "  #2  Billing portal down\n  #1  Voice platform outage\n" in notice.replace("\r\n", "\n")
    assert '#incident open "TITLE"|ID' in notice
