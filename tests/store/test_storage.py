"""Intake, processing and the outbox against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import email
import email.policy
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, event, func, inspect, select, text

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.errors import StorageError
from gateway.outbound import reply_token
from gateway.outbound.outbox import Draft, queue
from gateway.processing import worker as processor
from gateway.processing.worker import Processor
from gateway.store.claimed import Claimed
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import AddressFlag, Event, InboundMessage, OutboxMessage, Ticket
from gateway.store.tickets import open_ticket
from parsers.parse import parse
from tests import worlds
from tests.support import customer_mail, install_failing_trigger, install_refusing_trigger, wait_for

ENV = Envelope(mail_from="alice@customer.example", rcpt_to=("support@example.com",))


def _store(app: App, raw: bytes, envelope: Envelope = ENV) -> int:
    return store_inbound(app.db, raw, source="test", envelope=envelope,
                         received_at=app.clock.now()).inbound_id


def _count(app: App, model: type, *where: object) -> int:
    with app.db.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def _outbox(app: App) -> list[OutboxMessage]:
    with app.db.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_same_delivery_is_stored_once(make_app: Callable[..., App]) -> None:
    app = make_app()
    raw = customer_mail("Alice <alice@customer.example>", "Printer on fire", "Help!")
    first = store_inbound(app.db, raw, source="smtp", envelope=ENV, received_at=app.clock.now())
    again = store_inbound(app.db, raw, source="smtp", envelope=ENV, received_at=app.clock.now())
    assert not first.duplicate and again.duplicate and again.inbound_id == first.inbound_id
    assert _count(app, InboundMessage) == 1


def test_new_mail_opens_ticket_and_queues_threaded_ack(make_app: Callable[..., App]) -> None:
    app = make_app()
    raw = customer_mail("Alice Example <alice@customer.example>", "Printer on fire", "Help!",
                        message_id="<m1@customer.example>")
    _store(app, raw)
    assert Processor(app).drain() == {"ticket": 1}
    [out] = _outbox(app)
    ack = email.message_from_bytes(out.raw, policy=email.policy.default)
    with app.db.sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
    assert out.rcpt_to == ["alice@customer.example"]
    assert ack["In-Reply-To"] == "<m1@customer.example>"
    assert f"[#{ticket.id}]" in ack["Subject"]
    assert ack["Auto-Submitted"] == "auto-replied"
    token = reply_token.parse_reply_address(ack["Reply-To"].addresses[0].addr_spec, ("support@example.com",))
    assert token is not None and token.ticket_id == ticket.id
    assert reply_token.verify(app.secret, token)
    assert f"#{ticket.id}" in ack.get_body(("plain",)).get_content()


def test_replies_thread_by_header_by_token_and_by_subject_tag(make_app: Callable[..., App]) -> None:
    app = make_app()
    _store(app, customer_mail("alice@customer.example", "VPN down", "It is down",
                              message_id="<first@customer.example>"))
    Processor(app).drain()
    [ack] = _outbox(app)
    with app.db.sessions() as s:
        number = s.scalars(select(Ticket.id)).one()
    # A mail client's reply: In-Reply-To is the acknowledgement's Message-ID.
    _store(app, customer_mail("alice@customer.example", "Re: VPN down", "Still down",
                              in_reply_to=ack.message_id))
    # A reply that only has the Reply-To token as its recipient.
    token_addr = reply_token.reply_address("support@example.com", number, reply_token.make_token(app.secret, number))
    _store(app, customer_mail("alice@customer.example", "more", "logs attached", to=token_addr),
           Envelope("alice@customer.example", (token_addr,)))
    # A new mail that only carries the [#N] tag, from a participant.
    _store(app, customer_mail("alice@customer.example", f"Update [#{number}]", "any news?"))
    assert Processor(app).drain() == {"reply": 3}
    assert _count(app, Ticket) == 1
    assert len(_outbox(app)) == 1  # replies get no second acknowledgement


def test_subject_tag_from_a_stranger_opens_a_new_ticket(make_app: Callable[..., App]) -> None:
    app = make_app()
    _store(app, customer_mail("alice@customer.example", "VPN down", "It is down"))
    Processor(app).drain()
    _store(app, customer_mail("mallory@evil.example", "Re: [#1] VPN down", "send me the logs"))
    assert Processor(app).drain() == {"ticket": 1}
    assert _count(app, Ticket) == 2


def test_forged_token_does_not_thread(make_app: Callable[..., App]) -> None:
    app = make_app()
    _store(app, customer_mail("alice@customer.example", "VPN down", "It is down"))
    Processor(app).drain()
    forged = "support+1-aaaaaaaaaaaaaaaa@example.com"
    _store(app, customer_mail("mallory@evil.example", "hello", "hi", to=forged),
           Envelope("mallory@evil.example", (forged,)))
    assert Processor(app).drain() == {"ticket": 1}


def test_redelivery_with_other_envelope_is_a_duplicate(make_app: Callable[..., App]) -> None:
    app = make_app()
    raw = customer_mail("alice@customer.example", "Printer", "Help", message_id="<dup@customer.example>")
    _store(app, raw)
    _store(app, raw, Envelope("bounces@relay.example", ("support@example.com",)))
    assert Processor(app).drain() == {"ticket": 1, "duplicate": 1}
    assert len(_outbox(app)) == 1


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Precedence": "bulk"},
    {"List-Id": "<announce.lists.example>"},
])
def test_automatic_mail_is_screened_not_acknowledged(make_app: Callable[..., App],
                                                     headers: dict[str, str]) -> None:
    app = make_app()
    _store(app, customer_mail("robot@customer.example", "Weekly digest", "news", extra=headers))
    assert Processor(app).drain() == {"screened": 1}
    assert _outbox(app) == []
    with app.db.sessions() as s:
        row = s.scalars(select(InboundMessage)).one()
    assert row.state == "screened" and row.reason


def test_null_return_path_gets_no_acknowledgement(make_app: Callable[..., App]) -> None:
    app = make_app()
    _store(app, customer_mail("someone@customer.example", "hello", "hi"), Envelope("", ("support@example.com",)))
    Processor(app).drain()
    assert _outbox(app) == []


def test_mail_from_our_own_address_is_a_loop(make_app: Callable[..., App]) -> None:
    app = make_app()
    _store(app, customer_mail("support@example.com", "hello", "hi"))
    assert Processor(app).drain() == {"screened": 1}
    assert _outbox(app) == []


def test_failed_commit_stores_nothing(make_app: Callable[..., App]) -> None:
    app = make_app()
    install_failing_trigger(app.db)
    with pytest.raises(StorageError):
        _store(app, customer_mail("alice@customer.example", "FAIL-COMMIT", "boom"))
    assert _count(app, InboundMessage) == 0


def test_quarantine_keeps_the_reason_and_retry_requeues(make_app: Callable[..., App]) -> None:
    app = make_app()
    raw = b"From: a@b.example\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + \
        b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(200))
    _store(app, raw)
    assert Processor(app).drain() == {"quarantined": 1}
    with app.db.sessions() as s:
        row = s.scalars(select(InboundMessage)).one()
        events = list(s.scalars(select(Event).where(Event.kind == "quarantined")))
    assert row.state == "quarantined" and "mime_depth" in (row.reason or "")
    assert len(events) == 1
    with app.db.transaction() as s:  # what `helpdesk quarantine retry` does
        s.get(InboundMessage, row.id).state = "pending"  # type: ignore[union-attr]
    assert Processor(app).drain() == {"quarantined": 1}
    with app.db.sessions() as s:
        assert s.get(InboundMessage, row.id).attempts == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("subjects", [["first", "REFUSE-ME please", "third"], ["first", "third", "REFUSE-ME please"]],
                         ids=["middle", "last"])
# On PostgreSQL: a value too long (22001, a DataError) and an index entry too large (54000,
# "program limit exceeded", which arrives as an OperationalError like a lost connection).
@pytest.mark.parametrize("pg_errcode", ["22001", "54000"])
def test_a_mail_the_database_refuses_is_quarantined_and_does_not_block_the_others(
        make_app: Callable[..., App], subjects: list[str], pg_errcode: str) -> None:
    app = make_app()
    install_refusing_trigger(app.db, pg_errcode)
    for n, subject in enumerate(subjects):
        _store(app, customer_mail(f"c{n}@customer.example", subject, "Help."))
    assert Processor(app).drain() == {"ticket": 2, "quarantined": 1}
    with app.db.sessions() as s:
        [bad] = s.scalars(select(InboundMessage).where(InboundMessage.state == "quarantined"))
        subjects = sorted(t.subject for t in s.scalars(select(Ticket)))
    assert subjects == ["first", "third"]
    assert bad.reason.startswith("the database refused it:") and "refused by test trigger" in bad.reason
    assert Processor(app).drain() == {}  # nothing left pending to fail the next batch


def test_values_longer_than_their_columns_still_make_a_ticket(make_app: Callable[..., App]) -> None:
    app = make_app()
    raw = (f"From: c@customer.example\r\nTo: support@example.com\r\nSubject: long\r\n"
           f"Message-ID: <{'m' * 1500}@customer.example>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
           f"--b\r\nContent-Type: application/{'x' * 400}\r\n"
           "Content-Disposition: attachment; filename=a.bin\r\n\r\nDATA\r\n--b--\r\n").encode()
    _store(app, raw)
    assert Processor(app).drain() == {"ticket": 1}


_HEAD = b"From: a@customer.example\r\nTo: support@example.com\r\nMIME-Version: 1.0\r\n"
_ATTACHED = (b"Subject: n\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
             b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
             b"--b\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n"
             b"DATA\r\n--b--\r\n")
HOSTILE_VALUES = {  # each a customer's mail all the same: a ticket on SQLite and on PostgreSQL alike
    "NUL in the body": b"Subject: n\r\nContent-Type: text/plain\r\n\r\nhello\x00world\r\n",
    "NUL in the subject": b"Subject: nu\x00l\r\n\r\nhello\r\n",
    "NUL, encoded, in subject and name": b"Subject: =?utf-8?q?nu=00l?=\r\n"
                                         b"Cc: =?utf-8?q?A=00B?= <b@c.example>\r\n\r\nhi\r\n",
    "NUL in a Message-ID": b"Subject: n\r\nMessage-ID: <a\x00b@customer.example>\r\n\r\nhello\r\n",
    "NUL in an attachment's name": _ATTACHED % (b"application/pdf", b"a\x00b.pdf"),
    "NUL in an attachment's type": _ATTACHED % (b"application/p\x00df", b"a.pdf"),
    "8-bit junk in an attachment's type": _ATTACHED % (b"application/\xff\xfe" + b"x" * 300, b"a.pdf"),
    "a lone surrogate in UTF-8": b"Subject: caf\xed\xa0\x80\r\n"
                                 b"Content-Type: text/plain; charset=utf-8\r\n\r\n\xed\xa0\x80\r\n",
    "NUL in base64 text": b"Subject: n\r\nContent-Type: text/plain\r\n"
                          b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8Ad29ybGQ=\r\n",
}


@pytest.mark.parametrize("rest", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_hostile_values_make_a_ticket_not_a_quarantine(make_app: Callable[..., App], rest: bytes) -> None:
    app = make_app()
    _store(app, _HEAD + rest)
    assert Processor(app).drain() == {"ticket": 1}


def test_a_message_id_too_large_for_an_index_makes_a_ticket_and_its_reply_finds_it(
        make_app: Callable[..., App]) -> None:
    app = make_app()
    rnd = random.Random(5)
    # 880 random 4-byte characters: 3.5 kB, past a PostgreSQL index entry, and incompressible.
    long_id = "<" + "".join(chr(rnd.randint(0x10000, 0x1FFFF)) for _ in range(880)) + "@customer.example>"

    def mail(subject: str, threading: str) -> bytes:  # 8-bit headers, as a hostile sender writes them
        return (f"From: c@customer.example\r\nTo: support@example.com\r\nSubject: {subject}\r\n{threading}"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHelp.\r\n").encode()

    _store(app, mail("Odd mail", f"Message-ID: {long_id}\r\n"))
    _store(app, customer_mail("d@customer.example", "Behind it", "Help too."))
    assert Processor(app).drain() == {"ticket": 2}
    _store(app, mail("Re: Odd mail", f"Message-ID: <r1@customer.example>\r\nIn-Reply-To: {long_id}\r\n"
                                     f"References: {long_id}\r\n"))
    assert Processor(app).drain() == {"reply": 1}
    with app.db.sessions() as s:
        odd = s.scalars(select(Ticket).where(Ticket.subject == "Odd mail")).one()
        assert [m.subject for m in odd.messages if m.direction == "in"] == ["Odd mail", "Re: Odd mail"]


def test_a_cause_longer_than_its_column_is_still_served_once(make_app: Callable[..., App]) -> None:
    app = make_app()
    long_address = "x" * 250 + "@customer.example"  # a hostile sender goes into the cause key
    keys = [f"unknown-sender:{long_address}:2026-11-23", f"unknown-sender:{long_address}:2026-11-24"]
    queued = []
    for key in [*keys, keys[0]]:
        with app.db.transaction() as session:
            queued.append(queue(session, app.outbox_policy, Draft(
                kind="unknown-sender", cause_key=key, ticket_id=None, to=(("", "c@customer.example"),),
                subject="s", text="t"), app.clock.now()) is not None)
    assert queued == [True, True, False]  # two causes (no collision of their long keys), the first once
    assert [len(o.cause_key) for o in _outbox(app)] == [255, 255]


def test_loop_guard_caps_automatic_mail_per_address(make_app: Callable[..., App], clock: FakeClock) -> None:
    app = make_app("max_per_address_per_hour = 3")
    # Six subjects of six shapes: none of them a repeat of another (repeats are not acknowledged).
    for topic in ("login", "billing", "export", "invoice", "password", "upgrade"):
        _store(app, customer_mail("bot@peer.example", f"request about {topic}", "hello"))
    Processor(app).drain()
    states = [o.state for o in _outbox(app)]
    assert states.count("pending") == 3 and states.count("suppressed") == 3
    clock.advance(timedelta(hours=1, seconds=1))
    _store(app, customer_mail("bot@peer.example", "request later", "hello"))
    Processor(app).drain()
    assert _outbox(app)[-1].state == "pending"


def test_undeliverable_sender_still_gets_a_ticket_without_an_ack(make_app: Callable[..., App]) -> None:
    app = make_app()
    _store(app, customer_mail("vondruch", "help", "my From has no domain"))
    assert Processor(app).drain() == {"ticket": 1}
    assert _outbox(app) == []
    with app.db.sessions() as s:
        event = s.scalars(select(Event).where(Event.kind == "mail-suppressed")).one()
    assert "not a deliverable address" in event.detail["reason"]


def _bounce_of(out: OutboxMessage, recipient: str | None = None, action: str = "failed",
               status: str = "5.1.1") -> bytes:
    """A mail server's RFC 3464 report on ``out`` for ``recipient``: by default, undeliverable."""
    return (
        "From: MAILER-DAEMON@mx.customer.example\r\nTo: support@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <bounce-{out.id}@mx.customer.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient or out.recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--r\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@example.com\r\nTo: {out.recipient}\r\nMessage-ID: {out.message_id}\r\n"
        "--r--\r\n").encode()


