"""A subject's shape: what stays the same when a machine sends the same alert again.

A monitoring system in a loop numbers its mails ("ALERT 4121: db7 down", "Job #88213 failed at
09:14:02"): the words stay, the numbers move. The shape keeps the words, in lower case, and
turns every run of digits, and every long hexadecimal or identifier-like token, into ``#``, so
that the repeats of one alert have one shape. Reply and forward prefixes and ticket tags go, as
they say nothing of what the mail is about. An empty shape (no subject, or numbers alone) is
returned as ``""``: it says nothing, and nothing should be grouped on it.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SHAPE", "subject_shape"]

MAX_SHAPE = 200

# "Re:", "Fwd:", "AW:", "SV:", "RIF:", "Antw:" ... and "[#123]" ticket tags, repeated, at the start.
_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|vb|rif|r|tr|antw|odp|enc|res|ynt)\s*(?:\[\d+\])?\s*[:：]"
                     r"|\[#\d{1,12}\])\s*", re.IGNORECASE)
# A token that carries an identifier: long hex (hashes, trace ids, UUID parts) or letters and
# digits interleaved at length (request ids). Its digits alone would leave a different shape each
# time. A word with one number at its end ("host10000000") is a name and a number: "host#".
_IDENTIFIER = re.compile(r"\b(?=[0-9a-f-]*\d)[0-9a-f]{8,}(?:-[0-9a-f]{4,})*\b"
                         r"|\b(?=\w*\d+[a-z]+\d)\w{12,}\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_NOTHING = re.compile(r"[\W#_]*")


def subject_shape(subject: str) -> str:
    """``subject`` with its numbers and identifiers as ``#``, without reply prefixes, lower case."""
    text = subject[:4 * MAX_SHAPE]
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _IDENTIFIER.sub("#", text.casefold())
    text = _DIGITS.sub("#", text)
    text = _SPACE.sub(" ", text).strip()
    return "" if _NOTHING.fullmatch(text) else text[:MAX_SHAPE]
