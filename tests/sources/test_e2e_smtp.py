"""End to end: `helpdesk run` as a subprocess, mail in by SMTP/LMTP, acknowledgements out to a sink."""

from __future__ import annotations

import json
import os
import smtplib
import socket
import sqlite3
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import write_clock_file
from gateway.config import ConfigError, load_config
from gateway.outbound import reply_token
from tests.support import (
    HELPDESK,
    GatewayProcess,
    Sink,
    customer_mail,
    free_port,
    running,
    self_signed_cert,
    wait_for,
    write_config,
)

SECRET = "test-secret-for-e2e"
SUPPORT = ("support@example.com",)

pytestmark = pytest.mark.slow


def _gateway(tmp_path: Path, relay_port: int | None, *, lmtp: bool = False, db_url: str | None = None,
             env: dict[str, str] | None = None, name: str = "gw") -> GatewayProcess:
    d = tmp_path / name
    d.mkdir()
    port = free_port()
    config = write_config(d / "config.toml", smtp_port=port, relay_port=relay_port, lmtp=lmtp, db_url=db_url)
    return GatewayProcess(config, port, env={"HELPDESK_SECRET": SECRET, **(env or {})})


def _send(gw: GatewayProcess, raw: bytes, sender: str, rcpt: str = "support@example.com", *,
          lmtp: bool = False) -> None:
    client = smtplib.LMTP("127.0.0.1", gw.smtp_port) if lmtp else smtplib.SMTP("127.0.0.1", gw.smtp_port)
    with client:
        client.sendmail(sender, [rcpt], raw)


def _ticket(gw: GatewayProcess, number: int) -> dict:  # type: ignore[type-arg]
    return json.loads(gw.cli("tickets", "show", str(number), "--json").stdout)


def _tickets(gw: GatewayProcess) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(gw.cli("tickets", "list", "--json").stdout)["tickets"]


@pytest.mark.parametrize("lmtp", [False, True], ids=["smtp", "lmtp"])
def test_three_customers_get_threaded_acknowledgements(tmp_path: Path, sink: Sink, lmtp: bool) -> None:
    gw = _gateway(tmp_path, sink.port, lmtp=lmtp)
    with running(gw):
        ids = []
        for i in range(3):
            mid = f"<cust{i}@customer.example>"
            ids.append(mid)
            _send(gw, customer_mail(f"Customer {i} <c{i}@customer.example>", f"Problem {i}", "It broke.",
                                    message_id=mid), f"c{i}@customer.example", lmtp=lmtp)
        acks = sink.wait(3)
        by_reply = {a.message["In-Reply-To"]: a for a in acks}
        assert set(by_reply) == set(ids)
        numbers = set()
        for mid in ids:
            ack = by_reply[mid].message
            token = reply_token.parse_reply_address(ack["Reply-To"].addresses[0].addr_spec, SUPPORT)
            assert token is not None and reply_token.verify(SECRET.encode(), token)
            assert f"[#{token.ticket_id}]" in ack["Subject"]
            numbers.add(token.ticket_id)
        assert len(numbers) == 3

        # The customer's mail client replies to the acknowledgement...
        first = by_reply[ids[0]].message
        number = reply_token.parse_reply_address(first["Reply-To"].addresses[0].addr_spec, SUPPORT).ticket_id  # type: ignore[union-attr]
        _send(gw, customer_mail("c0@customer.example", "Re: " + first["Subject"], "More detail",
                                in_reply_to=first["Message-ID"]), "c0@customer.example", lmtp=lmtp)
        # ...and another reply goes only to the Reply-To token address.
        token_addr = first["Reply-To"].addresses[0].addr_spec
        _send(gw, customer_mail("c0@customer.example", "logs", "attached", to=token_addr),
              "c0@customer.example", rcpt=token_addr, lmtp=lmtp)
        wait_for(lambda: len(_ticket(gw, number)["messages"]) == 4, what="two replies on the first ticket")
        assert len(_tickets(gw)) == 3
        assert len(sink.messages) == 3


def test_unknown_recipient_is_refused_at_rcpt(tmp_path: Path, sink: Sink) -> None:
    gw = _gateway(tmp_path, sink.port)
    with running(gw), pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(gw, customer_mail("a@customer.example", "x", "y"), "a@customer.example", rcpt="sales@example.com")
    assert refused.value.recipients["sales@example.com"][0] == 550


