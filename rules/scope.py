"""Quantified groups in a text: "all 22 of our branches", "none of the tills", "one user".

A quantifier, then at most a few words, then a group word, in one clause. Found by walking
the words once with lookup tables, which costs a few microseconds where a regex of every
quantifier and group in seven languages costs milliseconds.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rules.words import normalise

_WORD = re.compile(r"\w+")
_BREAK = re.compile(r"[.!?;:\n()]")
# "not one person" is nobody, not one person.
_NEGATIONS = frozenset({"not", "no", "nicht", "pas", "nem", "ni"})


def _words(phrase: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(normalise(phrase)))


@dataclass(frozen=True, slots=True)
class ScopePattern:
    """One kind of quantified group: which quantifiers, which group words, how far apart."""

    kind: str
    quantifiers: dict[str, tuple[tuple[str, ...], ...]]  # first word -> whole quantifiers, longest first
    groups: frozenset[str]  # empty: any word ends the group ("one of our therapists")
    reach: int  # words allowed between the quantifier and the group word
    after_negation: bool  # whether "not one user" still counts


def scope_pattern(
    kind: str, quantifiers: Iterable[str], groups: Iterable[str], *, reach: int, after_negation: bool = True
) -> ScopePattern:
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in quantifiers:
        words = _words(phrase)
        if words:
            index.setdefault(words[0], []).append(words)
    ordered = {first: tuple(sorted(set(ws), key=len, reverse=True)) for first, ws in index.items()}
    group_words = frozenset(w for g in groups for w in _words(g))
    return ScopePattern(kind, ordered, group_words, reach, after_negation)


ScopeIndex = dict[str, list[tuple[ScopePattern, tuple[str, ...]]]]


def scope_index(patterns: Iterable[ScopePattern]) -> ScopeIndex:
    """First word of every quantifier -> (pattern, quantifier): built once, with the lexicon."""
    index: ScopeIndex = {}
    for pattern in patterns:
        for first, quantifiers in pattern.quantifiers.items():
            index.setdefault(first, []).extend((pattern, q) for q in quantifiers)
    return index


def find_scopes(text: str, index: ScopeIndex, tokens: list[tuple[int, int, str]]) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of every quantified group in normalised ``text``, whose words
    (start, end, word) are ``tokens``."""
    words = [t[2] for t in tokens]
    starts = [t[0] for t in tokens]
    # Tokens that a clause break precedes: a quantifier's group must come before one.
    broken = {bisect_left(starts, m.start()) for m in _BREAK.finditer(text)}
    count = len(tokens)
    for at, word in enumerate(words):
        candidates = index.get(word)
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
                if group_at in broken:
                    break
                if words[group_at] in pattern.groups or (not pattern.groups and not words[group_at].isdigit()):
                    done.add(pattern.kind)
                    yield pattern.kind, tokens[at][0], tokens[group_at][1]
                    break
