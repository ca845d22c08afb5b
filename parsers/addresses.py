"""Address headers (From, To, Cc, Reply-To) to Address values with decoded display names."""

from __future__ import annotations

import re
from email.utils import getaddresses

from parsers.headers import decode_words, one_line, raw_to_text
from parsers.mail import Address

# An address is one token: no whitespace, no controls, no angle brackets (RFC 5322 3.4.1).
_ADDR_JUNK = re.compile(r"[\s<>\x00-\x1f\x7f]+")
_QUOTED_JUNK = re.compile(r"[<>\x00-\x1f\x7f]+")
_MAX_ADDRESSES = 1000
# The shapes nearly every header has, ``Name <local@domain>`` and a bare ``local@domain``, with
# no quote, comma, comment or other special the full parser would read differently. They are
# read here directly: the standard library's strict ``getaddresses`` takes 17 µs for one.
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_ADDR_SPEC = rf"[{_ATEXT}.]+@[A-Za-z0-9.\-]+"
_SIMPLE = re.compile(rf"[ \t]*(?:([{_ATEXT} \t]*?)[ \t]*<({_ADDR_SPEC})>|({_ADDR_SPEC}))[ \t]*")
_MAX_LEN = 320  # RFC 5321 section 4.5.3.1: 64 local + 1 + 255 domain


def parse_addresses(
    values: list[str], defects: list[str] | None = None, hint: str | None = None
) -> tuple[Address, ...]:
    """Every mailbox in the given raw header values; groups flattened, junk dropped.

    The list is split *before* RFC 2047 decoding (RFC 2047 section 5: an encoded word in a
    phrase may decode to a comma, which must not split the address).
    """
    texts = []
    for value in values:
        text, defect = raw_to_text(value, hint)
        if defect is not None and defects is not None:
            defects.append(defect)
        texts.append(one_line(text))
    simple = _SIMPLE.fullmatch(texts[0]) if len(texts) == 1 else None
    try:
        pairs = [simple_pair(simple)] if simple is not None else getaddresses(texts)
    except Exception:  # the stdlib address parser has raised on hostile input before
        if defects is not None:
            defects.append("address list unparseable; kept none")
        return ()
    found: list[Address] = []
    for name, addr in pairs[:_MAX_ADDRESSES]:
        clean = _clean(addr)[:_MAX_LEN]
        if not clean:
            continue
        found.append(Address(name=one_line(decode_words(name, defects))[:_MAX_LEN], addr=clean))
    return tuple(found)


def _clean(addr: str) -> str:
    """The address without junk around or inside it; a quoted local part keeps its spaces
    (``"john doe"@example.com`` is a mailbox of its own, not ``johndoe``)."""
    local, at, domain = addr.rpartition("@")
    if at and len(local) >= 2 and local.lstrip()[:1] == '"' and local.rstrip()[-1:] == '"':
        return _QUOTED_JUNK.sub("", local.strip()) + "@" + _ADDR_JUNK.sub("", domain).strip(".,;:")
    return _ADDR_JUNK.sub("", addr).strip(".,;:")


def simple_pair(match: re.Match[str]) -> tuple[str, str]:
    """(name, address) of a header ``_SIMPLE`` matched, as ``getaddresses`` gives them."""
    name, addr, bare = match.groups()
    return ("", bare) if bare is not None else (" ".join(name.split()), addr)


def first_address(
    values: list[str], defects: list[str] | None = None, hint: str | None = None
) -> Address | None:
    addresses = parse_addresses(values, defects, hint)
    return addresses[0] if addresses else None


_ANGLE_ADDR = re.compile(r"<([^<>\s]+)>")


def sender_address(values: list[str], defects: list[str], hint: str | None = None) -> Address | None:
    """The mailbox a From header names. Written ``a@x.example <b@y.example>`` (an address as an
    unquoted display name: malformed, and a way to pass for a@x) it is the one in angle
    brackets, as mail clients and DMARC read it, not the first the list parser finds."""
    found = parse_addresses(values, defects, hint)
    if len(found) > 1:
        bracketed = _ANGLE_ADDR.findall(" ".join(values))
        if len(bracketed) == 1:
            defects.append("From holds more than one address: the one in angle brackets is the sender")
            key = bracketed[0].lower()
            return next((a for a in found if a.addr.lower() == key), found[0])
    return found[0] if found else None
