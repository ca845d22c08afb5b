"""Walks a parsed MIME tree: picks the text and HTML bodies, collects attachments and forwards."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from parsers.addresses import first_address
from parsers.attachments import (
    TNEF_TYPES,
    build_attachment,
    content_id,
    part_filename,
    sanitise_filename,
)
from parsers.charsets import decode_text, html_charset
from parsers.headers import content_type, decode_header, first_message_id, raw_values
from parsers.html_text import html_to_text
from parsers.limits import Budget, ParseLimitExceeded
from parsers.mail import Attachment, ForwardedMessage

_NEWLINES = re.compile(r"\r\n?")
# Alternatives to the text/plain and text/html bodies that are not worth keeping.
_DROPPED_ALTERNATIVES = {"text/enriched", "text/richtext", "text/watch-html", "text/x-amp-html"}
_FORWARD_TYPES = {"message/rfc822", "message/global"}
MAX_PART_HEADER = 16_384


def clean_text(text: str) -> str:
    """Newlines normalised to LF; NUL removed, as PostgreSQL text cannot store it."""
    return _NEWLINES.sub("\n", text).replace("\0", "")


@dataclass
class Bodies:
    """The body parts found at one level: the mail itself, or one forwarded message.

    ``segments`` are the readable parts in order, each ("plain", text) or ("html", markup):
    a list footer in text/plain after an HTML-only body must not hide that body.
    ``html`` is every HTML part, for display.
    """

    segments: list[tuple[str, str]] = field(default_factory=list)
    html: list[str] = field(default_factory=list)

    @property
    def html_only_size(self) -> int:
        """Characters of HTML that must be converted to give the text."""
        return sum(len(content) for kind, content in self.segments if kind == "html")

    def best_text(self) -> str:
        texts = (
            content.strip("\n") if kind == "plain" else html_to_text(content).strip("\n")
            for kind, content in self.segments
        )
        return "\n".join(text for text in texts if text.strip()).strip()

    def add_alternatives(self, choices: Bodies) -> None:
        """RFC 2046 5.1.4: one of the alternatives is the body; the plain one reads best."""
        plain = [segment for segment in choices.segments if segment[0] == "plain"]
        self.segments.extend(plain or choices.segments)
        self.html.extend(choices.html)


def _defect_strings(part: Message, ctype: str) -> list[str]:
    """The parser's defects as sentences: the defect class's own docstring says what it means."""
    out = []
    for defect in getattr(part, "defects", ()):
        summary = (type(defect).__doc__ or type(defect).__name__).strip().splitlines()[0]
        detail = str(defect).strip()[:120]
        out.append(f"{ctype}: {summary.rstrip('.')}" + (f" ({detail})" if detail else ""))
    return out


def _charset(part: Message) -> str | None:
    try:
        charset = part.get_param("charset")
    except Exception:  # a broken Content-Type must not lose the body
        return None
    if isinstance(charset, tuple):  # RFC 2231 encoded parameter: (charset, lang, value)
        charset = charset[2]
    return str(charset) if charset else None


def _block_bytes(part: Message) -> bytes:
    """message/delivery-status and friends: the parser split them into header blocks."""
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    blocks = []
    for block in payload:
        if not isinstance(block, Message):
            continue
        lines = "".join(f"{k}: {v}\n" for k, v in block.raw_items())
        blocks.append(lines.encode("utf-8", "surrogateescape"))
    return b"\n".join(blocks)


def _bound_mime_headers(part: Message, defects: list[str]) -> None:
    """Cut over-long Content-Type/Disposition values of nested parts.

    Only the top-level header block is bounded by ``header_size``; the stdlib re-parses
    these parameters on every get_param() call, and 40,000 of them cost a second each time.
    """
    for name in ("Content-Type", "Content-Disposition"):
        values = raw_values(part, name)
        if values and len(values[0]) > MAX_PART_HEADER:
            cut = values[0][:MAX_PART_HEADER]
            part.replace_header(name, cut[: cut.rfind(";")] if ";" in cut else cut)
            defects.append(f"{name} longer than {MAX_PART_HEADER} characters: cut")


class Walker:
    """One walk over one message; fills ``bodies``, ``attachments``, ``forwarded``."""

    def __init__(self, budget: Budget, defects: list[str]) -> None:
        self.budget = budget
        self.defects = defects
        self.bodies = Bodies()
        self.attachments: list[Attachment] = []
        self.forwarded: list[ForwardedMessage] = []
        self.has_tnef = False

    def walk(self, part: Message, depth: int = 0, bodies: Bodies | None = None) -> None:
        into = self.bodies if bodies is None else bodies
        self.budget.add_part()
        if depth > self.budget.limits.mime_depth:
            raise ParseLimitExceeded("mime_depth", f"MIME nesting deeper than {depth - 1}")
        self.budget.check_time("MIME walk")
        _bound_mime_headers(part, self.defects)
        ctype = content_type(part, self.defects)
        self.defects.extend(_defect_strings(part, ctype))
        payload = part.get_payload()
        if ctype in _FORWARD_TYPES and isinstance(payload, list) and payload:
            if isinstance(payload[0], Message):
                self._forward(payload[0], depth)
        elif isinstance(payload, list) and ctype.startswith("message/"):
            # delivery-status and feedback-report: header blocks, kept as one attachment
            self._attach(part, ctype, _block_bytes(part))
        elif isinstance(payload, list):
            alternative = ctype == "multipart/alternative"
            choices = Bodies() if alternative else into
            for child in payload:
                if not isinstance(child, Message):
                    continue
                if alternative and child.get_content_type() in _DROPPED_ALTERNATIVES:
                    continue
                self.walk(child, depth + 1, choices)
            if alternative:
                into.add_alternatives(choices)
        else:
            self._leaf(part, ctype, into)

    def _forward(self, inner: Message, depth: int) -> None:
        bodies = Bodies()
        self.walk(inner, depth + 1, bodies)
        local: list[str] = []

        def first(name: str) -> str:
            values = raw_values(inner, name)
            return decode_header(values[0][:MAX_PART_HEADER], local) if values else ""

        sender = first_address([v[:MAX_PART_HEADER] for v in raw_values(inner, "From")], local)
        subject, message_id = first("Subject"), first_message_id(first("Message-ID"))
        self.forwarded.append(
            ForwardedMessage(
                subject=subject, sender=sender, message_id=message_id, text=bodies.best_text()
            )
        )

    def _decoded(self, part: Message) -> bytes:
        raw = part.get_payload()
        estimate = len(raw) if isinstance(raw, str) else 0
        if self.budget.decoded + estimate * 3 // 4 > self.budget.limits.decoded_size:
            raise ParseLimitExceeded(
                "decoded_size", f"more than {self.budget.limits.decoded_size} decoded bytes"
            )
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        self.budget.add_decoded(len(data))
        return data

    def _leaf(self, part: Message, ctype: str, into: Bodies) -> None:
        disposition = part.get_content_disposition()
        filename = part_filename(part)
        data = self._decoded(part)
        is_text = ctype in ("text/plain", "text/html") or ctype.startswith("multipart/")
        if is_text and disposition != "attachment" and filename is None:
            declared = _charset(part)
            if declared is None and ctype == "text/html":
                declared = html_charset(data)
            text, defect = decode_text(data, declared)
            if defect is not None:
                self.defects.append(f"{ctype}: {defect}")
            if ctype.startswith("multipart/"):
                self.defects.append(f"{ctype}: no parts found; body kept as text")
            text = clean_text(text)
            if ctype == "text/html":
                into.html.append(text)
            into.segments.append(("html" if ctype == "text/html" else "plain", text))
            self.budget.check_time("text decoding")
            return
        self._attach(part, ctype, data, filename, disposition)

    def _attach(
        self,
        part: Message,
        ctype: str,
        data: bytes,
        filename: str | None = None,
        disposition: str | None = None,
    ) -> None:
        index = len(self.attachments) + 1
        name = sanitise_filename(filename, index, ctype)
        if ctype in TNEF_TYPES or name.lower() == "winmail.dat":
            self.has_tnef = True
        cid = content_id(part)
        self.attachments.append(
            build_attachment(
                data=data,
                filename=name,
                content_type=ctype,
                cid=cid,
                inline=disposition == "inline" or (disposition is None and cid is not None),
                max_size=self.budget.limits.max_attachment_size,
                defects=self.defects,
            )
        )
