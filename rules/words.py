"""Whole-word matching of word and phrase lists in any language, precompiled once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

# Typographic apostrophes and hyphens fold to ASCII, so "can’t" in a mail matches
# "can't" in a rule whichever keyboard either was typed on.
_FOLD = {
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
    "\u00a0": " ", "\u202f": " ",
}  # fmt: skip
# str.translate of a non-ASCII text costs ~100 ns a character; finding which of these
# characters occur and replacing just those costs ~10x less.
_FOLDABLE = re.compile("[" + "".join(_FOLD) + "]")

# ``\w`` on str patterns is Unicode-aware in Python 3 (letters and digits of every script),
# so these lookarounds are word boundaries for "Störung" or "réseau" as much as for "down".
# Text is NFC-normalised first, so a decomposed "é" (e + U+0301) is one word character.
_TOKEN = re.compile(r"\w+")
_AFTER = r"(?!\w)"
_WILDCARD = "*"


def _is_word_char(char: str) -> bool:
    """What ``\\w`` matches in a str pattern: letters and digits of any script, and "_"."""
    return char.isalnum() or char == "_"


def fold_punctuation(text: str) -> str:
    """Typographic apostrophes, hyphens and no-break spaces to ASCII; keeps every offset."""
    for char in set(_FOLDABLE.findall(text)):
        text = text.replace(char, _FOLD[char])
    return text


def normalise(text: str) -> str:
    """NFC, casefolded, typographic punctuation folded: the form every word test compares."""
    return fold_punctuation(unicodedata.normalize("NFC", text)).casefold()


def tokens(normalised: str) -> frozenset[str]:
    """The set of words in already-normalised text."""
    return frozenset(_TOKEN.findall(normalised))


def word_problem(word: object) -> str | None:
    """Why ``word`` cannot be used in a word list, or None when it can."""
    if not isinstance(word, str):
        return f"{word!r} is not a string"
    if not word.replace(_WILDCARD, "").strip():
        return f"{word!r} has no letters"
    for part in word.split():
        if _WILDCARD in part.strip(_WILDCARD):
            return f"{word!r} has a '*' inside a word; '*' may only start or end a word"
        if part.startswith(_WILDCARD * 2) or part.endswith(_WILDCARD * 2):
            return f"{word!r} has a doubled '*'"
        if not part.strip(_WILDCARD):
            return f"{word!r} has a '*' that is not part of a word"
    return None


@dataclass(frozen=True, slots=True)
class _Phrase:
    """One phrase or wildcard word, with cheap tests that rule it out before its regex runs."""

    first: str | None  # its first whole word, when it starts with one
    needs: frozenset[str]  # whole words the text must contain for it to match
    needle: str  # a literal the text must contain for it to match
    source: str  # its regex, built from escaped literals, so it always compiles

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compiled(self.source)


@cache
def _compiled(source: str) -> re.Pattern[str]:
    # Compiled on first need and shared by every rule that lists the phrase. The cheap
    # tests above rule most phrases out for most mails, so many never need compiling, and
    # a rule set of hundreds of phrases compiles in milliseconds, not a tenth of a second.
    return re.compile(source)


def _compile_phrase(key: str) -> _Phrase:
    """``key`` is normalised. Whitespace runs match any whitespace (lines wrap); a word
    boundary is required where the phrase starts or ends with a letter or digit; a "*" at
    the start or end of any of its words matches any letters there."""
    pieces: list[str] = []
    needs: set[str] = set()
    for part in key.split():
        lead, trail = part.startswith(_WILDCARD), part.endswith(_WILDCARD)
        core = part.strip(_WILDCARD)
        words = _TOKEN.findall(core)
        # A word cut by a wildcard is only part of a word of the text: it cannot be required.
        whole = words[1 if lead and _TOKEN.match(core) else 0 :]
        if trail and whole and _TOKEN.match(core[-1]):
            whole = whole[:-1]
        needs.update(whole)
        pieces.append((r"\w*" if lead else "") + re.escape(core) + (r"\w*" if trail else ""))
    body = r"\s+".join(pieces)
    parts = key.split()
    head, tail = parts[0], parts[-1]
    opening = _TOKEN.match(head)  # None when the phrase starts with "*" or punctuation
    first = opening.group(0) if opening is not None else None
    if first is not None and head.endswith(_WILDCARD) and first == head.rstrip(_WILDCARD):
        first = None  # "einige*": the text has "einigen", not "einige"
    if opening is not None:
        # The boundary test sits after the first word, not before it, so the pattern
        # opens with a literal and re's fast literal scan finds the candidates.
        word = opening.group(0)
        body = word + rf"(?<!\w{word})" + body[len(word) :]
    if not tail.endswith(_WILDCARD) and _TOKEN.match(tail[-1]):
        body += _AFTER
    literals = [w for p in parts for w in _TOKEN.findall(p.strip(_WILDCARD))]
    needle = max(literals, key=len) if literals else parts[0].strip(_WILDCARD)
    return _Phrase(first, frozenset(needs), needle, body)


# Words that negate what follows them closely. "Can't" and "cannot" are not among them:
# "can't log in" states the problem. Contractions are split by the tokenizer ("isn", "t").
_NEGATORS = frozenset({
    "not", "no", "never", "without", "isn", "aren", "wasn", "weren", "hasn", "haven", "hadn",
    "nicht", "kein", "keine", "keinen", "keiner", "keinem", "pas", "sans", "aucun", "aucune", "sin", "nunca",
})
_NEGATION_REACH = 3  # words back from a hit, within its clause
_CLAUSE_MARKS = re.compile(r"[.!?;:,()\n]")


def negated(normalised_text: str, start: int) -> bool:
    """Whether one of the few words before ``start``, in the same clause, negates it."""
    before = normalised_text[max(0, start - 80):start]
    clause = _CLAUSE_MARKS.split(before)[-1]
    return not _NEGATORS.isdisjoint(_TOKEN.findall(clause)[-_NEGATION_REACH:])


class WordMatcher:
    """Finds a word of a list in normalised text, on whole-word boundaries.

    Single words (the common case) are looked up in the text's word set, which costs the
    same however long the list is. A phrase ("down for everyone"), a word with punctuation
    ("e-mail") or a wildcard ("*ausfall" matches "Totalausfall", "überlast*" matches
    "überlastet") has its own regex, which runs only when the text contains every whole
    word of it, so most mails cost a few set lookups.
    """

    __slots__ = ("_by_first", "_firsts", "_other", "_single_order", "_singles", "_worded", "words")

    def __init__(self, words: Sequence[str]) -> None:
        for word in words:
            problem = word_problem(word)
            if problem is not None:
                raise ValueError(problem)
        self.words: tuple[str, ...] = tuple(w.strip() for w in words)
        singles: dict[str, str] = {}
        phrases: dict[str, _Phrase] = {}
        for word in self.words:
            key = normalise(word)
            if _TOKEN.fullmatch(key):
                singles.setdefault(key, word)
            elif key not in phrases:
                phrases[key] = _compile_phrase(key)
        self._singles = frozenset(singles)
        self._single_order = tuple(singles.items())
        self._worded = tuple(p for p in phrases.values() if p.first is not None)
        self._other = tuple(p for p in phrases.values() if p.first is None)
        self._firsts = frozenset(p.first for p in self._worded if p.first is not None)
        by_first: dict[str, list[_Phrase]] = {}
        for phrase in self._worded:
            by_first.setdefault(phrase.first or "", []).append(phrase)
        # A long list's phrases are looked at only when the text has their first word.
        self._by_first = {first: tuple(phrases) for first, phrases in by_first.items()}

    def find(self, words_in_text: frozenset[str], normalised_text: str, *, negatable: bool = False) -> str | None:
        """The matching word as written in the rule (or the phrase as found), else None.

        ``negatable``: a word the customer negates ("not an outage", "no data loss", "kein
        Stillstand", "ce n'est pas bloquant") does not count; only a text with a negation in
        it pays for the look at what precedes each hit.
        """
        if negatable and not _NEGATORS.isdisjoint(words_in_text):
            for start, end in sorted(self.spans(words_in_text, normalised_text)):
                if not negated(normalised_text, start):
                    return " ".join(normalised_text[start:end].split())
            return None
        if not self._singles.isdisjoint(words_in_text):
            for key, word in self._single_order:
                if key in words_in_text:
                    return word
        if not self._firsts.isdisjoint(words_in_text):
            for phrase in self._worded:
                if phrase.first in words_in_text and phrase.needs <= words_in_text:
                    found = phrase.pattern.search(normalised_text)
                    if found is not None:
                        return " ".join(found.group(0).split())
        for phrase in self._other:
            if phrase.needs <= words_in_text and phrase.needle in normalised_text:
                found = phrase.pattern.search(normalised_text)
                if found is not None:
                    return " ".join(found.group(0).split())
        return None

    def spans(self, words_in_text: frozenset[str], normalised_text: str) -> list[tuple[int, int]]:
        """Every (start, end) where a word or phrase of the list occurs, unsorted."""
        text = normalised_text
        found: list[tuple[int, int]] = []
        # Only words the text contains are searched for, with str.find: a C scan.
        for key in self._singles & words_in_text:
            size = len(key)
            start = text.find(key)
            while start != -1:
                end = start + size
                if (start == 0 or not _is_word_char(text[start - 1])) and (
                    end == len(text) or not _is_word_char(text[end])
                ):
                    found.append((start, end))
                start = text.find(key, start + 1)
        for first in self._firsts & words_in_text:
            for phrase in self._by_first[first]:
                if phrase.needs <= words_in_text:
                    found.extend(m.span() for m in phrase.pattern.finditer(text))
        for phrase in self._other:
            if phrase.needs <= words_in_text and phrase.needle in text:
                found.extend(m.span() for m in phrase.pattern.finditer(text))
        return found

    def summary(self, limit: int = 4) -> str:
        """A short quoted list for reasons: 'outage', 'down for everyone', ... (+9 more)."""
        shown = ", ".join(repr(w) for w in self.words[:limit])
        rest = len(self.words) - limit
        return f"{shown}, ... (+{rest} more)" if rest > 0 else shown


class KindMatcher:
    """Many word lists, each of a kind, matched in one pass (one set intersection, then the
    phrases whose first word the text has): every hit, once for each kind that lists it."""

    __slots__ = ("_by_first", "_firsts", "_other", "_single_keys", "_singles")

    def __init__(self, lists: dict[str, Sequence[str]]) -> None:
        singles: dict[str, list[str]] = {}
        phrases: dict[str, tuple[list[str], _Phrase]] = {}
        for kind, words in lists.items():
            for word in words:
                problem = word_problem(word)
                if problem is not None:
                    raise ValueError(f"{kind}: {problem}")
                key = normalise(word.strip())
                if _TOKEN.fullmatch(key):
                    singles.setdefault(key, []).append(kind)
                else:
                    phrases.setdefault(key, ([], _compile_phrase(key)))[0].append(kind)
        self._singles = {key: tuple(dict.fromkeys(kinds)) for key, kinds in singles.items()}
        self._single_keys = frozenset(self._singles)
        by_first: dict[str, list[tuple[tuple[str, ...], _Phrase]]] = {}
        other: list[tuple[tuple[str, ...], _Phrase]] = []
        for kinds, phrase in phrases.values():
            entry = (tuple(dict.fromkeys(kinds)), phrase)
            if phrase.first is None:
                other.append(entry)
            else:
                by_first.setdefault(phrase.first, []).append(entry)
        self._by_first = by_first
        self._firsts = frozenset(by_first)
        self._other = tuple(other)

    def hits(self, words_in_text: frozenset[str], normalised_text: str) -> list[tuple[str, int, int]]:
        """(kind, start, end) of every occurrence of every listed word or phrase, in text order."""
        text = normalised_text
        found: list[tuple[str, int, int]] = []
        for key in words_in_text & self._single_keys:
            size = len(key)
            kinds = self._singles[key]
            start = text.find(key)
            while start != -1:
                end = start + size
                if (start == 0 or not _is_word_char(text[start - 1])) and (
                    end == len(text) or not _is_word_char(text[end])
                ):
                    found.extend((kind, start, end) for kind in kinds)
                start = text.find(key, start + 1)
        for first in self._firsts & words_in_text:
            for kinds, phrase in self._by_first[first]:
                if phrase.needs <= words_in_text:
                    for match in phrase.pattern.finditer(text):
                        found.extend((kind, match.start(), match.end()) for kind in kinds)
        for kinds, phrase in self._other:
            if phrase.needs <= words_in_text and phrase.needle in text:
                for match in phrase.pattern.finditer(text):
                    found.extend((kind, match.start(), match.end()) for kind in kinds)
        # In text order, whatever order the sets gave: the same mail reads the same way in every process.
        found.sort(key=lambda hit: (hit[1], -hit[2], hit[0]))
        return found
