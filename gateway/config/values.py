"""Converters for config values written as people write them: sizes, intervals, addresses."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)",
                       re.IGNORECASE)
_INTERVAL_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(value: object) -> int:
    """``25MB``, ``512 KiB``, ``1048576`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if not isinstance(value, str):
        raise ValueError("write a size like 25MB, 512KiB or a number of bytes")
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size; write it like 25MB, 512KiB or 1048576")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    base = 1024 if "i" in unit else 1
    factor = _SIZE_UNITS[unit[:1]] if base == 1 else 1024 ** " kmg".index(unit[0])
    return int(number * factor)


MAX_INTERVAL = timedelta(days=3660)  # ten years: no setting of the gateway is longer


def parse_interval(value: object) -> timedelta:
    """``15s``, ``10m``, ``2h30m``, ``2 days``, or a number of seconds -> timedelta."""
    seconds = _interval_seconds(value)
    if not 0 <= seconds <= MAX_INTERVAL.total_seconds():  # also NaN: no comparison holds
        raise ValueError(f"{value!r} is not an interval up to ten years; write it like 15s, 10m, 2h30m or 2d")
    return timedelta(seconds=seconds)


def _interval_seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("write an interval like 15s, 10m, 2h or 2d")
    text = value.strip()
    total = 0.0
    pos = 0
    for match in _INTERVAL.finditer(text):
        if text[pos:match.start()].strip(" ,and"):
            break
        unit = match.group(2).lower()
        key = "ms" if unit == "ms" else unit[0]
        total += float(match.group(1)) * _INTERVAL_UNITS[key]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"{value!r} is not an interval; write it like 15s, 10m, 2h30m or 2d")
    return total


def parse_address(value: object) -> str:
    """A bare mailbox address, checked for shape and for characters that could inject headers."""
    if not isinstance(value, str):
        raise ValueError("write an address like support@example.com")
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError("an address cannot contain line breaks")
    _name, addr = parseaddr(value)
    if not addr or "@" not in addr:
        raise ValueError(f"{value!r} is not an address like support@example.com")
    local, _, domain = addr.rpartition("@")
    try:
        Address(username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{value!r} is not a valid address: {exc}") from exc
    return addr


_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\Z")  # labels of letters, digits, hyphens


def parse_host_names(value: object) -> frozenset[str]:
    """A list of host names, lower-cased: ["mx1.example.com", "mx2.example.com"]."""
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is not a list of host names; write it like [\"mx.example.com\"]")
    return frozenset(parse_domain(v).rstrip(".").lower() for v in value)


def parse_domain(value: object) -> str:
    """A domain name as it may stand after the @ of a Message-ID: letters, digits, hyphens, dots."""
    if not isinstance(value, str) or not HOST_NAME.match(value):
        raise ValueError(f"{value!r} is not a domain name; write it like example.com")
    return value


_IPV4_LITERAL = re.compile(r"\[\d{1,3}(?:\.\d{1,3}){3}\]\Z")


def helo_name(value: object) -> str:
    """The name EHLO gives (RFC 5321 section 4.1.1.1): a fully qualified domain, or an address literal."""
    if isinstance(value, str) and (_IPV4_LITERAL.match(value) or value.startswith("[IPv6:")
                                   or ("." in value and HOST_NAME.match(value))):
        return value
    raise ValueError(f"{value!r} is not a fully qualified domain name; write this host's name as the "
                     'relay may look it up, like helo_name = "desk.example.com"')


def default_helo_name(message_id_domain: str) -> str:
    """The host name when it is fully qualified, else the Message-ID domain: never the address
    literal smtplib falls back to, which strict relays refuse. No DNS
    lookup: the config is read by every command, ``ingest`` once per mail."""
    host = socket.gethostname()
    if "." in host and HOST_NAME.match(host) and not host.startswith("localhost"):
        return host
    return message_id_domain
