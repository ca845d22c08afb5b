"""Outgoing mail built with EmailMessage: no value from a customer can become a header."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime


class _CachedHeaderRegistry(HeaderRegistry):
    """The standard registry, with its header classes built once per name.

    ``HeaderRegistry.__getitem__`` builds a new class with ``type()`` on every header set;
    caching it is the same classes with half the cost of composing a mail.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


POLICY = SMTP.clone(header_factory=_CachedHeaderRegistry())

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_SUBJECT = 250


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


_MIME_TYPE = re.compile(r"^([a-z0-9][a-z0-9!#$&^_.+-]*)/([a-z0-9][a-z0-9!#$&^_.+-]*)$")


def _mime_type(content_type: str) -> tuple[str, str]:
    """``content_type`` as (maintype, subtype) when it is a plain leaf type; else octet-stream."""
    found = _MIME_TYPE.match(content_type.strip().lower())
    if found is None or found[1] in ("multipart", "message"):
        return "application", "octet-stream"
    return found[1], found[2]


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    if not local or not domain or _CONTROL.search(addr):
        raise ValueError(f"not a deliverable address: {addr!r}")
    return Address(display_name=one_line(name, 120), username=local, domain=domain)


_MSGID = re.compile(r"^<[^<>\s]+>$")


def _ids(values: tuple[str, ...]) -> str:
    return " ".join(v for v in values if _MSGID.match(v))


def build_message(mail: OutgoingMail) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(mail.from_name, mail.from_address)
    msg["To"] = [_address(name, addr) for name, addr in mail.to]
    if mail.cc:
        msg["Cc"] = [_address(name, addr) for name, addr in mail.cc]
    msg["Subject"] = one_line(mail.subject)
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = mail.message_id
    if mail.in_reply_to and _MSGID.match(mail.in_reply_to):
        msg["In-Reply-To"] = mail.in_reply_to
    refs = _ids(mail.references)
    if refs:
        msg["References"] = refs
    if mail.reply_to:
        msg["Reply-To"] = _address("", mail.reply_to)
    if mail.auto_submitted:
        # RFC 3834: an automatic answer says so, so that other responders do not answer it.
        msg["Auto-Submitted"] = mail.auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = mail.loop_token
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    for part in mail.attachments:
        maintype, subtype = _mime_type(part.content_type)
        msg.add_attachment(part.data, maintype=maintype, subtype=subtype,
                           filename=one_line(part.filename, 200) or "attachment")
    return msg
