"""Attachments: safe filenames, content ids, hashes, and the oversize policy."""

from __future__ import annotations

import hashlib
import re
from email.message import Message

from parsers.headers import decode_words, one_line, raw_to_text
from parsers.mail import Attachment

MAX_FILENAME_BYTES = 200
# Windows refuses these names whatever the extension; a saved "CON.txt" is a device.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*\u202a-\u202e\u2066-\u2069]+')
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/ms-tnef": ".dat",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/feedback-report": ".txt",
    "text/rfc822-headers": ".txt",
}
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}


def sanitise_filename(raw: str | None, index: int, content_type: str) -> str:
    """A name safe to show and to save: a basename, no controls or path tricks, capped.

    Bidirectional overrides are removed too ("invoice\u202egpj.exe" shows as a .jpg).
    Falls back to ``attachment-N`` with an extension for the content type.
    """
    name = one_line(decode_words(raw_to_text(raw)[0])) if raw else ""
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    name = re.sub(r"\.{2,}", ".", name)
    if _RESERVED.match(name):
        name = "_" + name
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        keep = MAX_FILENAME_BYTES - len(ext.encode("utf-8")) - 1
        stem = (stem if dot else name).encode("utf-8")[:keep].decode("utf-8", "ignore")
        name = (f"{stem}.{ext}" if ext else stem).strip(" .")  # a cut may leave them at the end again
    if not name or name.strip("_") == "":
        name = f"attachment-{index}{_EXTENSIONS.get(content_type, '')}"
    return name


def _text_view(part: Message) -> Message:
    """The part's MIME headers with raw 8-bit decoded, so parameters come out as text.

    compat32 turns 8-bit header values into Header objects that stringify with U+FFFD.
    """
    view = Message()
    for name, value in part.raw_items():
        if name.lower() in ("content-type", "content-disposition"):
            view[name] = raw_to_text(str(value))[0]
    return view


def part_filename(part: Message) -> str | None:
    """The filename a part declares (Content-Disposition, then Content-Type name=)."""
    if not all(str(value).isascii() for _, value in part.raw_items()):
        part = _text_view(part)
    try:
        name = part.get_filename()
        if name is None:
            name = part.get_param("name")  # type: ignore[assignment]
            if isinstance(name, tuple):
                name = name[2]
    except Exception:  # RFC 2231 values with unknown charsets have raised here
        return None
    return str(name) if name else None


def content_id(part: Message) -> str | None:
    """The Content-ID (RFC 2392) with its angle brackets, as cid: URLs refer to it."""
    value = part.get("Content-ID")
    if value is None:
        return None
    cid = one_line(str(value)).strip()
    if not cid:
        return None
    return cid if cid.startswith("<") else f"<{cid}>"


def build_attachment(
    *,
    data: bytes,
    filename: str,
    content_type: str,
    cid: str | None,
    inline: bool,
    max_size: int,
    defects: list[str],
) -> Attachment:
    """The Attachment value; bytes over ``max_size`` are dropped, their hash kept."""
    digest = hashlib.sha256(data).hexdigest()
    kept = data
    if len(data) > max_size:
        kept = b""
        defects.append(
            f"attachment too large: {filename} ({len(data)} bytes > {max_size}), data dropped"
        )
    return Attachment(
        filename=filename,
        content_type=content_type,
        size=len(data),
        sha256=digest,
        data=kept,
        content_id=cid,
        inline=inline,
    )
