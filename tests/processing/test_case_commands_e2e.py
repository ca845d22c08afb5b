"""End to end through `helpdesk run`, SMTP in and a real relay sink out: #merge and #reply by mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from gateway.clock import write_clock_file
from tests.processing.test_engineers_e2e import (
    DKIM_PASS,
    SECRET,
    START,
    Desk,
    config_text,
    engineer_mail,
    events,
    quoting,
    relayed,
    to_of,
)
from tests.support import GatewayProcess, Received, Sink, customer_mail, free_port

pytestmark = pytest.mark.slow

CANNED = '''
[canned.restored]
description = "The service is back"
text = """
Hello {{ customer.name or customer.address }},

full operation of the service has been restored (ticket #{{ ticket.number }}, {{ ticket.subject }}).
"""
'''


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("case-commands")
    sink = Sink().start()
    port = free_port()
    config = root / "config.toml"
    config.write_text(config_text(root / "var", port, sink.port) + CANNED, encoding="utf-8")
    clock = root / "clock"
    write_clock_file(clock, START)
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": SECRET, "HELPDESK_CLOCK_FILE": str(clock)})
    gw.start()
    try:
        yield Desk(gw, sink, clock, root / "var" / "helpdesk.sqlite3")
    finally:
        gw.stop()
        sink.stop()


def merge_notice(m: Received) -> bool:
    return "continues as" in str(m.message["Subject"])


def test_merge_tells_the_merged_tickets_customer_once_and_their_thread_lands_on_the_other(desk: Desk) -> None:
    kept, _m1, _ack1 = desk.open("Alice <alice@acme.example>", "Mail slow", "Mail takes an hour to arrive.")
    merged, mid, _ack2 = desk.open("Bob <bob@acme.example>", "Mail stuck", "My mail is stuck in the outbox.")
    note = desk.notification(merged, "dana@example.com")
    desk.at(desk.now + timedelta(minutes=10))
    desk.send(engineer_mail("Dana Scully <dana@example.com>", to_of(note), f"#merge {kept}" + quoting(note),
                            top=DKIM_PASS, in_reply_to=note["Message-ID"]), "dana@example.com", rcpt=to_of(note))
    told = desk.mail(merge_notice, "the merge notice").message
    assert [a.addr_spec for a in told["To"].addresses] == ["bob@acme.example"]
    assert told["In-Reply-To"] == mid and str(told["Subject"]).startswith(f"[#{kept}] Your request #{merged}")

    # Bob goes on in the thread of the ticket that was merged: his mail lands on the one it joined.
    desk.at(desk.now + timedelta(minutes=5))
    desk.send(customer_mail("Bob <bob@acme.example>", "Re: Mail stuck", "Still stuck.", in_reply_to=mid,
                            references=mid), "bob@acme.example")
    desk.settle()
    after = desk.show(kept)
    assert [m["text"] for m in after["messages"] if m["kind"] == "customer"][-1] == "Still stuck."
    assert not [m for m in desk.show(merged)["messages"] if m["direction"] == "in"]
    assert desk.show(merged)["merged_into"] == kept and desk.show(merged)["status"] == "closed"
    assert f"merged into #{kept}: its mail lands there" in desk.gw.cli("tickets", "show", str(merged)).stdout.decode()
    assert f"merged into it: #{merged}" in desk.gw.cli("tickets", "show", str(kept)).stdout.decode()
    (merge,) = events(after, "ticket-merged")
    assert merge["detail"]["merged"] == merged and merge["actor"] == "dana@example.com"
    # Dana hears of Bob's reply on the ticket it landed on; Bob was told of the merge once, no more.
    desk.mail(lambda m: m.rcpt_tos == ["dana@example.com"] and f"[#{kept}] Customer reply" in m.message["Subject"],
              f"the notification of Bob's reply on #{kept}")
    desk.settle()
    assert len(desk.mails(merge_notice)) == 1


def test_a_canned_reply_reaches_the_customer_once_in_their_thread(desk: Desk) -> None:
    number, mid, _ack = desk.open("Carol <carol@acme.example>", "Portal down", "The portal shows an error 500.")
    note = desk.notification(number, "dana@example.com")
    desk.at(desk.now + timedelta(minutes=15))
    body = "#eta +2h\n#reply restored\n" + quoting(note)
    desk.send(engineer_mail("Dana Scully <dana@example.com>", to_of(note), body,
                            top=DKIM_PASS, in_reply_to=note["Message-ID"]), "dana@example.com", rcpt=to_of(note))
    out = desk.mail(lambda m: relayed(m) and m.rcpt_tos == ["carol@acme.example"], "the canned reply").message
    assert str(out["From"]) == "Dana Scully via Example Support <support@example.com>"
    assert out["In-Reply-To"] == mid and mid in str(out["References"])
    assert out["Subject"] == f"Re: [#{number}] Portal down"
    text = " ".join(out.get_content().split())
    assert text.startswith(f"Hello Carol, full operation of the service has been restored (ticket #{number}, "
                           "Portal down).")
    assert "#reply" not in text and "Reply above this line" not in text
    desk.settle()
    assert len(desk.mails(lambda m: relayed(m) and "carol@acme.example" in m.rcpt_tos)) == 1
    ticket = desk.show(number)
    assert events(ticket, "canned-reply")[0]["detail"] == {"name": "restored", "reached_customer": True}
    assert events(ticket, "public-response")
    eta = desk.now + timedelta(hours=2)
    assert ticket["eta"] == eta.isoformat()
    shown = desk.gw.cli("tickets", "show", str(number)).stdout.decode()
    assert f"estimated time to resolution: {ticket['eta_local']} (as the customer is told; {eta.isoformat()})" in shown
    assert "GMT" in ticket["eta_local"]  # the customer's time zone: London in November
