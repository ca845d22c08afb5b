"""Authentication-Results (RFC 8601): what our own MTA found, read only from the headers it added."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_PAIR = re.compile(r'([A-Za-z0-9_.-]+(?:/[0-9]+)?)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;"]+)')
# A negative DMARC answer for the From domain outweighs any pass beside it in the same block.
_NEGATIVE = frozenset({"fail", "permerror", "temperror", "policy"})


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One ``method=result`` of a header, with its ``ptype.property=value`` pairs."""

    method: str
    result: str
    properties: Mapping[str, str] = field(default_factory=dict)

    def domain(self, *names: str) -> str:
        """The first of the named properties as a domain (``@d`` of an identity counts), lower-case."""
        for name in names:
            value = self.properties.get(name)
            if value:
                return value.rpartition("@")[2].strip().rstrip(".").lower()
        return ""


@dataclass(frozen=True, slots=True)
class AuthResults:
    """One Authentication-Results header: who wrote it and what it found."""

    authserv_id: str
    results: tuple[MethodResult, ...]


def _strip_comments(value: str) -> str:
    """The value without RFC 5322 comments (nested parentheses), quoted strings left alone."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == '"' and depth == 0:
            quoted = True
            out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _split_semicolons(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_header(value: str) -> AuthResults | None:
    """One header value (``authserv-id [version]; method=result prop=value ...; ...``), or None."""
    parts = _split_semicolons(" ".join(_strip_comments(value).split()))
    head = parts[0].split()
    if not head:
        return None
    results = []
    for part in parts[1:]:
        pairs = _PAIR.findall(part)
        if not pairs:
            continue  # "none", or junk
        (method, result), rest = pairs[0], pairs[1:]
        properties = {k.lower(): v.strip('"') for k, v in rest}
        results.append(MethodResult(method.partition("/")[0].lower(), result.strip('"').lower(), properties))
    return AuthResults(authserv_id=head[0].lower(), results=tuple(results))


# Trace fields an MTA prepends on accepting or delivering a mail (RFC 5321 section 4.4, and the
# delivery headers of Postfix's pipe and local engineers). Nothing else may stand above our results.
_TRACE = frozenset({"received", "return-path", "delivered-to", "x-original-to"})


def trusted_block(headers: Sequence[tuple[str, str]], trusted: Iterable[str]) -> tuple[AuthResults, ...]:
    """The Authentication-Results our own MTA added: the first run of headers from the top, with a
    trusted authserv-id, that has only trace fields (Received, Return-Path, ...) above it.

    An MTA adds its results at the top, beside the trace fields it writes on accepting the mail.
    Any other header above the run (From, Subject, an Authentication-Results with another id)
    was written by the sender, so a trusted id found below it is the sender's forgery and
    nothing counts. A forgery placed at the very top of the sender's own header, right below
    our Received, cannot be told from ours: RFC 8601 section 5 has the MTA delete such copies.
    """
    ids = {t.lower() for t in trusted}
    block: list[AuthResults] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered != "authentication-results":
            if block or lowered not in _TRACE:
                break
            continue
        parsed = parse_header(value)
        if parsed is None or parsed.authserv_id not in ids:
            break
        block.append(parsed)
    return tuple(block)


def aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 3.1.1), without the public suffix list: the From domain is the
    signing domain or one of its subdomains, and the signing domain is not a bare top-level domain."""
    d, f = signing_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    return "." in d and (f == d or f.endswith("." + d))


def refuted(block: Sequence[AuthResults], from_domain: str) -> str | None:
    """Why our own MTA says the From domain did not send this mail (DMARC fail, for that
    domain), or None: evidence of forgery that no other proof can outweigh."""
    for header in block:
        for r in header.results:
            if r.method == "dmarc" and r.domain("header.from") == from_domain.lower() and r.result in _NEGATIVE:
                return f"{header.authserv_id} says dmarc={r.result} for {from_domain}"
    return None


def verdict(block: Sequence[AuthResults], from_domain: str) -> tuple[bool, str]:
    """Whether the block shows DKIM or DMARC pass aligned with ``from_domain``, and why (not)."""
    if not block:
        return False, "no Authentication-Results from a trusted authserv-id"
    seen: list[str] = []
    passed = ""
    for header in block:
        for r in header.results:
            if r.method == "dmarc":
                d = r.domain("header.from")
                seen.append(f"dmarc={r.result} header.from={d or '?'}")
                if d == from_domain.lower() and r.result in _NEGATIVE:
                    return False, f"{header.authserv_id} says dmarc={r.result} for {from_domain}"
                if d == from_domain.lower() and r.result == "pass":
                    passed = passed or f"{header.authserv_id}: dmarc=pass header.from={d}"
            elif r.method == "dkim":
                d = r.domain("header.d", "header.i")
                seen.append(f"dkim={r.result} header.d={d or '?'}")
                if r.result == "pass" and aligned(d, from_domain):
                    passed = passed or f"{header.authserv_id}: dkim=pass header.d={d}"
    if passed:
        return True, passed
    shown = ", ".join(seen) or "no dkim or dmarc result"
    return False, f"no DKIM or DMARC pass aligned with {from_domain} ({shown})"
