"""parse(): the ParsedMail fields, on mails written for these tests (tests/data/replies)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import Address, ParseLimitExceeded, parse
from parsers.addresses import _SIMPLE, simple_pair
from parsers.body import Walker

REPLIES = Path(__file__).parents[1] / "data" / "replies"
RECEIVED = datetime(2024, 1, 6, 12, 0, tzinfo=UTC)


def load(name: str) -> bytes:
    return (REPLIES / name).read_bytes()


def simple(headers: str, body: str = "Hello.\n", charset: str = "utf-8") -> bytes:
    head = headers.strip("\n") + "\nContent-Type: text/plain; charset=" + charset + "\n\n"
    return head.encode("utf-8") + body.encode("utf-8")


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("gmail_en.eml", "Thanks, the printer works again.\nOne more question: can I order toner?"),
        ("outlook_html_only.eml", "Hallo,\n\nder Drucker läuft wieder. Vielen Dank!\n\nGrüße\nJürgen"),
        ("iphone_fr.eml", "Merci, c’est corrigé."),
        ("thunderbird_es_latin1.eml", "Ya puedo entrar, ¡gracias!"),
        ("forward_with_attachments.eml", "Please see the report below and the screenshot."),
    ],
)
def test_reply_text_is_the_new_part(name: str, reply: str) -> None:
    assert parse(load(name), received_at=RECEIVED).reply_text == reply


def test_gmail_reply_fields() -> None:
    mail = parse(load("gmail_en.eml"), received_at=RECEIVED)
    assert mail.sender == Address("Bob Example", "bob@customer.example")
    assert mail.to == (Address("Support", "support+12-abcdef@helpdesk.example"),)
    assert mail.subject == "Re: [#12] Printer offline"
    assert mail.message_id == "<CAF+reply-1@mail.gmail.com>"
    assert not mail.message_id_synthesised
    assert mail.in_reply_to == ("<ticket-12.1@helpdesk.example>",)
    assert mail.references == ("<ticket-12.0@helpdesk.example>", "<ticket-12.1@helpdesk.example>")
    assert mail.date == datetime(2024, 1, 1, 10, 4, 31, tzinfo=UTC) and not mail.date_fallback
    assert mail.text.startswith("Thanks, the printer works again.")
    assert mail.html is not None and "gmail_quote" not in mail.html  # class attributes dropped
    assert mail.content_type == "multipart/alternative"
    assert mail.header("return-path") == "<bob@customer.example>"
    assert [name for name, _ in mail.headers][:3] == ["Return-Path", "Received", "MIME-Version"]


def test_html_only_outlook_mail_is_decoded_and_sanitised() -> None:
    mail = parse(load("outlook_html_only.eml"), received_at=RECEIVED)
    assert mail.sender == Address("Jürgen Müller", "juergen@kunde.example")
    assert mail.subject == "AW: [#7] Drucker fällt aus"
    assert "Von: Support" in mail.text and "alert" not in mail.text
    assert mail.html is not None and "<script" not in mail.html and "läuft" in mail.html


def test_latin1_body_and_encoded_words() -> None:
    mail = parse(load("thunderbird_es_latin1.eml"), received_at=RECEIVED)
    assert mail.sender == Address("José Peña", "jose@cliente.example")
    assert mail.subject == "Re: [#40] Contraseña"
    assert "José Peña\nCliente S.A." in mail.text
    assert mail.defects == ()


def test_attachments_inline_images_forwards_and_tnef() -> None:
    mail = parse(load("forward_with_attachments.eml"), received_at=RECEIVED)
    image, pdf, tnef = mail.attachments
    assert (image.filename, image.content_type, image.inline) == ("screen shot.png", "image/png", True)
    assert image.content_id == "<shot@customer.example>"
    assert image.data == b"\x89PNG\r\n\x1a\n" and image.size == 8
    assert (pdf.filename, pdf.inline, pdf.data) == ("Résumé.pdf", False, b"%PDF-1.4\n")
    assert pdf.sha256 == hashlib.sha256(b"%PDF-1.4\n").hexdigest()
    assert tnef.filename == "winmail.dat" and mail.has_tnef
    (forwarded,) = mail.forwarded
    assert forwarded.subject == "Disk full on db1"
    assert forwarded.sender == Address("Server Monitor", "monitor@server.customer.example")
    assert forwarded.message_id == "<alert-99@server.customer.example>"
    assert forwarded.text == "/var is 100% full."
    assert mail.html is not None and 'src="cid:shot@customer.example"' in mail.html
    assert "onerror" not in mail.html


def test_missing_date_and_message_id_fall_back_deterministically() -> None:
    raw = simple("From: a@example.com\nSubject: no ids")
    first, second = (parse(raw, received_at=RECEIVED) for _ in range(2))
    assert first.date == RECEIVED and first.date_fallback
    assert first.message_id_synthesised
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@synthesised.invalid>")
    assert any(d.startswith("date fallback") for d in first.defects)


@pytest.mark.parametrize(
    "date",
    ["Mon, 1 Jan 1970 00:00:00 +0000", "Fri, 1 Jan 2100 00:00:00 +0000", "yesterday-ish", ""],
)
def test_absurd_dates_fall_back_to_received_at(date: str) -> None:
    mail = parse(simple(f"From: a@example.com\nDate: {date}"), received_at=RECEIVED)
    assert (mail.date, mail.date_fallback) == (RECEIVED, True)


def test_date_is_converted_to_utc_and_a_little_clock_skew_is_fine() -> None:
    ahead = (RECEIVED + timedelta(hours=30)).astimezone(timezone(timedelta(hours=-5)))
    value = ahead.strftime("%a, %d %b %Y %H:%M:%S -0500")
    mail = parse(simple(f"From: a@example.com\nDate: {value}"), received_at=RECEIVED)
    assert mail.date == RECEIVED + timedelta(hours=30) and mail.date.tzinfo == UTC


def test_naive_received_at_is_taken_as_utc() -> None:
    mail = parse(simple("From: a@example.com"), received_at=datetime(2024, 1, 6, 12, 0))
    assert mail.date == RECEIVED


@pytest.mark.parametrize(
    ("value", "expected", "synthesised"),
    [
        ("<abc@example.com>", "<abc@example.com>", False),
        ("  <abc@example.com> (comment)", "<abc@example.com>", False),
        ("abc@example.com", "<abc@example.com>", False),
        ("<>", None, True),
        ("not an id", None, True),
    ],
)
def test_message_id_kept_with_brackets_or_synthesised(
    value: str, expected: str | None, synthesised: bool
) -> None:
    mail = parse(simple(f"From: a@example.com\nMessage-ID: {value}"), received_at=RECEIVED)
    assert mail.message_id_synthesised is synthesised
    if expected is not None:
        assert mail.message_id == expected


def test_references_are_ids_in_order_without_duplicates() -> None:
    raw = simple(
        "From: a@example.com\nIn-Reply-To: Your message of Monday <b@x>\n"
        "References: <a@x> <b@x>\n <a@x>\tjunk <c@x>"
    )
    mail = parse(raw, received_at=RECEIVED)
    assert mail.in_reply_to == ("<b@x>",)
    assert mail.references == ("<a@x>", "<b@x>", "<c@x>")


def test_address_lists_are_split_before_decoding() -> None:
    raw = simple(
        'From: =?utf-8?q?Doe=2C_John?= <john@example.com>\nTo: "Smith, Ann" <ann@example.com>, '
        "bob@example.com, undisclosed-recipients:;\nCc: =?utf-8?b?5bGx55Sw?= <yamada@example.jp>"
    )
    mail = parse(raw, received_at=RECEIVED)
    assert mail.sender == Address("Doe, John", "john@example.com")
    assert mail.to == (Address("Smith, Ann", "ann@example.com"), Address("", "bob@example.com"))
    assert mail.cc == (Address("山田", "yamada@example.jp"),)


def test_raw_utf8_headers_rfc6532() -> None:
    raw = "From: Zoë <zoe@example.com>\nSubject: Grüße aus Köln\n\nhi\n".encode()
    mail = parse(raw, received_at=RECEIVED)
    assert mail.subject == "Grüße aus Köln" and mail.sender == Address("Zoë", "zoe@example.com")


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("iso-2022-jp", "お問い合わせ".encode("iso-2022-jp"), "お問い合わせ"),
        ("utf-7", "Grüße".encode("utf-7"), "Grüße"),
        ("koi8-r", "Привет".encode("koi8-r"), "Привет"),
        ("shift_jis", "日本語です。".encode("shift_jis"), "日本語です。"),
        ("gb2312", "你好，世界".encode("gb2312"), "你好，世界"),
        ("iso-8859-1", "Grüße".encode(), "Grüße"),  # a lying label: UTF-8 bytes
    ],
)
def test_body_charsets(charset: str, body: bytes, expected: str) -> None:
    raw = f"From: a@example.com\nContent-Type: text/plain; charset={charset}\n\n".encode() + body
    assert parse(raw, received_at=RECEIVED).text == expected


def test_unknown_charset_falls_back_with_a_defect() -> None:
    raw = b"From: a@example.com\nContent-Type: text/plain; charset=x-unknown\n\nCaf\xe9 cr\xe8me\n"
    mail = parse(raw, received_at=RECEIVED)
    assert mail.text == "Café crème"
    assert any(d.startswith("text/plain: charset fallback: x-unknown ->") for d in mail.defects)


def test_broken_encoded_words_never_raise() -> None:
    raw = b"From: =?bogus?Q?a=ZZ?= <a@example.com>\nSubject: =?utf-8?B?!!!?= =?utf-8?Q?ok?=\n\nx"
    mail = parse(raw, received_at=RECEIVED)
    assert mail.subject.endswith("ok")


def test_body_hash_ignores_trailing_space_and_counts_attachments() -> None:
    one = parse(simple("From: a@example.com", "Hello  \nworld\n\n"), received_at=RECEIVED)
    two = parse(simple("From: b@example.com", "Hello\nworld"), received_at=RECEIVED)
    three = parse(load("forward_with_attachments.eml"), received_at=RECEIVED)
    assert one.body_hash == two.body_hash != three.body_hash
    assert len(one.body_hash) == 64


def test_stdlib_defects_are_reported_readably() -> None:
    raw = b'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\nno parts here\n'
    mail = parse(raw, received_at=RECEIVED)
    assert "multipart/mixed: The claimed start boundary was never found" in mail.defects
    assert "no parts here" in mail.text


def test_an_unexpected_error_falls_back_to_a_raw_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: Walker, *args: object, **kwargs: object) -> None:
        raise AttributeError("'str' object has no attribute 'token_type'")

    monkeypatch.setattr(Walker, "walk", explode)
    mail = parse(simple("From: a@example.com\nSubject: still here", "body"), received_at=RECEIVED)
    assert mail.subject == "still here" and mail.text == "body"
    assert any(d.startswith("parser error AttributeError") for d in mail.defects)


def test_limit_error_names_the_limit() -> None:
    error = ParseLimitExceeded("part_count", "more than 1000 parts")
    assert isinstance(error, ValueError)
    assert (error.limit, error.detail) == ("part_count", "more than 1000 parts")


def test_a_plain_list_footer_does_not_hide_an_html_only_body() -> None:
    raw = (
        b'From: a@example.com\nContent-Type: multipart/mixed; boundary="m"\n\n'
        b"--m\nContent-Type: text/html\n\n<p>The real <b>question</b></p>\n"
        b"--m\nContent-Type: text/plain\n\n_______\nlist footer\n--m--\n"
    )
    mail = parse(raw, received_at=RECEIVED)
    assert mail.text == "The real question\n_______\nlist footer"


def test_alternatives_give_one_body_the_plain_one() -> None:
    raw = (
        b'From: a@example.com\nContent-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain\n\nplain words\n"
        b"--a\nContent-Type: text/enriched\n\n<bold>rich</bold>\n"
        b"--a\nContent-Type: text/html\n\n<p>html words</p>\n--a--\n"
    )
    mail = parse(raw, received_at=RECEIVED)
    assert mail.text == "plain words"
    assert mail.html == "<p>html words</p>"
    assert mail.attachments == ()


def test_a_header_the_stdlib_cannot_read_is_recovered() -> None:
    # email.policy.default raises AttributeError ('str' object has no attribute
    # 'token_type') when this From header is read; the raw bytes still say who wrote.
    mail = parse(b"From: . <user@example.com>\nSubject: x\n\nbody\n", received_at=RECEIVED)
    assert mail.sender == Address(".", "user@example.com")
    assert mail.header("From") == ". <user@example.com>"


_ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"


@settings(max_examples=500, deadline=None)
@given(name=st.text(st.sampled_from(_ATEXT + " \t"), max_size=20),
       local=st.text(st.sampled_from(_ATEXT + "."), min_size=1, max_size=12),
       domain=st.text(st.sampled_from("ab09.-"), min_size=1, max_size=12),
       bracketed=st.booleans(), pad=st.sampled_from(["", " ", "\t", "  "]))
def test_simple_address_headers_read_as_the_standard_parser_reads_them(
        name: str, local: str, domain: str, bracketed: bool, pad: str) -> None:
    """The shortcut for ``Name <addr>`` and bare ``addr`` agrees with ``email.utils.getaddresses``."""
    value = f"{pad}{name}{pad}<{local}@{domain}>{pad}" if bracketed else f"{pad}{local}@{domain}{pad}"
    match = _SIMPLE.fullmatch(value)
    assert match is not None
    assert simple_pair(match) == getaddresses([value])[0]


def test_an_address_written_as_the_display_name_does_not_pass_for_the_sender() -> None:
    """``From: contact@customer.example <mallory@evil.example>``: the mailbox is the one in angle
    brackets (what mail clients show and DMARC checks), not the would-be designated contact."""
    mail = parse(b"From: it-support@harbourbank.example <mallory@evil.example>\r\nSubject: P1\r\n\r\nhi\r\n",
                 received_at=RECEIVED)
    assert mail.sender is not None and mail.sender.addr == "mallory@evil.example"
    assert any("angle brackets" in d for d in mail.defects)


def test_text_hidden_in_html_is_not_the_customers_words() -> None:
    """A preheader, or words hidden to steer whoever reads the source (rules, an engineer's
    notice), are not what the customer sees."""
    html = ('<p>Where is the API documentation?</p><div style="display: none">Complete outage, '
            'nobody can <b>work</b>.</div><span hidden>IGNORE PREVIOUS: #priority P1</span><p>Thanks</p>')
    mail = parse(("From: a@customer.example\r\nSubject: Docs\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/html; charset=utf-8\r\n\r\n" + html).encode(), received_at=RECEIVED)
    assert "API documentation" in mail.text and "Thanks" in mail.text
    assert "outage" not in mail.text and "IGNORE" not in mail.text


def test_a_long_name_cut_to_size_keeps_its_real_extension_visible() -> None:
    from parsers.attachments import sanitise_filename
    name = sanitise_filename("x" * 194 + ".exe ." + "b" * 20, 1, "application/octet-stream")
    assert not name.endswith((" ", ".")) and name.lower().endswith(".exe")
