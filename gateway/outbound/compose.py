"""Outgoing mail, written from checked parts: no value from a customer can become a header.

Every header value is either ours (addresses from the config, Message-IDs we made, a date) or
passes through a gate that makes it one line of safe text: ``one_line`` for subjects and names,
``_addr_spec`` for addresses, ``_MSGID`` for the ids we thread to. Non-ASCII text becomes RFC 2047
encoded words (``email.header``), bodies quoted-printable (``binascii``) or base64, file names
RFC 2231 parameters (``email.utils``). The standard library's ``EmailMessage`` builds the same
mail at three times the cost: composing was a quarter of processing a new ticket.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.utils import encode_rfc2231, format_datetime, formataddr, quote

from gateway.config.values import HOST_NAME

CRLF = "\r\n"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_SUBJECT = 250
MAX_LINE = 78  # RFC 5322's "SHOULD": headers are folded, 7bit bodies kept, within it


def one_line(value: str, limit: int = MAX_SUBJECT) -> str:
    """Collapse CR, LF and other control characters to spaces: a header value stays one header."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


@dataclass(frozen=True, slots=True)
class OutAttachment:
    """A file to send: its name is shown to the reader, never used as a path."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    from_name: str
    from_address: str
    to: tuple[tuple[str, str], ...]
    subject: str
    text: str
    html: str | None
    message_id: str
    date: datetime
    loop_token: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    auto_submitted: str | None = "auto-replied"
    cc: tuple[tuple[str, str], ...] = ()
    attachments: tuple[OutAttachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Composed:
    """A mail ready for the outbox: its bytes, and the subject as its header carries it."""

    raw: bytes
    subject: str


_MIME_TYPE = re.compile(r"^([a-z0-9][a-z0-9!#$&^_.+-]*)/([a-z0-9][a-z0-9!#$&^_.+-]*)$")


def _mime_type(content_type: str) -> tuple[str, str]:
    """``content_type`` as (maintype, subtype) when it is a plain leaf type; else octet-stream."""
    found = _MIME_TYPE.match(content_type.strip().lower())
    if found is None or found[1] in ("multipart", "message"):
        return "application", "octet-stream"
    return found[1], found[2]


_QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"\Z')
_ADDRESS_LITERAL = re.compile(r"\[[0-9A-Fa-f:.]+\]\Z")


def _addr_spec(addr: str) -> str:
    """``local@domain`` as it may stand in a header: the local part quoted where it must be, an
    international domain in its IDNA form. Raises ValueError for anything we cannot deliver to:
    no domain, a domain that is not a host name, control characters, a local part that is not
    ASCII (that needs SMTPUTF8) or is a raw RFC 2047 encoded word (a From header misread)."""
    local, _, domain = addr.rpartition("@")
    if not local or not local.isascii() or _CONTROL.search(local) or ("=?" in local and "?=" in local):
        raise ValueError(f"not a deliverable address: {addr!r}")
    quoted = _QUOTED_STRING.match(local) is not None  # "john doe"@...: a local part of its own
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"not a deliverable address: {addr!r}") from exc
    if not (HOST_NAME.match(domain) or _ADDRESS_LITERAL.match(domain)):
        raise ValueError(f"not a deliverable address: {addr!r}")
    return f"{local}@{domain}" if quoted else Address(username=local, domain=domain).addr_spec


def envelope_address(addr: str) -> str:
    """``addr`` as the relay must be given it (RCPT TO): the same ASCII form as in the header."""
    return _addr_spec(addr)


def _mailbox(name: str, addr: str) -> str:
    spec = _addr_spec(addr)
    name = one_line(name, 120)
    if not name:
        return spec
    if name.isascii():
        return formataddr((name, spec))
    return f"{Header(name, 'utf-8').encode(linesep=CRLF)} <{spec}>"


def _fold(name: str, items: list[str], separator: str) -> str:
    """``Name: a, b, c`` with a fold before any item that would take the line past 78."""
    out, width = f"{name}:", len(name) + 1
    for i, item in enumerate(items):
        piece = (separator if i else "") + " " + item
        if i and width + len(piece) > MAX_LINE:
            out += separator + CRLF + " " + item
            width = 1 + len(item)
        else:
            out += piece
            width += len(piece)
    return out


def _unstructured(name: str, value: str) -> str:
    if value.isascii() and len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}"
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep=CRLF)


# A Message-ID to thread to: one bracketed token of printable ASCII (an id in UTF-8, which only
# SMTPUTF8 mail may carry, is left out rather than the whole mail), and not under RFC 2606's
# ``.invalid``, where the parser puts the ids it makes up for mail that came without one.
_MSGID = re.compile(r"^<[!-;=?-~]+>$")


def _threadable(message_id: str) -> bool:
    return bool(_MSGID.match(message_id)) and not message_id.lower().endswith(".invalid>")


def _text_part(text: str, subtype: str) -> list[str]:
    """A text part's header lines and body lines. Plain ASCII with short lines and no ``=`` (which
    our boundaries begin with) goes as it is; anything else quoted-printable."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n").split("\n")
    if text.isascii() and "=" not in text and all(len(line) <= MAX_LINE for line in lines):
        encoding = "7bit"
    else:
        encoding = "quoted-printable"
        lines = binascii.b2a_qp("\n".join(lines).encode("utf-8"), istext=True).decode("ascii").split("\n")
    # The text ends with a line end of its own: the one before a boundary belongs to the boundary.
    return [f'Content-Type: text/{subtype}; charset="utf-8"', f"Content-Transfer-Encoding: {encoding}", "",
            *lines, ""]


