"""When our own MTA accepted a mail: the Received header it wrote on top, believed within bounds.

A gateway behind Postfix reads mail by LMTP, SMTP or a pipe when Postfix delivers it, which
may be long after Postfix accepted it (the gateway was down, a queue backed up). The SLA clock
runs from the acceptance, as it does for IMAP from INTERNALDATE. Only a Received header at the
very top (trace fields a delivery engineer adds may stand above it) whose ``by`` host is one of
``[smtp] mta_hosts`` is ours; anything else was written by whoever sent the mail.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from parsers.dates import as_utc, parse_date

# Postfix's maximal_queue_lifetime default: an acceptance time older than that is not our
# MTA's (or its clock is wrong) and is not believed.
MAX_QUEUE_AGE = timedelta(days=5)
_HEADER_LIMIT = 64 * 1024
_ABOVE = frozenset({b"return-path", b"delivered-to", b"x-original-to"})
_BY = re.compile(r"\bby\s+\[?([A-Za-z0-9.:-]{1,255})", re.IGNORECASE)


def _top_received(raw: bytes) -> str | None:
    """The value of the first Received header, if only delivery trace fields stand above it."""
    head = raw[:_HEADER_LIMIT]
    end = head.find(b"\n\n")
    crlf_end = head.find(b"\r\n\r\n")
    if crlf_end != -1 and (end == -1 or crlf_end < end):
        end = crlf_end
    lines = (head if end == -1 else head[:end]).splitlines()
    fields: list[list[bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    for field_lines in fields:
        name, sep, _ = field_lines[0].partition(b":")
        name = name.strip().lower()
        if not sep:
            return None
        if name == b"received":
            value = b" ".join(part.strip() for part in field_lines).partition(b":")[2]
            return value.decode("ascii", "replace")
        if name not in _ABOVE:
            return None
    return None


def mta_arrival(raw: bytes, mta_hosts: frozenset[str], now: datetime) -> datetime | None:
    """When one of ``mta_hosts`` accepted ``raw``, by its own Received header, or None.

    None when no host is configured, the top Received is someone else's, its date cannot be
    read, or it is more than MAX_QUEUE_AGE before ``now``. (The store also never believes a
    time after its own clock.)
    """
    if not mta_hosts:
        return None
    value = _top_received(raw)
    if value is None:
        return None
    clauses, sep, date_text = value.rpartition(";")
    by = _BY.search(clauses) if sep else None
    if by is None or by.group(1).rstrip(".").lower() not in mta_hosts:
        return None
    parsed = parse_date(date_text.strip())
    if parsed is None:
        return None
    try:
        moment = as_utc(parsed)
    except (ValueError, OverflowError):
        return None
    return moment if moment >= now - MAX_QUEUE_AGE else None
