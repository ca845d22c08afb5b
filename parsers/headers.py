"""Header values: raw bytes to one clean line of text, RFC 2047 words decoded, tolerantly."""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterable
from email.message import Message

from parsers.charsets import codec_for, decode_text

# RFC 2047 section 2: =?charset?encoding?encoded-text?=, with the RFC 2231 section 5
# language suffix (=?utf-8*en?Q?...?=). Real mailers put spaces in the text; allow them.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*)\?=")
# RFC 5322 section 2.2.3: unfolding removes a CRLF that is followed by WSP.
_FOLD = re.compile(r"\r\n(?=[ \t])|\n(?=[ \t])|\r(?=[ \t])")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def raw_to_text(value: str, hint: str | None = None) -> tuple[str, str | None]:
    """A header value as the byte parser left it (surrogate-escaped 8-bit) to real text.

    RFC 6532 allows UTF-8 in headers; older mail carries raw 8-bit in some charset, most
    likely the one its body declares (``hint``), which beats guessing from a short string.
    """
    if value.isascii():
        return value, None
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    text, defect = decode_text(data, hint)
    return text, None if defect is None else f"8-bit header text ({defect})"


def _decode_b(text: str) -> bytes:
    data = _BASE64_JUNK.sub(b"", text.encode("ascii", "ignore"))
    data = data[: len(data) - len(data) % 4 if len(data) % 4 == 1 else len(data)]
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return b""


def _decode_q(text: str) -> bytes:
    return binascii.a2b_qp(text.encode("ascii", "ignore"), header=True)