def test_an_address_that_bounced_three_times_gets_no_more_automatic_mail(make_app: Callable[..., App]) -> None:
    app = make_app()
    gone = Envelope(mail_from="gone@customer.example", rcpt_to=("support@example.com",))
    for i in range(3):
        _store(app, customer_mail("gone@customer.example", f"request {i}", "hello"), gone)
        Processor(app).drain()
        _store(app, _bounce_of(_outbox(app)[-1]), Envelope(mail_from=None, rcpt_to=("support@example.com",)))
        assert Processor(app).drain() == {"screened": 1}
    assert [o.state for o in _outbox(app)] == ["bounced"] * 3
    _store(app, customer_mail("gone@customer.example", "request 4", "hello"), gone)
    assert Processor(app).drain() == {"ticket": 1}
    assert len(_outbox(app)) == 3  # the fourth ticket is opened, its acknowledgement not queued
    with app.db.sessions() as s:
        reasons = [e.detail["reason"] for e in s.scalars(select(Event).where(Event.kind == "mail-suppressed"))]
    assert reasons == ["gone@customer.example is flagged undeliverable (repeated hard bounces or a complaint)"]


def test_only_the_recipient_a_bounce_names_is_counted(make_app: Callable[..., App]) -> None:
    """A mail to the customer with a colleague in Cc whose address is gone: three bounces flag
    the colleague, never the customer."""
    app = make_app()
    for i in range(3):
        with app.db.transaction() as session:
            queue(session, app.outbox_policy, Draft(
                kind="unknown-sender", cause_key=f"cc-test-{i}", ticket_id=None,
                to=(("Alice", "alice@customer.example"),), cc=(("Bob", "bob@customer.example"),),
                subject="s", text="t"), app.clock.now())
        _store(app, _bounce_of(_outbox(app)[-1], recipient="bob@customer.example"),
               Envelope(mail_from=None, rcpt_to=("support@example.com",)))
        assert Processor(app).drain() == {"screened": 1}
    with app.db.sessions() as s:
        flags = {f.address: f.undeliverable for f in s.scalars(select(AddressFlag))}
    assert flags == {"bob@customer.example": True}
    assert {o.state for o in _outbox(app)} == {"pending"}  # alice was not refused: the mail stands


