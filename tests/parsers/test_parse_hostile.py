"""Hostile input built in the test: each has a clear outcome, a named limit or a clean value."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest

from parsers import Limits, ParseLimitExceeded, parse
from parsers.limits import check_structure

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HEAD = b"From: Eve <eve@example.com>\r\nTo: support@example.com\r\nSubject: hostile\r\n"


def nested(depth: int) -> bytes:
    out = [HEAD]
    for level in range(depth):
        out.append(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        )
    out.append(b"Content-Type: text/plain\r\n\r\ndeep\r\n")
    out.extend(b"--b%d--\r\n" % level for level in reversed(range(depth)))
    return b"".join(out)


def many_parts(count: int) -> bytes:
    out = [HEAD, b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n']
    out.extend(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count))
    out.append(b"--b--\r\n")
    return b"".join(out)


def limit_of(raw: bytes, limits: Limits | None = None) -> str:
    started = time.perf_counter()
    with pytest.raises(ParseLimitExceeded) as caught:
        parse(raw, received_at=RECEIVED, limits=limits or Limits())
    assert time.perf_counter() - started < 5.0
    assert isinstance(caught.value, ValueError)
    return caught.value.limit


def test_mime_nested_1000_deep_is_refused_as_too_deep() -> None:
    assert limit_of(nested(1000)) == "mime_depth"


def test_the_structure_check_finds_boundaries_whatever_the_case_of_the_parameter() -> None:
    """The cheap check before parsing, not the parser's own recursion, refuses them."""
    for raw, limit in ((nested(1000).replace(b"boundary=", b"BOUNDARY="), "mime_depth"),
                       (many_parts(50_000).replace(b"boundary=", b"Boundary = "), "part_count")):
        with pytest.raises(ParseLimitExceeded) as caught:
            check_structure(raw, Limits())
        assert caught.value.limit == limit


def test_mime_nested_within_the_limit_parses() -> None:
    mail = parse(nested(40), received_at=RECEIVED)
    assert mail.text == "deep"


def test_message_rfc822_nesting_is_bounded_too() -> None:
    raw = HEAD + b"Content-Type: message/rfc822\r\n\r\n" * 80 + b"Subject: inner\r\n\r\nhi\r\n"
    assert limit_of(raw) == "mime_depth"


def test_50000_parts_are_refused_quickly() -> None:
    assert limit_of(many_parts(50_000)) == "part_count"


def test_a_1mb_header_is_refused() -> None:
    raw = HEAD + b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\nbody\r\n"
    assert limit_of(raw) == "header_size"


def test_a_1mb_folded_header_is_refused() -> None:
    raw = HEAD + b"X-Big: start\r\n" + b" folded continuation line\r\n" * 40_000 + b"\r\nbody\r\n"
    assert limit_of(raw) == "header_size"


def test_10000_headers_are_refused() -> None:
    raw = HEAD + b"".join(b"X-H: %d\r\n" % i for i in range(10_000)) + b"\r\nbody\r\n"
    assert limit_of(raw) == "header_count"


def test_base64_that_decodes_beyond_the_budget_is_refused() -> None:
    payload = base64.encodebytes(b"\0" * (3 * 1024 * 1024))
    raw = (
        HEAD
        + b'Content-Type: application/octet-stream; name="zeros.bin"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + payload
    )
    assert limit_of(raw, Limits(decoded_size=1024 * 1024)) == "decoded_size"


def test_oversize_attachment_is_kept_as_metadata_only() -> None:
    data = b"x" * 4096
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nsee file\r\n'
        b'--b\r\nContent-Type: application/pdf; name="big.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data) + b"--b--\r\n"
    )
    mail = parse(raw, received_at=RECEIVED, limits=Limits(max_attachment_size=1000))
    (attachment,) = mail.attachments
    assert (attachment.size, attachment.data) == (4096, b"")
    assert any(d.startswith("attachment too large: big.pdf") for d in mail.defects)


