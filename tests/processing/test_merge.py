"""#merge N by mail: one ticket joins another, its customer told once, and its mail lands there after."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from gateway.reports.sla_history import clock_runs
from gateway.store.models import OutboxMessage
from tests.processing.test_case_commands import START, Desk, desk, text_of
from tests.support import customer_mail

__all__ = ["desk"]


def _customer_token(msg: EmailMessage) -> str:
    return str(msg["Reply-To"].addresses[0].addr_spec)


def test_a_merge_moves_the_mail_people_and_history_and_tells_the_customer_once(desk: Desk) -> None:
    first, _m1 = desk.open("VPN slow", "The VPN is slow since 9:00.")
    desk.clock.set(START + timedelta(minutes=5))
    second, m2 = desk.open("Everything down", "Everything is down now.", sender="Bob <bob@acme.example>")
    (ack2,) = desk.outbox("acknowledgement", to="bob@acme.example")
    desk.clock.set(START + timedelta(minutes=8))
    assert desk.engineer(second, f"#merge {first}") == "engineer"

    merged, kept = desk.ticket(second), desk.ticket(first)
    assert (merged["status"], merged["merged_into"]) == ("closed", first)
    assert kept["merged_from"] == [second]
    assert [m["text"] for m in kept["messages"] if m["kind"] == "customer"] == [
        "The VPN is slow since 9:00.", "Everything is down now."]
    assert [p["address"] for p in kept["participants"]] == ["alice@acme.example", "bob@acme.example"]
    copied = [e["kind"] for e in kept["events"] if e["kind"].startswith("merged:")]
    assert "merged:ticket-opened" in copied and "merged:sla-clock-started" in copied
    # The more urgent priority and the earlier promise: the P1's 15 minutes from 10:05.
    assert kept["priority"] == "P1"
    assert kept["due"] == {"clock": "first_response", "deadline": "2026-11-23T10:20:00+00:00"}

    (notice,) = desk.outbox("merge-notice")
    assert [a.addr_spec for a in notice["To"].addresses] == ["bob@acme.example"]
    assert notice["In-Reply-To"] == m2 and notice["Subject"] == f"[#{first}] Your request #{second} continues as " \
                                                                f"#{first}: Everything down"
    assert f"we go on working on it as #{first}" in text_of(notice)

    # Later mail to the merged ticket, every way it can come, lands on the one it joined.
    replies = [
        customer_mail("Bob <bob@acme.example>", "Re: Everything down", "By thread.", in_reply_to=m2),
        customer_mail("Bob <bob@acme.example>", "Re: x", "By the reply address."),
        customer_mail("Bob <bob@acme.example>", f"Re: [#{second}] Everything down", "By the subject tag."),
    ]
    assert desk.deliver(replies[0]) == "reply"
    assert desk.deliver(replies[1], rcpt=_customer_token(ack2)) == "reply"
    assert desk.deliver(replies[2]) == "reply"
    texts = [m["text"] for m in desk.ticket(first)["messages"] if m["kind"] == "customer"]
    assert texts[-3:] == ["By thread.", "By the reply address.", "By the subject tag."]
    assert not [m for m in desk.ticket(second)["messages"] if m["direction"] == "in"]

    # The engineer's reply to the merged ticket's notification lands there too, and reaches both customers.
    assert desk.engineer(second, "Working on it.") == "engineer"
    (relay,) = desk.outbox("relay")
    assert [a.addr_spec for a in relay["To"].addresses + relay["Cc"].addresses] == ["alice@acme.example",
                                                                                    "bob@acme.example"]
    assert len(desk.outbox("merge-notice")) == 1


def test_the_merged_ticket_keeps_no_promise_of_its_own_in_the_report(desk: Desk) -> None:
    first, _m1 = desk.open("VPN slow", "The VPN is slow.")
    desk.clock.set(START + timedelta(minutes=5))
    second, _m2 = desk.open("Everything down", "Everything is down now.")
    desk.clock.set(START + timedelta(minutes=8))
    desk.engineer(second, f"#merge {first}")
    desk.clock.set(START + timedelta(minutes=12))
    desk.engineer(first, "Looking at it.")
    with desk.app.db.sessions() as session:
        runs = [(r.ticket, r.clock, r.outcome(START + timedelta(hours=1))[0], r.deadline)
                for r in clock_runs(session, START + timedelta(hours=1))]
    first_response = [r for r in runs if r[1] == "first_response"]
    # One first-response promise: the P1's, due 10:20 and met at 10:12 on the ticket it joined.
    assert [(t, outcome) for t, _c, outcome, _d in first_response] == [(first, "met")]
    assert first_response[0][3] is not None and first_response[0][3].isoformat() == "2026-11-23T10:20:00+00:00"


@pytest.mark.parametrize(("body", "why"), [
    ("#merge {self}", "a ticket cannot be merged into itself"),
    ("#merge 99", "there is no ticket #99"),
    ("#merge {other}\nThis is the same as your other request.",
     "#merge stands alone, with no other command and no text: the customer of this ticket is told by the "
     "gateway; write the rest on the ticket it joins"),
    ("#merge {other}\n#status pending", "#merge stands alone, with no other command and no text: the customer of "
                                        "this ticket is told by the gateway; write the rest on the ticket it joins"),
    ("#merge {globex}", "ticket #{globex} is Globex's and this one is Acme's: merging would show each customer the "
                        "other's mail"),
])
def test_a_merge_that_cannot_be_is_refused(desk: Desk, body: str, why: str) -> None:
    other, _m = desk.open("VPN slow", "Slow.")
    globex, _g = desk.open("Printer", "Jammed.", sender="Gil <gil@globex.example>")
    number, _mid = desk.open("VPN down", "Down.")
    values = {"self": number, "other": other, "globex": globex}
    assert desk.engineer(number, body.format(**values)) == "held"
    assert why.format(**values) in desk.refused(number)
    assert desk.ticket(number)["merged_into"] is None and not desk.outbox("merge-notice")


def test_no_merge_into_a_closed_or_merged_ticket(desk: Desk) -> None:
    closed, _a = desk.open("Old", "Old issue.")
    desk.engineer(closed, "#status closed")
    gone, _b = desk.open("Gone", "Merged away.")
    into, _c = desk.open("Kept", "Kept issue.")
    desk.engineer(gone, f"#merge {into}")
    number, _mid = desk.open("New", "New issue.")
    desk.engineer(number, f"#merge {closed}")
    assert desk.refused(number) == [f"ticket #{closed} is closed: reopen it first (#status open on #{closed}), or "
                                    "merge it into this one"]
    # Mail for the merged ticket lands on the one it joined, so #merge into it means that one.
    desk.engineer(number, f"#merge {gone}")
    assert desk.refused(number) == [f"ticket #{gone} was itself merged into #{into}: merge into #{into}"]


def test_the_same_merge_sent_again_is_refused_and_the_customer_told_once(desk: Desk) -> None:
    first, _m1 = desk.open("VPN slow", "Slow.")
    second, _m2 = desk.open("VPN down", "Down.")
    desk.engineer(second, f"#merge {first}")
    # Sent again to the merged ticket's address: it lands on the ticket it joined, itself.
    assert desk.engineer(second, f"#merge {first}") == "held"
    assert desk.refused(first) == ["a ticket cannot be merged into itself"]
    with desk.app.db.sessions() as session:
        keys = list(session.scalars(select(OutboxMessage.cause_key).where(OutboxMessage.kind == "merge-notice")))
    assert keys == [f"merged:{second}"]


def test_the_earlier_eta_and_an_agreed_cadence_come_along_with_their_clock(desk: Desk) -> None:
    first, _m1 = desk.open("Everything down", "Everything is down.")  # P1 at 10:00: updates due 10:30
    desk.clock.set(START + timedelta(minutes=2))
    second, _m2 = desk.open("Everything down again", "Everything is down, all sites.")
    desk.clock.set(START + timedelta(minutes=3))
    desk.engineer(second, "#eta +1h\n#update-every 20m")  # its next update due 10:23
    desk.clock.set(START + timedelta(minutes=5))
    desk.engineer(second, f"#merge {first}")
    kept = desk.ticket(first)
    assert (kept["eta"], kept["update_every"]) == ("2026-11-23T11:03:00+00:00", "20 minutes")
    assert kept["due"] == {"clock": "first_response", "deadline": "2026-11-23T10:15:00+00:00"}  # its own, sooner
    desk.at(START + timedelta(minutes=23))
    (notice,) = desk.outbox("update-notice")
    assert f"[#{first}]" in str(notice["Subject"])
    assert "Our estimated time to resolution: Monday 23 November 2026 11:03 GMT." in text_of(notice)
