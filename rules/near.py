"""The ``near`` condition: a word of one list followed closely, in one sentence, by another."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from rules.condition import Condition
from rules.context import RuleContext
from rules.mailview import MailView
from rules.words import WordMatcher

# A sentence ends at . ! or ? (a line break does not end one: mail clients wrap lines).
_SENTENCE_END = re.compile(r"[.!?]")
DEFAULT_WITHIN = 60


@dataclass(frozen=True, slots=True)
class NearTest:
    """``words`` followed by ``followed_by`` at most ``within`` characters later, with no
    sentence end between them: "everyone ... cannot log in", "some users ... error"."""

    words: WordMatcher
    followed_by: WordMatcher
    within: int

    def describe(self) -> str:
        return f"{self.words.summary(3)} followed within {self.within} characters by {self.followed_by.summary(3)}"

    def find(self, text: str, words_in_text: frozenset[str]) -> tuple[int, int] | None:
        """(start, end) of the first close pair, else None."""
        # Both lists must occur at all before any position is worth finding.
        if self.words.find(words_in_text, text) is None:
            return None
        if self.followed_by.find(words_in_text, text) is None:
            return None
        seconds = sorted(self.followed_by.spans(words_in_text, text))
        starts = [start for start, _ in seconds]
        for first_start, first_end in sorted(self.words.spans(words_in_text, text)):
            # Only the nearest following match can be close enough: any later one is
            # farther away and has the same gap in front of it.
            index = bisect_left(starts, first_end)
            if index == len(seconds):
                continue
            second_start, second_end = seconds[index]
            if second_start - first_end > self.within:
                continue
            if _SENTENCE_END.search(text, first_end, second_start) is None:
                return first_start, second_end
        return None


class Near(Condition):
    """Any of the near-tests holds in the subject or in the body (not across the two)."""

    __slots__ = ("_miss", "tests")
    key = "near"
    cost = 25

    def __init__(self, tests: Sequence[NearTest]) -> None:
        self.tests = tuple(tests)
        self._miss = "near: no " + " or ".join(t.describe() for t in self.tests)

    @property
    def description(self) -> str:
        return " or ".join(t.describe() for t in self.tests)

    def _search(self, mail: MailView) -> tuple[str, str] | None:
        for test in self.tests:
            for where, text, words in (
                ("subject", mail.subject_norm, mail.subject_words),
                ("body", mail.body_norm, mail.body_words),
            ):
                span = test.find(text, words)
                if span is not None:
                    return " ".join(text[span[0] : span[1]].split()), where
        return None

    def miss_reason(self) -> str:
        return self._miss

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return self._search(mail) is not None

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        found = self._search(mail) if held else None
        if found is None:
            return self._miss
        text, where = found
        if len(text) > 70:
            text = text[:67] + "..."
        return f"near: {text!r} in {where}"
