"""The impact vocabulary (impact_words.toml, package data), compiled once into matchers."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rules.words import WordMatcher, normalise

LEXICON_FILE = "impact_words.toml"
LANGUAGES = ("en", "de", "fr", "es", "nl", "it", "pt")

# Classes matched as words; the quantifier and group classes only go into the scope patterns.
WORD_CLASSES = (
    "everyone", "nobody", "ability", "others_fine", "only", "stopped", "total", "intensifier", "degraded", "fault",
    "minor", "business", "deadline", "workaround", "no_workaround", "security", "data_loss", "works", "follow_up",
    "question", "commercial", "training", "feature", "admin", "closing", "close_request", "thanks",
)  # fmt: skip

# Up to this many words between a quantifier and its group: "all 22 of our branches"; one
# word for "one": "one remote user", not "une erreur sur les postes".
_FILLER = r"(?:\s+[\w'.,-]+){0,3}?"
_SHORT_FILLER = r"(?:\s+[\w'.,-]+)??"
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
    """Every class of evidence as a WordMatcher (plus its regexes), and the scope patterns."""

    words: dict[str, WordMatcher]
    regexes: dict[str, tuple[re.Pattern[str], ...]]
    about: dict[str, str]
    all_people: re.Pattern[str]  # all of a group of people or sites
    all_things: re.Pattern[str]  # all of the calls, orders, devices
    none_people: re.Pattern[str]
    none_things: re.Pattern[str]
    some_group: re.Pattern[str]
    one_person: re.Pattern[str]
    one_place: re.Pattern[str]
    group: re.Pattern[str]  # any person, site or thing: what a count must be near
    count: re.Pattern[str] = _COUNT
    percent: re.Pattern[str] = _PERCENT


def _entries(table: dict[str, object]) -> list[str]:
    words: list[str] = []
    for language in LANGUAGES:
        value = table.get(language, [])
        if isinstance(value, list):
            words.extend(str(w) for w in value)
    return words


def _alternation(words: list[str]) -> str:
    """Normalised words as one regex alternation, longest first; "*" matches letters."""
    keys = sorted({normalise(w).strip() for w in words}, key=len, reverse=True)
    parts = []
    for key in keys:
        escaped = r"\s+".join(re.escape(p) for p in key.split())
        parts.append(escaped.replace(r"\*", r"\w*"))
    return "|".join(parts)


def _group(quantifiers: list[str], groups: list[str], filler: str = _FILLER, lead: str = "") -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){lead}(?:{_alternation(quantifiers)}){filler}\s+(?:{_alternation(groups)})(?!\w)")


# "not one person" is nobody, not one person.
_NOT_AFTER_NEGATION = r"(?<!not )(?<!no )(?<!nicht )(?<!pas )(?<!nem )(?<!ni )"


@cache
def lexicon() -> Lexicon:
    """The shipped vocabulary, parsed and compiled on first use and then shared."""
    text = resources.files("rules").joinpath(LEXICON_FILE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    words = {name: WordMatcher(_entries(data[name])) for name in WORD_CLASSES}
    regexes = {name: tuple(re.compile(r) for r in data[name].get("regex", ())) for name in WORD_CLASSES}
    about = {name: str(data[name].get("about", name)) for name in data}
    people, places, things = (_entries(data[name]) for name in ("people", "places", "things"))
    every, none = _entries(data["quantifier_all"]), _entries(data["quantifier_none"])
    # English "no" is "in the" in Portuguese ("no app") and Spanish negates verbs with it:
    # only "no" right before a plural counts ("no calls", "no external emails").
    plurals = [w for w in people + things if w.isascii() and w.endswith("s")]
    no_plural = rf"|(?<!\w)no(?:\s+[a-z-]+)?\s+(?:{_alternation(plurals)})(?!\w)"
    one_site = _group(_entries(data["determiner"]), _entries(data["place_singular"]), _SHORT_FILLER)
    return Lexicon(
        words=words,
        regexes=regexes,
        about=about,
        all_people=_group(every, people + places),
        all_things=_group(every, things),
        none_people=_group(none, people + places),
        none_things=re.compile(_group(none, things).pattern + no_plural),
        group=re.compile(rf"(?<!\w)(?:{_alternation(people + places + things)})(?!\w)"),
        some_group=_group(_entries(data["quantifier_some"]), people + places + things),
        one_person=_group(_entries(data["quantifier_one"]), people, _SHORT_FILLER, _NOT_AFTER_NEGATION),
        one_place=re.compile(
            _group(_entries(data["quantifier_one"]), places, _SHORT_FILLER, _NOT_AFTER_NEGATION).pattern
            + "|"
            + one_site.pattern
        ),
    )
