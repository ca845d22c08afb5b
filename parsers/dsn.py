"""Delivery-status notifications (RFC 3464) and the plain-text bounces of older MTAs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.charsets import decode_text
from parsers.headers import message_ids
from parsers.mail import ParsedMail

REPORT_PARTS = {"message/delivery-status", "message/global-delivery-status"}
HEADER_PARTS = {"text/rfc822-headers", "message/global-headers"}


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
_FIELD = re.compile(r"(?im)^(final-recipient|original-recipient|action|status)\s*:\s*(.*)$")
_ADDRESS = re.compile(r"[^\s<>;\"(),:]+@[^\s<>;\"(),:]+[A-Za-z0-9]")
# Plain-text bounces (qmail, Postfix, Exim) list the address as "<x@y>:" on its own line.
_TEXT_RECIPIENT = re.compile(r"(?m)^\s*<([^<>\s]+@[^<>\s]+)>:?")
# Older MTAs put the failed address alone on an indented line, or in an X.400 address.
_LONE_ADDRESS = re.compile(r"(?m)^[ \t]*[\"']?<?([^\s<>@\"']+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?[\"']?[ \t]*$")
_X400_SMTP = re.compile(r"(?i)\bSMTP=([^\s<>@;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_ORIGINAL_ID = re.compile(r"(?im)^\s*>?\s*message-id\s*:\s*(<[^<>\s]+>)")
_TEMPORARY_TEXT = re.compile(
    r"(?i)\b(?:delayed|has not yet been delivered|will (?:continue to|keep) (?:try|retry)"
    r"|temporar(?:y|ily) (?:failure|unavailable|problem)|deferred|warning:)"
)
_MAX_IDS = 20


def report_type(mail: ParsedMail) -> str:
    """The report-type parameter of a multipart/report (RFC 6522), lower-case."""
    if mail.content_type != "multipart/report":
        return ""
    match = re.search(r'(?i)report-type\s*=\s*"?([\w.-]+)', mail.header("Content-Type") or "")
    return match.group(1).lower() if match else ""


# Senders of bounces: the MTA's daemon (a name, not a mailbox anyone reads) and, with
# bounce-like content, the RFC 5321 section 4.5.1 postmaster.
_MAILER_DAEMON = re.compile(
    r"(?i)(?:^|[\s<\"])(?:mailer[- ]daemon|mail-daemon|mailerdaemon|mdaemon@)\b"
    r"|mail delivery (?:sub)?system"
)
_POSTMASTER = re.compile(r"(?i)(?:^|[\s<\"])postmaster\b")
_BOUNCE_SUBJECT = re.compile(
    r"(?i)^\s*(?:\[[^\]]{0,40}\]\s*)?(?:e-?mail\s+)?(?:undeliverable|undelivered mail"
    r"|delivery status notification|mail delivery (?:failed|failure|warning|problem)"
    r"|delivery (?:failure|failed|problem|warning)|failure notice|returned mail|mail error"
    r"|mail system error|non[- ]?deliver|delivery notification|nondelivery"
    r"|message delivery failure|permanent delivery failure|delivery has failed"
    r"|could not send message|warning: could not send|delayed mail|delivery delayed"
    r"|message not delivered|mail could not be delivered|unable to deliver"
    r"|(?:e-?mail )?bounce notification|unzustellbar|nicht zustellbar|non remis"
    r"|impossible de remettre|no se puede entregar|no entregado|mensaje no entregado"
    r"|notificaci[óo]n de estado de entrega)"
    # ... as a mail server writes it: then a colon, a bracket, a dash or nothing ("Undeliverable:
    # Re: ...", "Delivery Status Notification (Failure)"), not "Delivery failure to Gmail for ...".
    r"\w*(?:\s*(?:$|[:(\-–—\[]|\d)|\s+(?:returning|see|for|report|mail|message|notification|notice|status"
    r"|returned|e-?mail|nachricht|benachrichtigung)\b)"
)
_BOUNCE_BODY = re.compile(
    r"(?i)this is the qmail-send program|this is the mail system at host"
    r"|message was created automatically by mail delivery software"
    r"|(?:could not|cannot|can't|couldn't) be delivered"
    r"|could not deliver (?:the )?message|delivery to the following recipients? "
    r"(?:failed|has been (?:delayed|postponed))|has been postponed"
    r"|your message (?:did not reach|wasn't delivered|was not delivered)"
    r"|the following addresses had permanent fatal errors"
    r"|i'm (?:sorry|afraid) (?:to have to inform you that your message could not|i wasn't able)"
    r"|delivery has failed to these recipients|unable to deliver (?:your )?message"
    r"|permanent (?:fatal )?errors?|undeliverable message|non-delivery report"
    r"|(?:e-?mail|message) you sent (?:was|has been) (?:rejected|returned)"
)
# From: "Jetmail System" <>: a null author is a machine speaking (RFC 5321 4.5.5).
_NULL_FROM = re.compile(r"<\s*>")


def bounce_reason(mail: ParsedMail) -> str | None:
    if report_type(mail) == "delivery-status":
        return "multipart/report; report-type=delivery-status"
    if has_delivery_report(mail):
        return "message/delivery-status part"
    if mail.header("X-Failed-Recipients") is not None:
        return f"X-Failed-Recipients: {mail.header('X-Failed-Recipients')}"
    head = mail.text[:4000]
    if "this is the qmail-send program" in head.lower():
        return "qmail-send bounce"
    from_value = mail.header("From") or ""
    for where, value in (("From", from_value), ("Return-Path", mail.header("Return-Path") or "")):
        if _MAILER_DAEMON.search(value):
            return f"{where}: {value[:120]}"
    if (_POSTMASTER.search(from_value) or _NULL_FROM.search(from_value)) and dsn_like(mail):
        return f"From: {from_value[:120]} with delivery-report text"
    if _BOUNCE_SUBJECT.match(mail.subject) and _BOUNCE_BODY.search(head):
        return f"bounce subject and text: {mail.subject[:80]}"
    return None


def dsn_like(mail: ParsedMail) -> bool:
    """Looks like a delivery report even without the RFC 3464 structure."""
    return bool(
        _BOUNCE_SUBJECT.match(mail.subject)
        or _BOUNCE_BODY.search(mail.text[:4000])
        or has_delivery_report(mail)
    )


def _recipient_blocks(mail: ParsedMail) -> list[dict[str, str]]:
    """The per-recipient field blocks of every delivery-status part (RFC 3464 2.3)."""
    blocks: list[dict[str, str]] = []
    for attachment in mail.attachments:
        if attachment.content_type not in REPORT_PARTS:
            continue
        text, _ = decode_text(attachment.data, "utf-8")
        for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
            fields = {m.group(1).lower(): m.group(2).strip() for m in _FIELD.finditer(chunk)}
            if "final-recipient" in fields or "action" in fields or "status" in fields:
                blocks.append(fields)
    return blocks


def has_delivery_report(mail: ParsedMail) -> bool:
    return any(a.content_type in REPORT_PARTS for a in mail.attachments)


def _original_ids(mail: ParsedMail) -> list[str]:
    ids = [f.message_id for f in mail.forwarded if f.message_id]
    for attachment in mail.attachments:
        if attachment.content_type in HEADER_PARTS:
            text, _ = decode_text(attachment.data, "utf-8")
            ids.extend(m.group(1) for m in _ORIGINAL_ID.finditer(text))
    if not ids:
        # qmail/Exim include the returned message in the body, headers and all.
        ids.extend(m.group(1) for m in _ORIGINAL_ID.finditer(mail.text))
    # Some MTAs (Exchange among them) thread the report to the original: In-Reply-To.
    ids.extend(mail.in_reply_to)
    return [i for i in ids if message_ids(i)]


def _text_recipients(mail: ParsedMail) -> list[str]:
    """Failed addresses in a human-readable bounce: "<x@y>:" lines, else lone addresses."""
    found = [m.group(1) for m in _TEXT_RECIPIENT.finditer(mail.text[:20000])]
    if not found:
        head = mail.text[:4000]
        found = [m.group(1) for m in _LONE_ADDRESS.finditer(head)]
        found += [m.group(1) for m in _X400_SMTP.finditer(head)]
    return found


def bounce_info(mail: ParsedMail) -> BounceInfo:
    """Original Message-IDs, failed recipients and permanence of a bounce."""
    blocks = _recipient_blocks(mail)
    recipients: list[str] = []
    permanent = False
    temporary = False
    failures = 0
    for fields in blocks:
        action = (fields.get("action", "").split() or [""])[0].lower()
        status = fields.get("status", "")
        if action in ("delivered", "relayed", "expanded"):
            continue  # RFC 3464 2.3.3: this recipient did not fail
        failures += 1
        permanent |= action == "failed" or status.startswith("5")
        temporary |= action == "delayed" or status.startswith("4")
        value = fields.get("final-recipient", "")
        found = _ADDRESS.search(value.partition(";")[2] or value)
        if found:
            recipients.append(found.group(0))
    for value in mail.header_all("X-Failed-Recipients"):
        recipients.extend(m.group(0) for m in _ADDRESS.finditer(value))
        permanent = True  # Exim sets it only for permanent failures
    if not recipients:
        recipients.extend(_text_recipients(mail))
    if not blocks:
        if not permanent:
            permanent = not _TEMPORARY_TEXT.search(mail.subject + "\n" + mail.text[:4000])
    elif not failures and not recipients:
        # Every recipient block says delivered, relayed or expanded: a success report.
        return BounceInfo(tuple(dict.fromkeys(_original_ids(mail)))[:_MAX_IDS], (), False, failed=False)
    elif not permanent and not temporary:
        permanent = True  # a failure block with no action or status we know: treat as final
    unique_recipients = tuple(dict.fromkeys(r.strip(".").lower() for r in recipients))
    return BounceInfo(
        original_message_ids=tuple(dict.fromkeys(_original_ids(mail)))[:_MAX_IDS],
        failed_recipients=unique_recipients,
        permanent=permanent,
    )
