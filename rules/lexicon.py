"""The impact vocabulary (impact_words.toml, package data), compiled once into matchers."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rules.scope import ScopeIndex, scope_index, scope_pattern
from rules.words import KindMatcher, normalise

LEXICON_FILE = "impact_words.toml"
LANGUAGES = ("en", "de", "fr", "es", "nl", "it", "pt")

# Classes matched as words; the quantifier and group classes only go into the scope patterns.
WORD_CLASSES = (
    "everyone", "nobody", "ability", "others_fine", "only", "stopped", "system_down", "total", "intensifier",
    "degraded", "slow_load", "share", "fault", "minor", "business", "deadline", "workaround", "manual", "no_workaround",
    "security", "data_loss", "works", "follow_up", "question", "commercial", "training", "feature", "admin",
    "closing", "close_request", "thanks",
)  # fmt: skip

_WORD = re.compile(r"\w+")
_NUMBER = r"\d[\d.,]*\d|\d"
# "12 of 40", "12 out of 40", "12 von 40", "12 sur 40", "12 de 40", "12 van de 40", "12 su 40".
_OF = r"(?:of|out\s+of|von|sur|de|van(?:\s+de)?|su|di|dos|das|de\s+(?:los|las|os|as))"
_COUNT = re.compile(
    rf"(?<![\w/.,])(?P<n>{_NUMBER})\s+(?:{_OF})\s+(?:(?:our|the|unseren|den|nos|les|nuestros|nuestras|"
    rf"onze|i|nostri|nostre|nossos|nossas|about|approx\.?|around|ca\.?|env\.?|ongeveer|circa|cerca\s+de)\s+)?"
    rf"~?\s?(?P<m>{_NUMBER})(?![\w/])"
)
_PERCENT = re.compile(
    r"(?<![\w.,])(?P<p>\d{1,3}(?:[.,]\d+)?)\s?(?:%|percent|per cent|prozent|pour\s?cent|por\s?ciento|"
    r"procent|per\s?cento|por\s?cento)\s+(?:of|der|des|de|van|di|dei|delle|degli|dos|das|do|da|del|aller|all)\b"
)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every class of evidence (its words and regexes), and the scope patterns."""

    words: KindMatcher  # every class of WORD_CLASSES, in one matcher
    regexes: dict[str, tuple[tuple[re.Pattern[str], frozenset[str]], ...]]  # with the words it needs one of
    about: dict[str, str]
    scopes: ScopeIndex  # all, all_things, none, none_things, some, one, one_place
    group_words: frozenset[str]  # any person, site or thing: what a count must be near
    places: frozenset[str]  # sites, to tell "one of our hotels" from "one of our nurses"
    count: re.Pattern[str] = _COUNT
    percent: re.Pattern[str] = _PERCENT


def _entries(table: dict[str, object]) -> list[str]:
    words: list[str] = []
    for language in LANGUAGES:
        value = table.get(language, [])
        if isinstance(value, list):
            words.extend(str(w) for w in value)
    return words


@cache
def lexicon() -> Lexicon:
    """The shipped vocabulary, parsed and compiled on first use and then shared."""
    text = resources.files("rules").joinpath(LEXICON_FILE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    words = KindMatcher({name: _entries(data[name]) for name in WORD_CLASSES})
    regexes = {
        name: tuple((re.compile(r["pattern"]), frozenset(r["needs"])) for r in data[name].get("regex", ()))
        for name in WORD_CLASSES
    }
    about = {name: str(data[name].get("about", name)) for name in data}
    people, places, things, units = (_entries(data[name]) for name in ("people", "places", "things", "units"))
    every, none, some, one = (_entries(data[f"quantifier_{name}"]) for name in ("all", "none", "some", "one"))
    # English "no" is "in the" in Portuguese ("no app"), and Spanish negates verbs with it:
    # only "no" right before a plural counts ("no calls", "no external emails").
    plurals = [w for w in people + things if w.isascii() and w.endswith("s")]
    scopes = (
        scope_pattern("all", every, people + places, reach=3),
        scope_pattern("all_things", every, things, reach=3),
        scope_pattern("none", none, people + places, reach=3),
        scope_pattern("none_things", none, things, reach=3),
        scope_pattern("none_things", ["no"], plurals, reach=1),
        scope_pattern("some", some, people + places + things, reach=3),
        scope_pattern("one", one, people + units, reach=1, after_negation=False, by_group=True),
        scope_pattern("one_place", one, places, reach=1, after_negation=False, by_group=True),
        scope_pattern(
            "one_place", _entries(data["determiner"]), _entries(data["place_singular"]), reach=1, by_group=True
        ),
        # "one of our therapists" is one person, "one of our hotels" one site: the reading
        # tells which by the word (any word) after "one of our".
        scope_pattern("one_of", _entries(data["one_of"]), (), reach=1),
    )
    return Lexicon(
        words=words,
        regexes=regexes,
        about=about,
        scopes=scope_index(scopes),
        group_words=frozenset(t for w in people + places + things for t in _WORD.findall(normalise(w))),
        places=frozenset(normalise(w) for w in places),
    )
