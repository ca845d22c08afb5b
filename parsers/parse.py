"""parse(): raw RFC 5322 bytes to a ParsedMail, within bounded work, never raising otherwise."""

from __future__ import annotations

import email
import email.policy
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from parsers.addresses import parse_addresses, sender_address
from parsers.body import Walker, clean_text
from parsers.charsets import decode_text
from parsers.dates import mail_date
from parsers.headers import (
    charset_hint,
    content_type,
    first_message_id,
    header_pairs,
    message_ids,
    raw_values,
)
from parsers.html_text import MAX_HTML_TO_TEXT, sanitise_html
from parsers.limits import (
    Budget,
    Limits,
    ParseLimitExceeded,
    check_headers,
    check_size,
    check_structure,
    header_block_length,
)
from parsers.mail import Address, Attachment, ForwardedMessage, ParsedMail
from parsers.reply_split import split_reply

DEFAULT_LIMITS = Limits()
SYNTHETIC_DOMAIN = "synthesised.invalid"  # RFC 2606: .invalid never resolves


def parse(
    raw: bytes,
    *,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
    ticker: Callable[[], float] = time.perf_counter,
) -> ParsedMail:
    """Parse one raw message. Raises only ParseLimitExceeded, for a message too costly to parse.

    The standard library parser does the MIME work with the compat32 policy: it is six
    times faster than the default policy on real mail, and its lazy header objects are
    what raised on hostile input; header decoding is ours (parsers.headers) and tolerant.
    """
    budget = Budget(limits, ticker)
    check_size(raw, limits)
    check_headers(raw, limits)
    check_structure(raw, limits)
    defects: list[str] = []
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except RecursionError as exc:  # the stdlib parser recurses once per MIME level
        raise ParseLimitExceeded("mime_depth", "MIME nesting too deep to parse") from exc
    budget.check_time("MIME parse")
    try:
        return _build(raw, msg, received_at, budget, defects)
    except ParseLimitExceeded:
        raise
    except RecursionError as exc:
        raise ParseLimitExceeded("mime_depth", "MIME nesting too deep to walk") from exc
    except Exception as exc:  # a stdlib bug on hostile input: keep the mail, flag it
        defects.append(f"parser error {type(exc).__name__}: {str(exc)[:200]}; raw fallback")
        return _fallback(raw, received_at, budget, defects)


@dataclass(frozen=True, slots=True)
class _Content:
    """What the body walk found; the headers are read separately."""

    text: str
    html: str | None
    attachments: tuple[Attachment, ...] = ()
    forwarded: tuple[ForwardedMessage, ...] = ()
    has_tnef: bool = False
    content_type: str = "text/plain"


def _build(
    raw: bytes, msg: Message, received_at: datetime, budget: Budget, defects: list[str]
) -> ParsedMail:
    walker = Walker(budget, defects)
    walker.walk(msg)
    bodies = walker.bodies
    text = bodies.best_text()
    budget.check_time("HTML to text")
    if bodies.html_only_size > MAX_HTML_TO_TEXT:
        defects.append(f"HTML body over {MAX_HTML_TO_TEXT} characters: text from the start only")
    html = sanitise_html("\n".join(bodies.html)) if bodies.html else None
    budget.check_time("HTML sanitising")
    content = _Content(
        text=text,
        html=html,
        attachments=tuple(walker.attachments),
        forwarded=tuple(walker.forwarded),
        has_tnef=walker.has_tnef,
        content_type=content_type(msg),
    )
    return _assemble(raw, msg, content, received_at, budget, defects)


def _assemble(
    raw: bytes,
    msg: Message,
    content: _Content,
    received_at: datetime,
    budget: Budget,
    defects: list[str],
) -> ParsedMail:
    hint = _hint(raw)
    headers = header_pairs(msg.raw_items(), defects, hint)

    def first(name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in headers if k.lower() == wanted), None)

    def addresses(name: str) -> tuple[Address, ...]:
        return parse_addresses(raw_values(msg, name), defects, hint)

    message_id = first_message_id(first("Message-ID"))
    synthesised = message_id is None
    if message_id is None:
        message_id = f"<{hashlib.sha256(raw).hexdigest()[:32]}@{SYNTHETIC_DOMAIN}>"
        defects.append("Message-ID missing or bogus; synthesised")
    date, fell_back, date_defect = mail_date(first("Date"), received_at)
    if date_defect is not None:
        defects.append(date_defect)
    reply_text = split_reply(content.text)
    budget.check_time("reply splitting")
    # Duplicate detection (with the Message-ID): same words, same files.
    digest = hashlib.sha256(_normalised(content.text).encode("utf-8"))
    for attachment in content.attachments:
        digest.update(b"\n" + attachment.sha256.encode("ascii"))
    sender = sender_address(raw_values(msg, "From"), defects, hint) or \
        sender_address(raw_values(msg, "Sender"), defects, hint)
    recipients = addresses("Reply-To"), addresses("To"), addresses("Cc")
    budget.check_time("addresses")
    return ParsedMail(
        message_id=message_id,
        message_id_synthesised=synthesised,
        in_reply_to=message_ids(first("In-Reply-To")),
        references=message_ids(" ".join(v for k, v in headers if k.lower() == "references")),
        sender=sender,
        reply_to=recipients[0],
        to=recipients[1],
        cc=recipients[2],
        subject=first("Subject") or "",
        date=date,
        date_fallback=fell_back,
        text=content.text,
        reply_text=reply_text,
        html=content.html,
        attachments=content.attachments,
        forwarded=content.forwarded,
        headers=headers,
        defects=tuple(dict.fromkeys(defects)),
        has_tnef=content.has_tnef,
        body_hash=digest.hexdigest(),
        raw_size=len(raw),
        content_type=content.content_type,
    )


def _hint(raw: bytes) -> str | None:
    """A charset for raw 8-bit header text, only looked for when there is some."""
    return None if raw[: header_block_length(raw)].isascii() else charset_hint(raw)


def _normalised(text: str) -> str:
    """Text as compared for duplicates: trailing spaces and blank edges do not count."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _fallback(
    raw: bytes, received_at: datetime, budget: Budget, defects: list[str]
) -> ParsedMail:
    """The message as two pieces, headers and one text body, when the MIME walk failed."""
    end = header_block_length(raw)
    try:
        head = email.message_from_bytes(raw[:end], policy=email.policy.compat32)
    except Exception:  # even the headers defeat the parser: keep the body alone
        head = Message()
        defects.append("headers unparseable; none kept")
    body, defect = decode_text(raw[end:].lstrip(b"\r\n"), None)
    if defect is not None:
        defects.append(defect)
    budget.check_time("fallback")
    return _assemble(
        raw, head, _Content(text=clean_text(body).strip(), html=None), received_at, budget, defects
    )
