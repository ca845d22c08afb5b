"""Reply splitting: the new text of a reply, without quoted history or signature."""

from __future__ import annotations

import re

from parsers.attribution import (
    MAX_LINE,
    SEPARATOR,
    attribution,
    field,
    header_block,
    inline_split,
    ruled_title,
)

# The gateway writes this line at the top of every mail it sends; whatever a client quotes
# below it is our own history.
REPLY_MARKER = "-- Reply above this line --"

_SIGNATURE = re.compile(r"^-- ?$")  # RFC 3676 section 4.3: "-- " alone on a line
# A mobile client's line ("Sent from my iPhone", "Von meinem iPad gesendet"): the device is a few
# words at most, never a sentence ("Sent from my desk, is much easier than my phone." is prose).
_MOBILE = re.compile(
    r"\s*(?:Sent from (?:my )?|Sent with |Get Outlook for |Von meinem |Gesendet von (?:meinem )?"
    r"|Envoyé de mon |Envoyé depuis (?:mon )?|Enviado desde (?:mi )?|Enviado do meu |Inviato da "
    r"|Verzonden met |Verstuurd vanaf (?:mijn )?|Skickat från (?:min )?|Sendt fra (?:min )?"
    r"|Wysłane z )(?:(?!\.\s)[^,;!?]){1,60}$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")
# A piece of a link that a client wrapped out of its quoted line: one token that closes a
# bracket opened above, or ends with the quote mark it was pushed off ("(http://x/y) >").
_LINK_PIECE = re.compile(r"\s*\S+(?:\s>)?\s*$")
# Cheap first looks, so that ordinary lines cost one regex match, not several.
_MAYBE_HARD = re.compile(
    r"\s*(?:[-=_*]|[^\s:/.]{1,25}(?:\s[^\s:/.]{1,12})?\s?[:：]|Begin|Anfang|D[ée]but|Inicio|Início|Doorgestuurd"
    r"|Sent|Get|Von|Gesendet|Envoy|Enviado|Inviato|Verzonden|Verstuurd|Skickat|Sendt|Wysłane)",
    re.IGNORECASE,
)


def _link_piece(line: str) -> bool:
    text = line.strip()
    return bool(
        _LINK_PIECE.match(text)
        and (text.endswith(">") or text.count(")") > text.count("("))
    )