def test_a_slow_clock_trips_the_time_budget() -> None:
    ticks = iter(range(0, 1000, 10))
    with pytest.raises(ParseLimitExceeded) as caught:
        parse(many_parts(20), received_at=RECEIVED, ticker=lambda: float(next(ticks)))
    assert caught.value.limit == "time_budget"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (b'"../../etc/passwd"', "passwd"),
        (b'"..\\\\..\\\\windows\\\\system32\\\\evil.dll"', "evil.dll"),
        (b'"inv\x00oice.pdf"', "inv oice.pdf"),
        (b'"a\r\n b.txt"', "a b.txt"),
        (b'".."', "attachment-1.pdf"),
        (b'"...hidden"', "hidden"),
        (b'"CON.txt"', "_CON.txt"),
        (b'"photo\xe2\x80\xaegpj.exe"', "photo_gpj.exe"),
        (b"=?utf-8?q?..=2F..=2Fpasswd?=", "passwd"),
        (b'"' + b"a" * 500 + b'.pdf"', "a" * 196 + ".pdf"),
    ],
)
def test_attachment_names_are_sanitised(declared: bytes, expected: str) -> None:
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nhi\r\n'
        b"--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename=" + declared + b"\r\n\r\n%PDF-1.4\r\n--b--\r\n"
    )
    (attachment,) = parse(raw, received_at=RECEIVED).attachments
    assert attachment.filename == expected
    assert "/" not in attachment.filename and "\\" not in attachment.filename


def test_script_and_javascript_urls_are_removed_from_html() -> None:
    raw = HEAD + (
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b'<p onclick="steal()">Hi<script>alert(1)</script></p>'
        b'<a href="javascript:alert(2)">click</a><img src="x" onerror="alert(3)">'
        b'<a href="JaVaScRiPt:alert(4)">again</a><iframe src="https://evil"></iframe>'
        b"<style>body{background:url(javascript:alert(5))}</style>\r\n"
    )
    mail = parse(raw, received_at=RECEIVED)
    assert mail.html is not None
    lowered = mail.html.lower()
    for bad in ("<script", "javascript:", "onclick", "onerror", "<iframe", "<style", "alert"):
        assert bad not in lowered
    assert "alert" not in mail.text
    assert mail.text.startswith("Hi")


def test_cr_lf_and_controls_in_the_subject_become_spaces() -> None:
    raw = (
        b"From: eve@example.com\r\nSubject: =?utf-8?q?Hello=0D=0ABcc=3A_victim=40example=2Ecom?="
        b"\r\n =?utf-8?q?=00end?=\r\n\r\nbody\r\n"
    )
    mail = parse(raw, received_at=RECEIVED)
    assert mail.subject == "Hello Bcc: victim@example.com end"
    for name, value in mail.headers:
        assert "\r" not in value and "\n" not in value and "\0" not in value, name


def test_garbage_bytes_parse_without_error() -> None:
    mail = parse(bytes(range(256)) * 64, received_at=RECEIVED)
    assert mail.message_id_synthesised
    assert mail.date == RECEIVED and mail.date_fallback


def test_empty_input_parses() -> None:
    mail = parse(b"", received_at=RECEIVED)
    assert mail.text == "" and mail.sender is None and mail.raw_size == 0


def test_huge_headers_inside_parts_are_cut_not_parsed_for_seconds() -> None:
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain" + b"; a=b" * 400_000 + b"\r\n\r\nhi\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: " + b"@" * 3_000_000 + b"\r\n\r\nx\r\n"
        b"--b--\r\n"
    )
    started = time.perf_counter()
    mail = parse(raw, received_at=RECEIVED)
    assert time.perf_counter() - started < 5.0
    assert mail.text == "hi"
    assert "Content-Type longer than 16384 characters: cut" in mail.defects


def test_millions_of_lines_are_refused_before_parsing() -> None:
    raw = HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + b"--\r\n" * 2_500_000
    assert limit_of(raw) == "line_count"


def test_a_message_id_too_long_in_bytes_is_one_digest_wherever_it_appears() -> None:
    huge = "\U0001d11e" * 300 + "@customer.example"  # 1.2 kB in UTF-8
    ascii_900 = "m" * 880 + "@customer.example"
    raw = (f"From: c@customer.example\r\nSubject: s\r\nMessage-ID: <{huge}>\r\n"
           f"In-Reply-To: <{huge}>\r\nReferences: <{ascii_900}> <{huge}>\r\n\r\nbody\r\n").encode()
    mail = parse(raw, received_at=RECEIVED)
    assert mail.message_id.endswith("@long-id.invalid>") and len(mail.message_id) < 100
    assert mail.in_reply_to == (mail.message_id,)
    assert mail.references == (f"<{ascii_900}>", mail.message_id)  # plain ids are kept as they are