@pytest.mark.parametrize(("action", "status", "event"), [("delivered", "2.0.0", "delivery-reported"),
                                                        ("delayed", "4.4.7", "delivery-delayed")])
def test_a_success_report_or_a_delay_is_no_bounce(make_app: Callable[..., App], action: str, status: str,
                                                  event: str) -> None:
    app = make_app()
    _store(app, customer_mail("alice@customer.example", "Printer", "help"))
    Processor(app).drain()
    for i in range(3):
        report = _bounce_of(_outbox(app)[0], action=action, status=status).replace(b"<bounce-", b"<bounce%d-" % i)
        _store(app, report, Envelope(mail_from=None, rcpt_to=("support@example.com",)))
        Processor(app).drain()
    assert _outbox(app)[0].state == "pending"
    with app.db.sessions() as s:
        assert s.scalars(select(AddressFlag)).all() == []
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.kind.like("delivery-%")))]
    assert kinds == [event] * 3


def _complaint_about(out: OutboxMessage, feedback_type: str = "abuse") -> bytes:
    """A mailbox provider's ARF report (RFC 5965) that ``out``'s recipient marked it as spam."""
    return (
        "From: fbl@isp.example\r\nTo: support@example.com\r\nSubject: Abuse Report\r\n"
        f"Message-ID: <fbl-{out.id}-{feedback_type}@isp.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\r\n\r\n'
        "--f\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        f"--f\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: {feedback_type}\r\n"
        "Version: 1\r\nUser-Engineer: FBL/1.0\r\nOriginal-Rcpt-To: <redacted>\r\n"
        "--f\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@example.com\r\nTo: {out.recipient}\r\nMessage-ID: {out.message_id}\r\n"
        "--f--\r\n").encode()