def decode_words(value: str, defects: list[str] | None = None) -> str:
    """Decode every RFC 2047 encoded word in ``value``; never raises.

    Adjacent encoded words in the same charset are joined as bytes before decoding, since
    encoders split multi-byte characters across words; whitespace between encoded words
    is dropped (RFC 2047 section 6.2).
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: bytes = b""
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset:
            text, defect = decode_text(pending, pending_charset)
            if defect is not None and defects is not None:
                defects.append(f"encoded word: {defect}")
            out.append(text)
        pending, pending_charset = b"", ""

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and (between.strip() or not pending_charset):
            flush()
            out.append(between)
        charset, encoding, payload = match.groups()
        data = _decode_b(payload) if encoding in "bB" else _decode_q(payload)
        if pending_charset and codec_for(charset) != codec_for(pending_charset):
            flush()
        pending += data
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def one_line(value: str) -> str:
    """Unfold, turn runs of control characters (CR, LF, NUL, ...) into one space, trim."""
    return _CONTROLS.sub(" ", _FOLD.sub("", value)).strip()


def decode_header(
    value: str, defects: list[str] | None = None, hint: str | None = None
) -> str:
    """A raw header value to one decoded, clean line of text."""
    text, defect = raw_to_text(value, hint)
    if defect is not None and defects is not None:
        defects.append(defect)
    return one_line(decode_words(_FOLD.sub("", text), defects))


# RFC 5322 section 3.6.4: msg-id = "<" id-left "@" id-right ">". Real ids sometimes lack
# the "@"; they still identify a message, so only whitespace and brackets are refused.
_MSG_ID = re.compile(r"<([^<>\s\"]{1,900})>")
_BARE_ID = re.compile(r"^[^<>\s\"@]{1,450}@[^<>\s\"@]{1,450}$")


# An id longer than this in UTF-8 is kept as a digest of itself (see _bounded).
MAX_ID_BYTES = 900
LONG_ID_DOMAIN = "long-id.invalid"


def message_ids(value: str | None) -> tuple[str, ...]:
    """All ``<id>`` tokens in an In-Reply-To or References value, in order, deduplicated."""
    if not value:
        return ()
    found = [_bounded(m.group(1)) for m in _MSG_ID.finditer(value) if m.group(1) != "@"]
    if not found:
        bare = value.strip()
        found = [_bounded(bare)] if _BARE_ID.match(bare) else []
    return tuple(dict.fromkeys(found))


def _bounded(inner: str) -> str:
    """``<inner>``; past MAX_ID_BYTES of UTF-8, ``<sha256-of-inner@long-id.invalid>`` instead.

    900 characters of 4-byte UTF-8 make a 3,600-byte id, past what a PostgreSQL index entry
    can hold (2,704 bytes): one hostile Message-ID would have failed every batch it was in.
    The digest is the same wherever the id appears (Message-ID, In-Reply-To, References),
    so a reply to such a mail still finds its ticket.
    """
    encoded = inner.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_ID_BYTES:
        return f"<{hashlib.sha256(encoded).hexdigest()}@{LONG_ID_DOMAIN}>"
    return f"<{inner}>"


def first_message_id(value: str | None) -> str | None:
    """The Message-ID in a header value with its angle brackets, or None when bogus."""
    ids = message_ids(value)
    return ids[0] if ids else None


def raw_values(msg: Message, name: str) -> list[str]:
    """Every value of header ``name`` as the parser stored it (8-bit still escaped).

    ``Message.get`` would hand 8-bit values back as Header objects that print U+FFFD.
    """
    wanted = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == wanted]


def header_pairs(
    items: Iterable[tuple[str, object]], defects: list[str], hint: str | None = None
) -> tuple[tuple[str, str], ...]:
    """Decoded (name, value) pairs for raw header items, in order."""
    pairs = []
    for name, value in items:
        clean_name = one_line(raw_to_text(str(name))[0])
        pairs.append((clean_name, decode_header(str(value), defects, hint)))
    return tuple(pairs)


_CHARSET_PARAM = re.compile(rb'(?i)charset\s*=\s*"?([A-Za-z0-9._:-]{1,40})')


def charset_hint(raw: bytes) -> str | None:
    """The first charset a message declares anywhere: the best guess for raw 8-bit headers."""
    for match in _CHARSET_PARAM.finditer(raw, 0, 200_000):
        label = match.group(1).decode("ascii").lower()
        if label not in ("us-ascii", "ascii", "utf-8", "utf8"):
            return label
    return None


# RFC 2045 section 5.1: type "/" subtype, each a token.
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]{1,127}/[a-z0-9!#$%&'*+.^_`|~-]{1,127}")


def content_type(part: Message, defects: list[str] | None = None) -> str:
    """The part's content type, as ``Message.get_content_type``; a type that is not two tokens
    (control characters, 8-bit bytes, a kilobyte of junk) is application/octet-stream.

    RFC 2045 section 5.2 has an unreadable type read as text/plain only when it lacks a
    subtype (the stdlib does that); anything else stays opaque data, never text.
    """
    found = part.get_content_type()
    if _CONTENT_TYPE.fullmatch(found):
        return found
    if defects is not None:
        defects.append(f"content type {found[:60]!r} unreadable; kept as application/octet-stream")
    return "application/octet-stream"


# The header block as far as a Message-ID is looked for without parsing the mail (a mail's own
# headers rarely pass 64 KB; one that hides its Message-ID further down is found by the parser).
_HEAD_LIMIT = 64 * 1024
_MESSAGE_ID_LINE = re.compile(rb"^message-id[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def raw_message_id(raw: bytes) -> str | None:
    """The Message-ID of a raw mail, found in its header block without parsing it, or None: what the
    inbound queue records at once, so that a reply can tell that its parent is still waiting there."""
    head = raw[:_HEAD_LIMIT]
    end = _END_OF_HEAD.search(head)
    found = _MESSAGE_ID_LINE.search(head[:end.start()] if end else head)
    if found is None:
        return None
    try:
        value = found.group(1).decode("utf-8").replace("\r", " ").replace("\n", " ")
    except UnicodeDecodeError:
        return None  # not what a database column takes as it is: the parser deals with it
    if _CONTROL.search(value):
        return None
    return first_message_id(value)
