"""The values the parser produces: a frozen ParsedMail and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: a decoded display name and the address as written (``addr``)."""

    name: str
    addr: str

    @property
    def key(self) -> str:
        """The address lower-cased, for comparisons and lookups."""
        return self.addr.lower()

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried by the mail. ``filename`` is sanitised: safe to show, never a path."""

    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False)
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True, slots=True)
class ForwardedMessage:
    """A ``message/rfc822`` part: who sent it, what it said."""

    subject: str
    sender: Address | None
    message_id: str | None
    text: str


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """Everything the gateway needs to know about one raw RFC 5322 message.

    Message-IDs are kept with their angle brackets (``<id@host>``) as they appear on the wire.
    ``date`` is always timezone-aware UTC; when the header is missing or absurd the caller's
    ``received_at`` stands in and ``date_fallback`` is true.
    """

    message_id: str
    message_id_synthesised: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: datetime
    date_fallback: bool
    text: str
    reply_text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    forwarded: tuple[ForwardedMessage, ...]
    headers: tuple[tuple[str, str], ...]
    defects: tuple[str, ...]
    has_tnef: bool
    body_hash: str
    raw_size: int
    content_type: str

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), decoded, or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == wanted)