@pytest.mark.parametrize(("feedback_type", "flagged"), [("abuse", True), ("auth-failure", False)])
def test_a_complaint_about_our_mail_stops_automatic_mail_to_the_complainant(
        make_app: Callable[..., App], feedback_type: str, flagged: bool) -> None:
    """Someone forged a victim's address; we acknowledged; the victim reported it as spam."""
    app = make_app()
    victim = Envelope(mail_from="victim@customer.example", rcpt_to=("support@example.com",))
    _store(app, customer_mail("victim@customer.example", "cheap pills", "buy"), victim)
    Processor(app).drain()
    _store(app, _complaint_about(_outbox(app)[0], feedback_type), Envelope("", ("support@example.com",)))
    assert Processor(app).drain() == {"screened": 1}
    with app.db.sessions() as s:
        row = s.scalars(select(InboundMessage).where(InboundMessage.verdict == "feedback-report")).one()
        event = s.scalars(select(Event).where(Event.kind == "complaint")).one()
        flags = {f.address: f.undeliverable for f in s.scalars(select(AddressFlag))}
    assert row.state == "screened" and "feedback-report" in row.reason and row.ticket_id == event.ticket_id
    assert event.detail["feedback_type"] == feedback_type and event.detail["to"] == ["victim@customer.example"]
    assert flags == ({"victim@customer.example": True} if flagged else {})
    _store(app, customer_mail("victim@customer.example", "more pills", "buy"), victim)
    Processor(app).drain()
    assert len(_outbox(app)) == (1 if flagged else 2)  # no acknowledgement to a complainant


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_on_postgresql_mail_bytes_are_compressed_with_lz4(make_app: Callable[..., App]) -> None:
    app = make_app()
    with app.db.engine.connect() as conn:
        methods = dict(conn.execute(text(
            "SELECT attrelid::regclass::text || '.' || attname, attcompression FROM pg_attribute "
            "WHERE attrelid::regclass::text IN ('inbound_messages', 'outbox', 'blobs') "
            "AND attname IN ('raw', 'data')")).all())
    assert methods == {"inbound_messages.raw": "l", "outbox.raw": "l", "blobs.data": "l"}


