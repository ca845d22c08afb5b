"""Whole-word matching of word and phrase lists in any language, precompiled once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Typographic apostrophes and hyphens fold to ASCII, so "can’t" in a mail matches
# "can't" in a rule whichever keyboard either was typed on.
_FOLD = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u00b4": "'",
        "`": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u00a0": " ",
        "\u202f": " ",
    }
)

# ``\w`` on str patterns is Unicode-aware in Python 3 (letters and digits of every script),
# so these lookarounds are word boundaries for "Störung" or "réseau" as much as for "down".
# Text is NFC-normalised first, so a decomposed "é" (e + U+0301) is one word character.
_TOKEN = re.compile(r"\w+")
_BEFORE = r"(?<!\w)"
_AFTER = r"(?!\w)"
_WILDCARD = "*"


def fold_punctuation(text: str) -> str:
    """Typographic apostrophes, hyphens and no-break spaces to ASCII; keeps every offset."""
    return text.translate(_FOLD)


def normalise(text: str) -> str:
    """NFC, casefolded, typographic punctuation folded: the form every word test compares."""
    return unicodedata.normalize("NFC", text).translate(_FOLD).casefold()


def tokens(normalised: str) -> frozenset[str]:
    """The set of words in already-normalised text."""
    return frozenset(_TOKEN.findall(normalised))


def word_problem(word: object) -> str | None:
    """Why ``word`` cannot be used in a word list, or None when it can."""
    if not isinstance(word, str):
        return f"{word!r} is not a string"
    stripped = word.strip()
    if not stripped.strip(_WILDCARD).strip():
        return f"{word!r} has no letters"
    if _WILDCARD in stripped.strip(_WILDCARD):
        return f"{word!r} has a '*' inside it; '*' may only start or end a word"
    if stripped.startswith(_WILDCARD + _WILDCARD) or stripped.endswith(_WILDCARD + _WILDCARD):
        return f"{word!r} has a doubled '*'"
    return None


def _phrase_pattern(word: str) -> str:
    """Regex for one word or phrase: whitespace runs match any whitespace (lines wrap)."""
    lead = word.startswith(_WILDCARD)
    trail = word.endswith(_WILDCARD)
    core = word.strip(_WILDCARD)
    body = r"\s+".join(re.escape(part) for part in core.split())
    return (r"\w*" if lead else "") + body + (r"\w*" if trail else "")


class WordMatcher:
    """Finds the first word of a list in normalised text, on whole-word boundaries.

    Single words (the common case) are looked up in the text's token set, which costs the
    same however long the list is; phrases, words with punctuation ("e-mail") and
    wildcards ("*ausfall" matches "Totalausfall", "überlast*" matches "überlastet") go
    through one precompiled alternation.
    """

    __slots__ = ("_pattern", "_single_order", "_singles", "words")

    def __init__(self, words: Sequence[str]) -> None:
        for word in words:
            problem = word_problem(word)
            if problem is not None:
                raise ValueError(problem)
        self.words: tuple[str, ...] = tuple(w.strip() for w in words)
        singles: dict[str, str] = {}
        phrases: list[str] = []
        for word in self.words:
            key = normalise(word)
            if _TOKEN.fullmatch(key):
                singles.setdefault(key, word)
            else:
                phrases.append(key)
        self._singles = frozenset(singles)
        self._single_order = tuple(singles.items())
        self._pattern: re.Pattern[str] | None = None
        if phrases:
            # Longest first, so "down for everyone" is reported rather than a shorter
            # phrase sharing its start.
            alternation = "|".join(_phrase_pattern(p) for p in sorted(set(phrases), key=len, reverse=True))
            self._pattern = re.compile(f"{_BEFORE}(?:{alternation}){_AFTER}")

    def find(self, words_in_text: frozenset[str], normalised_text: str) -> str | None:
        """The matching word as written in the rule (or the phrase as found), else None."""
        if not self._singles.isdisjoint(words_in_text):
            for key, word in self._single_order:
                if key in words_in_text:
                    return word
        if self._pattern is not None:
            found = self._pattern.search(normalised_text)
            if found is not None:
                return " ".join(found.group(0).split())
        return None

    def summary(self, limit: int = 4) -> str:
        """A short quoted list for reasons: 'outage', 'down for everyone', ... (+9 more)."""
        shown = ", ".join(repr(w) for w in self.words[:limit])
        rest = len(self.words) - limit
        return f"{shown}, ... (+{rest} more)" if rest > 0 else shown
