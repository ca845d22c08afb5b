"""Bounded work: the parse limits, the error that reports one crossed, and cheap pre-scans."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class Limits:
    """How much work one message may cost. Crossing any of them raises ParseLimitExceeded.

    ``max_attachment_size`` is the exception: an attachment larger than it is *kept as
    metadata* (filename, type, size, sha256) with ``data=b""`` and a defect, because a big
    file is a normal thing for a customer to send and must not quarantine the whole mail.
    Header limits apply to the top-level header block; nested parts are bounded by
    ``part_count``, ``decoded_size`` and ``time_budget_s``.

    The standard library parser cannot be interrupted, so the work it does is bounded before
    it starts: ``line_count`` (its cost is per line; 2 million lines is ~1 s and more than a
    full ``decoded_size`` of base64 needs) and a raw size that could not decode within
    ``decoded_size`` (base64 inflates by 4/3 plus line breaks: 1.4x).
    """

    mime_depth: int = 50
    part_count: int = 1000
    header_size: int = 256 * KiB
    header_count: int = 2000
    decoded_size: int = 64 * MiB
    time_budget_s: float = 5.0
    max_attachment_size: int = 25 * MiB
    line_count: int = 2_000_000


class ParseLimitExceeded(ValueError):
    """The message asks for more work than ``Limits`` allows; ``limit`` names which one."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"{limit}: {detail}")
        self.limit = limit
        self.detail = detail


class Budget:
    """Tracks the time budget and decoded bytes of one parse."""

    def __init__(self, limits: Limits, ticker: Callable[[], float] = time.perf_counter) -> None:
        self.limits = limits
        self._ticker = ticker
        self._start = ticker()
        self.decoded = 0
        self.parts = 0

    def check_time(self, where: str) -> None:
        elapsed = self._ticker() - self._start
        if elapsed > self.limits.time_budget_s:
            raise ParseLimitExceeded(
                "time_budget",
                f"{elapsed:.2f}s spent (limit {self.limits.time_budget_s}s) at {where}",
            )

    def add_decoded(self, size: int) -> None:
        self.decoded += size
        if self.decoded > self.limits.decoded_size:
            raise ParseLimitExceeded(
                "decoded_size",
                f"more than {self.limits.decoded_size} decoded bytes",
            )

    def add_part(self) -> None:
        self.parts += 1
        if self.parts > self.limits.part_count:
            raise ParseLimitExceeded("part_count", f"more than {self.limits.part_count} parts")


# A header line is "name:" (RFC 5322 section 2.2: printable ASCII except colon) or a
# continuation starting with WSP. The alternatives start with disjoint characters, so the
# match is linear. An mbox "From " line may precede the headers.
_HEADER_BLOCK = re.compile(
    rb"(?:From [^\r\n]*(?:\r\n|\n|\r))?"
    rb"(?:[!-9;-~]+[ \t]*:[^\r\n]*(?:\r\n|\n|\r|$)|[ \t][^\r\n]*(?:\r\n|\n|\r|$))*"
)
_HEADER_START = re.compile(rb"(?m)^[!-9;-~]+[ \t]*:")
# Matched at each "boundary" of the lower-cased message: finding those is C work (bytes.find),
# where a case-insensitive regex would step through every byte of every attachment.
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')


def _declared_boundaries(raw: bytes) -> set[bytes]:
    """Every multipart boundary declared anywhere in the message, as written."""
    lowered = raw.lower()  # the same length: spans found in it are spans of ``raw``
    found = set()
    at = lowered.find(b"boundary")
    while at != -1:
        match = _BOUNDARY.match(lowered, at)
        if match is None:
            at = lowered.find(b"boundary", at + 8)
            continue
        group = 1 if match.group(1) is not None else 2
        found.add(raw[match.start(group):match.end(group)])
        at = lowered.find(b"boundary", match.end())
    return found


def header_block_length(raw: bytes) -> int:
    """Bytes of the top-level header block (up to the first line that is not a header)."""
    match = _HEADER_BLOCK.match(raw)
    return match.end() if match else 0


def check_headers(raw: bytes, limits: Limits) -> None:
    """Raise when the top-level header block is too big or has too many fields."""
    size = header_block_length(raw)
    if size > limits.header_size:
        raise ParseLimitExceeded("header_size", f"{size} bytes of headers > {limits.header_size}")
    count = len(_HEADER_START.findall(raw, 0, size))
    if count > limits.header_count:
        raise ParseLimitExceeded("header_count", f"{count} header fields > {limits.header_count}")


def check_size(raw: bytes, limits: Limits) -> None:
    """Raise when the raw message is too big or has too many lines to parse in budget."""
    if len(raw) > limits.decoded_size * 1.4:
        raise ParseLimitExceeded(
            "decoded_size", f"{len(raw)} raw bytes cannot decode within {limits.decoded_size}"
        )
    lines = raw.count(b"\n") or raw.count(b"\r")
    if lines > limits.line_count:
        raise ParseLimitExceeded("line_count", f"{lines} lines > {limits.line_count}")


def check_structure(raw: bytes, limits: Limits) -> None:
    """Estimate multipart depth and part count from boundary lines, before parsing.

    The standard parser's cost grows with depth x lines and it recurses once per level
    (RFC 2046 section 5.1.1 delimiters), so a hostile message is refused here, cheaply.
    The walk after parsing counts exactly; this only has to be a fair upper estimate.
    """
    boundaries = _declared_boundaries(raw)
    if not boundaries:
        return
    if len(boundaries) > limits.part_count:
        raise ParseLimitExceeded(
            "part_count", f"{len(boundaries)} multipart boundaries > {limits.part_count}"
        )
    if len(boundaries) == 1:
        # One boundary is one level: counting its delimiter lines (a line starts after a LF)
        # is an upper estimate of the parts, in C time and without compiling a regex per mail.
        parts = raw.count(b"\n--" + next(iter(boundaries)))
        if parts > limits.part_count:
            raise ParseLimitExceeded("part_count", f"more than {limits.part_count} parts")
        return
    # One regex for exactly the delimiter lines of the declared boundaries: a hostile body
    # can hold millions of other "--" lines, and they must cost C time, not Python time.
    names = b"|".join(re.escape(b) for b in sorted(boundaries, key=len, reverse=True))
    delimiter = re.compile(rb"(?m)^--(" + names + rb")(--)?[ \t]*\r?$")
    stack: list[bytes] = []
    parts = 0
    deepest = 0
    for match in delimiter.finditer(raw):
        name, closing = match.group(1), match.group(2) is not None
        if name in stack:
            del stack[stack.index(name) + 1 :]
            if closing:
                stack.pop()
                continue
        elif closing:
            continue
        else:
            stack.append(name)
            deepest = max(deepest, len(stack))
            if deepest > limits.mime_depth:
                raise ParseLimitExceeded(
                    "mime_depth", f"multipart nesting deeper than {limits.mime_depth}"
                )
        parts += 1
        if parts > limits.part_count:
            raise ParseLimitExceeded("part_count", f"more than {limits.part_count} parts")