def test_a_held_mail_delivered_twice_opens_its_ticket_when_approved(make_app: Callable[..., App]) -> None:
    """The second copy is a duplicate of the held one; approving the held one must not make it a
    duplicate of its own copy in turn."""
    base = make_app()
    data_dir = base.config.gateway.data_dir
    held = worlds.world(worlds.gateway(data_dir, name=None, timezone=None, unknown_senders="hold"),
                        worlds.outbound(directory=data_dir / "outbox"))
    app = build_app(load_config(None, text=held), base.clock, db=base.db)
    raw = customer_mail("stranger@unknown.example", "Please help", "My server is down",
                        message_id="<s1@unknown.example>")
    first = _store(app, raw)
    _store(app, raw, Envelope("bounces@relay.example", ("support@example.com",)))
    assert Processor(app).drain() == {"held": 1, "duplicate": 1}
    with app.db.transaction() as s:  # what `helpdesk held approve` does
        row = s.get(InboundMessage, first)
        assert row is not None
        row.state, row.verdict = "pending", "approved"
    assert Processor(app).drain() == {"ticket": 1}
    assert [o.kind for o in _outbox(app)] == ["acknowledgement"]


def test_each_quarantined_mail_of_a_batch_keeps_its_event(make_app: Callable[..., App]) -> None:
    app = make_app()
    junk = "".join(f"X-Junk-{i}: x\r\n" for i in range(2100))  # past the 2,000 header fields limit
    _store(app, customer_mail("alice@customer.example", "ok 1", "fine"))
    bad = [_store(app, (junk + f"Subject: bad {n}\r\n").encode() + customer_mail("alice@customer.example",
                                                                                 f"bad {n}", "x"))
           for n in (1, 2)]
    _store(app, customer_mail("alice@customer.example", "ok 2", "fine"))
    assert Processor(app).drain() == {"ticket": 2, "quarantined": 2}
    with app.db.sessions() as s:
        quarantined = sorted(e.inbound_id for e in s.scalars(select(Event).where(Event.kind == "quarantined")))
    assert quarantined == bad


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_two_workers_with_two_copies_of_one_mail_open_one_ticket(make_app: Callable[..., App],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker A has opened the ticket for copy 1 but not committed when worker B takes copy 2: B
    waits for A's commit and finds the copy, instead of opening a second ticket."""
    app = make_app()
    raw = customer_mail("alice@customer.example", "VPN down", "It is down", message_id="<vpn1@customer.example>")
    _store(app, raw)
    _store(app, raw, Envelope("bounces@relay.example", ("support@example.com",)))
    holding, release = threading.Event(), threading.Event()
    real = processor.record_outcomes

    def held_before_commit(conn: Connection, done: list[tuple[Claimed, datetime]]) -> None:
        if threading.current_thread().name == "A":
            holding.set()
            release.wait(30)
        real(conn, done)

    monkeypatch.setattr(processor, "record_outcomes", held_before_commit)
    outcomes: dict[str, list[str]] = {}
    a = threading.Thread(target=lambda: outcomes.setdefault("A", Processor(app).process_batch(1)), name="A")
    b = threading.Thread(target=lambda: outcomes.setdefault("B", Processor(app).process_batch(20)), name="B")
    a.start()
    try:
        assert holding.wait(30)
        b.start()
        with app.db.engine.connect() as conn:
            wait_for(lambda: conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                               "AND NOT granted")).scalar(), what="worker B waiting for A's copy")
    finally:
        release.set()
        a.join(30)
        if b.is_alive() or b.ident is not None:
            b.join(30)
    assert outcomes == {"A": ["ticket"], "B": ["duplicate"]}
    assert _count(app, Ticket) == 1 and len(_outbox(app)) == 1