class _Text:
    """The lines of a body, with look-ahead tables so every scan stays linear."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        n = len(lines)
        # quoted[i]: a ">" line, or a wrapped link piece between two of them.
        quoted = self.quoted = [bool(_QUOTED.match(line)) for line in lines]
        triples = zip(quoted, quoted[1:], quoted[2:], strict=False)
        between = [i for i, (above, this, below) in enumerate(triples, 1)
                   if above and below and not this]
        for i in between:
            quoted[i] = len(lines[i]) < 200 and _link_piece(lines[i])
        # next_blankless[i]: first j >= i with text; next_unquoted[i]: first j >= i with
        # text that is not a quoted line. n when there is none.
        self.next_blankless = [n] * (n + 1)
        self.next_unquoted = [n] * (n + 1)
        for i in range(n - 1, -1, -1):
            has_text = bool(lines[i].strip())
            self.next_blankless[i] = i if has_text else self.next_blankless[i + 1]
            unquoted = has_text and not self.quoted[i]
            self.next_unquoted[i] = i if unquoted else self.next_unquoted[i + 1]
        self._attributions: list[tuple[int, int] | None] = [None] * n

    def next_content(self, i: int) -> int:
        return self.next_blankless[min(i, len(self.lines))]

    def attribution_at(self, i: int) -> tuple[int, int]:
        found = self._attributions[i]
        if found is None:
            found = self._attributions[i] = attribution(self.lines, i)
        return found

    def hard_start(self, i: int) -> bool:
        """Lines that begin history (or a signature) wherever they stand."""
        line = self.lines[i]
        if len(line) > MAX_LINE or not _MAYBE_HARD.match(line):
            return REPLY_MARKER in line
        if self._certain_start(i):
            return True
        return _MOBILE.match(line) is not None and self._ends_new_text(i)

    def _certain_start(self, i: int) -> bool:
        line = self.lines[i]
        if REPLY_MARKER in line or _SIGNATURE.match(line) or ruled_title(line):
            return True
        if SEPARATOR.match(line):
            j = self.next_content(i + 1)
            return j < len(self.lines) and field(self.lines[j]) != ""
        return header_block(self.lines, i)

    def _ends_new_text(self, i: int) -> bool:
        """Nothing of the customer's follows line ``i``: the end, or history at once."""
        j = self.next_content(i + 1)
        if j == len(self.lines) or self.quoted[j] or self.attribution_at(j)[0]:
            return True
        return len(self.lines[j]) <= MAX_LINE and self._certain_start(j)

    def only_quotes_after(self, i: int) -> bool:
        """True when nothing but quoted lines and blanks follow ``i`` before more history."""
        j = self.next_unquoted[min(i, len(self.lines))]
        return j == len(self.lines) or self.hard_start(j) or self.attribution_at(j)[1] == 2

    def history_start(self) -> int:
        """Index of the first line of quoted history that runs to the end, else len(lines)."""
        wrote = False  # the customer's own words come before line i
        i = 0
        while i < len(self.lines):
            if self.quoted[i] or not self.lines[i].strip():
                i += 1
                continue
            if self.hard_start(i):
                return i
            span, strength = self.attribution_at(i)
            after = self.next_content(i + span) if span else i
            if span and after < len(self.lines) and self.quoted[after]:
                if self.only_quotes_after(after):
                    return i
                i = after
                continue
            if span and strength == 2 and wrote:
                # history that is not ">"-prefixed runs to the end; without words above it,
                # this is a bottom-posted reply quoted some other way, and is kept
                return i
            wrote = True
            i += 1
        return len(self.lines)

    def without_quotes(self, end: int) -> list[str]:
        """Lines before ``end`` minus quoted ones and the attributions introducing them."""
        if True not in self.quoted[:end]:
            return self.lines[:end]  # no quote above the history: nothing to take out
        kept: list[str] = []
        i = 0
        while i < end:
            line = self.lines[i]
            span = 0 if self.quoted[i] or not line.strip() else self.attribution_at(i)[0]
            after = self.next_content(i + span) if span else i
            if span and after < end and self.quoted[after]:
                # the attribution, its quote and the blanks below go together
                i = self.next_unquoted[after]
                i = self.next_content(i) if i < end else i
                continue
            if not self.quoted[i]:
                kept.append(line)
            i += 1
        return kept


# An attribution's opening word inside a line: only then is a body worth the line-by-line look
# of _unwrap_inline (substring tests, far cheaper than a pattern over the whole body).
_INLINE_HINTS = (" On ", " Am ", " Le ", " El ", " Op ", " Den ", " Em ", " W dniu ")


def _unwrap_inline(lines: list[str]) -> list[str]:
    """"reply On <date>, <name> wrote:" becomes the reply and the attribution on their own lines."""
    out: list[str] = []
    for line in lines:
        ends = line[-1:] == ":" or line.rstrip()[-1:] == ":"
        cut = inline_split(line) if ends and not _QUOTED.match(line) else 0
        if cut:
            out.extend((line[:cut].rstrip("-=_* \t"), line[cut:]))
        else:
            out.append(line)
    return out


_BLANKS = re.compile(r"\n{3,}")
MAX_SCAN_LINES = 20_000


def split_reply(text: str) -> str:
    """The new part of a reply: text above the quoted history, without signature.

    Only the first ``MAX_SCAN_LINES`` lines are searched: a reply's new text comes first,
    and a pasted log of a million lines must not cost seconds. Lines beyond are kept.
    The customer's lines are kept as written; lines of only spaces count as blank.
    """
    all_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    scanned = all_lines[:MAX_SCAN_LINES]
    body = _Text(_unwrap_inline(scanned) if any(h in text for h in _INLINE_HINTS) else scanned)
    end = body.history_start()
    lines = body.without_quotes(end)
    if end == len(body.lines):
        lines.extend(all_lines[MAX_SCAN_LINES:])
    joined = "\n".join(line if line.strip() else "" for line in lines)
    return _BLANKS.sub("\n\n", joined).strip()
