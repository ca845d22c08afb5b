"""What a bounce says: the mail it returns, who did not get it, and for good or not.

The RFC 3464 report when there is one (attached, or written into the text by a forwarding
MTA), the plain-text formats of older MTAs otherwise (parsers.bounce_text), JSON notices of
sending services (parsers.bounce_json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.bounce_json import json_notice
from parsers.bounce_signs import REPORT_PARTS
from parsers.bounce_text import addresses_in, text_recipients
from parsers.charsets import decode_text
from parsers.headers import message_ids
from parsers.mail import ParsedMail

HEADER_PARTS = {"text/rfc822-headers", "text/rfc822-header", "message/global-headers"}


@dataclass(frozen=True, slots=True)
class BounceInfo:
    """What a bounce says about the mail it returns: which, to whom, and for good or not."""

    original_message_ids: tuple[str, ...]
    failed_recipients: tuple[str, ...]
    permanent: bool
    # False for a report that only says the mail was delivered, relayed or expanded: an
    # automatic message to screen, but no failure of anything.
    failed: bool = True


# RFC 3464 section 2.3: per-recipient fields. Names are case-insensitive.
_FIELD = re.compile(r"(?im)^[ \t>]*(final-recipient|original-recipient|action|status)[ \t]*:[ \t]*(.*)$")
# Bounded and without "@" in either part: a long value without an address fails in linear time.
_ADDRESS = re.compile(r"[^\s<>;\"(),:@]{1,256}@[^\s<>;\"(),:@]{1,255}[A-Za-z0-9]")
_ORIGINAL_ID = re.compile(r"(?im)^\s*>?\s*message-id\s*:\s*(<[^<>\s]+>)")
# The original's sender, wherever the bounce quotes it: header fields and the envelope.
_SENDER_FIELD = re.compile(
    r"(?im)^[ \t>]*(?:from|sender|reply-to|return-path|mail from|envelope-from)[ \t]*:(.{0,300})$"
    r"|^[ \t]*from[ \t]+<?([^\s<>@]{1,64}@[^\s<>]{1,255}?)>?[ \t]*$"
)
_TEMPORARY_TEXT = re.compile(
    r"(?i)\b(?:delayed|has not yet been delivered|will (?:continue to|keep) (?:try|retry)"
    r"|temporar(?:y|ily) (?:failure|unavailable|problem)|deferred|warning:)"
)
_MAX_IDS = 20
_MAX_TEXT = 20_000


def _field_blocks(text: str) -> list[dict[str, str]]:
    """Per-recipient blocks in order; a field seen again starts the next block (some MTAs
    leave out the blank line between recipients)."""
    blocks: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        name = match.group(1).lower()
        if name in fields:
            blocks.append(fields)
            fields = {}
        fields[name] = match.group(2).strip()
    blocks.append(fields)
    return [b for b in blocks if "final-recipient" in b or "original-recipient" in b or "action" in b]


def _recipient_blocks(mail: ParsedMail) -> list[dict[str, str]]:
    """The per-recipient field blocks of every delivery-status part (RFC 3464 2.3), or of the
    report a forwarding MTA wrote into the text."""
    blocks: list[dict[str, str]] = []
    # RFC 6522: a report has one delivery-status part; a later one belongs to a report that
    # travelled inside the returned message (a bounce of a bounce), about other recipients.
    for attachment in mail.attachments:
        if attachment.content_type in REPORT_PARTS:
            blocks = _field_blocks(decode_text(attachment.data[:_MAX_TEXT], "utf-8")[0])
            break
    if not blocks and re.search(r"(?im)^[ \t>]*final-recipient[ \t]*:", mail.text[:_MAX_TEXT]):
        blocks = _field_blocks(mail.text[:_MAX_TEXT])
    return blocks


def _block_address(fields: dict[str, str]) -> str | None:
    """Original-Recipient when it names an address (the one we sent to: RFC 3464 2.3.1),
    else Final-Recipient (where an alias or forward took it)."""
    for name in ("original-recipient", "final-recipient"):
        value = fields.get(name, "")[:600]
        found = _ADDRESS.search(value.partition(";")[2] or value) if "@" in value else None
        if found and not found.group(0).lower().startswith("mailto:"):
            return found.group(0)
    return None


def _header_texts(mail: ParsedMail) -> list[str]:
    return [
        decode_text(a.data[:_MAX_TEXT], "utf-8")[0]
        for a in mail.attachments
        if a.content_type in HEADER_PARTS
    ]


def original_ids(mail: ParsedMail) -> tuple[str, ...]:
    """The Message-IDs of the returned mail, wherever the report quotes them."""
    ids = [f.message_id for f in mail.forwarded if f.message_id]
    for text in _header_texts(mail):
        ids.extend(m.group(1) for m in _ORIGINAL_ID.finditer(text))
    if not ids:
        # qmail/Exim include the returned message in the body, headers and all.
        ids.extend(m.group(1) for m in _ORIGINAL_ID.finditer(mail.text[:_MAX_TEXT]))
    # Some MTAs (Exchange among them) thread the report to the original: In-Reply-To.
    ids.extend(mail.in_reply_to)
    return tuple(dict.fromkeys(i for i in ids if message_ids(i)))[:_MAX_IDS]


def original_senders(mail: ParsedMail) -> set[str]:
    """Addresses that sent or answer for the returned mail: never its failed recipients.

    The bounce is written to the original's sender (its To), by a server (its From); the
    returned message names its sender in From, Sender, Reply-To and the envelope.
    """
    found = {a.key for a in (*mail.to, *mail.cc, *mail.reply_to)}
    if mail.sender is not None:
        found.add(mail.sender.key)
    found.update(f.sender.key for f in mail.forwarded if f.sender is not None)
    for text in (mail.text[:_MAX_TEXT], *_header_texts(mail)):
        for match in _SENDER_FIELD.finditer(text):
            found.update(addresses_in(match.group(1) or match.group(2) or "")[:1])
    return found


def bounce_info(mail: ParsedMail) -> BounceInfo:
    """Original Message-IDs, failed recipients and permanence of a bounce."""
    ids = original_ids(mail)
    notice = json_notice(mail.text)
    if notice is not None:
        return BounceInfo(ids, *notice)
    blocks = _recipient_blocks(mail)
    recipients: list[str] = []
    permanent = False
    temporary = False
    failures = 0
    for fields in blocks:
        action = (fields.get("action", "").split() or [""])[0].lower()
        status = fields.get("status", "")
        if action in ("delivered", "relayed", "expanded", "deliverable"):
            continue  # RFC 3464 2.3.3: this recipient did not fail
        failures += 1
        permanent |= action == "failed" or status.startswith("5")
        temporary |= action == "delayed" or status.startswith("4")
        address = _block_address(fields)
        if address is not None:
            recipients.append(address)
    for value in mail.header_all("X-Failed-Recipients"):
        recipients.extend(m.group(0) for m in _ADDRESS.finditer(value))
        permanent = True  # Exim sets it only for permanent failures
    if not recipients and (failures or not blocks):
        recipients.extend(text_recipients(mail.text, original_senders(mail)))
    if not blocks:
        if not permanent:
            permanent = not _TEMPORARY_TEXT.search(mail.subject + "\n" + mail.text[:4000])
    elif not failures and not recipients:
        # Every recipient block says delivered, relayed or expanded: a success report.
        return BounceInfo(ids, (), False, failed=False)
    elif not permanent and not temporary:
        permanent = True  # a failure block with no action or status we know: treat as final
    unique_recipients = tuple(dict.fromkeys(r.strip(".").lower() for r in recipients))
    return BounceInfo(
        original_message_ids=ids,
        failed_recipients=unique_recipients,
        permanent=permanent,
    )