def test_a_mail_with_an_international_message_id_is_acknowledged(make_app: Callable[..., App]) -> None:
    """RFC 6532 allows UTF-8 in a Message-ID; our answer cannot carry it without SMTPUTF8, so it
    goes without that id in its threading headers (and the reply token still threads the reply)."""
    app = make_app()
    _store(app, "From: alice@customer.example\r\nTo: support@example.com\r\nSubject: Réseau en panne\r\n"
                "Message-ID: <café-1@customer.example>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                "Plus rien ne marche.\r\n".encode())
    assert Processor(app).drain() == {"ticket": 1}
    [ack] = _outbox(app)
    msg = email.message_from_bytes(ack.raw, policy=email.policy.default)
    assert msg["Subject"] == "[#1] Réseau en panne" and "In-Reply-To" not in msg


def test_a_quoted_local_part_is_answered_at_that_mailbox(make_app: Callable[..., App]) -> None:
    app = make_app()
    _store(app, customer_mail('"john doe"@customer.example', "Printer", "help"))
    assert Processor(app).drain() == {"ticket": 1}
    [ack] = _outbox(app)
    assert ack.rcpt_to == ['"john doe"@customer.example']
    msg = email.message_from_bytes(ack.raw, policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == '"john doe"@customer.example'


@pytest.mark.parametrize("name", ["setup.exe.", "setup.exe ", "x" * 194 + ".exe ." + "b" * 20])
def test_a_blocked_type_is_refused_however_its_name_ends(name: str) -> None:
    """Windows runs "setup.exe." as setup.exe; a name cut to size must not hide its type either."""
    from gateway.store.tickets import attachment_refusal
    from parsers.attachments import sanitise_filename
    shown = sanitise_filename(name, 1, "application/octet-stream")
    assert attachment_refusal(shown, "application/octet-stream", 10, (".exe",), None) == "blocked type .exe"


def test_a_new_ticket_is_known_whole_no_column_left_to_load(database: Database) -> None:
    """open_ticket writes one INSERT and puts the ticket in the session as loaded: reading any of
    its columns afterwards (a stage, the next wake-up) must not cost another query."""
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    mail = parse(b"From: A <a@customer.example>\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
                 received_at=now)
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with database.transaction() as session:
        ticket = open_ticket(session, mail, priority="P3", plan="standard", organisation=None, verified=False,
                             now=now)
        written = len(statements)
        assert inspect(ticket).unloaded & {c.key for c in inspect(Ticket).column_attrs} == set()
        assert (ticket.stages, ticket.stage_at, ticket.inform_at, ticket.next_deadline) == (None, None, None, None)
        assert len(statements) == written
