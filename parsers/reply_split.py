"""Reply splitting: the new text of a reply, without quoted history or signature."""

from __future__ import annotations

import re

# The gateway writes this line at the top of every mail it sends; whatever a client quotes
# below it is our own history.
REPLY_MARKER = "-- Reply above this line --"

_WROTE = r"(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|skrev)\s?:"
# An attribution line that opens with a date word: Gmail, Apple Mail, Thunderbird and
# their German, French, Spanish, Italian, Dutch forms ("On ... wrote:", "Am ... schrieb
# ...:", "Le ... a écrit :", "El ... escribió:", "Il ... ha scritto:", "Op ... schreef:").
_ATTRIBUTION = re.compile(
    r"^\s*(?:On|Am|Le|El|Il|Op|Den|Em)\s.{0,300}?"
    r"(?:" + _WROTE + r"|schrieb\s.{1,200}:)\s*$",
    re.IGNORECASE,
)
# "John Doe <john@example.com> wrote:" alone: history only when quoted lines follow.
_WEAK_ATTRIBUTION = re.compile(r"^\s*\S.{0,200}" + _WROTE + r"\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*[-=_*]{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
    r"|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Forwarded message"
    r"|Message transféré|Weitergeleitete Nachricht|Mensaje reenviado)\s*[-=_*]{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"^\s*(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht"
    r"|Début du message réexpédié|Inicio del mensaje reenviado)\s?:\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^\s*_{20,}\s*$")
# Outlook (desktop and web) header block of the quoted message, in the languages we serve;
# optional * around the name is how an HTML bold header comes out as text.
_FROM = re.compile(r"^\s*\*?(?:From|Von|De|Da|Van)\s?:\*?\s", re.IGNORECASE)
_BLOCK_FIELD = re.compile(
    r"^\s*\*?(?:Sent|Date|To|Cc|Subject|Gesendet|Datum|An|Betreff|Envoyé|À|A|Objet"
    r"|Enviado el|Enviado|Fecha|Para|Asunto|Inviato|Oggetto|Verzonden|Aan|Onderwerp)"
    r"\s?:\*?(?:\s|$)",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$")  # RFC 3676 section 4.3: "-- " alone on a line
_MOBILE = re.compile(
    r"^\s*(?:Sent from my |Sent from (?:Mail|Outlook|Yahoo)|Get Outlook for |Von meinem \S+"
    r"(?: \S+)? gesendet|Gesendet von meinem |Envoyé de mon |Envoyé depuis |Enviado desde mi "
    r"|Inviato da )",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")
# Cheap first looks, so that ordinary lines cost one regex match, not eight.
_ATTRIBUTION_START = re.compile(r"^\s*(?:On|Am|Le|El|Il|Op|Den|Em)\s", re.IGNORECASE)
_MAYBE_HARD = re.compile(
    r"^\s*(?:[-=_*]|Begin|Anfang|D[ée]but|Inicio|From|Von|De|Da|Van|Sent|Get|Gesendet"
    r"|Envoy|Enviado|Inviato)",
    re.IGNORECASE,
)


class _Text:
    """The lines of a body, with look-ahead tables so every scan stays linear."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        n = len(lines)
        # next_blankless[i]: first j >= i with text; next_unquoted[i]: first j >= i with
        # text that is not a quoted line. n when there is none.
        self.next_blankless = [n] * (n + 1)
        self.next_unquoted = [n] * (n + 1)
        for i in range(n - 1, -1, -1):
            has_text = bool(lines[i].strip())
            self.next_blankless[i] = i if has_text else self.next_blankless[i + 1]
            unquoted = has_text and not _QUOTED.match(lines[i])
            self.next_unquoted[i] = i if unquoted else self.next_unquoted[i + 1]

    def next_content(self, i: int) -> str:
        j = self.next_blankless[min(i, len(self.lines))]
        return self.lines[j] if j < len(self.lines) else ""

    def is_header_block(self, start: int) -> bool:
        """A From: line followed closely by at least two other header fields."""
        fields = sum(1 for line in self.lines[start + 1 : start + 8] if _BLOCK_FIELD.match(line))
        return fields >= 2

    def attribution_at(self, i: int) -> int:
        """How many lines (1 or 2) form an attribution at ``i``; 0 when none does."""
        line = self.lines[i]
        if len(line) > 400 or not _ATTRIBUTION_START.match(line):
            return 0
        if _ATTRIBUTION.match(line):
            return 1
        if i + 1 < len(self.lines) and len(self.lines[i + 1]) < 300:
            joined = line.rstrip() + " " + self.lines[i + 1].strip()
            if _ATTRIBUTION.match(joined) and not _ATTRIBUTION.match(self.lines[i + 1]):
                return 2
        return 0

    def hard_start(self, i: int) -> bool:
        """Lines that begin history (or a signature) wherever they stand."""
        line = self.lines[i]
        if REPLY_MARKER in line:
            return True
        if not _MAYBE_HARD.match(line):
            return False
        return bool(
            _ORIGINAL.match(line)
            or _ORIGINAL.match(line)
            or _FORWARD_INTRO.match(line)
            or (_SEPARATOR.match(line) and _FROM.match(self.next_content(i + 1)))
            or (_FROM.match(line) and self.is_header_block(i))
            or (_MOBILE.match(line) and len(line) < 80)
            or _SIGNATURE.match(line)
        )

    def only_quotes_after(self, i: int) -> bool:
        """True when nothing but quoted lines and blanks follow ``i`` before more history."""
        j = self.next_unquoted[min(i, len(self.lines))]
        return j == len(self.lines) or self.hard_start(j) or self.attribution_at(j) > 0

    def history_start(self) -> int:
        """Index of the first line of quoted history that runs to the end, else len(lines)."""
        for i, line in enumerate(self.lines):
            if self.hard_start(i):
                return i
            span = self.attribution_at(i)
            if span and self.only_quotes_after(i + span):
                return i
            if (
                line.rstrip().endswith(":")
                and _WEAK_ATTRIBUTION.match(line)
                and _QUOTED.match(self.next_content(i + 1))
                and self.only_quotes_after(i + 1)
            ):
                return i
        return len(self.lines)

    def without_quotes(self, end: int) -> list[str]:
        """Lines before ``end`` minus quoted ones and the attributions introducing them."""
        kept: list[str] = []
        i = 0
        while i < end:
            span = self.attribution_at(i)
            line = self.lines[i]
            if not span and line.rstrip().endswith(":") and _WEAK_ATTRIBUTION.match(line):
                span = 1
            if span and _QUOTED.match(self.next_content(i + span)):
                i += span
                continue
            if not _QUOTED.match(self.lines[i]):
                kept.append(self.lines[i])
            i += 1
        return kept


_BLANKS = re.compile(r"\n{3,}")
MAX_SCAN_LINES = 20_000


def split_reply(text: str) -> str:
    """The new part of a reply: text above the quoted history, without signature.

    Only the first ``MAX_SCAN_LINES`` lines are searched: a reply's new text comes first,
    and a pasted log of a million lines must not cost seconds. Lines beyond are kept.
    """
    all_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = _Text(all_lines[:MAX_SCAN_LINES])
    end = body.history_start()
    lines = body.without_quotes(end)
    if end == len(body.lines):
        lines.extend(all_lines[MAX_SCAN_LINES:])
    return _BLANKS.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip()