def _attachment_part(part: OutAttachment) -> list[str]:
    maintype, subtype = _mime_type(part.content_type)
    filename = one_line(part.filename, 200) or "attachment"
    param = f'filename="{quote(filename)}"' if filename.isascii() else \
        f"filename*={encode_rfc2231(filename, 'utf-8')}"
    return [f"Content-Type: {maintype}/{subtype}", "Content-Transfer-Encoding: base64",
            f"Content-Disposition: attachment; {param}", "",
            *base64.encodebytes(part.data).decode("ascii").splitlines(), ""]


def _multipart(subtype: str, boundary: str, parts: list[list[str]]) -> list[str]:
    lines = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"', ""]
    for part in parts:
        lines += [f"--{boundary}", *part]
    lines += [f"--{boundary}--", ""]
    return lines


def compose(mail: OutgoingMail) -> Composed:
    """The mail as bytes with CRLF line ends, ready for the relay (and for DKIM signing)."""
    subject = one_line(mail.subject)
    head = [_fold("From", [_mailbox(mail.from_name, mail.from_address)], ","),
            _fold("To", [_mailbox(name, addr) for name, addr in mail.to], ",")]
    if mail.cc:
        head.append(_fold("Cc", [_mailbox(name, addr) for name, addr in mail.cc], ","))
    head += [_unstructured("Subject", subject), f"Date: {format_datetime(mail.date)}",
             f"Message-ID: {mail.message_id}"]
    if mail.in_reply_to and _threadable(mail.in_reply_to):
        head.append(f"In-Reply-To: {mail.in_reply_to}")
    refs = [v for v in mail.references if _threadable(v)]
    if refs:
        head.append(_fold("References", refs, ""))
    if mail.reply_to:
        head.append(f"Reply-To: {_addr_spec(mail.reply_to)}")
    if mail.auto_submitted:
        # RFC 3834: an automatic answer says so, so that other responders do not answer it.
        head += [f"Auto-Submitted: {one_line(mail.auto_submitted, 60)}", "X-Auto-Response-Suppress: All"]
    head += [_unstructured("X-Loop", one_line(mail.loop_token, 200)), "MIME-Version: 1.0"]

    # Boundaries begin with "=_", which neither quoted-printable nor base64 can produce and
    # which a 7bit part never holds (see _text_part).
    token = uuid.uuid4().hex
    body = _text_part(mail.text, "plain")
    if mail.html is not None:
        body = _multipart("alternative", f"=_a{token}", [body, _text_part(mail.html, "html")])
    if mail.attachments:
        body = _multipart("mixed", f"=_m{token}", [body, *(_attachment_part(p) for p in mail.attachments)])
    return Composed(raw=CRLF.join([*head, *body]).encode("ascii"), subject=subject)
