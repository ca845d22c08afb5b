"""Who bounced, read from the text of bounces that carry no RFC 3464 report.

Exim, qmail, Postfix's older text, Sendmail v5, Exchange 2003, Yahoo, SMTP32 (IMail), Zoho,
OpenSMTPD, DMA, InterScan and the Japanese carriers all write the failed address in the
human-readable part, each in its own way. They share three shapes, read here line by line:
the address opening a line (``<x@y>:``, ``x@y:``, ``  x@y``, ``* x@y``, ``x@y on <date>``), the
address after a phrase (``Recipient: x@y``, ``Intended recipient:``, ``Delivery failed 20
attempts: x@y``, ``could not be delivered to: <x@y>``, ``RCPT TO:<x@y>``), and an SMTP reply
quoting it (``550 5.1.1 <x@y>... User unknown``).

Only the report is read: reading stops where the returned message begins, and an address of
its headers (the original sender, a list's ``mailto:`` links) is never a failed recipient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A mailbox with a dotted domain; no "=", "/" or "?" in the local part, which would take
# "smtp.mailfrom=x@y" or a URL's query for an address.
ADDRESS = r"[A-Za-z0-9._%+!#$&*^`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}"
_BOUNDED = r"(?<![\w.%+=/-])(" + ADDRESS + r")(?![\w-]|\.\w|\?)"
_ANY = re.compile(_BOUNDED)
# Where the returned message (or a copy of its headers) begins: past it, addresses are the
# original's, never the failed ones.
_RETURNED = re.compile(
    r"(?im)^[ \t>|*=_\-\[(]*(?:"
    r"original message follows|message headers follow|(?:un)?sent message follows"
    r"|(?:below (?:this line )?is |here is |following is |included is )?a copy of (?:the |your )?"
    r"(?:original )?message|this is a copy of|the header of the original message"
    r"|(?:the )?original message(?: headers?)?\s*(?::|-+|\]|\))?[ \t]*$|message text follows"
    r"|returned message|the attachment contains the original|headers? of (?:the |your )?original"
    r"|original mail (?:as follows|header)|content-type:\s*message/rfc822|-+ ?original message ?-+"
    r"|(?:received|return-path|dkim-signature|arc-seal|delivered-to|message-id|mime-version):"
    r")"
)
# A header field of the original quoted in the report ("Your message  To: x  Subject: ..."):
# its addresses are the original's sender or its recipients at large, not the failed ones.
_HEADER_LINE = re.compile(
    r"(?i)^[ \t>]*(?:from|to|cc|bcc|sender|reply-to|return-path|subject|date|sent|message-id"
    r"|mail from|envelope-from|x-[\w-]{1,40}|received|references|in-reply-to|list-[\w-]{1,20})\s*:"
)
_OWN_LINE = re.compile(r"^[ \t]{0,4}(?:<" + _BOUNDED + r">:|\"?" + _BOUNDED + r"\"?:[ \t]*$)")
_LEADING = re.compile(r"^[ \t]*(?:[*>•\-]{1,4}[ \t]*|\d{1,3}[.)][ \t]*)?[\"'<(]?[ \t]*" + _BOUNDED)
_PHRASE = re.compile(
    r"(?i)(?:recipient(?:\s+address)?(?:\(s\))?|intended recipient|unknown user|user unknown"
    r"|invalid (?:user|recipient|address)|delivery failed(?:\s+\d{1,4}\s+attempts)?|delivery to"
    r"|(?:delivered|deliver (?:the |your )?(?:message|mail)?)\s*to|delivering (?:your )?(?:mail|message) to"
    r"|rcpt to|permanent errors|addressed to|following address(?:es)?|failed recipients?"
    r"|bad address|address rejected|no such (?:user|mailbox)|mailbox|address|undeliverable to|userid)"
    r"[ \t]*[:=]?[ \t]*[\"'<(\[]?[ \t]*" + _BOUNDED
)
# "User mailbox exceeds allowed size: x@y", "Invalid final delivery userid: x@y".
_COLON_END = re.compile(r":[ \t]*[\"'<]?" + _BOUNDED + r"[\"'>]?[ \t.]*$")
_SMTP_REPLY = re.compile(
    r"^[ \t]*(?:<<<[ \t]*)?[45]\d\d[ \-](?:[45]\.\d{1,3}\.\d{1,3}[ \t]+)?.{0,80}?<" + _BOUNDED + ">"
)
# Postfix and Sendmail name the address we sent to after an alias or forward expanded it:
# "<final@x> (expanded from <sent@y>)": the one we could have sent to is the second.
_EXPANDED = re.compile(
    r"(?i)(?:<?" + _BOUNDED + r">?[ \t\r\n]{0,20})?\(expanded from:?[ \t\r\n]{0,20}<?" + _BOUNDED + ">?"
)
# Mailboxes that answer for a server, never a customer's address we wrote to.
_NOT_RECIPIENT = re.compile(r"(?i)^(?:mailer-daemon|mailerdaemon|mail-daemon)@")
_MAX_TEXT = 20_000
_MAX_LINES = 400
_MAX_FOUND = 50


def report_region(text: str) -> str:
    """The part of a bounce's text before the returned message begins."""
    text = text[:_MAX_TEXT]
    # The first line may itself look like a header ("Received: ..." in a bare relay notice):
    # look for the returned message from the second line on.
    start = text.find("\n") + 1
    found = _RETURNED.search(text, start) if start else None
    return text[: found.start()] if found else text


