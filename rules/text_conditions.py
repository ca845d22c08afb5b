"""Conditions on what the customer wrote: words, phrases, negative words and regexes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rules.condition import Condition
from rules.context import RuleContext
from rules.mailview import MailView
from rules.words import WordMatcher

SCOPES = {
    "words": ("subject", "body"),
    "subject_words": ("subject",),
    "body_words": ("body",),
    "not_words": ("subject", "body"),
}


def _find(matcher: WordMatcher, mail: MailView, scope: tuple[str, ...], *,
          negatable: bool = False) -> tuple[str, str] | None:
    """(word, where) of the first match, subject before body; with ``negatable``, one the
    customer does not negate."""
    if "subject" in scope:
        hit = matcher.find(mail.subject_words, mail.subject_norm, negatable=negatable)
        if hit is not None:
            return hit, "subject"
    if "body" in scope:
        hit = matcher.find(mail.body_words, mail.body_norm, negatable=negatable)
        if hit is not None:
            return hit, "body"
    return None


def _where(scope: tuple[str, ...]) -> str:
    return " or ".join(scope)


class Words(Condition):
    """Any of the words or phrases appears as whole words (``words``, ``subject_words``,
    ``body_words``)."""

    __slots__ = ("_miss", "_scope", "key", "matcher")
    cost = 20

    def __init__(self, key: str, words: Sequence[str]) -> None:
        self.key = key
        self._scope = SCOPES[key]
        self.matcher = WordMatcher(words)
        self._miss = f"{key}: none of {self.matcher.summary()} in {_where(self._scope)}"

    @property
    def description(self) -> str:
        return f"any of {self.matcher.summary()} in {_where(self._scope)}"

    def miss_reason(self) -> str:
        return self._miss

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return _find(self.matcher, mail, self._scope, negatable=True) is not None

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        hit = _find(self.matcher, mail, self._scope, negatable=True) if held else None
        if hit is None:
            return self._miss
        return f"{self.key}: {hit[0]!r} in {hit[1]}"


class NotWords(Condition):
    """None of the words or phrases appears: "down" but not "workaround"."""

    __slots__ = ("matcher",)
    key = "not_words"
    cost = 20

    def __init__(self, words: Sequence[str]) -> None:
        self.matcher = WordMatcher(words)

    @property
    def description(self) -> str:
        return f"none of {self.matcher.summary()} in subject or body"

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return _find(self.matcher, mail, SCOPES["not_words"]) is None

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        hit = None if held else _find(self.matcher, mail, SCOPES["not_words"])
        if hit is None:
            return "not_words: none present"
        return f"not_words: {hit[0]!r} found in {hit[1]}"


class Regex(Condition):
    """Any of the regular expressions matches the subject, a newline, and the body.

    Compiled with IGNORECASE and MULTILINE (``^`` and ``$`` work per line); a pattern can
    switch case-sensitivity back on with ``(?-i:...)``.
    """

    __slots__ = ("patterns",)
    key = "regex"
    cost = 40
    FLAGS = re.IGNORECASE | re.MULTILINE

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.patterns = tuple(patterns)

    @property
    def description(self) -> str:
        return "any of " + ", ".join(_short(p) for p in self.patterns)

    def miss_reason(self) -> str:
        return f"regex: no match for {self.description.removeprefix('any of ')}"

    def _search(self, mail: MailView) -> re.Match[str] | None:
        memo = mail.regex_memo
        for pattern in self.patterns:
            # Rules often share a pattern (re hands out one object per pattern string),
            # so each distinct pattern scans the text once per mail.
            if pattern in memo:
                found = memo[pattern]
            else:
                found = memo[pattern] = pattern.search(mail.regex_text)
            if found is not None:
                return found
        return None

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return self._search(mail) is not None

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        found = self._search(mail) if held else None
        if found is None:
            return self.miss_reason()
        return f"regex: matched {_clip(found.group(0))!r}"


def _clip(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _short(pattern: re.Pattern[str]) -> str:
    """A pattern on one line, clipped: verbose (?x) patterns span many lines in TOML."""
    return "/" + _clip(pattern.pattern, 50) + "/"
