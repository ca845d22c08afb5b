"""The sender against a real aiosmtpd relay: retries while it is down, never twice once sent."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import dkim
import pytest
from sqlalchemy import event, select

from gateway.app import App
from gateway.clock import FakeClock
from gateway.config import ConfigError, load_config
from gateway.outbound.outbox import Draft, queue
from gateway.outbound.retries import retry_delay
from gateway.outbound.sender import Sender
from gateway.outbound.transports import make_transport
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Event, OutboxMessage
from tests.support import Sink, customer_mail, free_port, self_signed_cert

ENV = Envelope(mail_from="alice@customer.example", rcpt_to=("support@example.com",))


def _smtp_app(make_app: Callable[..., App], port: int, lifetime: str = "2d") -> App:
    return make_app(f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nretry_lifetime = "{lifetime}"')


def _queue_acks(app: App, n: int) -> None:
    for i in range(n):
        store_inbound(app.db, customer_mail(f"c{i}@customer.example", f"req {i}", "hi"), source="t",
                      envelope=ENV, received_at=app.clock.now())
    Processor(app).drain()


def _states(app: App) -> list[str]:
    with app.db.sessions() as s:
        return [o.state for o in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_retry_schedule() -> None:
    assert retry_delay(1) == timedelta(seconds=15)
    assert retry_delay(2) == timedelta(seconds=30)
    assert retry_delay(10) == timedelta(minutes=10)


def test_relay_down_then_up_delivers_each_once(make_app: Callable[..., App], clock: FakeClock) -> None:
    port = free_port()
    app = _smtp_app(make_app, port)
    sender = Sender(app, make_transport(app.config.outbound), "w1")
    _queue_acks(app, 3)
    assert sender.send_due() == 3          # relay is down: all three fail temporarily
    assert _states(app) == ["pending"] * 3
    assert sender.send_due() == 0          # not due again before the backoff
    sink = Sink(port).start()
    try:
        clock.advance(timedelta(seconds=15))
        assert sender.send_due() == 3
        assert len(sink.messages) == 3
        assert _states(app) == ["sent"] * 3
        clock.advance(timedelta(hours=1))
        assert sender.send_due() == 0
        assert len(sink.messages) == 3
    finally:
        sink.stop()


def test_a_batch_goes_through_one_relay_session(make_app: Callable[..., App], sink: Sink) -> None:
    app = _smtp_app(make_app, sink.port)
    _queue_acks(app, 5)
    assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 5
    assert len(sink.messages) == 5 and _states(app) == ["sent"] * 5
    assert len({m.peer for m in sink.messages}) == 1  # one connection, RSET between the mails
    _queue_acks(app, 2)
    assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 2
    assert len({m.peer for m in sink.messages}) == 2  # the session ended with its batch


def test_gives_up_after_lifetime_with_an_event(make_app: Callable[..., App], clock: FakeClock) -> None:
    app = _smtp_app(make_app, free_port(), lifetime="1m")
    sender = Sender(app, make_transport(app.config.outbound), "w1")
    _queue_acks(app, 1)
    for _ in range(4):
        sender.send_due()
        clock.advance(timedelta(seconds=40))
    assert _states(app) == ["failed"]
    with app.db.sessions() as s:
        assert s.scalars(select(Event).where(Event.kind == "mail-failed")).one().ticket_id == 1


def test_permanent_refusal_is_not_retried(make_app: Callable[..., App], clock: FakeClock) -> None:
    class Refusing:
        async def handle_RCPT(self, server: object, session: object, envelope: object,
                              address: str, options: list[str]) -> str:
            return "550 5.1.1 no such user"

    from aiosmtpd.controller import Controller
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = _smtp_app(make_app, port)
        _queue_acks(app, 1)
        Sender(app, make_transport(app.config.outbound), "w1").send_due()
        assert _states(app) == ["failed"]
    finally:
        controller.stop()


def test_expired_lease_is_taken_over(make_app: Callable[..., App], clock: FakeClock, sink: Sink) -> None:
    app = _smtp_app(make_app, sink.port)
    _queue_acks(app, 1)
    with app.db.transaction() as s:  # a sender that claimed the row and died before sending
        row = s.scalars(select(OutboxMessage)).one()
        row.state, row.lease_until = "sending", clock.now() + timedelta(minutes=2)
    sender = Sender(app, make_transport(app.config.outbound), "w2")
    assert sender.send_due() == 0
    clock.advance(timedelta(minutes=3))
    assert sender.send_due() == 1
    assert len(sink.messages) == 1


def test_through_a_relay_that_wants_starttls_and_a_login(make_app: Callable[..., App], clock: FakeClock,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("RELAY_PASSWORD", "wrong")
    sink = Sink(tls=(cert, key), logins={"gateway": "s3cret"}).start()
    login = 'username = "gateway"\npassword_env = "RELAY_PASSWORD"'

    def attempt(extra: str) -> OutboxMessage:
        """One try with this [outbound] (a restart with a changed config); the row after it."""
        app = make_app(f'transport = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "starttls"\n{extra}')
        if not _states(app):
            _queue_acks(app, 1)
        clock.advance(timedelta(minutes=1))
        assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 1
        with app.db.sessions() as s:
            return s.scalars(select(OutboxMessage)).one()

    try:
        # A relay whose certificate we cannot check gets nothing, and nothing is given up.
        row = attempt(login)
        assert row.state == "pending" and "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")
        # Trusted through ca_file, but no login (530), then a wrong password (535): the relay
        # is set up wrong for us, the mail is not refused: it waits, with the reason.
        row = attempt(f'ca_file = "{cert}"')
        assert row.state == "pending" and "wants a login" in (row.last_error or "")
        row = attempt(f'ca_file = "{cert}"\n{login}')
        assert row.state == "pending" and "refused our login" in (row.last_error or "")
        assert sink.messages == []
        # The password fixed: delivered, over TLS, once.
        monkeypatch.setenv("RELAY_PASSWORD", "s3cret")
        assert attempt(f'ca_file = "{cert}"\n{login}').state == "sent"
        assert len(sink.messages) == 1
    finally:
        sink.stop()


def test_a_login_without_a_password_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, text='[gateway]\nsupport_address = "support@example.com"\n'
                               '[outbound]\ntransport = "smtp"\nhost = "relay.example"\nusername = "gateway"\n'
                               f'ca_file = "{tmp_path / "missing.pem"}"\n')
    problems = "\n".join(err.value.problems)
    assert "outbound.password_env: username is set but no password" in problems
    assert "outbound.ca_file:" in problems and "missing.pem is not a readable file" in problems


def test_mail_leaves_dkim_signed_for_the_from_domain(make_app: Callable[..., App], tmp_path: Path,
                                                     sink: Sink) -> None:
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    app = make_app(f'transport = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\n'
                   f'dkim_selector = "desk2026"\ndkim_key_file = "{key}"')
    _queue_acks(app, 1)
    assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 1
    [mail] = sink.messages
    looked_up: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        looked_up.append(name)
        return record

    assert dkim.verify(mail.raw, dnsfunc=dns)
    assert looked_up == [b"desk2026._domainkey.example.com."]
    assert not dkim.verify(mail.raw.replace(b"Subject: [#1]", b"Subject: [#2]"), dnsfunc=dns)


def test_a_dkim_key_that_cannot_sign_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-key.pem").write_text("hello")
    head = '[gateway]\nsupport_address = "support@example.com"\n[outbound]\n'
    for outbound, problem in [('dkim_selector = "s1"', "outbound.dkim_key_file: dkim_selector and dkim_key_file go"),
                              (f'dkim_selector = "s1"\ndkim_key_file = "{tmp_path / "not-a-key.pem"}"',
                               "outbound.dkim_key_file: ")]:
        with pytest.raises(ConfigError) as err:
            load_config(None, text=head + outbound)
        assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_a_sender_whose_lease_ran_out_does_not_send_what_another_took_over(
        make_app: Callable[..., App], clock: FakeClock, sink: Sink) -> None:
    """Process A claims two mails, then stalls (a slow relay, a paused machine) past its lease;
    process B takes them over and sends them. A, going on, must not send them again."""
    app = _smtp_app(make_app, sink.port)
    _queue_acks(app, 2)
    a = Sender(app, make_transport(app.config.outbound), "host-a")
    b = Sender(app, make_transport(app.config.outbound), "host-b")
    claimed_by_a = a._claim(clock.now())
    clock.advance(a.lease + timedelta(seconds=1))
    assert b.send_due() == 2
    for row_id in claimed_by_a:
        a._send(row_id)
    a.transport.close()
    ids = [m.message["Message-ID"] for m in sink.messages]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert _states(app) == ["sent", "sent"]


def test_an_international_domain_is_delivered_in_its_ascii_form_and_blocks_nobody(
        make_app: Callable[..., App], sink: Sink) -> None:
    app = _smtp_app(make_app, sink.port)
    raw = ("From: Jörg <joerg@bücher.example>\r\nTo: support@example.com\r\nSubject: Bestellung\r\n"
           "Message-ID: <b1@bücher.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhallo\r\n")
    store_inbound(app.db, raw.encode(), source="t", envelope=ENV, received_at=app.clock.now())  # RFC 6532 mail
    _queue_acks(app, 2)
    assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 3
    assert _states(app) == ["sent"] * 3
    assert sorted(r for m in sink.messages for r in m.rcpt_tos) == [
        "c0@customer.example", "c1@customer.example", "joerg@xn--bcher-kva.example"]


def test_asked_to_stop_it_finishes_the_mail_on_the_wire_and_hands_the_rest_back(
        make_app: Callable[..., App], sink: Sink) -> None:
    app = _smtp_app(make_app, sink.port)
    _queue_acks(app, 3)
    sender = Sender(app, make_transport(app.config.outbound), "w1")
    asked = iter([False, True, True])
    assert sender.send_due(lambda: next(asked)) == 1
    assert _states(app) == ["sent", "pending", "pending"]  # not "sending" until a lease runs out
    assert sender.send_due() == 2
    assert len(sink.messages) == 3 and len({m.message["Message-ID"] for m in sink.messages}) == 3


def test_a_recipient_refused_for_now_gets_the_mail_later_the_others_once(
        make_app: Callable[..., App], clock: FakeClock) -> None:
    """The relay greylists the Cc'd colleague (451) and takes the customer: the customer gets
    the mail once, the colleague gets the same mail on the retry."""
    class Greylisting:
        def __init__(self) -> None:
            self.seen: set[str] = set()
            self.received: list[tuple[list[str], bytes]] = []

        async def handle_RCPT(self, server: object, session: object, envelope: Any, address: str,
                              options: list[str]) -> str:
            if address == "bob@customer.example" and address not in self.seen:
                self.seen.add(address)
                return "451 4.7.1 greylisted, try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            self.received.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
            return "250 OK"

    from aiosmtpd.controller import Controller
    handler, port = Greylisting(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = _smtp_app(make_app, port)
        with app.db.transaction() as session:
            queue(session, app.outbox_policy, Draft(
                kind="unknown-sender", cause_key="greylist-test", ticket_id=None,
                to=(("Alice", "alice@customer.example"),), cc=(("Bob", "bob@customer.example"),),
                subject="s", text="t"), clock.now())
        sender = Sender(app, make_transport(app.config.outbound), "w1")
        sender.send_due()
        assert [rcpts for rcpts, _raw in handler.received] == [["alice@customer.example"]]
        clock.advance(timedelta(seconds=15))
        sender.send_due()
        assert [rcpts for rcpts, _raw in handler.received] == [["alice@customer.example"],
                                                                ["bob@customer.example"]]
        assert handler.received[0][1] == handler.received[1][1]  # the same mail, the same Message-ID
        assert _states(app) == ["sent", "sent"]
    finally:
        controller.stop()


def test_ehlo_gives_the_configured_name_and_check_config_names_a_bad_one(make_app: Callable[..., App]) -> None:
    class Naming:
        def __init__(self) -> None:
            self.names: list[str] = []

        async def handle_DATA(self, server: object, session: Any, envelope: object) -> str:
            self.names.append(session.host_name)
            return "250 OK"

    from aiosmtpd.controller import Controller
    port = free_port()
    relay = Naming()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = make_app(f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nhelo_name = "desk.example.net"')
        _queue_acks(app, 1)
        assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 1
        assert relay.names == ["desk.example.net"]  # not the address literal smtplib falls back to
    finally:
        controller.stop()
    head = '[gateway]\nsupport_address = "support@example.com"\n[outbound]\n'
    assert "." in load_config(None, text=head).outbound.helo_name  # the host's full name, or example.com
    with pytest.raises(ConfigError) as err:
        load_config(None, text=head + 'helo_name = "localhost"')
    assert err.value.problems == ["outbound.helo_name: 'localhost' is not a fully qualified domain name; write "
                                  'this host\'s name as the relay may look it up, like helo_name = "desk.example.com"']


def test_on_sqlite_each_mail_sent_costs_one_commit_and_the_lease_is_still_checked(
        make_app: Callable[..., App], clock: FakeClock, sink: Sink) -> None:
    """SQLite's writers take turns at one lock: the mark that a mail is on the wire rides on the
    commit before it (the claim's, or the previous mail's record as sent). PostgreSQL keeps a commit
    of its own for it, made just before DATA."""
    app = _smtp_app(make_app, sink.port)
    _queue_acks(app, 4)
    commits: list[int] = []
    event.listen(app.db.engine, "commit", lambda _conn: commits.append(1))
    assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 4
    assert len(sink.messages) == 4 and _states(app) == ["sent"] * 4
    assert len(commits) == (1 + 4 if app.db.is_sqlite else 1 + 2 * 4)
    with app.db.sessions() as s:
        assert [o.on_wire_at for o in s.scalars(select(OutboxMessage))] == [None] * 4


def test_the_relays_session_is_kept_from_pass_to_pass_while_mail_keeps_coming(
        make_app: Callable[..., App], sink: Sink) -> None:
    """Mail that trickles in goes one acknowledgement a pass: each pass must not cost a connection,
    EHLO and QUIT. The session is let go when the gateway stops (Sender.close)."""
    app = _smtp_app(make_app, sink.port)
    sender = Sender(app, make_transport(app.config.outbound), "w1")
    for i in range(3):
        store_inbound(app.db, customer_mail(f"t{i}@customer.example", f"req {i}", "hi"), source="t",
                      envelope=ENV, received_at=app.clock.now())
        Processor(app).drain()
        assert sender.send_due() == 1
    sender.close()
    _queue_acks(app, 1)
    assert sender.send_due() == 1
    peers = [m.peer for m in sink.messages]
    assert len(peers) == 4 and len(set(peers[:3])) == 1 and peers[3] != peers[0]