def test_an_unreadable_envelope_is_refused_at_once_not_451_for_ever(tmp_path: Path, sink: Sink) -> None:
    gw = _gateway(tmp_path, sink.port)
    with running(gw):
        answers = []
        for mail_from, rcpt in [(b"a\x00b@customer.example", b"support@example.com"),
                                (b"a\xff@customer.example", b"support@example.com"),
                                (b"a@customer.example", b"support+1-\x00@example.com")]:
            with socket.create_connection(("127.0.0.1", gw.smtp_port)) as sock, sock.makefile("rb") as replies:
                def say(line: bytes) -> bytes:
                    sock.sendall(line + b"\r\n")
                    reply = replies.readline()
                    while reply[3:4] == b"-":
                        reply = replies.readline()
                    return reply[:3]

                replies.readline()
                say(b"HELO client.example")
                answers.append((say(b"MAIL FROM:<" + mail_from + b">"), say(b"RCPT TO:<" + rcpt + b">")))
        # The sender learns at once: no 451 that its queue would retry for days.
        assert answers == [(b"553", b"503"), (b"553", b"503"), (b"250", b"550")]
        _send(gw, customer_mail("a@customer.example", "still fine", "y"), "a@customer.example")
        wait_for(lambda: len(_tickets(gw)) == 1, what="the next, ordinary mail's ticket")


def test_ingest_for_an_mta_pipe_exits_75_to_retry_and_65_for_a_bad_envelope(tmp_path: Path) -> None:
    mail = customer_mail("a@customer.example", "piped", "hello")
    # The database is not there (nothing listens on that port): the MTA must keep the mail.
    down = GatewayProcess(write_config(tmp_path / "down.toml", smtp_port=free_port(), relay_port=None,
                                       db_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"),
                          0, env={"HELPDESK_SECRET": SECRET})
    result = down.cli("ingest", "--sender", "a@customer.example", input=mail, check=False)
    assert result.returncode == 75 and b"Traceback" not in result.stderr
    # An envelope no MTA should hand over: refused for good, not retried for days.
    gw = _gateway(tmp_path, None)
    result = gw.cli("ingest", "--sender", "a\udcffb@customer.example", input=mail, check=False)
    assert result.returncode == 65 and b"--sender" in result.stderr
    result = gw.cli("ingest", "--sender", "a@customer.example", "--recipient", "support@example.com",
                    "--process", input=mail)
    assert [t["subject"] for t in _tickets(gw)] == ["piped"]


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path, sink: Sink) -> None:
    gw = _gateway(tmp_path, sink.port)
    gw.cli("ingest", "--process", input=customer_mail("a@customer.example", "x", "y\n" * 2000))
    read_end, write_end = os.pipe()
    os.close(read_end)  # `helpdesk tickets show 1 | head -1`, head long gone
    try:
        shown = subprocess.run([*HELPDESK, "-c", str(gw.config), "tickets", "show", "1"],
                               stdout=write_end, stderr=subprocess.PIPE, env=gw.env, timeout=60)
    finally:
        os.close(write_end)
    assert shown.returncode == 1
    assert shown.stderr == b""


def test_starttls_when_configured_and_required_before_mail(tmp_path: Path, sink: Sink) -> None:
    cert, key = self_signed_cert(tmp_path)
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=sink.port,
                          smtp_extra=f'tls_cert = "{cert}"\ntls_key = "{key}"\nrequire_tls = true')
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": SECRET})
    with running(gw):
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            assert client.mail("a@customer.example")[0] == 530  # not in clear text
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            client.sendmail("a@customer.example", ["support@example.com"],
                            customer_mail("a@customer.example", "over TLS", "hello"))
        sink.wait(1)
        assert [t["subject"] for t in _tickets(gw)] == ["over TLS"]


def test_tls_settings_that_cannot_work_are_config_errors(tmp_path: Path) -> None:
    cert, _key = self_signed_cert(tmp_path)
    head = '[gateway]\nsupport_address = "support@example.com"\n[smtp]\n'
    for smtp, problem in [(f'tls_cert = "{cert}"', "smtp.tls_key: tls_cert and tls_key go together"),
                          (f'tls_cert = "{cert}"\ntls_key = "{cert}"', "smtp.tls_cert: cannot load"),
                          ("require_tls = true", "smtp.require_tls: there is no STARTTLS without")]:
        with pytest.raises(ConfigError) as err:
            load_config(None, text=head + smtp)
        assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_oversized_message_gets_552(tmp_path: Path, sink: Sink) -> None:
    gw = _gateway(tmp_path, sink.port)
    big = customer_mail("a@customer.example", "big", "x" * 1_200_000)
    with running(gw), pytest.raises(smtplib.SMTPException) as err:
        _send(gw, big, "a@customer.example")
    assert "552" in str(err.value)


