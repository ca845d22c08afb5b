"""The outgoing mail composer: what a mail client reads is what the gateway meant, for any text."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.outbound.compose import OutAttachment, OutgoingMail, compose, one_line

ADDRESSES = ["user@customer.example", "o'brien@example.ie", "first.last+tag@sub.example.co.uk",
             "x@xn--bcher-kva.example", "weird#local{}@example.com"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)


def mail(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = dict(
        from_name="Example Support", from_address="support@example.com",
        to=(("Customer", "user@customer.example"),), subject="[#12] Cannot log in",
        text="Hello,\n\nwe have opened ticket #12.\n", html=None, message_id="<abc123@example.com>",
        date=datetime(2026, 11, 23, 9, 0, tzinfo=UTC), loop_token="support@example.com",
        in_reply_to="<m1@customer.example>", references=("<m0@customer.example>", "<m1@customer.example>"),
        reply_to="support+12-abcdef@example.com")
    values.update(overrides)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def read(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def display_name(raw: bytes) -> str:
    """The To name as RFC 2047 reads it (the modern parser puts a space between two encoded words
    of one name, whoever wrote them)."""
    to = email.message_from_bytes(raw, policy=email.policy.compat32)["To"]
    return str(make_header(decode_header(parseaddr(str(to))[0])))


def well_formed(raw: bytes) -> None:
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert not read(raw).defects


def body_of(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # as a reader sees it: a line end is a line end


def expected_text(text: str) -> str:
    """How a text reads after the trip: line ends normalised, one final newline."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
    return lines + "\n"


def test_acknowledgement_headers_read_back() -> None:
    raw = compose(mail(html="<p>Hello</p>")).raw
    well_formed(raw)
    msg = read(raw)
    assert msg["From"] == "Example Support <support@example.com>"
    assert msg["To"].addresses[0].addr_spec == "user@customer.example"
    assert msg["Subject"] == "[#12] Cannot log in"
    assert msg["Message-ID"] == "<abc123@example.com>"
    assert msg["In-Reply-To"] == "<m1@customer.example>"
    assert msg["References"].split() == ["<m0@customer.example>", "<m1@customer.example>"]
    assert msg["Reply-To"] == "support+12-abcdef@example.com"
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Loop"] == "support@example.com"
    assert msg["Date"].datetime == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert msg.get_content_type() == "multipart/alternative"
    assert body_of(msg, "plain") == "Hello,\n\nwe have opened ticket #12.\n"
    assert body_of(msg, "html") == "<p>Hello</p>\n"


def test_an_id_in_utf8_is_left_out_not_the_whole_mail() -> None:
    msg = read(compose(mail(in_reply_to="<café@customer.example>",
                            references=("<café@customer.example>", "<m1@customer.example>"))).raw)
    assert "In-Reply-To" not in msg and msg["References"] == "<m1@customer.example>"


def test_ids_made_up_for_mail_without_one_are_not_threaded_to() -> None:
    made_up = "<3b55442dae201274f3753fdb2f5b5d62@synthesised.invalid>"
    msg = read(compose(mail(in_reply_to=made_up, references=(made_up, "<m1@customer.example>"))).raw)
    assert "In-Reply-To" not in msg
    assert msg["References"] == "<m1@customer.example>"


def test_a_customer_subject_cannot_add_a_header() -> None:
    hostile = "Help\r\nBcc: victim@example.org\r\n\r\nInjected body"
    msg = read(compose(mail(subject=hostile, to=(("Eve\r\nBcc: x@evil.example", "user@customer.example"),))).raw)
    assert "Bcc" not in msg
    assert msg["Subject"] == "Help Bcc: victim@example.org Injected body"
    assert msg["To"].addresses[0].display_name == "Eve Bcc: x@evil.example"


@pytest.mark.parametrize("addr", ["no-domain", "@example.com", "user@", "us\ner@example.com", "jörg@example.de",
                                  "=?utf-8?q?x?=@example.com", "a@b c.example", "a@b,c.example", "a@b>.example"])
def test_an_address_we_cannot_write_is_refused(addr: str) -> None:
    with pytest.raises(ValueError, match="not a deliverable address"):
        compose(mail(to=(("Someone", addr),)))


def test_an_international_domain_goes_in_its_idna_form() -> None:
    msg = read(compose(mail(to=(("Jörg", "joerg@bücher.example"),))).raw)
    assert msg["To"].addresses[0].addr_spec == "joerg@xn--bcher-kva.example"
    assert msg["To"].addresses[0].display_name == "Jörg"


def test_attachments_keep_their_bytes_and_names_never_paths() -> None:
    files = (OutAttachment("../../etc/passwd", "text/plain", b"root:x:0:0"),
             OutAttachment("Übersicht Q3.pdf", "application/pdf", bytes(range(256)) * 40),
             OutAttachment('say "hi".txt', "multipart/mixed", b"not a multipart"))
    raw = compose(mail(html="<p>x</p>", attachments=files)).raw
    well_formed(raw)
    msg = read(raw)
    got = [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in msg.iter_attachments()]
    assert got == [("../../etc/passwd", "text/plain", b"root:x:0:0"),
                   ("Übersicht Q3.pdf", "application/pdf", bytes(range(256)) * 40),
                   ('say "hi".txt', "application/octet-stream", b"not a multipart")]
    assert body_of(msg, "plain") == "Hello,\n\nwe have opened ticket #12.\n"


def test_a_boundary_in_the_text_cannot_end_a_part() -> None:
    first = compose(mail(html="<p>x</p>"))
    boundary = read(first.raw).get_boundary()
    assert boundary is not None
    text = f"quoting an earlier mail:\n--{boundary}\nContent-Type: text/html\n\n<script>\n--{boundary}--\n"
    msg = read(compose(mail(text=text, html="<p>y</p>")).raw)
    assert body_of(msg, "plain") == text and body_of(msg, "html") == "<p>y</p>\n"


@settings(max_examples=300, deadline=None)
@given(subject=TEXT, name=TEXT, text=TEXT, html=st.none() | TEXT, addr=st.sampled_from(ADDRESSES),
       refs=st.lists(st.from_regex(r"<[a-z0-9.]{1,40}@[a-z]{1,20}\.example>", fullmatch=True), max_size=25))
def test_any_text_reads_back_as_written(subject: str, name: str, text: str, html: str | None, addr: str,
                                        refs: list[str]) -> None:
    """Whatever a customer's subject, name or our templates hold, a standards-following reader
    sees exactly that (control characters as spaces in headers), in a well-formed mail."""
    raw = compose(mail(subject=subject, to=((name, addr),), text=text, html=html, references=tuple(refs))).raw
    well_formed(raw)
    msg = read(raw)
    assert list(msg.keys()).count("Subject") == 1
    assert msg["Subject"] == one_line(subject)
    to = msg["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == addr
    assert display_name(raw) == one_line(name, 120)
    assert msg["References"].split() == refs if refs else "References" not in msg
    assert body_of(msg, "plain") == expected_text(text)
    if html is not None:
        assert body_of(msg, "html") == expected_text(html)