def _mailto(text: str, start: int) -> bool:
    return text[max(0, start - 7) : start].lower() == "mailto:"


def _line_candidates(line: str) -> list[str]:
    if _HEADER_LINE.match(line):
        return []
    found: list[str] = []
    leading = _LEADING.match(line)
    if leading:
        found.append(leading.group(1))
    found += [m.group(1) for m in _PHRASE.finditer(line) if not _mailto(line, m.start(1))]
    last = _COLON_END.search(line)
    if last:
        found.append(last.group(1))
    return found


def text_recipients(text: str, excluded: Iterable[str] = ()) -> list[str]:
    """The failed recipients a plain-text bounce names, lower-case, in order, without duplicates.

    ``excluded`` are addresses that cannot be a failed recipient of ours: the bounce's own
    From and To (the To is our address), the returned message's sender. A line that opens with
    ``<x@y>:`` (qmail, Postfix) or is ``x@y:`` alone (Exim) is the MTA's own statement of who
    failed and stands even so (a mail to oneself bounces too).
    """
    region = report_region(text)
    drop = {a.lower() for a in excluded}
    originals: list[str] = []
    for match in _EXPANDED.finditer(region) if "(expanded from" in region.lower() else ():
        if match.group(1):
            drop.add(match.group(1).lower())
        originals.append(match.group(2))
    named: list[str] = []  # "<x@y>:" opening a line: qmail's and Postfix's own statement
    found: list[str] = []
    for line in region.split("\n")[:_MAX_LINES]:
        line = line[:1000]
        if "@" not in line:
            continue
        own = _OWN_LINE.match(line)
        if own:
            named.append((own.group(1) or own.group(2)).lower())
            continue
        found += _line_candidates(line)
        reply = _SMTP_REPLY.match(line)
        if reply:
            found.append(reply.group(1))
    result: list[str] = []
    for address in originals + named + found:
        key = address.strip(".").lower()
        if (key in drop and key not in named) or _NOT_RECIPIENT.match(key) or key in result:
            continue
        result.append(key)
        if len(result) >= _MAX_FOUND:
            break
    return result


def addresses_in(text: str) -> list[str]:
    """Every address in ``text`` (bounded), lower-case: for the exclusions."""
    return [m.group(1).lower() for m in _ANY.finditer(text[:_MAX_TEXT])][:_MAX_FOUND]