def test_failed_commit_answers_451_and_retry_is_stored_once(tmp_path: Path, sink: Sink) -> None:
    gw = _gateway(tmp_path, sink.port)
    with running(gw):
        db = sqlite3.connect(gw.config.parent / "var" / "helpdesk.sqlite3")
        db.execute("""CREATE TRIGGER fail_commit BEFORE INSERT ON inbound_messages
                      WHEN instr(CAST(NEW.raw AS TEXT), 'FAIL-COMMIT') > 0
                      BEGIN SELECT RAISE(ABORT, 'refused by test'); END""")
        db.commit()
        with pytest.raises(smtplib.SMTPDataError) as err:
            _send(gw, customer_mail("a@customer.example", "FAIL-COMMIT", "boom"), "a@customer.example")
        assert err.value.smtp_code == 451
        assert db.execute("SELECT count(*) FROM inbound_messages").fetchone()[0] == 0
        db.execute("DROP TRIGGER fail_commit")
        db.commit()
        db.close()
        # The sending MTA retries the same message, twice (say its first 250 was lost).
        raw = customer_mail("a@customer.example", "Printer", "Help", message_id="<retry@customer.example>")
        _send(gw, raw, "a@customer.example")
        _send(gw, raw, "a@customer.example")
        sink.wait(1)
        wait_for(lambda: _tickets(gw), what="the ticket")
        status = json.loads(gw.cli("status", "--json").stdout)
        assert status["inbound"] == {"done": 1}
    assert len(_tickets(gw)) == 1 and len(sink.messages) == 1


def test_relay_down_mail_waits_in_outbox_then_goes_once(tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    write_clock_file(clock_file, start)
    relay_port = free_port()
    gw = _gateway(tmp_path, relay_port, env={"HELPDESK_CLOCK_FILE": str(clock_file)})
    with running(gw):
        for i in range(3):
            _send(gw, customer_mail(f"c{i}@customer.example", f"Down {i}", "help"), f"c{i}@customer.example")

        def all_tried() -> bool:
            tickets = _tickets(gw)
            return len(tickets) == 3 and all(
                o["attempts"] >= 1 and o["state"] == "pending"
                for t in tickets for o in _ticket(gw, t["number"])["outbox"])
        wait_for(all_tried, what="three acknowledgements tried once and waiting")
        sink = Sink(relay_port).start()
        try:
            write_clock_file(clock_file, start + timedelta(seconds=20))
            sink.wait(3)
            write_clock_file(clock_file, start + timedelta(hours=2))
            gw.cli("status")
            assert len(sink.messages) == 3
            assert sorted(m.rcpt_tos[0] for m in sink.messages) == [f"c{i}@customer.example" for i in range(3)]
        finally:
            sink.stop()


def test_sigterm_stops_cleanly(tmp_path: Path, sink: Sink) -> None:
    gw = _gateway(tmp_path, sink.port).start()
    _send(gw, customer_mail("a@customer.example", "x", "y"), "a@customer.example")
    assert gw.stop(timeout=10) == 0


def _lmtp_transaction(port: int, data: bytes, recipients: int) -> list[str]:
    """One LMTP transaction by hand (smtplib reads one answer to DATA): the answers to DATA."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def answer() -> str:
            lines = [reader.readline().decode().rstrip()]
            while lines[-1][3:4] == "-":
                lines.append(reader.readline().decode().rstrip())
            return lines[-1]

        answer()  # greeting
        for command in ["LHLO client.example", "MAIL FROM:<a@customer.example>",
                        *[f"RCPT TO:<support+{i}@example.com>" for i in range(recipients)], "DATA"]:
            sock.sendall(command.encode() + b"\r\n")
            answer()
        sock.sendall(data + b"\r\n.\r\n")
        return [answer() for _ in range(recipients)]


def test_lmtp_answers_each_recipient_even_when_the_mail_is_refused(tmp_path: Path) -> None:
    """RFC 2033 4.2: an answer per accepted recipient after the final dot, a refusal for size
    included; a client waiting for the second answer would time out and try again for days."""
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None, lmtp=True)
    config.write_text(config.read_text().replace('max_message_size = "1MB"', 'max_message_size = "20KB"'))
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": SECRET})
    gw.start()
    try:
        big = b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 1000
        assert [a[:3] for a in _lmtp_transaction(port, big, 2)] == ["552", "552"]
        # A line past RFC 5321's 1,000 octets (an unfolded References, say) is taken.
        long_line = b"From: a@customer.example\r\nSubject: long\r\nReferences: " + b"<x@y> " * 300 + b"\r\n\r\nhi"
        assert [a[:3] for a in _lmtp_transaction(port, long_line, 2)] == ["250", "250"]
    finally:
        assert gw.stop() == 0
