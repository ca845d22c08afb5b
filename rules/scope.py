"""Quantified groups in a text: "all 22 of our branches", "none of the tills", "one user".

A quantifier, then at most a few words, then a group word, in one clause. Found by walking
the words once with lookup tables, which costs a few microseconds where a regex of every
quantifier and group in seven languages costs milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from rules.words import normalise

_WORD = re.compile(r"\w+")
# Words, and the marks that end a clause, as tokens of their own.
_TOKEN = re.compile(r"\w+|[.!?;:\n()]")
_BREAKS = frozenset(".!?;:\n()")
# "not one person" is nobody, not one person.
_NEGATIONS = frozenset({"not", "no", "nicht", "pas", "nem", "ni"})


def _words(phrase: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(normalise(phrase)))


@dataclass(frozen=True, slots=True)
class ScopePattern:
    """One kind of quantified group: which quantifiers, which group words, how far apart.

    ``by_group``: found from the group word looking back, for quantifiers that are common
    words ("a", "the", "un", "een") and groups that are rare ones.
    """

    kind: str
    quantifiers: dict[str, tuple[tuple[str, ...], ...]]  # first word -> whole quantifiers, longest first
    groups: frozenset[str]  # empty: any word ends the group ("one of our therapists")
    reach: int  # words allowed between the quantifier and the group word
    after_negation: bool  # whether "not one user" still counts
    by_group: bool = False


def scope_pattern(
    kind: str,
    quantifiers: Iterable[str],
    groups: Iterable[str],
    *,
    reach: int,
    after_negation: bool = True,
    by_group: bool = False,
) -> ScopePattern:
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in quantifiers:
        words = _words(phrase)
        if words and (len(words) == 1 or not by_group):
            index.setdefault(words[0], []).append(words)
    ordered = {first: tuple(sorted(set(ws), key=len, reverse=True)) for first, ws in index.items()}
    group_words = frozenset(w for g in groups for w in _words(g))
    return ScopePattern(kind, ordered, group_words, reach, after_negation, by_group)


@dataclass(frozen=True, slots=True)
class ScopeIndex:
    """Built once, with the lexicon: quantifier first words and group words to their patterns."""

    by_quantifier: dict[str, list[tuple[ScopePattern, tuple[str, ...]]]]
    by_group: dict[str, list[ScopePattern]]


def scope_index(patterns: Iterable[ScopePattern]) -> ScopeIndex:
    by_quantifier: dict[str, list[tuple[ScopePattern, tuple[str, ...]]]] = {}
    by_group: dict[str, list[ScopePattern]] = {}
    for pattern in patterns:
        if pattern.by_group:
            for word in pattern.groups:
                by_group.setdefault(word, []).append(pattern)
            continue
        for first, quantifiers in pattern.quantifiers.items():
            by_quantifier.setdefault(first, []).extend((pattern, q) for q in quantifiers)
    return ScopeIndex(by_quantifier, by_group)


def find_scopes(text: str, words: list[str], index: ScopeIndex) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of every quantified group in normalised ``text``, whose words and
    clause breaks are ``words`` (as ``tokenise`` gives them). A group never reaches past
    . ! ? ; : or a line end. Positions are worked out only when there is a hit."""
    hits = list(_walk(words, index))
    if not hits:
        return
    last = max(hit[2] for hit in hits)
    spans = [m.span() for m in islice(_TOKEN.finditer(text), last + 1)]
    for kind, first, group in hits:
        yield kind, spans[first][0], spans[group][1]


def tokenise(text: str) -> list[str]:
    """Every word and clause break of ``text``, in order."""
    return _TOKEN.findall(text)


def _walk(words: list[str], index: ScopeIndex) -> Iterator[tuple[str, int, int]]:
    """(kind, index of the quantifier's first word, index of the group word)."""
    count = len(words)
    by_quantifier, by_group = index.by_quantifier, index.by_group
    for at, word in enumerate(words):
        for pattern in by_group.get(word, ()):
            for before in range(at - 1, max(at - pattern.reach - 2, -1), -1):
                if words[before] in _BREAKS:
                    break
                if words[before] in pattern.quantifiers:
                    if pattern.after_negation or before == 0 or words[before - 1] not in _NEGATIONS:
                        yield pattern.kind, before, at
                    break
        candidates = by_quantifier.get(word)
        if candidates is None:
            continue
        done: set[str] = set()
        for pattern, quantifier in candidates:
            if pattern.kind in done:
                continue
            if not pattern.after_negation and at and words[at - 1] in _NEGATIONS:
                continue
            end = at + len(quantifier)
            if len(quantifier) > 1 and tuple(words[at:end]) != quantifier:
                continue
            for group_at in range(end, min(end + pattern.reach + 1, count)):
                if words[group_at] in _BREAKS:
                    break
                if words[group_at] in pattern.groups or (not pattern.groups and not words[group_at].isdigit()):
                    done.add(pattern.kind)
                    yield pattern.kind, at, group_at
                    break
