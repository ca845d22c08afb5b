"""One post, each recipient once: customers in their own threads, status contacts, cause keys and caps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from gateway.incidents import lifecycle
from gateway.incidents.broadcast import broadcast, status_cause, ticket_cause
from gateway.store.db import Database
from gateway.store.models import Incident, IncidentPost, SlaClock
from tests.incidents.desk import Desk, detail, make_desk, text_of


def _incident_of(desk: Desk, *tickets: int) -> int:
    def do(session, app, now):  # type: ignore[no-untyped-def]
        incident = lifecycle.open_incident(session, app, "Voice platform outage", "dana", now,
                                           ticket=desk.ticket(session, tickets[0]))
        for number in tickets[1:]:
            lifecycle.link(session, app, incident, desk.ticket(session, number), "dana", now)
        return incident.id
    return int(desk.act(do))


def _update(desk: Desk, number: int, text: str) -> lifecycle.Reach:
    return desk.act(lambda s, app, now: lifecycle.update(s, app, s.get(Incident, number), text, "dana", now))


def test_one_update_reaches_each_customer_once_in_their_own_thread_and_each_status_contact_once(desk: Desk) -> None:
    _, alice_mid = desk.open("Alice <alice@acme.example>")
    _, bob_mid = desk.open("Bob <bob@acme.example>")
    _, hank_mid = desk.open("Hank <hank@globex.example>")
    number = _incident_of(desk, 1, 2, 3)
    reach = _update(desk, number, "A carrier fault; rerouting.")
    assert reach.tickets == (1, 2, 3)
    # Acme's status contacts are noc@ and alice@; alice heard it in her own ticket's thread.
    assert reach.status_contacts == ("noc@acme.example", "status@globex.example")
    for who, mid, ticket in (("alice@acme.example", alice_mid, 1), ("bob@acme.example", bob_mid, 2),
                             ("hank@globex.example", hank_mid, 3)):
        [mail] = desk.mails("incident-update", to=who)
        assert mail["In-Reply-To"] == mid and mid in str(mail["References"])
        assert str(mail["Subject"]) == f"[#{ticket}] Incident update: Voice platform outage"
        assert f"+{ticket}-" in str(mail["Reply-To"])  # the ticket's own reply address: an answer joins the ticket
        assert "A carrier fault; rerouting." in text_of(mail)
    assert "Monday 23 November 2026 05:00 EST" in text_of(desk.mails("incident-update", to="hank@globex.example")[0])
    assert len(desk.mails("status-update", to="noc@acme.example")) == 1
    assert desk.mails("status-update", to="alice@acme.example") == []
    [globex] = desk.mails("status-update", to="status@globex.example")
    # Configured for German, in the organisation's zone.
    assert str(globex["Subject"]) == "Dienststatus: Voice platform outage"
    assert "Statusmeldung für Globex" in text_of(globex)
    assert "Montag, 23. November 2026, 05:00 EST" in text_of(globex)


def test_broadcasting_a_post_again_sends_nothing_twice(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    desk.open("Hank <hank@globex.example>")
    number = _incident_of(desk, 1, 2)
    _update(desk, number, "Rerouting.")
    before = len(desk.rows())

    def again(session, app, now):  # type: ignore[no-untyped-def]
        post = session.scalars(select(IncidentPost)).one()
        return broadcast(session, app, session.get(Incident, number), post, now)
    reach = desk.act(again)
    assert (reach.tickets, reach.status_contacts) == ((), ())
    assert len(desk.rows()) == before
    keys = {r.cause_key for r in desk.rows() if r.kind.endswith("-update")}
    assert keys == {ticket_cause(number, 1, 1), ticket_cause(number, 1, 2),
                    status_cause(number, "noc@acme.example", 1), status_cause(number, "status@globex.example", 1)}


def test_each_post_is_its_own_cause_and_a_status_contacts_mail_threads_under_the_first(desk: Desk) -> None:
    desk.open("Hank <hank@globex.example>")
    number = _incident_of(desk, 1)
    _update(desk, number, "First.")
    _update(desk, number, "Second.")
    desk.act(lambda s, app, now: lifecycle.resolve(s, app, s.get(Incident, number), "Restored.", "dana", now))
    first, second = desk.mails("status-update", to="status@globex.example")
    [restored] = desk.mails("status-restored", to="status@globex.example")
    assert second["In-Reply-To"] == first["Message-ID"] == restored["In-Reply-To"]
    assert len(desk.mails("incident-update", to="hank@globex.example")) == 2


def test_an_update_is_a_public_update_on_each_ticket(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    number = _incident_of(desk, 1)
    desk.clock.advance(timedelta(minutes=5))
    _update(desk, number, "Rerouting.")
    with desk.app.db.sessions() as session:
        clocks = {c.name: c for c in session.scalars(select(SlaClock).where(SlaClock.ticket_id == 1))}
    assert clocks["first_response"].stopped_at == desk.clock.now()
    # Re-armed from the update (P1: every 30 minutes), not from the customer's mail.
    assert clocks["update"].deadline == desk.clock.now() + timedelta(minutes=30)
    assert [e.actor for e in desk.events("public-response", ticket=1)] == ["dana"]


def test_resolving_proposes_the_resolution_of_the_tickets_still_worked(desk: Desk) -> None:
    desk.open("Alice <alice@acme.example>")
    desk.open("Hank <hank@globex.example>")
    number = _incident_of(desk, 1, 2)
    desk.act(lambda s, app, now: lifecycle.resolve(s, app, s.get(Incident, number), "Restored.", "dana", now))
    assert [detail(e)["new"] for e in desk.events("status-changed")] == ["resolution-proposed"] * 2
    assert len(desk.mails("incident-restored")) == 2
    assert "Full operation has been restored" in text_of(desk.mails("incident-restored")[0])


def test_incident_mail_keeps_to_the_caps(tmp_path: Path, database: Database) -> None:
    desk = make_desk(tmp_path, database, cap=2)  # the acknowledgement, then one more an hour
    desk.open("Hank <hank@globex.example>")
    number = _incident_of(desk, 1)
    _update(desk, number, "First.")
    _update(desk, number, "Second.")
    states = [r.state for r in desk.rows("incident-update")]
    assert states == ["pending", "suppressed"]
    assert "cap of 2 automatic mails per hour to hank@globex.example" in str(desk.rows("incident-update")[1].last_error)
