"""Whole-word matching in any language: rules/words.py."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.words import WordMatcher, normalise, tokens, word_problem


def find(words: list[str], text: str) -> str | None:
    norm = normalise(text)
    return WordMatcher(words).find(tokens(norm), norm)


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("Störung", "Seit heute Morgen eine STÖRUNG im Netz"),
        ("überlastet", "Der Server ist völlig Überlastet."),
        ("réseau", "Problème de RÉSEAU depuis 8h"),
        ("ne fonctionne plus", "L'application ne fonctionne\nplus depuis hier"),
        ("down", "Everything is down!"),
        ("outage", "(outage)"),
        ("Straße", "Filiale Hauptstrasse: STRASSE gesperrt"),  # ß casefolds to ss
        ("can't log in", "I can’t log in since this morning"),  # typographic apostrophe
        ("p1", "this is a P1"),
    ],
)
def test_matches_whole_words_in_any_language(word: str, text: str) -> None:
    assert find([word], text) is not None


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("down", "Download of the invoice fails"),
        ("down", "the dropdown is empty"),
        ("réseau", "réseaux sociaux"),  # a longer word is another word
        ("Störung", "Störungsmeldung"),  # no wildcard: compounds do not match
        ("slow", "slowly"),
        ("lent", "excellent"),  # a French word inside another word
        ("p1", "p1234"),
        ("ne fonctionne plus", "ne fonctionne pas plus"),
    ],
)
def test_does_not_match_inside_other_words(word: str, text: str) -> None:
    assert find([word], text) is None


def test_decomposed_accents_match_composed_words() -> None:
    decomposed = unicodedata.normalize("NFD", "Störung im réseau")
    assert find(["störung"], decomposed) == "störung"
    assert find(["réseau"], decomposed) == "réseau"


def test_wildcards_match_compounds_at_either_end() -> None:
    assert find(["*ausfall"], "Totalausfall der Telefonie") == "totalausfall"
    assert find(["*ausfall"], "Ausfall der Telefonie") == "ausfall"
    assert find(["überlast*"], "wegen Überlastung") == "überlastung"
    assert find(["*ausfall"], "ausfallsicher") is None


def test_returns_the_word_as_written_in_the_rule() -> None:
    assert find(["Outage", "down"], "OUTAGE NOW") == "Outage"


def test_phrase_spans_line_breaks_and_extra_spaces() -> None:
    assert find(["down for everyone"], "it is down\n  for   everyone") == "down for everyone"


def test_single_words_and_phrases_mix() -> None:
    matcher = WordMatcher(["slow", "takes forever", "e-mail"])
    text = normalise("The E-Mail export takes  forever")
    assert matcher.find(tokens(text), text) in {"e-mail", "takes forever"}


@pytest.mark.parametrize(
    ("word", "problem"),
    [
        ("", "has no letters"),
        ("  ", "has no letters"),
        ("*", "has no letters"),
        ("dow*n", "inside a word"),
        ("**down", "doubled"),
        (3, "not a string"),
    ],
)
def test_word_problems(word: object, problem: str) -> None:
    found = word_problem(word)
    assert found is not None and problem in found


def test_matcher_refuses_bad_words() -> None:
    with pytest.raises(ValueError, match="inside a word"):
        WordMatcher(["dow*n"])


def test_summary_is_short() -> None:
    summary = WordMatcher([f"w{i}" for i in range(10)]).summary()
    assert summary.endswith("(+6 more)")


@given(st.text(max_size=200))
def test_a_word_matches_itself_wherever_it_is_surrounded_by_spaces(noise: str) -> None:
    assert find(["störung"], f"{noise} Störung {noise}") is not None


def test_wildcards_on_each_word_of_a_phrase() -> None:
    assert find(["einige* Benutzer*"], "bei einigen Benutzern") == "einigen benutzern"
    assert find(["for *one"], "down for everyone") == "for everyone"
    assert find(["einige* Benutzer*"], "einige Kunden, Benutzer") is None


def test_phrase_ending_in_punctuation_needs_no_boundary_after_it() -> None:
    assert find(["a workaround?"], "is there a workaround?Thanks") == "a workaround?"


def test_spans_find_every_occurrence() -> None:
    text = normalise("Down, down; download DOWN for everyone")
    spans = WordMatcher(["down", "for everyone"]).spans(tokens(text), text)
    assert sorted(spans) == [(0, 4), (6, 10), (21, 25), (26, 38)]


def _reference(word: str, text: str) -> bool:
    """What a word list means, written the slow, obvious way: one regex, boundaries around."""
    parts = []
    for part in normalise(word).split():
        core = re.escape(part.strip("*"))
        parts.append((r"\w*" if part.startswith("*") else "") + core + (r"\w*" if part.endswith("*") else ""))
    body = r"\s+".join(parts)
    before = r"(?<!\w)" if re.match(r"\w|\*", normalise(word).strip()) else ""
    after = r"(?!\w)" if re.search(r"[\w*]$", normalise(word).strip()) else ""
    return re.search(before + body + after, normalise(text)) is not None


_ALPHABET = "abä '-"
_words = st.text(alphabet="abä'-", min_size=1, max_size=4)
_phrases = st.lists(_words, min_size=1, max_size=3).map(" ".join)
_wild = st.tuples(st.booleans(), _phrases, st.booleans()).map(
    lambda t: ("*" if t[0] else "") + t[1] + ("*" if t[2] else "")
)


@given(word=_wild, text=st.text(alphabet=_ALPHABET + "\n.", max_size=40))
def test_property_matcher_agrees_with_the_obvious_regex(word: str, text: str) -> None:
    if word_problem(word) is not None:
        return
    assert (find([word], text) is not None) == _reference(word, text)
