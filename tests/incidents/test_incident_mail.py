"""Mail to an incident's own address: an engineer proven by it reaches everyone; anyone else is held."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from gateway.incidents import lifecycle
from gateway.store.models import Incident, IncidentPost
from tests.incidents.desk import Desk, engineer_mail, text_of


def _setup(desk: Desk) -> int:
    desk.open("Alice <alice@acme.example>")
    desk.open("Hank <hank@globex.example>")

    def do(session, app, now):  # type: ignore[no-untyped-def]
        incident = lifecycle.open_incident(session, app, "Voice platform outage", "dana", now,
                                           ticket=desk.ticket(session, 1))
        lifecycle.link(session, app, incident, desk.ticket(session, 2), "dana", now)
        return incident.id
    return int(desk.act(do))


def _posts(desk: Desk) -> list[IncidentPost]:
    with desk.app.db.sessions() as session:
        return list(session.scalars(select(IncidentPost).order_by(IncidentPost.id)))


QUOTE = "\n\nOn Mon, 23 Nov 2026 at 10:00, Example Support <support@example.com> wrote:\n> Incident 1 opened\n"


def test_an_engineer_writing_to_their_incident_address_updates_everyone(desk: Desk) -> None:
    number = _setup(desk)
    address = desk.incident_address(number)
    assert desk.deliver(engineer_mail("Dana Scully <dana@example.com>", address, "Rerouting calls now." + QUOTE),
                        rcpt=address) == "engineer"
    [post] = _posts(desk)
    assert (post.kind, post.text, post.by, post.inbound_id is not None) == ("update", "Rerouting calls now.", "dana",
                                                                           True)
    for who in ("alice@acme.example", "hank@globex.example"):
        [mail] = desk.mails("incident-update", to=who)
        assert "Rerouting calls now." in text_of(mail) and "Incident 1 opened" not in text_of(mail)
    assert desk.inbound().state == "done"


def test_resolve_and_report_by_mail(desk: Desk) -> None:
    number = _setup(desk)
    address = desk.incident_address(number)
    desk.deliver(engineer_mail("dana@example.com", address, "#incident resolve\n\nAll calls flow again."),
                 rcpt=address)
    assert desk.incident(number).status == "resolved"
    assert len(desk.mails("incident-restored")) == 2
    desk.deliver(engineer_mail("dana@example.com", address, "#incident report pir\n\nThe carrier's fault."),
                 rcpt=address)
    assert [p.report for p in _posts(desk)] == [None, "pir"]
    assert "Post Incident Report" in str(desk.mails("incident-report", to="hank@globex.example")[0]["Subject"])


def test_mail_to_the_address_from_someone_who_is_not_its_engineer_is_held_and_sends_nothing(desk: Desk) -> None:
    number = _setup(desk)
    address = desk.incident_address(number)  # dana's
    assert desk.deliver(engineer_mail("Mallory <mallory@evil.example>", address, "All fine, ignore it."),
                        rcpt=address) == "held"
    assert desk.deliver(engineer_mail("Fox <fox@example.com>", address, "Rerouting."), rcpt=address) == "held"
    assert "not sent to the address of incident #1 issued to fox" in str(desk.inbound().reason)
    assert _posts(desk) == [] and desk.mails("incident-update") == []
    # dana hears that her incident address was used by others; fox that his name was.
    assert desk.mails("engineer-alert", to="dana@example.com")
    assert desk.mails("engineer-alert", to="fox@example.com")


def test_a_forged_from_outweighs_the_address(desk: Desk) -> None:
    number = _setup(desk)
    staff = desk.app.config.staff
    trusting = replace(staff, auth=replace(staff.auth, trusted_authserv_ids=("mx.example.com",)))
    desk.app = replace(desk.app, config=replace(desk.app.config, staff=trusting))
    address = desk.incident_address(number)
    forged = (b"Authentication-Results: mx.example.com; dmarc=fail header.from=example.com\n"
              + engineer_mail("dana@example.com", address, "Fine now."))
    assert desk.deliver(forged, rcpt=address) == "held"
    assert "forged" in str(desk.inbound().reason)


def test_commands_an_incident_does_not_take_are_refused_with_the_reason(desk: Desk) -> None:
    number = _setup(desk)
    address = desk.incident_address(number)
    for body, why in (("#status closed\n\nDone.", "mail to an incident takes #incident resolve"),
                      ("#incident report summary\n\nText.", "no report called 'summary'"),
                      ("#incident resolve", "nothing to send")):
        assert desk.deliver(engineer_mail("dana@example.com", address, body), rcpt=address) == "held"
        assert why in text_of(desk.mails("command-refused", to="dana@example.com")[-1])
    assert _posts(desk) == []


def test_mail_to_a_resolved_incident_without_a_command_is_refused(desk: Desk) -> None:
    number = _setup(desk)
    desk.act(lambda s, app, now: lifecycle.resolve(s, app, s.get(Incident, number), "Back.", "dana", now))
    address = desk.incident_address(number)
    assert desk.deliver(engineer_mail("dana@example.com", address, "One more thing."), rcpt=address) == "held"
    assert "is resolved: updates are over" in text_of(desk.mails("command-refused", to="dana@example.com")[-1])
